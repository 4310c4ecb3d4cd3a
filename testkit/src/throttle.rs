//! The realism layer's GetRecords throttling: a proxy in front of an emulator that enforces a
//! shard's read limits as AWS does, which no emulator does, and counts every GetRecords per shard
//! per second so tests can check a reader's pace without timing it.
//!
//! The limits follow "Quotas and limits" in the Kinesis Data Streams Developer Guide
//! (<https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html>) and the
//! GetRecords API reference (<https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html>):
//! - each shard serves at most five GetRecords per second, shared by all its consumers: a call
//!   that arrives when five were served in the last second is refused;
//! - each shard serves at most 2 MiB/s: "If a call to GetRecords returns 10 MiB, subsequent calls
//!   made within the next 5 seconds throw an exception". Modelled as a debt: a response adds its
//!   records' bytes, the debt is paid off at 2 MiB/s, and a call that arrives in debt is refused
//!   (10 MiB: five seconds, as documented). Stricter than AWS, which seems to allow short bursts
//!   within a second: a reader that passes here passes there.
//!
//! - GetShardIterator: "five transactions per second per account per open shard"
//!   (API_GetShardIterator); a sixth call for one shard within a second is refused the same way.
//!   Every call's arrival is kept ([`ThrottleProxy::iterator_calls`]), so tests can check how a
//!   tail spreads its readers' starts.
//!
//! A refused call gets what AWS sends: HTTP 400 with `ProvisionedThroughputExceededException`.
//! Refused calls do not count toward the five. [`ThrottleProxy::other_consumer_read`] plays
//! another consumer of the same shards (a production application, the grep Lambda's mapping)
//! that takes read throughput.
//!
//! Shards are told apart by their iterators: GetShardIterator names the shard and returns an
//! iterator, and each GetRecords answer's NextShardIterator belongs to the same shard.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::fault_proxy::{self, Intercept};

/// GetRecords per second a shard serves to all its consumers.
pub const CALLS_PER_SECOND: usize = 5;
/// Bytes per second a shard serves to all its consumers.
pub const BYTES_PER_SECOND: f64 = (2 << 20) as f64;

/// One GetRecords as the proxy saw it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// When it arrived, from the proxy's start.
    pub at: Duration,
    pub throttled: bool,
}

pub struct ThrottleProxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    limits: Arc<Limits>,
}

/// Proxies to `upstream` (`http://host:port`) with AWS's read limits per shard.
pub fn start(upstream: &str) -> ThrottleProxy {
    let limits = Arc::new(Limits {
        started: Instant::now(),
        state: Mutex::default(),
    });
    let endpoint = fault_proxy::start_with(upstream, limits.clone());
    ThrottleProxy { endpoint, limits }
}

impl ThrottleProxy {
    /// Every GetRecords per shard id, in arrival order (GetRecords with an iterator the proxy did
    /// not see issued are under "?").
    pub fn calls(&self) -> BTreeMap<String, Vec<Call>> {
        let state = self.limits.lock();
        state
            .shards
            .iter()
            .map(|(id, shard)| (id.clone(), shard.calls.clone()))
            .collect()
    }

    /// The most GetRecords (served or refused) that arrived for one shard within one whole second
    /// of the proxy's clock, per shard.
    pub fn most_calls_in_a_second(&self) -> BTreeMap<String, usize> {
        self.calls()
            .into_iter()
            .map(|(id, calls)| {
                let mut per_second: HashMap<u64, usize> = HashMap::new();
                for call in &calls {
                    *per_second.entry(call.at.as_secs()).or_default() += 1;
                }
                (id, per_second.into_values().max().unwrap_or(0))
            })
            .collect()
    }

    /// Every GetShardIterator (served or refused) in arrival order: the shard it named, when it
    /// arrived (from the proxy's start), and whether it was refused.
    pub fn iterator_calls(&self) -> Vec<(String, Call)> {
        self.limits.lock().iterator_calls.clone()
    }

    /// GetRecords refused with ProvisionedThroughputExceededException, all shards together.
    pub fn throttled(&self) -> usize {
        self.calls()
            .values()
            .flatten()
            .filter(|call| call.throttled)
            .count()
    }

    /// Another consumer just read `bytes` from every shard seen so far: that much more read
    /// throughput is used (it counts against the 2 MiB/s, not against the five calls).
    pub fn other_consumer_read(&self, bytes: usize) {
        let now = Instant::now();
        let mut state = self.limits.lock();
        for shard in state.shards.values_mut() {
            shard.add_debt(bytes as f64, now);
        }
    }
}

struct Limits {
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Shard iterator -> shard id.
    iterators: HashMap<String, String>,
    shards: HashMap<String, Shard>,
    /// GetShardIterator calls served in the last second, per shard.
    iterators_served: HashMap<String, VecDeque<Instant>>,
    iterator_calls: Vec<(String, Call)>,
}

