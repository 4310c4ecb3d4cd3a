//! Shell completion. `ktail completions SHELL` prints the static script for a shell, generated
//! from the same clap definitions as the help; `completions/` in the repository holds a copy for
//! every shell.
//!
//! Dynamic completion (stream names for STREAM arguments) runs through clap_complete's
//! environment engine: the shell calls `KTAIL_COMPLETE=<shell> ktail -- <words>` on TAB, and
//! [`stream_names`] answers from a short-lived cache or a ListStreams bounded by
//! [`LIST_BUDGET`], so TAB never hangs on a slow or absent network.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::engine::ArgValueCandidates;
use clap_complete::{CompletionCandidate, Shell};

use crate::aws::AwsOptions;
use crate::cli::Cli;
use crate::exit::{ExitCode, WRITE_OUTPUT};

/// The environment variable that switches the binary into completion mode.
pub const COMPLETE_VAR: &str = "KTAIL_COMPLETE";
/// How long TAB may wait for AWS before it offers what the cache has (or nothing).
pub const LIST_BUDGET: Duration = Duration::from_secs(1);
/// How long a listing is reused: long enough for the TABs of one command line, short enough that
/// a new stream shows up soon.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// The subcommands whose STREAM argument TAB completes with the region's stream names.
const STREAM_ARGS: [&str; 5] = ["tail", "grep", "attach", "detach", "put"];

pub fn run(shell: Shell) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ktail", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script).context(WRITE_OUTPUT)?;
    out.flush().context(WRITE_OUTPUT)?;
    Ok(ExitCode::Success)
}

/// Answers a completion request and exits when the shell asked for one; returns otherwise.
/// Called first thing in `main`.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .complete();
}

/// The command line with [`stream_names`] as the candidates of every STREAM argument. Attached
/// here rather than in `cli`, which knows nothing of AWS.
fn command() -> clap::Command {
    STREAM_ARGS.iter().fold(Cli::command(), |cli, name| {
        // `mut_args` changes the argument in place; `mut_arg` would move it behind PATTERN.
        cli.mut_subcommand(name, |sub| {
            sub.mut_args(|arg| {
                if arg.get_id() == "stream" {
                    arg.add(ArgValueCandidates::new(stream_names))
                } else {
                    arg
                }
            })
        })
    })
}

/// The stream names of the region the command line being completed points at. Never fails:
/// without an answer in time it offers the last cached names, or none.
pub fn stream_names() -> Vec<CompletionCandidate> {
    let args: Vec<String> = std::env::args().collect();
    let options = aws_options_from(&args);
    let cache = cache_file(&options);
    if let Some(names) = cache.as_ref().and_then(|path| read_cache(path, true)) {
        return candidates(names);
    }
    match list_within_budget(&options) {
        Some(names) => {
            if let Some(path) = &cache {
                write_cache(path, &names);
            }
            candidates(names)
        }
        None => candidates(
            cache
                .as_ref()
                .and_then(|path| read_cache(path, false))
                .unwrap_or_default(),
        ),
    }
}

fn candidates(names: Vec<String>) -> Vec<CompletionCandidate> {
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// The global AWS flags among the words being completed (`--region X` or `--region=X`); the rest
/// of the line may be incomplete, so nothing else is parsed.
fn aws_options_from(words: &[String]) -> AwsOptions {
    let mut options = AwsOptions::default();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (word.as_str(), None),
        };
        let slot = match flag {
            "--profile" => &mut options.profile,
            "--region" => &mut options.region,
            "--endpoint-url" => &mut options.endpoint_url,
            _ => continue,
        };
        *slot = inline.or_else(|| words.next().cloned());
    }
    options
}

/// ListStreams (names only: one call per 100 streams) within [`LIST_BUDGET`].
fn list_within_budget(options: &AwsOptions) -> Option<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let names = runtime.block_on(async {
        tokio::time::timeout(LIST_BUDGET, async {
            let sdk = crate::aws::load(options).await.ok()?;
            let client = crate::aws::kinesis(&sdk);
            crate::kinesis::streams::list_stream_names(&client)
                .await
                .ok()
        })
        .await
        .ok()
        .flatten()
    });
    // A request still in flight must not hold the shell.
    runtime.shutdown_background();
    names
}

/// `$XDG_CACHE_HOME/ktail/streams-<hash>` (else `~/.cache/…`), one file per profile, region and
/// endpoint, since each names other streams.
fn cache_file(options: &AwsOptions) -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?
        .join("ktail");
    let mut hasher = DefaultHasher::new();
    (&options.profile, &options.region, &options.endpoint_url).hash(&mut hasher);
    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KINESIS",
    ] {
        std::env::var_os(var).hash(&mut hasher);
    }
    Some(dir.join(format!("streams-{:016x}", hasher.finish())))
}

/// The cached names; with `fresh`, only when younger than [`CACHE_TTL`].
fn read_cache(path: &PathBuf, fresh: bool) -> Option<Vec<String>> {
    if fresh {
        let age = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())?;
        if age > CACHE_TTL {
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().map(str::to_owned).collect())
}

/// Best effort: a cache that cannot be written only makes the next TAB slower.
fn write_cache(path: &PathBuf, names: &[String]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // Written aside and renamed, so a concurrent TAB never reads half a file.
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    let mut text = names.join("\n");
    text.push('\n');
    if std::fs::write(&partial, text).is_ok() && std::fs::rename(&partial, path).is_err() {
        let _ = std::fs::remove_file(&partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn stream_candidates_leave_the_command_line_as_it_is() {
        let completing = command();
        completing.clone().debug_assert();
        for name in STREAM_ARGS {
            let sub = completing.find_subcommand(name).unwrap();
            let first = sub.get_positionals().next().unwrap();
            assert_eq!(first.get_id(), "stream", "{name}");
            assert_eq!(
                sub.get_positionals().count(),
                Cli::command()
                    .find_subcommand(name)
                    .unwrap()
                    .get_positionals()
                    .count()
            );
        }
    }

    #[test]
    fn global_flags_are_read_from_the_line_being_completed() {
        let g = aws_options_from(&words(
            "ktail -- ktail --profile prod tail --region=eu-west-1 --endpoint-url http://x lo",
        ));
        assert_eq!(g.profile.as_deref(), Some("prod"));
        assert_eq!(g.region.as_deref(), Some("eu-west-1"));
        assert_eq!(g.endpoint_url.as_deref(), Some("http://x"));
        let g = aws_options_from(&words("ktail -- ktail tail --region"));
        assert_eq!(g.region, None);
    }

    #[test]
    fn each_region_has_its_own_cache() {
        let a = cache_file(&AwsOptions {
            region: Some("eu-west-1".into()),
            ..AwsOptions::default()
        });
        let b = cache_file(&AwsOptions {
            region: Some("us-east-1".into()),
            ..AwsOptions::default()
        });
        if a.is_some() {
            assert_ne!(a, b);
        }
    }
}
