//! `ktail ls`: the streams in the region with what a tail needs to know about each (status,
//! capacity mode, open shards, retention) and the greps reading it, as aligned columns or JSON.
//! The listing itself is `kinesis::streams`, which the interactive picker offers too.

use std::io::Write;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::config::Report;
use crate::context::Context;
use crate::exit::{ExitCode, WRITE_OUTPUT};
use crate::kinesis::streams::{self, StreamInfo};

/// One `ls` row: the stream, and how many ktail greps read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub stream: StreamInfo,
    /// Enabled `ktail attach`/`grep` mappings reading this stream; `None` when Lambda could not
    /// be asked (no permission, or an endpoint without Lambda).
    pub greps: Option<usize>,
}

pub async fn run(ctx: &Context, report: Report) -> Result<ExitCode> {
    let sdk = ctx.sdk().await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let client = crate::aws::kinesis(sdk);
    let mut streams: Vec<Row> = streams::list_streams(&client)
        .await
        .with_context(|| format!("cannot list the streams in {region}"))?
        .into_iter()
        .map(|stream| Row {
            stream,
            greps: None,
        })
        .collect();
    // A listing should not fail for want of Lambda permissions: the column then shows `-`.
    if let Ok(greps) = crate::attachment::enabled_greps_by_stream(&crate::aws::lambda(sdk)).await {
        for row in &mut streams {
            row.greps = Some(greps.get(&row.stream.arn).copied().unwrap_or(0));
        }
    }

    let mut out = std::io::stdout().lock();
    match report {
        Report::Json => {
            serde_json::to_writer_pretty(&mut out, &streams).context(WRITE_OUTPUT)?;
            writeln!(out).context(WRITE_OUTPUT)?;
        }
        Report::Text => {
            if streams.is_empty() {
                if !ctx.quiet && ctx.terminal.stderr {
                    eprintln!("no streams in {region}");
                }
            } else {
                out.write_all(render_text(&streams).as_bytes())
                    .context(WRITE_OUTPUT)?;
            }
        }
    }
    out.flush().context(WRITE_OUTPUT)?;
    Ok(ExitCode::Success)
}

/// Aligned columns with a header, one stream per line.
fn render_text(rows: &[Row]) -> String {
    let header = ["NAME", "STATUS", "MODE", "SHARDS", "RETENTION", "GREPS"];
    let rows: Vec<[String; 6]> = rows
        .iter()
        .map(|Row { stream: s, greps }| {
            [
                s.name.clone(),
                s.status.clone(),
                s.mode.as_str().to_owned(),
                s.open_shards.to_string(),
                format!("{}h", s.retention_hours),
                greps.map_or_else(|| "-".to_owned(), |n| n.to_string()),
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
    use crate::kinesis::streams::CapacityMode;

    fn info(name: &str, mode: CapacityMode, shards: i32) -> Row {
        Row {
            stream: StreamInfo {
                name: name.into(),
                arn: format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}"),
                status: "ACTIVE".into(),
                mode,
                open_shards: shards,
                retention_hours: 24,
            },
            greps: (mode == CapacityMode::OnDemand).then_some(2),
        }
    }

    #[test]
    fn text_columns_line_up() {
        let text = render_text(&[
            info("a", CapacityMode::Provisioned, 4),
            info("a-much-longer-name", CapacityMode::OnDemand, 12),
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
        let json = serde_json::to_value(info("s", CapacityMode::OnDemand, 1)).unwrap();
        assert_eq!(json["mode"], "on-demand");
        assert_eq!(json["open_shards"], 1);
        assert_eq!(json["retention_hours"], 24);
        assert_eq!(json["greps"], 2);
    }
}
