//! Terminal progress for multi-step commands (`attach`, `grep`, `detach`): a spinner per step on a
//! terminal, one plain line per finished step otherwise, nothing at all with `--quiet`.
//!
//! Everything goes to stderr so stdout stays data only. Usage:
//!
//! ```no_run
//! # use ktail::progress::{Feedback, Progress};
//! let progress = Progress::new(Feedback::Plain);
//! let step = progress.step("creating role");
//! // ... the AWS calls ...
//! step.done("created ktail-grep-role");
//! ```
//!
//! A step dropped without `done` or `fail` (an early `?` return) reports itself as failed, so a
//! spinner never keeps spinning over the error line that `main` prints.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How steps are shown (named so it is never mistaken for a stream's capacity mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// An animated spinner while a step runs, replaced by its outcome (stderr is a terminal).
    Spinner,
    /// One line per finished step (stderr is a file or a pipe, e.g. CI logs).
    Plain,
    /// Nothing (`--quiet`).
    Hidden,
}

impl Feedback {
    /// How steps are shown given `--quiet`, whether stderr is a terminal and `TERM=dumb`.
    pub fn choose(quiet: bool, terminal: bool, dumb_terminal: bool) -> Feedback {
        if quiet {
            Feedback::Hidden
        } else if terminal && !dumb_terminal {
            Feedback::Spinner
        } else {
            Feedback::Plain
        }
    }
}

/// Reports the steps of one command.
#[derive(Debug, Clone)]
pub struct Progress {
    feedback: Feedback,
}

impl Progress {
    pub fn new(feedback: Feedback) -> Self {
        Progress { feedback }
    }

    pub fn feedback(&self) -> Feedback {
        self.feedback
    }

    /// Starts a step such as "creating role"; finish it with [`Step::done`] or [`Step::fail`].
    pub fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = (self.feedback == Feedback::Spinner).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg}") {
                bar.set_style(style);
            }
            bar.set_message(format!("{what}…"));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Step {
            feedback: self.feedback,
            what,
            bar,
            finished: false,
        }
    }

    /// A line that is not a step (e.g. "attached; run `ktail detach …` to remove").
    pub fn note(&self, line: impl AsRef<str>) {
        if self.feedback != Feedback::Hidden {
            let _ = writeln!(std::io::stderr(), "{}", line.as_ref());
        }
    }
}

/// One running step.
#[derive(Debug)]
pub struct Step {
    feedback: Feedback,
    what: String,
    bar: Option<ProgressBar>,
    finished: bool,
}

impl Step {
    /// Changes what the spinner says while the step runs (e.g. "waiting for function (12s)").
    pub fn update(&self, message: impl AsRef<str>) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {}…", self.what, message.as_ref()));
        }
    }

    /// The step succeeded; `outcome` says what happened ("created", "already exists").
    pub fn done(mut self, outcome: impl AsRef<str>) {
        self.finish(true, outcome.as_ref());
    }

    /// The step failed; the error itself is printed once by `main`, so only the step is named.
    pub fn fail(mut self) {
        self.finish(false, "failed");
    }

    fn finish(&mut self, ok: bool, outcome: &str) {
        if self.finished {
            return;
        }
        self.finished = true;
        let line = render(&self.what, ok, outcome, self.feedback == Feedback::Spinner);
        match (&self.bar, self.feedback) {
            (Some(bar), _) => {
                bar.finish_and_clear();
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            (None, Feedback::Plain) => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            _ => {}
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish(false, "failed");
    }
}

/// The line a finished step leaves behind; marks only on a terminal, where they can be read.
fn render(what: &str, ok: bool, outcome: &str, terminal: bool) -> String {
    let detail = if outcome.is_empty() {
        String::new()
    } else {
        format!(": {outcome}")
    };
    match (terminal, ok) {
        (true, true) => format!("\x1b[32m✓\x1b[0m {what}{detail}"),
        (true, false) => format!("\x1b[31m✗\x1b[0m {what}{detail}"),
        (false, _) => format!("{what}{detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_follows_quiet_and_terminal() {
        assert_eq!(Feedback::choose(true, true, false), Feedback::Hidden);
        assert_eq!(Feedback::choose(false, true, false), Feedback::Spinner);
        assert_eq!(Feedback::choose(false, true, true), Feedback::Plain);
        assert_eq!(Feedback::choose(false, false, false), Feedback::Plain);
    }

    #[test]
    fn finished_lines() {
        assert_eq!(
            render("creating role", true, "created", false),
            "creating role: created"
        );
        assert_eq!(
            render("creating role", false, "failed", false),
            "creating role: failed"
        );
        assert!(render("x", true, "", true).ends_with("✓\x1b[0m x"));
    }

    #[test]
    fn a_step_finishes_once() {
        let progress = Progress::new(Feedback::Hidden);
        let mut step = progress.step("deleting");
        step.finish(true, "deleted");
        assert!(step.finished);
        drop(step);
    }
}
