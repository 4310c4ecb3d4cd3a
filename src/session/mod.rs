//! A `ktail grep` session: validate → attach the grep function → tail the filtered stream → detach
//! what this session created, whatever ends it (Ctrl-C, SIGTERM, SIGHUP, `-n`, `--until`, an
//! error). `--local` skips the Lambda and filters the source stream on this machine instead.
//!
//! The session owns three things the one-shot commands do not: the signal policy (the first
//! signal starts the cleanup, a second one stops waiting for it and says what is left), the
//! dead-client deadline it keeps pushing forward while it lives, and the bookkeeping of what it
//! created, so that ending one session never removes what another one (or the user) made.
//!
//! [`run`](run()) is the orchestration; [`cleanup`] keeps the books of what the session made and
//! takes it apart; [`report`] words what the user reads (the summary line, the leftovers message,
//! the `ktail detach` command).

mod cleanup;
mod report;
mod run;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::attachment::AttachPlan;
use crate::printer::PrintOptions;

pub use report::leftover_message;
pub use run::run;

/// `--ttl` when `grep` is not given one: long enough that renewals are rare, short enough that a
/// forgotten attachment stops costing money the same day.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// A resolved `ktail grep` (built by the config step), everything validated.
#[derive(Debug, Clone)]
pub struct Session {
    /// What to attach; `plan.ttl` is the dead-client guard (always set for a session).
    pub plan: AttachPlan,
    /// Keep what this session created (but the mapping) for a quick re-run.
    pub keep: bool,
    /// No Lambda: tail the source and match here.
    pub local: bool,
    /// Tail with enhanced fan-out (`--efo` without `--tail-polling`).
    pub efo_tail: bool,
    pub until: Option<DateTime<Utc>>,
    pub max_records: Option<u64>,
    pub print: PrintOptions,
    /// How to name the session's leftovers in a `ktail detach` command: the global AWS flags
    /// that were given (`--profile …`, `--region …`), already shell-quoted.
    pub aws_flags: String,
}

impl Session {
    fn ttl(&self) -> Duration {
        self.plan.ttl.unwrap_or(DEFAULT_TTL)
    }
}
