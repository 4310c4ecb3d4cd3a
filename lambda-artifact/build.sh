#!/usr/bin/env bash
# Builds the grep Lambda's bootstrap for arm64 and x86_64 into lambda-artifact/dist/ktail-grep-<arch>.zip
# and records the hash of the inputs they were built from (dist/inputs.sha256), which the freshness test
# checks. Run from anywhere: bash lambda-artifact/build.sh
#
# Needs: cargo-lambda (pip install cargo-lambda: brings zig too) and the Rust targets
# aarch64-unknown-linux-gnu and x86_64-unknown-linux-gnu (rustup target add ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
dist="$here/dist"
cd "$root"

missing=0
if ! cargo lambda --version >/dev/null 2>&1; then
    echo "build.sh: cargo-lambda is missing: install it with 'pip install cargo-lambda' (brings zig)" >&2
    missing=1
fi
if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for triple in aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu; do
        if ! grep -qx "$triple" <<<"$installed"; then
            echo "build.sh: Rust target $triple is missing: install it with 'rustup target add $triple'" >&2
            missing=1
        fi
    done
else
    echo "build.sh: rustup not found; make sure the aarch64-unknown-linux-gnu and x86_64-unknown-linux-gnu std libraries are installed" >&2
fi
[ "$missing" = 0 ] || exit 1

# cargo-lambda writes its zips under a directory of our choosing, outside the crate, so nothing it
# writes can trigger a rebuild loop or end up committed by accident.
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$dist"

for arch in arm64 x86_64; do
    case "$arch" in
        arm64) triple=aarch64-unknown-linux-gnu ;;
        x86_64) triple=x86_64-unknown-linux-gnu ;;
    esac
    echo "build.sh: building bootstrap for $arch ($triple)" >&2
    cargo lambda build --quiet --package ktail-grep --bin bootstrap --profile lambda \
        --target "$triple" --output-format zip --lambda-dir "$out/$arch"
    zip_file="$(find "$out/$arch" -name bootstrap.zip -print -quit)"
    if [ -z "$zip_file" ]; then
        echo "build.sh: cargo-lambda produced no bootstrap.zip for $arch" >&2
        exit 1
    fi
    cp "$zip_file" "$dist/ktail-grep-$arch.zip"
    echo "build.sh: $dist/ktail-grep-$arch.zip: $(wc -c <"$dist/ktail-grep-$arch.zip") bytes" >&2
done

cargo run --quiet --package ktail-grep --example input_hash >"$dist/inputs.sha256"
echo "build.sh: input hash $(cat "$dist/inputs.sha256")" >&2
