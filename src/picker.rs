//! The interactive fallbacks for a missing STREAM or PATTERN argument: a fuzzy stream picker and
//! a pattern prompt that checks the regex before accepting it.
//!
//! They only prompt when stdin and stderr are both terminals (the prompt is drawn on stderr, so
//! stdout stays data only and `ktail tail | less` still works). Anywhere else a missing argument
//! is a usage error, so a script never hangs on a prompt it cannot answer. Esc or Ctrl-C in a
//! prompt is an interruption (exit 130) before anything was created.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use anyhow::{Context as _, Result};
use dialoguer::console::Term;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{FuzzySelect, Input};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::attachment::GrepPattern;
use crate::context::{Context, Terminal};
use crate::exit::{Interrupted, usage};
use crate::filter::MatchOptions;
use crate::kinesis::streams::{self, CapacityMode, StreamInfo};

/// The stream to use: `given` as is, else one the user picks from every stream in the region.
pub async fn resolve_stream(ctx: &Context, given: Option<String>) -> Result<String> {
    require_stream(&ctx.terminal, given.as_deref())?;
    if let Some(stream) = given {
        return Ok(stream);
    }
    let sdk = ctx.sdk().await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let client = crate::aws::kinesis(sdk);
    // Describing every stream takes a moment in a large region; say what is going on meanwhile.
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg}") {
        spinner.set_style(style);
    }
    spinner.set_message(format!("listing the streams in {region}…"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let listed = streams::list_streams(&client).await;
    spinner.finish_and_clear();
    let streams = listed.with_context(|| format!("cannot list the streams in {region}"))?;
    if streams.is_empty() {
        anyhow::bail!(
            "there are no streams in {region} to pick from: create one, or pass --region"
        );
    }
    let items = menu_lines(&streams.iter().map(menu_row).collect::<Vec<_>>());
    let picked = tokio::task::spawn_blocking(move || {
        let term = Term::stderr();
        let answer = FuzzySelect::with_theme(&ColorfulTheme::default())
            .with_prompt("stream (type to filter, Enter to pick, Esc to cancel)")
            .items(&items)
            .default(0)
            // Highlighting colours each matched letter on its own, which makes names hard to read.
            .highlight_matches(false)
            .interact_on_opt(&term);
        restore_cursor(&term);
        answer
    })
    .await
    .context("the stream picker failed")?;
    match picked.map_err(cancelled_or)? {
        Some(index) => streams
            .get(index)
            .map(|s| s.name.clone())
            .ok_or_else(|| anyhow::anyhow!("the picker returned no stream; pass STREAM instead")),
        None => Err(anyhow::Error::new(Interrupted)),
    }
}

/// The pattern to use: `given` as is, else one typed at a prompt that refuses an invalid regex
/// (with the compiler's reason) until it compiles under `options`. Either way it is compiled once.
pub fn resolve_pattern(
    terminal: &Terminal,
    given: Option<GrepPattern>,
    options: MatchOptions,
) -> Result<GrepPattern> {
    require_pattern(terminal, given.is_some())?;
    if let Some(pattern) = given {
        return Ok(pattern);
    }
    let term = Term::stderr();
    let mut compiled = None;
    let answer = Input::<String>::with_theme(&ColorfulTheme::default())
        .with_prompt("pattern (regex)")
        .validate_with(|input: &String| {
            validate_pattern(input, options).map(|pattern| compiled = Some(pattern))
        })
        .interact_text_on(&term);
    restore_cursor(&term);
    let answer = answer.map_err(cancelled_or)?;
    match compiled {
        Some(pattern) if pattern.text() == answer => Ok(pattern),
        _ => Err(anyhow::anyhow!(
            "the pattern prompt returned an unchecked pattern; pass PATTERN instead"
        )),
    }
}

/// A STREAM left out can only be picked on a terminal; anywhere else it is a usage error, found
/// by the config step before anything else happens.
pub fn require_stream(terminal: &Terminal, given: Option<&str>) -> Result<()> {
    if given.is_none() && !terminal.interactive() {
        return Err(usage(
            "missing STREAM: name the stream to read (`ktail ls` lists them); \
             on a terminal ktail offers a picker instead",
        ));
    }
    Ok(())
}

/// A PATTERN left out can only be prompted for on a terminal.
pub fn require_pattern(terminal: &Terminal, given: bool) -> Result<()> {
    if !given && !terminal.interactive() {
        return Err(usage(
            "missing PATTERN: give the regex the records must match",
        ));
    }
    Ok(())
}

/// The compiled pattern, or why a typed pattern cannot be used.
fn validate_pattern(input: &str, options: MatchOptions) -> Result<GrepPattern, String> {
    if input.is_empty() {
        return Err("an empty pattern matches every record; type a regex".into());
    }
    GrepPattern::new(input, options).map_err(|e| e.reason)
}

/// A prompt error: Ctrl-C (read as an interrupted key in raw mode) becomes [`Interrupted`].
fn cancelled_or(err: dialoguer::Error) -> anyhow::Error {
    let dialoguer::Error::IO(io) = err;
    if io.kind() == io::ErrorKind::Interrupted {
        anyhow::Error::new(Interrupted)
    } else {
        anyhow::Error::new(io).context("cannot prompt on the terminal; pass the argument instead")
    }
}

/// dialoguer hides the cursor while a menu is open and does not show it again when Ctrl-C ends
/// the prompt with an error; the shell would be left without a cursor.
fn restore_cursor(term: &Term) {
    let _ = term.show_cursor();
}

/// What the menu shows of a stream: name, status, capacity mode and open shards.
type MenuRow<'a> = (&'a str, &'a str, CapacityMode, i32);

fn menu_row(stream: &StreamInfo) -> MenuRow<'_> {
    (
        &stream.name,
        &stream.status,
        stream.mode,
        stream.open_shards,
    )
}

/// One aligned line per stream.
fn menu_lines(rows: &[MenuRow<'_>]) -> Vec<String> {
    let name_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let status_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    rows.iter()
        .map(|&(name, status, mode, shards)| {
            let mut line = String::new();
            let noun = if shards == 1 { "shard" } else { "shards" };
            let _ = write!(
                line,
                "{name:<name_width$}  {status:<status_width$}  {:<11}  {shards} open {noun}",
                mode.as_str(),
            );
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_lines_show_status_mode_and_shards_aligned() {
        let lines = menu_lines(&[
            ("logs", "ACTIVE", CapacityMode::Provisioned, 1),
            ("clickstream", "UPDATING", CapacityMode::OnDemand, 4),
        ]);
        assert_eq!(
            lines,
            [
                "logs         ACTIVE    provisioned  1 open shard",
                "clickstream  UPDATING  on-demand    4 open shards",
            ]
        );
    }

    #[test]
    fn patterns_are_checked_as_the_matcher_compiles_them() {
        let plain = MatchOptions::default();
        assert!(validate_pattern("status\":5\\d\\d", plain).is_ok());
        let err = validate_pattern("(unclosed", plain).unwrap_err();
        assert!(err.contains("unclosed"), "{err}");
        assert!(validate_pattern("", plain).is_err());
    }

    #[test]
    fn given_arguments_are_used_as_they_are() {
        let given = GrepPattern::new("(raw)", MatchOptions::default()).unwrap();
        let used = resolve_pattern(&Terminal::default(), Some(given), MatchOptions::default());
        assert_eq!(used.unwrap().text(), "(raw)");
    }
}