#[derive(Default)]
struct Shard {
    /// Arrival times of the calls served in the last second.
    served: VecDeque<Instant>,
    /// Bytes read beyond the shard's 2 MiB/s, as of `debt_at`.
    debt: f64,
    debt_at: Option<Instant>,
    calls: Vec<Call>,
}

impl Shard {
    fn debt_now(&self, now: Instant) -> f64 {
        let paid = self.debt_at.map_or(0.0, |at| {
            now.duration_since(at).as_secs_f64() * BYTES_PER_SECOND
        });
        (self.debt - paid).max(0.0)
    }

    fn add_debt(&mut self, bytes: f64, now: Instant) {
        self.debt = self.debt_now(now) + bytes;
        self.debt_at = Some(now);
    }

    /// Whether a call arriving now is refused; counts it either way.
    fn arrive(&mut self, now: Instant, since_start: Duration) -> bool {
        // In debt, the call is refused without counting toward the five.
        let throttled =
            self.debt_now(now) > 0.0 || over_limit(&mut self.served, now, CALLS_PER_SECOND);
        self.calls.push(Call {
            at: since_start,
            throttled,
        });
        throttled
    }
}

impl Limits {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// GetShardIterator: five per second per shard, every call kept.
    fn get_shard_iterator(&self, body: &[u8]) -> Option<(u16, String)> {
        let now = Instant::now();
        let shard_id = text(&json(body), "ShardId").unwrap_or("?").to_string();
        let mut state = self.lock();
        let served = state.iterators_served.entry(shard_id.clone()).or_default();
        let throttled = over_limit(served, now, CALLS_PER_SECOND);
        let call = Call {
            at: now.duration_since(self.started),
            throttled,
        };
        state.iterator_calls.push((shard_id.clone(), call));
        throttled.then(|| exceeded(&shard_id))
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)
}

fn text<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(|v| v.as_str())
}

/// Whether a call arriving `now` exceeds `limit` calls within the last second of `served`;
/// records it as served when not.
fn over_limit(served: &mut VecDeque<Instant>, now: Instant, limit: usize) -> bool {
    while served
        .front()
        .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1))
    {
        served.pop_front();
    }
    let over = served.len() >= limit;
    if !over {
        served.push_back(now);
    }
    over
}

/// What AWS answers a call above a shard's limits, with the shard named.
fn exceeded(shard_id: &str) -> (u16, String) {
    (
        400,
        serde_json::json!({
            "__type": "ProvisionedThroughputExceededException",
            "message": format!("Rate exceeded for shard {shard_id} in stream (realism layer)."),
        })
        .to_string(),
    )
}

impl Intercept for Limits {
    fn request(&self, operation: &str, body: &[u8]) -> Option<(u16, String)> {
        if operation == "GetShardIterator" {
            return self.get_shard_iterator(body);
        }
        if operation != "GetRecords" {
            return None;
        }
        let now = Instant::now();
        let request = json(body);
        let mut state = self.lock();
        let shard_id = text(&request, "ShardIterator")
            .and_then(|it| state.iterators.get(it).cloned())
            .unwrap_or_else(|| "?".to_string());
        let shard = state.shards.entry(shard_id.clone()).or_default();
        if !shard.arrive(now, now.duration_since(self.started)) {
            return None;
        }
        Some(exceeded(&shard_id))
    }

    fn wants_response(&self, operation: &str) -> bool {
        matches!(operation, "GetRecords" | "GetShardIterator")
    }

    fn response(&self, operation: &str, request: &[u8], status: u16, body: &[u8]) {
        if status != 200 {
            return;
        }
        let (request, response) = (json(request), json(body));
        let mut state = self.lock();
        match operation {
            "GetShardIterator" => {
                if let (Some(shard), Some(iterator)) =
                    (text(&request, "ShardId"), text(&response, "ShardIterator"))
                {
                    state
                        .iterators
                        .insert(iterator.to_string(), shard.to_string());
                    state.shards.entry(shard.to_string()).or_default();
                }
            }
            "GetRecords" => {
                let Some(shard_id) =
                    text(&request, "ShardIterator").and_then(|it| state.iterators.get(it).cloned())
                else {
                    return;
                };
                let bytes: usize = response
                    .get("Records")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|r| text(r, "Data"))
                    .map(|data| {
                        base64::engine::general_purpose::STANDARD
                            .decode(data)
                            .map_or(data.len() * 3 / 4, |d| d.len())
                    })
                    .sum();
                if let Some(shard) = state.shards.get_mut(&shard_id) {
                    shard.add_debt(bytes as f64, Instant::now());
                }
                if let Some(next) = text(&response, "NextShardIterator") {
                    state.iterators.insert(next.to_string(), shard_id);
                }
            }
            _ => {}
        }
    }
}
