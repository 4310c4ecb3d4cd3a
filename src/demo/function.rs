//! The grep function as the demo runs it: in this process, configured from the same environment
//! `ktail attach` gives the deployed function (`MATCH`, `STREAM_NAME`, `MATCH_INVERT`,
//! `MATCH_IGNORE_CASE`), invoked by the local poller with the `KinesisEvent` Lambda would send,
//! answering with the `KinesisEventResponse` (batch item failures) Lambda would get.
//!
//! This file is the one seam between the demo and the function's code: the poller knows only
//! [`Function::new`] and [`Function::invoke`].
//!
//! STAND-IN: the function's core still lives in `lambda-artifact/src` (which the CLI cannot
//! depend on: the package cycle), and is moving into the library as `src/function/`. Until it
//! lands, this file does what `lambda-artifact/src/batch.rs` and `forward.rs` do, in small:
//! de-aggregate, match, re-aggregate per source shard under the shard id as partition key,
//! PutRecords, and name the first record per shard whose matches did not go out. Once
//! `src/function/` exists, this file becomes a thin wrapper around its config and handler.

use std::collections::HashMap;
use std::time::SystemTime;

use anyhow::{Result, anyhow};
use aws_config::SdkConfig;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use bytes::Bytes;

use crate::contract::env;
use crate::filter::{MatchOptions, Matcher};
use crate::kpl::{self, Aggregator};

/// PutRecords takes at most this many entries per call.
const ENTRIES_PER_CALL: usize = 500;

/// The function's environment for a pattern, as `ktail attach` sets it.
pub fn environment(
    pattern: &str,
    options: MatchOptions,
    filtered_stream: &str,
) -> HashMap<String, String> {
    let mut env = HashMap::from([
        (env::MATCH.to_owned(), pattern.to_owned()),
        (env::STREAM_NAME.to_owned(), filtered_stream.to_owned()),
    ]);
    if options.invert {
        env.insert(env::MATCH_INVERT.to_owned(), "true".to_owned());
    }
    if options.ignore_case {
        env.insert(env::MATCH_IGNORE_CASE.to_owned(), "true".to_owned());
    }
    env
}

/// One warm execution environment of the grep function.
pub struct Function {
    matcher: Matcher,
    filtered_stream: String,
    kinesis: aws_sdk_kinesis::Client,
}

impl Function {
    /// Initialises the function as Lambda's init phase does: configuration from `env`, clients
    /// from `sdk` (the embedded Kinesis).
    pub fn new(sdk: &SdkConfig, env: &HashMap<String, String>) -> Result<Function> {
        let flag = |name: &str| env.get(name).is_some_and(|v| v == "true" || v == "1");
        let pattern = env
            .get(env::MATCH)
            .ok_or_else(|| anyhow!("{} is not set", env::MATCH))?;
        let options = MatchOptions {
            invert: flag(env::MATCH_INVERT),
            ignore_case: flag(env::MATCH_IGNORE_CASE),
        };
        let matcher = Matcher::new(&[pattern], options)
            .map_err(|e| anyhow!("{} is not a valid pattern: {e}", env::MATCH))?;
        let filtered_stream = env
            .get(env::STREAM_NAME)
            .cloned()
            .ok_or_else(|| anyhow!("{} is not set", env::STREAM_NAME))?;
        Ok(Function {
            matcher,
            filtered_stream,
            kinesis: aws_sdk_kinesis::Client::new(sdk),
        })
    }

    /// One invocation: the records of `event` that match go to the filtered stream; the
    /// response names, per shard, the first record to re-deliver.
    pub async fn invoke(&self, event: KinesisEvent, _deadline: SystemTime) -> KinesisEventResponse {
        // (shard, aggregator, index of the first source record it holds)
        let mut shards: Vec<(String, Aggregator, Option<usize>)> = Vec::new();
        // (data, partition key, first source record)
        let mut entries: Vec<(Vec<u8>, String, usize)> = Vec::new();
        let mut sources: Vec<(String, String)> = Vec::new();
        for (index, record) in event.records.into_iter().enumerate() {
            let shard = record
                .event_id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map_or("shardId-unknown", |(shard, _)| shard)
                .to_owned();
            let users = kpl::deaggregate(
                Bytes::from(record.kinesis.data.0),
                &record.kinesis.partition_key,
                None,
            );
            let slot = match shards.iter().position(|(s, _, _)| *s == shard) {
                Some(slot) => slot,
                None => {
                    shards.push((shard.clone(), Aggregator::new(), None));
                    shards.len() - 1
                }
            };
            let (id, aggregator, first) = &mut shards[slot];
            for user in users.iter().filter(|u| self.matcher.is_match(&u.data)) {
                if let Some(full) = aggregator.add(&user.data, id, None) {
                    entries.push((full.data, id.clone(), first.unwrap_or(index)));
                    *first = Some(index);
                }
                first.get_or_insert(index);
            }
            sources.push((shard, record.kinesis.sequence_number));
        }
        for (id, mut aggregator, first) in shards {
            if let Some(last) = aggregator.flush() {
                entries.push((last.data, id, first.unwrap_or(0)));
            }
        }
        let failed = self.put(&entries).await;
        let mut response = KinesisEventResponse::default();
        let mut firsts: Vec<usize> = failed.iter().map(|&i| entries[i].2).collect();
        firsts.sort_unstable();
        let mut seen = Vec::new();
        for source in firsts {
            let (shard, sequence) = &sources[source];
            if !seen.contains(shard) {
                seen.push(shard.clone());
                let mut item = KinesisBatchItemFailure::default();
                item.item_identifier = Some(sequence.clone());
                response.batch_item_failures.push(item);
            }
        }
        response
    }

    /// Puts the entries in order; returns the indices that did not go in (a failed call fails
    /// the rest, which would otherwise land out of order).
    async fn put(&self, entries: &[(Vec<u8>, String, usize)]) -> Vec<usize> {
        for (n, chunk) in entries.chunks(ENTRIES_PER_CALL).enumerate() {
            let records = chunk
                .iter()
                .filter_map(|(data, key, _)| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(data.clone()))
                        .partition_key(key)
                        .build()
                        .ok()
                })
                .collect();
            let sent = self
                .kinesis
                .put_records()
                .stream_name(&self.filtered_stream)
                .set_records(Some(records))
                .send()
                .await;
            let start = n * ENTRIES_PER_CALL;
            let first_failed = match sent {
                Ok(out) => out.records().iter().position(|r| r.error_code().is_some()),
                Err(_) => Some(0),
            };
            if let Some(offset) = first_failed {
                return (start + offset..entries.len()).collect();
            }
        }
        Vec::new()
    }
}
