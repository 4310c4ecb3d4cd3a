//! The event source mapping's poller, played by the test: no emulator runs Lambda functions, so
//! this reads the mappings of a source stream from moto, polls the stream in moto's Kinesis, and
//! invokes the committed x86_64 `bootstrap` through the Runtime API stand-in
//! ([`crate::lambda_runtime`]) with the function's environment from moto plus endpoint and
//! credentials pointing at moto. That makes `ktail grep` testable end to end.
//!
//! What it does as Lambda does:
//! - only `Enabled` mappings are polled; a disabled or deleted mapping stops being polled (and its
//!   function process ends);
//! - StartingPosition LATEST starts where the stream ends when polling begins (tests wait for
//!   [`Poller::wait_polling`] before producing), TRIM_HORIZON and AT_TIMESTAMP as named;
//! - a configuration change (e.g. `ktail grep` renewing `KTAIL_EXPIRES_AT`) starts a new
//!   execution environment, since the function reads its environment once, at init;
//! - `batchItemFailures` re-delivers the shard from the first failed record, a function error
//!   re-delivers the whole batch, each at most [`MAX_RETRIES`] times, then the batch is skipped.
//!
//! One poller per source stream; it runs on its own thread until dropped.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine as _;
use serde_json::json;

use crate::lambda_runtime::{Function, Outcome, bootstrap};
use crate::{Emulator, REGION};

/// Re-deliveries of one batch before it is skipped (the mapping's MaximumRetryAttempts).
pub const MAX_RETRIES: u32 = 2;
const POLL_EVERY: Duration = Duration::from_millis(100);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the poller has done so far, for assertions and waits.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    /// Mappings (UUIDs) whose shards are being polled now.
    pub polling: HashSet<String>,
    /// Mappings that were polled at some point.
    pub seen: HashSet<String>,
    pub invocations: usize,
    /// Times a function process was (re)started.
    pub starts: usize,
    /// Function errors and poller failures, for the panic message of a test that fails.
    pub errors: Vec<String>,
}

pub struct Poller {
    stop: Arc<AtomicBool>,
    activity: Arc<Mutex<Activity>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The x86_64 bootstrap, extracted once per test binary.
fn bootstrap_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| bootstrap("x86_64")).clone()
}

impl Poller {
    /// Starts polling the mappings of `source` (a stream in `moto`).
    pub fn start(moto: &'static Emulator, source: &str) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Mutex::new(Activity::default()));
        let bootstrap = bootstrap_path();
        let (source, flag, shared) = (source.to_owned(), Arc::clone(&stop), Arc::clone(&activity));
        let thread = thread::Builder::new()
            .name(format!("esm-poller-{source}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("poller runtime");
                runtime.block_on(async move {
                    let mut state = PollerState::new(moto, &source, bootstrap, shared).await;
                    while !flag.load(Ordering::Relaxed) {
                        state.round().await;
                        tokio::time::sleep(POLL_EVERY).await;
                    }
                });
            })
            .expect("spawn the poller thread");
        Poller {
            stop,
            activity,
            thread: Some(thread),
        }
    }

    pub fn activity(&self) -> Activity {
        self.activity.lock().unwrap().clone()
    }

