//! What a session tells the user: the summary line it ends with, what a second signal prints
//! when it stops waiting for the clean-up, and the `ktail detach` command that finishes the job.

use std::fmt::Write as _;
use std::time::Duration;

use super::Session;
use crate::attachment::{Removal, Removed, Target};

impl Session {
    /// The `ktail detach` command that removes this session's attachment (`--purge`: also what
    /// it created).
    pub(super) fn detach_command(&self, purge: bool) -> String {
        self.plan.detach_command(purge, &self.aws_flags)
    }
}

/// What a second signal prints: what may still exist and the command that removes it.
pub fn leftover_message(session: &Session, target: &Target, removal: Removal) -> String {
    let mut what = vec![format!(
        "the event source mapping of {}",
        target.function_name
    )];
    if removal.function {
        what.push(format!("function {}", target.function_name));
    }
    if removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
    {
        what.push(format!("output stream {stream}"));
    }
    if removal.role
        && let Some(role) = &target.role_name
    {
        what.push(format!("role {role}"));
    }
    let purge = removal.function || removal.filtered_stream || removal.role;
    format!(
        "ktail: stopped before cleaning up; may be left: {}; remove with: {}",
        what.join(", "),
        session.detach_command(purge)
    )
}

/// `12 matches in 1m 3s; removed mapping …, output stream …`
pub(super) fn summary_line(
    matches: u64,
    elapsed: Duration,
    removed: &[Removed],
    kept: &[String],
) -> String {
    let mut line = format!(
        "{matches} {} in {}",
        if matches == 1 { "match" } else { "matches" },
        humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
    );
    if !removed.is_empty() {
        let list: Vec<String> = removed
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect();
        let _ = write!(line, "; removed {}", list.join(", "));
    }
    if !kept.is_empty() {
        let _ = write!(line, "; kept {} for a re-run", kept.join(", "));
    }
    line
}

/// What the summary line adds when other sessions still share the attachment: nothing was
/// removed, the last of them removes it.
pub(super) fn shared_note(others: usize) -> String {
    format!(
        "; left the attachment running for {others} other {} with the same pattern (the last to end removes it)",
        if others == 1 { "session" } else { "sessions" }
    )
}

/// What the summary line adds about what this session used but an earlier run made (a `--keep`
/// run, or `ktail attach`): it stays, and `purge_command` removes it. Empty when there is none.
pub(super) fn left_note(left: &[String], purge_command: &str) -> String {
    if left.is_empty() {
        return String::new();
    }
    format!(
        "; left {} from an earlier run in place (remove with `{purge_command}`)",
        left.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_says_what_happened() {
        let removed = [
            Removed {
                kind: "mapping",
                name: "u-1".into(),
            },
            Removed {
                kind: "output stream",
                name: "ktail-logs-x".into(),
            },
        ];
        assert_eq!(
            summary_line(1, Duration::from_millis(63_400), &removed, &[]),
            "1 match in 1m 3s; removed mapping u-1, output stream ktail-logs-x"
        );
        assert_eq!(
            summary_line(0, Duration::ZERO, &[], &["function f".into()]),
            "0 matches in 0s; kept function f for a re-run"
        );
    }

    #[test]
    fn a_rerun_says_what_it_left_in_place_and_how_to_remove_it() {
        assert_eq!(left_note(&[], "ktail detach s x --purge"), "");
        assert_eq!(
            left_note(
                &["function f".into(), "output stream f".into()],
                "ktail detach s x --purge"
            ),
            "; left function f, output stream f from an earlier run in place \
             (remove with `ktail detach s x --purge`)"
        );
    }
}
