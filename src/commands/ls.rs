//! `ktail ls`: the streams in the region with what a tail needs to know about each (status,
//! capacity mode, open shards, retention), as aligned columns or JSON.
//!
//! [`list_streams`] is also what the interactive picker offers.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::StreamMode;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Context;
use crate::cli::{ListArgs, ReportFormat};
use crate::exit::ExitCode;

/// ListStreams page size: AWS's own default and maximum-friendly value; also stops emulators
/// that default to 10 from cutting the list short.
const PAGE_SIZE: i32 = 100;

/// DescribeStreamSummary calls in flight: its account limit is 20 per second, and the SDK
/// retries the throttled ones.
const DESCRIBE_CONCURRENCY: usize = 8;

/// One stream as `ls` (and the picker) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub name: String,
    pub arn: String,
    /// CREATING, ACTIVE, UPDATING or DELETING.
    pub status: String,
    pub mode: Mode,
    pub open_shards: i32,
    pub retention_hours: i32,
    /// Enabled `ktail attach`/`grep` mappings reading this stream; `None` when Lambda could not
    /// be asked (no permission, or an endpoint without Lambda).
    pub greps: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    OnDemand,
    Provisioned,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::OnDemand => "on-demand",
            Mode::Provisioned => "provisioned",
        }
    }
}

pub async fn run(ctx: &Context, args: ListArgs) -> Result<ExitCode> {
    let sdk = ctx.sdk().await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let client = crate::aws::kinesis(sdk);
    let mut streams = list_streams(&client)
        .await
        .with_context(|| format!("cannot list the streams in {region}"))?;
    // A listing should not fail for want of Lambda permissions: the column then shows `-`.
    if let Ok(greps) = crate::lambda::enabled_greps_by_stream(&crate::aws::lambda(sdk)).await {
        for s in &mut streams {
            s.greps = Some(greps.get(&s.arn).copied().unwrap_or(0));
        }
    }

    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &streams)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            if streams.is_empty() {
                if !ctx.global.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!("no streams in {region}");
                }
            } else {
                out.write_all(render_text(&streams).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::Success)
}

/// Every stream in the region, sorted by name, with its summary. A stream deleted between the
/// listing and its description is left out.
pub async fn list_streams(client: &Client) -> Result<Vec<StreamInfo>> {
    let names = list_stream_names(client).await?;
    let permits = Arc::new(Semaphore::new(DESCRIBE_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for name in names {
        let client = client.clone();
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            describe(&client, name).await
        });
    }
    let mut streams = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Some(info) = joined.context("a stream description task failed")?? {
            streams.push(info);
        }
    }
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(streams)
}

/// All pages of ListStreams. Pages follow `NextToken` as the SDK paginator does, and fall back to
/// the older `ExclusiveStartStreamName` when a service says `HasMoreStreams` without a token
/// (ferrokinesis and older emulators), which the paginator would silently stop at.
pub async fn list_stream_names(client: &Client) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let request = client.list_streams().limit(PAGE_SIZE);
        let request = match next_token.take() {
            // The API rejects a start name next to a token.
            Some(token) => request.next_token(token),
            None => request.set_exclusive_start_stream_name(names.last().cloned()),
        };
        let page = request.send().await?;
        let before = names.len();
        names.extend(page.stream_names().iter().cloned());
        next_token = page.next_token().map(str::to_owned);
        let progressed = names.len() > before;
        if next_token.is_none() && !(page.has_more_streams() && progressed) {
            break;
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

async fn describe(client: &Client, name: String) -> Result<Option<StreamInfo>> {
    let out = match client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(err).with_context(|| format!("cannot describe stream {name}")),
    };
    let Some(summary) = out.stream_description_summary else {
        anyhow::bail!("the description of stream {name} came back empty; try again");
    };
    let mode = match summary
        .stream_mode_details()
        .map(|details| details.stream_mode())
    {
        Some(StreamMode::OnDemand) => Mode::OnDemand,
        // Streams created before capacity modes existed report none: they are provisioned.
        _ => Mode::Provisioned,
    };
    Ok(Some(StreamInfo {
        arn: summary.stream_arn().to_owned(),
        status: summary.stream_status().as_str().to_owned(),
        mode,
        open_shards: summary.open_shard_count(),
        retention_hours: summary.retention_period_hours(),
        greps: None,
        name,
    }))
}

/// Aligned columns with a header, one stream per line.
fn render_text(streams: &[StreamInfo]) -> String {
    let header = ["NAME", "STATUS", "MODE", "SHARDS", "RETENTION", "GREPS"];
    let rows: Vec<[String; 6]> = streams
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.status.clone(),
                s.mode.as_str().to_owned(),
                s.open_shards.to_string(),
                format!("{}h", s.retention_hours),
                s.greps.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: [&str; 6]| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        text.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, mode: Mode, shards: i32) -> StreamInfo {
        StreamInfo {
            name: name.into(),
            arn: format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}"),
            status: "ACTIVE".into(),
            mode,
            open_shards: shards,
            retention_hours: 24,
            greps: (mode == Mode::OnDemand).then_some(2),
        }
    }

    #[test]
    fn text_columns_line_up() {
        let text = render_text(&[
            info("a", Mode::Provisioned, 4),
            info("a-much-longer-name", Mode::OnDemand, 12),
        ]);
        assert_eq!(
            text,
            "NAME                STATUS  MODE         SHARDS  RETENTION  GREPS\n\
             a                   ACTIVE  provisioned  4       24h        -\n\
             a-much-longer-name  ACTIVE  on-demand    12      24h        2\n"
        );
    }

    #[test]
    fn json_names_the_mode_as_the_text_does() {
        let json = serde_json::to_value(info("s", Mode::OnDemand, 1)).unwrap();
        assert_eq!(json["mode"], "on-demand");
        assert_eq!(json["open_shards"], 1);
        assert_eq!(json["retention_hours"], 24);
    }
}
