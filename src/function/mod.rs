//! The grep function's core: reads a Kinesis stream through an event source mapping, keeps the
//! user records that match, and puts them, KPL-aggregated, to another stream that `ktail` tails.
//!
//! It lives in the library half (feature `function`) so that the Lambda bootstrap
//! (`lambda-artifact/`, which only wires [`Handler`] into `lambda_runtime`), its tests and
//! benchmarks, and the CLI itself can all run the same code: [`Config`] (from the environment),
//! [`batch::plan`] (pure: event records to output records), [`forward::Forwarder`] (PutRecords
//! with retries, through [`crate::put_records`]), and [`Handler`] tying them together per
//! invocation.

pub mod aws_env;
pub mod batch;
pub mod config;
pub mod expiry;
pub mod forward;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};

pub use config::{Config, ConfigError};
use forward::Forwarder;

/// Time kept back from the invocation's deadline to return the response before Lambda kills us.
const RESPONSE_MARGIN: Duration = Duration::from_millis(500);

/// The per-container state: configuration and clients, built once at init.
#[derive(Debug)]
pub struct Handler {
    config: Config,
    forwarder: Forwarder,
    lambda: aws_sdk_lambda::Client,
    /// Set once this container has disabled its mappings, so later batches do not repeat it.
    disabled: AtomicBool,
}

/// What one invocation did; logged as one JSON line.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub records_in: usize,
    pub user_records: usize,
    pub matched: usize,
    /// Kinesis records put (each carries many matches).
    pub put: usize,
    pub retries: usize,
    pub calls: usize,
    /// Source records reported back to Lambda for re-delivery.
    pub failed_items: usize,
    /// CloudWatch Logs log events seen, and control messages dropped.
    pub log_events: u64,
    pub control_messages: u64,
    /// User records that could not be decoded and were matched (and forwarded) as stored.
    pub undecodable: u64,
    /// Why, in the words of `ktail tail`'s warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_warning: Option<String>,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Handler {
    pub fn new(
        config: Config,
        kinesis: aws_sdk_kinesis::Client,
        lambda: aws_sdk_lambda::Client,
    ) -> Self {
        let forwarder = Forwarder::new(kinesis, config.output.clone());
        Handler {
            config,
            forwarder,
            lambda,
            disabled: AtomicBool::new(false),
        }
    }

    /// Replaces the retry schedule (tests make it short).
    pub fn with_backoff(mut self, backoff: crate::retry::Backoff) -> Self {
        self.forwarder = self.forwarder.with_backoff(backoff);
        self
    }

    /// Handles one batch and logs one line about it. `deadline` is when Lambda ends the
    /// invocation.
    pub async fn handle(&self, event: KinesisEvent, deadline: SystemTime) -> KinesisEventResponse {
        let started = Instant::now();
        if expiry::is_expired(self.config.expires_at, SystemTime::now()) {
            self.expire().await;
            return KinesisEventResponse::default();
        }
        let (response, mut report) = self.process(event, deadline).await;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        log(&report);
        response
    }

    /// De-aggregates, matches and forwards; the response names, per source shard, the first
    /// record whose matches are not all in the output stream.
    pub async fn process(
        &self,
        event: KinesisEvent,
        deadline: SystemTime,
    ) -> (KinesisEventResponse, Report) {
        let plan = batch::plan_decoded(event.records, &self.config.matcher, self.config.decode);
        let mut report = Report {
            records_in: plan.records_in(),
            user_records: plan.user_records,
            matched: plan.matched,
            log_events: plan.decoding.log_events,
            control_messages: plan.decoding.control_messages,
            undecodable: plan.decoding.failed(),
            decode_warning: plan.decoding.warning(),
            ..Report::default()
        };
        let mut response = KinesisEventResponse::default();
        if plan.entries.is_empty() {
            return (response, report);
        }
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(RESPONSE_MARGIN);
        let outcome = self
            .forwarder
            .forward(&plan.entries, &plan.calls(), Instant::now() + left)
            .await;
        report.put = outcome.put;
        report.retries = outcome.retries;
        report.calls = outcome.calls;
        report.error = outcome.error;
        response.batch_item_failures = first_failed_per_shard(&plan, &outcome.failed);
        report.failed_items = response.batch_item_failures.len();
        (response, report)
    }

    async fn expire(&self) {
        if self.disabled.load(Ordering::Relaxed) {
            return;
        }
        let line = match self.config.function_name.as_deref() {
            None => serde_json::json!({
                "expired": true,
                "error": "AWS_LAMBDA_FUNCTION_NAME is not set: cannot find this function's event source mappings",
            }),
            Some(name) => match expiry::disable_mappings(&self.lambda, name).await {
                Ok(uuids) => {
                    self.disabled.store(true, Ordering::Relaxed);
                    serde_json::json!({"expired": true, "expires_at": self.config.expires_at, "disabled_mappings": uuids})
                }
                Err(error) => serde_json::json!({"expired": true, "error": error}),
            },
        };
        println!("{line}");
    }
}

/// Lambda re-delivers a shard from the lowest sequence number reported, so one item per shard,
/// the earliest not fully forwarded, says it all.
fn first_failed_per_shard(plan: &batch::Plan, failed: &[usize]) -> Vec<KinesisBatchItemFailure> {
    let mut firsts: Vec<usize> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut sources: Vec<usize> = failed
        .iter()
        .map(|&i| plan.entries[i].first_source)
        .collect();
    sources.sort_unstable();
    for source in sources {
        if seen.insert(plan.sources[source].shard_id.as_str()) {
            firsts.push(source);
        }
    }
    firsts
        .into_iter()
        .map(|source| {
            let mut item = KinesisBatchItemFailure::default();
            item.item_identifier = Some(plan.sources[source].sequence_number.clone());
            item
        })
        .collect()
}

fn log(report: &Report) {
    if let Ok(line) = serde_json::to_string(report) {
        println!("{line}");
    }
}
