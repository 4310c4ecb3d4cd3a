//! `ktail put`'s meter: rate and totals on stderr while a terminal watches, nothing otherwise;
//! lines over the record limit are named (the first few) whatever stderr is.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Feedback;
use crate::put_records::lines::{Observer, Stats};

/// Oversized lines named one by one on stderr before only the total is given.
const NAMED_OVERSIZED: u64 = 5;

pub struct Meter {
    bar: Option<ProgressBar>,
    started: Instant,
    oversized: u64,
}

impl Meter {
    pub fn new(feedback: Feedback) -> Self {
        let bar = (feedback == Feedback::Spinner).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg}") {
                bar.set_style(style);
            }
            bar.set_message("waiting for input…");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Meter {
            bar,
            started: Instant::now(),
            oversized: 0,
        }
    }

    /// An error line: above the spinner on a terminal, plain otherwise (errors are always shown).
    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(io::stderr(), "{line}");
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// The totals, on a terminal.
    pub fn summary(&self, stats: &Stats, stream: &str) {
        if self.bar.is_some() && io::stderr().is_terminal() {
            let _ = writeln!(
                io::stderr(),
                "{} to {stream}",
                progress_line(stats, self.started.elapsed())
            );
        }
    }
}

impl Observer for Meter {
    fn progress(&mut self, stats: &Stats) {
        if let Some(bar) = &self.bar {
            bar.set_message(progress_line(stats, self.started.elapsed()));
        }
    }

    fn oversized(&mut self, line: u64, bytes: usize) {
        self.oversized += 1;
        if self.oversized <= NAMED_OVERSIZED {
            self.println(&format!(
                "ktail: line {line} is {bytes} bytes, over the 1 MiB record limit: not put"
            ));
        }
    }
}

/// "1200 lines put as 3 records in 1.2s (1000 lines/s)", plus what was skipped or lost.
fn progress_line(stats: &Stats, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let mut line = format!(
        "{} lines put as {} records in {:.1}s ({:.0} lines/s)",
        stats.put,
        stats.records,
        secs,
        stats.put as f64 / secs
    );
    if stats.empty > 0 {
        let _ = write!(line, ", {} empty skipped", stats.empty);
    }
    if stats.not_put() > 0 {
        let _ = write!(line, ", {} not put", stats.not_put());
    }
    line
}
