//! The one backoff and retry policy of ktail and of its grep function: how long to wait after a
//! failed call, and when to stop trying.
//!
//! A [`Backoff`] says how the waits grow (doubling from a first delay up to a cap, or constant),
//! whether they are jittered, and how many calls may be made in all. A [`Retry`] follows one loop
//! through that policy, optionally bounded by a deadline: the loop calls [`Retry::failed`] after a
//! failure and gets the wait before the next call, or `None` when it is time to give up. Which
//! errors are worth another call stays with each loop (it knows its service's errors), and so does
//! the waiting itself, since most loops must also stop on a cancellation. [`retry`] runs the
//! common whole-call case.
//!
//! Pure apart from the clock: no I/O, no runtime, so the grep function links it as is.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// How long to wait between calls, and how many calls to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    first: Duration,
    /// Waits double after every failure up to this.
    max: Duration,
    /// Each wait drawn uniformly from its upper half (`[d/2, d]`), so that many callers that
    /// failed together do not call again together.
    jitter: bool,
    /// Calls in all, the first one included; `None`: until success, a deadline or the caller.
    attempts: Option<u32>,
}

impl Backoff {
    /// Waits doubling from `first` to at most `max`.
    pub const fn exponential(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            jitter: false,
            attempts: None,
        }
    }

    /// The same wait every time (a poll).
    pub const fn constant(delay: Duration) -> Self {
        Backoff::exponential(delay, delay)
    }

    /// Each wait drawn from `[d/2, d]` instead of `d`.
    pub const fn with_jitter(mut self) -> Self {
        self.jitter = true;
        self
    }

    /// At most `attempts` calls in all (the first one included).
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// Calls in all this policy allows, if it bounds them.
    pub const fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// The wait after `failures` consecutive failed calls (1 for the first): `first`, doubled
    /// per further failure, capped at `max`, jittered if asked.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let cap = self.first.saturating_mul(1 << doublings).min(self.max);
        if !self.jitter {
            return cap;
        }
        let high = cap.as_millis() as u64;
        let low = high / 2;
        Duration::from_millis(low + random() % (high - low + 1))
    }
}

/// One loop's way through a [`Backoff`]: counts its consecutive failures and knows its deadline.
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    failures: u32,
    deadline: Option<Instant>,
}

impl Retry {
    pub fn new(backoff: Backoff) -> Self {
        Retry {
            backoff,
            failures: 0,
            deadline: None,
        }
    }

    /// No call is started at or after `deadline`.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Counts a failed call; returns the wait before the next one, or `None` when the policy
    /// gives up: every allowed call was made, or the next one would start at or after the
    /// deadline.
    pub fn failed(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if self
            .backoff
            .attempts
            .is_some_and(|attempts| self.failures >= attempts)
        {
            return None;
        }
        let delay = self.backoff.delay(self.failures);
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() + delay >= deadline)
        {
            return None;
        }
        Some(delay)
    }

    /// A call went through: the next failure waits the first delay again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failed calls so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Runs `call` until it succeeds, fails with an error `retryable` rejects, or `backoff` gives up,
/// sleeping between calls. For the few errors that only time cures.
#[cfg(feature = "rt")]
pub async fn retry<T, E, Fut>(
    backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut call: impl FnMut() -> Fut,
) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut retry = Retry::new(backoff);
    loop {
        match call().await {
            Err(err) if retryable(&err) => match retry.failed() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            },
            other => return other,
        }
    }
}

/// 64 random bits for jitter, without a dependency: std's `RandomState` is seeded randomly per
/// thread and steps its keys on every `new()`, so each call hashes with fresh keys.
fn random() -> u64 {
    RandomState::new().hash_one(0u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_waits_double_to_the_cap() {
        let backoff = Backoff::exponential(100 * MS, 2000 * MS);
        let waits: Vec<_> = (1..=7).map(|n| backoff.delay(n)).collect();
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1600, 2000, 2000].map(|ms| ms * MS)
        );
        assert_eq!(backoff.delay(u32::MAX), 2000 * MS, "no overflow");
        assert_eq!(Backoff::constant(3000 * MS).delay(9), 3000 * MS);
    }

    #[test]
    fn jittered_waits_stay_in_the_upper_half() {
        let backoff = Backoff::exponential(250 * MS, 5000 * MS).with_jitter();
        for failures in 1..40 {
            let cap = Backoff::exponential(250 * MS, 5000 * MS).delay(failures);
            let d = backoff.delay(failures);
            assert!(d <= cap && d >= cap / 2, "{failures}: {d:?} of {cap:?}");
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff.delay(5)).collect();
        assert!(spread.len() > 1, "jitter varies");
    }

    #[test]
    fn attempts_count_every_call() {
        let mut retry = Retry::new(Backoff::exponential(100 * MS, 2000 * MS).max_attempts(3));
        assert_eq!(retry.failed(), Some(100 * MS));
        assert_eq!(retry.failed(), Some(200 * MS));
        assert_eq!(retry.failed(), None, "the third failed call was the last");
        assert_eq!(retry.failures(), 3);
        retry.succeeded();
        assert_eq!(retry.failed(), Some(100 * MS));
    }

    #[test]
    fn no_call_starts_at_or_after_the_deadline() {
        let backoff = Backoff::constant(50 * MS);
        let mut soon = Retry::new(backoff).with_deadline(Instant::now() + 40 * MS);
        assert_eq!(soon.failed(), None);
        let mut later = Retry::new(backoff).with_deadline(Instant::now() + 60_000 * MS);
        assert_eq!(later.failed(), Some(50 * MS));
        let mut unbounded = Retry::new(backoff);
        assert!((0..1000).all(|_| unbounded.failed().is_some()));
    }

    #[cfg(feature = "rt")]
    #[tokio::test]
    async fn retries_are_bounded_and_only_for_the_given_errors() {
        use std::cell::Cell;
        let policy = |attempts| Backoff::constant(Duration::ZERO).max_attempts(attempts);
        let calls = Cell::new(0);
        let always_failing = || {
            calls.set(calls.get() + 1);
            async { Err::<(), &str>("role not assumable yet") }
        };
        let result = retry(policy(3), |_| true, always_failing).await;
        assert_eq!((result, calls.get()), (Err("role not assumable yet"), 3));

        calls.set(0);
        let succeeds_third = || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err("later") } else { Ok(n) } }
        };
        let result = retry(policy(12), |_| true, succeeds_third).await;
        assert_eq!(result, Ok(3));

        calls.set(0);
        let other_error = || {
            calls.set(calls.get() + 1);
            async { Err::<(), &str>("access denied") }
        };
        let result = retry(policy(12), |e| *e == "later", other_error).await;
        assert_eq!((result, calls.get()), (Err("access denied"), 1));
    }
}
