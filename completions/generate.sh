#!/usr/bin/env bash
# Regenerates the completion script of every shell and the man pages from the CLI definitions
# (src/cli.rs).
# Run it after changing a flag or subcommand; tests/cli.rs and tests/ux.rs fail while these files
# are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
gen() { cargo run --quiet --bin ktail -- completions "$1" > "completions/$2"; }
gen bash ktail.bash
gen zsh _ktail
gen fish ktail.fish
gen powershell _ktail.ps1
gen elvish ktail.elv
# The man pages (ktail.1 and one per subcommand), from the same definitions.
rm -f man/*.1
cargo run --quiet --bin ktail -- man --dir man
