//! When readers make their first read: spread over the first poll interval instead of all in one
//! instant.
//!
//! A tail of a 1,000-shard stream starts 1,000 readers. Each takes its iterator at once (one
//! GetShardIterator per shard is within AWS's five per second per shard, the tail's bound on
//! calls in flight keeps it from opening a connection per shard, and LATEST stays the moment the
//! tail started), then waits its turn here for its first GetRecords (or, with `--efo`, its first
//! SubscribeToShard). 1,000 first reads in the same instant would be a spike of memory and CPU
//! and polls that stay lined up from then on. Following costs one poll per shard per interval, so
//! spreading the first reads over one interval asks no more calls per second of the service at
//! the start than following does later, and the first reader still reads at once: the time to
//! the first record does not grow.
//!
//! Readers take turns through one FIFO gate: a few pass, then the gate stays shut for a step.
//! The pause is counted from the turn, not from a schedule, so a reader delayed by a busy machine
//! never lets a catch-up burst through behind it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::signals::CancellationToken;

/// The shortest pause worth a timer (tokio's timers tick every millisecond and round up).
const MIN_STEP: Duration = Duration::from_millis(5);
/// The longest pause between starts: for a few shards, starts 10 ms apart are no burst, and
/// waiting longer would only delay their first records.
const MAX_STEP: Duration = Duration::from_millis(10);

/// The turns readers take to start; shared by every reader of one tail.
#[derive(Debug)]
pub struct Stagger {
    /// Readers that passed since the gate last paused.
    gate: Arc<Mutex<usize>>,
    /// Readers that pass together before a pause.
    per_step: usize,
    step: Duration,
}

impl Stagger {
    /// Starts for `shards` readers spread over `interval` (at most [`MAX_STEP`] apart).
    pub fn new(shards: usize, interval: Duration) -> Stagger {
        let shards = shards.max(1);
        let even = interval / shards.try_into().unwrap_or(u32::MAX);
        let (per_step, step) = if even >= MIN_STEP {
            (1, even.min(MAX_STEP))
        } else {
            // Several readers per step: as many as keep the whole spread within `interval`.
            let steps = (interval.as_micros() / MIN_STEP.as_micros()).max(1) as usize;
            (shards.div_ceil(steps), MIN_STEP)
        };
        Stagger {
            gate: Arc::new(Mutex::new(0)),
            per_step,
            step,
        }
    }

    /// Waits for this reader's turn to start. Turns are given in the order they are asked for.
    pub async fn turn(&self) {
        let mut passed = self.gate.clone().lock_owned().await;
        *passed += 1;
        if *passed >= self.per_step {
            *passed = 0;
            let step = self.step;
            // Keep the gate shut for a step, without holding this reader back.
            tokio::spawn(async move {
                tokio::time::sleep(step).await;
                drop(passed);
            });
        }
    }

    /// [`Stagger::turn`], or false when `cancel` fires first.
    pub async fn turn_or_cancel(&self, cancel: &CancellationToken) -> bool {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => false,
            _ = self.turn() => true,
        }
    }

    #[cfg(test)]
    fn shape(&self) -> (usize, Duration) {
        (self.per_step, self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_few_shards_start_at_most_ten_milliseconds_apart() {
        assert_eq!(Stagger::new(1, SECOND).shape(), (1, MAX_STEP));
        assert_eq!(Stagger::new(4, SECOND).shape(), (1, MAX_STEP));
        assert_eq!(Stagger::new(0, SECOND).shape(), (1, MAX_STEP));
    }

    #[test]
    fn many_shards_spread_over_one_interval() {
        assert_eq!(Stagger::new(100, SECOND).shape(), (1, MAX_STEP));
        assert_eq!(
            Stagger::new(200, SECOND).shape(),
            (1, Duration::from_millis(5))
        );
        // 1,000 shards: 5 every 5 ms, 200 steps, one second.
        assert_eq!(Stagger::new(1000, SECOND).shape(), (5, MIN_STEP));
        assert_eq!(Stagger::new(1001, SECOND).shape(), (6, MIN_STEP));
        assert_eq!(
            Stagger::new(1000, Duration::from_millis(200)).shape(),
            (25, MIN_STEP)
        );
        // Never a zero step, whatever the interval.
        assert_eq!(Stagger::new(10, Duration::ZERO).shape(), (10, MIN_STEP));
    }

    #[tokio::test]
    async fn turns_pass_in_order_a_few_per_step() {
        // 60 shards over 100 ms: 3 every 5 ms, 20 steps.
        let stagger = Arc::new(Stagger::new(60, Duration::from_millis(100)));
        assert_eq!(stagger.shape(), (3, MIN_STEP));
        let started = tokio::time::Instant::now();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..60usize {
            let (stagger, order) = (stagger.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                stagger.turn().await;
                order.lock().unwrap().push((i, started.elapsed()));
            }));
            // Spawned in order, as the fan-in does; let each ask for its turn.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let ids: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, (0..60).collect::<Vec<_>>());
        // A lower bound only: a busy machine stretches the steps, never shortens them.
        let last = order[59].1;
        assert!(last >= 19 * MIN_STEP, "{last:?}");
    }
}
