//! When `-e` ends a shard: the end-of-stream rule shared by the polling and the enhanced fan-out
//! reader, as pure functions (unit tested below).
//!
//! The rule (README, `tail`): a shard is done at the first GetRecords response or
//! SubscribeToShard event in which Kinesis reports it 0 ms behind the tip. The API reference
//! defines `MillisBehindLatest` the same way for both: "A value of zero indicates that record
//! processing is caught up, and there are no new records to process at this moment." The records
//! of that response are printed: the shard ends at its tip as it was when it was caught up, so
//! everything written before the tail began is printed, and a stream that keeps receiving writes
//! still ends. (Before issue 17, `-e` waited for a response with no records, which a shard written
//! once per poll interval never gives.)
//!
//! Three guards keep that rule right where a service reports less than AWS does:
//! - A GetRecords page holding as many records as were asked for is never taken as the end, so a
//!   service that reports 0 while behind cannot cut a shard short: ferrokinesis 0.7 answers every
//!   GetRecords on an open shard, and every SubscribeToShard event, with 0 (it returns as many
//!   records as are there, up to the limit, so a page short of the limit is its tip). On AWS
//!   this costs at most one more call, which then says 0 again.
//! - With no `MillisBehindLatest` at all, only an empty page says caught up (the rule `-e` had
//!   before). kinesis-mock 0.6.2 reports it as AWS does: 0 once a response reaches the last
//!   record, else the arrival-time gap to it.
//! - A shard that never reports 0 (written faster than it can be read, e.g. while other
//!   consumers take its 2 MB/s, or a service that never reports 0) still ends: at the first
//!   record that arrived more than [`GRACE`] after the tail started. No API gives an open shard's
//!   latest sequence number, so the cut is by arrival time, like `--until`; the margin keeps a
//!   client clock that is behind the service's from cutting records written before the start.

use chrono::{DateTime, TimeDelta, Utc};

/// How long after the start of a `-e` tail records still belong to it when a shard never
/// reports caught up; also the clock skew between this machine and Kinesis that `-e` tolerates
/// without cutting records written before it started. Generous, since the SDK corrects a skewed
/// clock for signing and the tail keeps working; it matters only to a shard that cannot catch up.
pub const GRACE: TimeDelta = TimeDelta::minutes(5);

/// What one GetRecords response or SubscribeToShard event says, as far as ending goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// `MillisBehindLatest`, when the service sent it.
    pub behind: Option<i64>,
    /// Records in the response.
    pub returned: usize,
    /// GetRecords returned as many records as its Limit asked for: more may be waiting,
    /// whatever `behind` says. Always false for events (they have no limit).
    pub full: bool,
}

impl Page {
    /// Whether this response reached the shard's tip as it was when it was sent: with `-e`, its
    /// records are the shard's last.
    pub fn caught_up(&self) -> bool {
        if self.full {
            return false;
        }
        match self.behind {
            Some(ms) => ms <= 0,
            None => self.returned == 0,
        }
    }
}

/// The arrival time after which records no longer belong to a `-e` tail started at `started`:
/// the end of a shard that never reports caught up.
pub fn cutoff(started: DateTime<Utc>) -> Option<DateTime<Utc>> {
    started.checked_add_signed(GRACE)
}

/// The earlier of two optional time cuts (`--until`, the `-e` cutoff); `None` when neither.
pub fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(behind: Option<i64>, returned: usize, full: bool) -> Page {
        Page {
            behind,
            returned,
            full,
        }
    }

    #[test]
    fn zero_behind_is_caught_up_with_or_without_records() {
        // The case issue 17 is about: every poll finds the records written since the last one.
        assert!(page(Some(0), 3, false).caught_up());
        assert!(page(Some(0), 0, false).caught_up());
    }

    #[test]
    fn behind_is_not_caught_up_even_when_empty() {
        // AWS returns empty pages with MillisBehindLatest > 0 while an iterator crosses a gap.
        assert!(!page(Some(1), 0, false).caught_up());
        assert!(!page(Some(86_400_000), 500, false).caught_up());
    }

    #[test]
    fn a_full_page_is_never_the_end() {
        // ferrokinesis says 0 on every page, also while thousands of records wait.
        assert!(!page(Some(0), 10_000, true).caught_up());
        assert!(!page(Some(0), 1, true).caught_up());
        assert!(!page(None, 1, true).caught_up());
    }

    #[test]
    fn without_millis_behind_latest_only_an_empty_page_is_the_end() {
        assert!(page(None, 0, false).caught_up());
        assert!(!page(None, 7, false).caught_up());
    }

    #[test]
    fn the_cutoff_leaves_room_for_clock_skew() {
        let started = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let cut = cutoff(started).unwrap();
        assert_eq!(cut - started, GRACE);
        assert!(GRACE >= TimeDelta::minutes(1));
        assert_eq!(cutoff(DateTime::<Utc>::MAX_UTC), None);
    }

    #[test]
    fn the_earliest_cut_wins() {
        let t = |s| DateTime::from_timestamp(s, 0);
        assert_eq!(earliest(t(5), t(3)), t(3));
        assert_eq!(earliest(t(5), None), t(5));
        assert_eq!(earliest(None, t(3)), t(3));
        assert_eq!(earliest(None, None), None);
    }
}