    /// Waits until `n` mappings are being polled (so a producer writing now is not missed by a
    /// LATEST mapping).
    #[track_caller]
    pub fn wait_polling(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, &format!("{n} mappings polled"), |a| {
            a.polling.len() >= n
        });
    }

    /// Waits until `check` holds for the activity; panics with it after `timeout`.
    #[track_caller]
    pub fn wait_until(&self, timeout: Duration, what: &str, check: impl Fn(&Activity) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let activity = self.activity();
            if check(&activity) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the poller never reached: {what} within {timeout:?}; activity: {activity:#?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One shard of a polled mapping.
struct ShardCursor {
    shard: String,
    iterator: Option<String>,
    /// The batch being re-delivered, and how often it was.
    retries: u32,
}

/// One enabled mapping being polled.
struct Run {
    function_name: String,
    /// The function configuration the process was started with.
    revision: Option<String>,
    function: Option<Function>,
    shards: Vec<ShardCursor>,
}

struct PollerState {
    moto: &'static Emulator,
    source: String,
    source_arn: Option<String>,
    bootstrap: PathBuf,
    kinesis: aws_sdk_kinesis::Client,
    lambda: aws_sdk_lambda::Client,
    runs: HashMap<String, Run>,
    activity: Arc<Mutex<Activity>>,
}

impl PollerState {
    async fn new(
        moto: &'static Emulator,
        source: &str,
        bootstrap: PathBuf,
        activity: Arc<Mutex<Activity>>,
    ) -> Self {
        PollerState {
            moto,
            source: source.to_owned(),
            source_arn: None,
            bootstrap,
            kinesis: moto.kinesis().await,
            lambda: moto.lambda().await,
            runs: HashMap::new(),
            activity,
        }
    }

    fn error(&self, message: String) {
        self.activity.lock().unwrap().errors.push(message);
    }

    async fn round(&mut self) {
        if self.source_arn.is_none() {
            self.source_arn = self
                .kinesis
                .describe_stream_summary()
                .stream_name(&self.source)
                .send()
                .await
                .ok()
                .and_then(|o| o.stream_description_summary)
                .map(|d| d.stream_arn);
        }
        let Some(arn) = self.source_arn.clone() else {
            return;
        };
        let mappings = match self
            .lambda
            .list_event_source_mappings()
            .event_source_arn(&arn)
            .send()
            .await
        {
            Ok(out) => out.event_source_mappings.unwrap_or_default(),
            Err(e) => {
                self.error(format!("ListEventSourceMappings: {e:?}"));
                return;
            }
        };
        let enabled: HashMap<String, _> = mappings
            .into_iter()
            .filter(|m| m.state() == Some("Enabled"))
            .filter_map(|m| Some((m.uuid()?.to_owned(), m)))
            .collect();
        // Disabled or deleted: stop polling, end the function process.
        self.runs.retain(|uuid, _| enabled.contains_key(uuid));
        for (uuid, mapping) in &enabled {
            if self.runs.contains_key(uuid) {
                continue;
            }
            let Some(function_name) = mapping
                .function_arn()
                .and_then(|a| a.rsplit_once(":function:"))
                .map(|(_, name)| name.to_owned())
            else {
                continue;
            };
            match self.open_shards(mapping).await {
                Ok(shards) => {
                    self.runs.insert(
                        uuid.clone(),
                        Run {
                            function_name,
                            revision: None,
                            function: None,
                            shards,
                        },
                    );
                }
                Err(e) => self.error(format!("mapping {uuid}: {e}")),
            }
        }
        {
            let mut activity = self.activity.lock().unwrap();
            activity.polling = self.runs.keys().cloned().collect();
            activity.seen.extend(self.runs.keys().cloned());
        }
        let uuids: Vec<String> = self.runs.keys().cloned().collect();
        for uuid in uuids {
            if let Err(e) = self.poll(&uuid, &arn).await {
                self.error(format!("mapping {uuid}: {e}"));
            }
        }
    }

    async fn open_shards(
        &self,
        mapping: &aws_sdk_lambda::types::EventSourceMappingConfiguration,
    ) -> Result<Vec<ShardCursor>, String> {
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.source)
            .send()
            .await
            .map_err(|e| format!("ListShards: {e:?}"))?
            .shards
            .unwrap_or_default();
        let mut cursors = Vec::new();
        for shard in shards {
            let mut request = self
                .kinesis
                .get_shard_iterator()
                .stream_name(&self.source)
                .shard_id(shard.shard_id());
            request = match mapping.starting_position().map(|p| p.as_str()) {
                Some("TRIM_HORIZON") => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
                Some("AT_TIMESTAMP") => request
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .set_timestamp(mapping.starting_position_timestamp().cloned()),
                _ => request.shard_iterator_type(ShardIteratorType::Latest),
            };
            let iterator = request
                .send()
                .await
                .map_err(|e| format!("GetShardIterator: {e:?}"))?
                .shard_iterator;
            cursors.push(ShardCursor {
                shard: shard.shard_id().to_owned(),
                iterator,
                retries: 0,
            });
        }
        Ok(cursors)
    }

    /// (Re)starts the function when its configuration changed, as Lambda does.
    async fn ensure_function(&mut self, uuid: &str) -> Result<(), String> {
        let name = self.runs[uuid].function_name.clone();
        let config = self
            .lambda
            .get_function_configuration()
            .function_name(&name)
            .send()
            .await
            .map_err(|e| format!("GetFunctionConfiguration {name}: {e:?}"))?;
        let mut env: Vec<(String, String)> = config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        env.sort();
        // moto bumps neither RevisionId nor LastModified on a configuration update.
        let revision = Some(format!("{env:?}"));
        let run = self.runs.get_mut(uuid).expect("run");
        if run.function.is_some() && run.revision == revision {
            return Ok(());
        }
        // A process that reads the environment it had: drop it before starting the new one.
        run.function = None;
        env.push(("AWS_ENDPOINT_URL".into(), self.moto.endpoint.clone()));
        let env_refs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run.function = Some(Function::spawn(&self.bootstrap, &name, &env_refs));
        run.revision = revision;
        self.activity.lock().unwrap().starts += 1;
        Ok(())
    }

    async fn poll(&mut self, uuid: &str, source_arn: &str) -> Result<(), String> {
        self.ensure_function(uuid).await?;
        let count = self.runs[uuid].shards.len();
        for i in 0..count {
            let Some(iterator) = self.runs[uuid].shards[i].iterator.clone() else {
                continue;
            };
            let out = self
                .kinesis
                .get_records()
                .shard_iterator(&iterator)
                .limit(500)
                .send()
                .await
                .map_err(|e| format!("GetRecords: {e:?}"))?;
            let records = out.records();
            if records.is_empty() {
                self.runs.get_mut(uuid).expect("run").shards[i].iterator =
                    out.next_shard_iterator().map(str::to_owned);
                continue;
            }
            let shard = self.runs[uuid].shards[i].shard.clone();
            let payload = event(source_arn, &shard, records);
            let run = self.runs.get_mut(uuid).expect("run");
            let function = run.function.as_mut().expect("function started");
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                function.invoke(&payload, INVOKE_TIMEOUT)
            }));
            self.activity.lock().unwrap().invocations += 1;
            // Where the shard resumes: after the batch, or at a record to re-deliver.
            let redeliver_from: Option<String> = match outcome {
                Ok(Outcome::Response(body)) => {
                    let response: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    response["batchItemFailures"]
                        .as_array()
                        .and_then(|items| {
                            items
                                .iter()
                                .filter_map(|i| i["itemIdentifier"].as_str())
                                .min_by_key(|s| s.parse::<u128>().unwrap_or(u128::MAX))
                        })
                        .map(str::to_owned)
                }
                Ok(Outcome::Error(body)) => {
                    let message = String::from_utf8_lossy(&body).into_owned();
                    self.error(format!("function error: {message}"));
                    Some(records[0].sequence_number().to_owned())
                }
                Err(_) => {
                    self.error("the function did not answer (see its log)".into());
                    // A dead process is restarted on the next round.
                    self.runs.get_mut(uuid).expect("run").function = None;
                    Some(records[0].sequence_number().to_owned())
                }
            };
            let cursor = &mut self.runs.get_mut(uuid).expect("run").shards[i];
            match redeliver_from {
                Some(sequence) if cursor.retries < MAX_RETRIES => {
                    cursor.retries += 1;
                    cursor.iterator = self
                        .kinesis
                        .get_shard_iterator()
                        .stream_name(&self.source)
                        .shard_id(&shard)
                        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                        .starting_sequence_number(sequence)
                        .send()
                        .await
                        .map_err(|e| format!("GetShardIterator: {e:?}"))?
                        .shard_iterator;
                }
                _ => {
                    cursor.retries = 0;
                    cursor.iterator = out.next_shard_iterator().map(str::to_owned);
                }
            }
        }
        Ok(())
    }
}

/// A Kinesis event as Lambda delivers it.
fn event(source_arn: &str, shard: &str, records: &[aws_sdk_kinesis::types::Record]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let arrival = r
                .approximate_arrival_timestamp()
                .map(|t| t.as_secs_f64())
                .unwrap_or(0.0);
            json!({
                "eventID": format!("{shard}:{}", r.sequence_number()),
                "eventName": "aws:kinesis:record",
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "awsRegion": REGION,
                "eventSourceARN": source_arn,
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/ktail-test",
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key(),
                    "sequenceNumber": r.sequence_number(),
                    "data": b64.encode(r.data().as_ref()),
                    "approximateArrivalTimestamp": arrival,
                }
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).expect("event JSON")
}
