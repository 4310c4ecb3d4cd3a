//! `ktail status`: every grep ktail has attached in the region, i.e. what is still costing money.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::attachment::{self, AttachmentStatus, Clients};
use crate::config::Report;
use crate::context::Context;
use crate::exit::{ExitCode, WRITE_OUTPUT};
use crate::kinesis::consumer::consumer_name;

pub async fn run(ctx: &Context, report: Report) -> Result<ExitCode> {
    let clients = Clients::new(ctx.sdk().await?);
    let progress = ctx.progress();
    let step = progress.step("listing attachments");
    let attachments = attachment::status(&clients).await?;
    step.done(format!("{}", attachments.len()));
    let mut stdout = std::io::stdout().lock();
    match report {
        Report::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&attachments).context("encoding the report")?
        ),
        Report::Text => write!(stdout, "{}", table(&attachments)),
    }
    .context(WRITE_OUTPUT)?;
    if report == Report::Text {
        // An attachment's own consumer is shown on its row.
        let attached: Vec<&str> = attachments
            .iter()
            .filter_map(|a| a.consumer.as_deref())
            .filter_map(consumer_name)
            .collect();
        let consumers = consumers(ctx, &attached).await?;
        write!(stdout, "{consumers}").context(WRITE_OUTPUT)?;
    }
    Ok(ExitCode::Success)
}

/// Enhanced fan-out consumers of `ktail tail --efo` (one left by a killed run bills per
/// shard-hour until the next run from its host removes it), one line each.
async fn consumers(ctx: &Context, attached: &[&str]) -> Result<String> {
    let client = crate::aws::kinesis(ctx.sdk().await?);
    let found = crate::kinesis::consumer::registered(&client).await?;
    let mut out = String::new();
    for c in found
        .into_iter()
        .filter(|c| !attached.contains(&c.name.as_str()))
    {
        let who = match c.in_use_here {
            Some(true) => "in use by a ktail on this host",
            Some(false) => "left by a killed ktail on this host; the next --efo run removes it",
            None => "registered from another host",
        };
        out.push_str(&format!(
            "efo consumer {} on {} ({}): {who}\n",
            c.name, c.stream, c.status
        ));
    }
    Ok(out)
}

/// A cell on one line: control characters (a newline or a tab in a pattern) become the escapes a
/// regex reads the same way (`\n`, `\t`, `\r`, else `\x{…}`), so every attachment stays one
/// row. `-o json` has the pattern as it is.
fn one_line(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Aligned columns; a header only when there is something to show.
fn table(attachments: &[AttachmentStatus]) -> String {
    if attachments.is_empty() {
        return String::new();
    }
    let header = [
        "SOURCE",
        "PATTERN",
        "OPTIONS",
        "STATE",
        "LAST RESULT",
        "FUNCTION",
        "OUTPUT",
        "EFO CONSUMER",
        "CREATED",
        "EXPIRES",
    ];
    let rows: Vec<[String; 10]> = attachments
        .iter()
        .map(|a| {
            [
                a.source_stream.clone(),
                one_line(&a.pattern),
                a.options.clone(),
                a.state.clone(),
                a.last_processing_result
                    .clone()
                    .unwrap_or_else(|| "-".into()),
                a.function.clone(),
                a.filtered_stream.clone().unwrap_or_else(|| "-".into()),
                a.consumer
                    .as_deref()
                    .and_then(consumer_name)
                    .unwrap_or("-")
                    .to_owned(),
                a.created.clone().unwrap_or_else(|| "-".into()),
                match (&a.expires_at, a.expired) {
                    (Some(t), true) => format!("{t} (expired)"),
                    (Some(t), false) => t.clone(),
                    (None, _) => "never".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let a = AttachmentStatus {
            source_stream: "logs".into(),
            pattern: "\"status\":500".into(),
            syntax: "regex",
            options: "none".into(),
            state: "Enabled".into(),
            last_processing_result: None,
            function: "ktail-logs-0123456789ab".into(),
            filtered_stream: Some("ktail-logs-0123456789ab".into()),
            mapping_uuid: None,
            consumer: None,
            created: Some("2024-05-01T12:00:00Z".into()),
            expires_at: Some("2024-05-01T13:00:00Z".into()),
            expired: true,
        };
        let text = table(&[a]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("PATTERN"), lines[1].find("\"status\""));
        assert!(lines[1].ends_with("(expired)"));
        assert_eq!(table(&[]), "");
    }

    #[test]
    fn control_characters_stay_on_the_row() {
        assert_eq!(one_line("a\tb\nc\r\u{1b}[0m"), "a\\tb\\nc\\r\\x{1b}[0m");
        assert_eq!(one_line("\\d+ é"), "\\d+ é");
    }
}
