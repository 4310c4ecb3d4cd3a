//! The event source mapping from the source stream to the grep function: low lag, bounded retries,
//! so that a debugging tool can never wedge a shard of someone's production stream.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError;
use aws_sdk_lambda::types::{
    EventSourceMappingConfiguration, EventSourcePosition, FunctionResponseType,
};
use chrono::{DateTime, Utc};

use super::{BUSY, Change, iam_propagation};
use crate::aws::errors::{AwsResultExt as _, error as aws_error, is_iam_propagation, is_not_found};
use crate::kinesis::Start;
use crate::retry::{Backoff, Retry, retry};

/// Records per invocation: the function handles 10,000 ~1 KB records in well under its timeout, and a
/// larger batch means fewer invocations on a busy stream.
pub const BATCH_SIZE: i32 = 500;
/// Invoke as soon as records arrive: lag matters more than invocation count for a live tail.
pub const BATCHING_WINDOW_SECONDS: i32 = 0;
/// A failing batch is retried (and bisected) this many times, then skipped.
pub const MAX_RETRY_ATTEMPTS: i32 = 2;
/// Records older than this are skipped when reading from now on.
pub const MAX_RECORD_AGE_LATEST: i32 = 3600;
/// Lambda's upper bound for MaximumRecordAgeInSeconds.
const MAX_RECORD_AGE_LIMIT: i64 = 604_800;
/// There is no SDK waiter for mappings; they usually settle within seconds.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
const SETTLE_POLL: Backoff = Backoff::constant(Duration::from_secs(1));

/// What the mapping is made of.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    pub source_arn: String,
    pub function_name: String,
    /// Where the mapping starts reading the source stream (the same positions as a tail's).
    pub start: Start,
    pub parallel: u32,
    pub tags: HashMap<String, String>,
}

/// Skips records older than the start point needs, with an hour to spare for catching up; bounded
/// so that a stuck batch is eventually dropped.
pub fn max_record_age(start: Start, now: DateTime<Utc>) -> i32 {
    let seconds = match start {
        Start::Latest => i64::from(MAX_RECORD_AGE_LATEST),
        Start::TrimHorizon => MAX_RECORD_AGE_LIMIT,
        Start::AtTimestamp(t) => (now - t).num_seconds().max(0) + i64::from(MAX_RECORD_AGE_LATEST),
    };
    i32::try_from(seconds.min(MAX_RECORD_AGE_LIMIT)).unwrap_or(MAX_RECORD_AGE_LATEST)
}

/// The mapping's UUID and what was done to it.
#[derive(Debug, Clone)]
pub struct Ensured {
    pub uuid: String,
    pub change: Change,
    pub detail: &'static str,
    /// The event sources of the function's other mappings, deleted: the stream itself when the
    /// attachment moved to a consumer (`--efo`), the consumer when it moved back.
    pub replaced: Vec<String>,
}

/// Every mapping of the function (ktail functions have one: each serves one source stream).
pub async fn list(
    lambda: &Client,
    function_name: &str,
) -> Result<Vec<EventSourceMappingConfiguration>> {
    let mut pages = lambda
        .list_event_source_mappings()
        .function_name(function_name)
        .into_paginator()
        .items()
        .send();
    let mut mappings = Vec::new();
    while let Some(mapping) = pages.next().await {
        let found = mapping.not_found_as_none(|| {
            format!("cannot list the event source mappings of function {function_name}")
        })?;
        // No such function: no mappings.
        let Some(m) = found else {
            return Ok(Vec::new());
        };
        mappings.push(m);
    }
    Ok(mappings)
}

/// Creates the mapping, or re-enables and updates an existing one, then waits until it is Enabled.
/// A mapping this call created that does not become Enabled is deleted again.
pub async fn ensure(lambda: &Client, spec: &MappingSpec, policy_is_fresh: bool) -> Result<Ensured> {
    let (mine, others): (Vec<_>, Vec<_>) = list(lambda, &spec.function_name)
        .await?
        .into_iter()
        .partition(|m| m.event_source_arn() == Some(spec.source_arn.as_str()));
    // A ktail function reads one source: a mapping from anything else is this attachment read the
    // other way (the stream vs. its consumer), and both at once would print each match twice.
    let mut replaced = Vec::new();
    for other in &others {
        let (Some(uuid), Some(source)) = (other.uuid(), other.event_source_arn()) else {
            continue;
        };
        if !is_deleting(other) {
            delete(lambda, uuid).await?;
        }
        wait_gone(lambda, uuid).await?;
        replaced.push(source.to_owned());
    }
    let mut ensured = ensure_one(lambda, spec, mine.into_iter().next(), policy_is_fresh).await?;
    ensured.replaced = replaced;
    Ok(ensured)
}

async fn ensure_one(
    lambda: &Client,
    spec: &MappingSpec,
    mut existing: Option<EventSourceMappingConfiguration>,
    policy_is_fresh: bool,
) -> Result<Ensured> {
    // A deleted mapping stays listed as Deleting for seconds and can be neither updated nor
    // replaced until it is gone (DeleteEventSourceMapping API reference): wait it out.
    if let Some(deleting) = existing.as_ref().filter(|m| is_deleting(m)) {
        if let Some(uuid) = deleting.uuid() {
            wait_gone(lambda, uuid).await?;
        }
        existing = None;
    }
    let Some(existing) = existing else {
        let Some(uuid) = create(lambda, spec, policy_is_fresh).await? else {
            // Another ktail created it a moment ago: use that one.
            return Box::pin(ensure(lambda, spec, false)).await;
        };
        if let Err(err) = wait_enabled(lambda, &uuid).await {
            // Ours and not working: take it away again, so a failed step leaves nothing behind.
            let undo = delete(lambda, &uuid).await;
            return Err(super::undone(
                err,
                &format!("event source mapping {uuid}"),
                undo,
            ));
        }
        return Ok(Ensured {
            uuid,
            change: Change::Created,
            detail: "created",
            replaced: Vec::new(),
        });
    };
    let uuid = existing
        .uuid()
        .context("Lambda returned an event source mapping without a UUID")?
        .to_owned();
    let state = settle(lambda, &uuid).await?;
    let disabled = state != "Enabled";
    let settings_differ = existing.batch_size() != Some(BATCH_SIZE)
        || existing.maximum_batching_window_in_seconds() != Some(BATCHING_WINDOW_SECONDS)
        || existing.parallelization_factor() != i32::try_from(spec.parallel).ok()
        || existing.maximum_retry_attempts() != Some(MAX_RETRY_ATTEMPTS)
        || existing.bisect_batch_on_function_error() != Some(true)
        || existing.function_response_types() != [FunctionResponseType::ReportBatchItemFailures];
    if !disabled && !settings_differ {
        return Ok(Ensured {
            uuid,
            change: Change::Unchanged,
            detail: "enabled",
            replaced: Vec::new(),
        });
    }
    // A change by someone else can land between the wait above and this call: Lambda then
    // refuses ours with ResourceInUseException until that one settles.
    let mut busy = Retry::new(BUSY);
    loop {
        let updated = lambda
            .update_event_source_mapping()
            .uuid(&uuid)
            .enabled(true)
            .batch_size(BATCH_SIZE)
            .maximum_batching_window_in_seconds(BATCHING_WINDOW_SECONDS)
            .parallelization_factor(i32::try_from(spec.parallel).unwrap_or(1))
            .maximum_retry_attempts(MAX_RETRY_ATTEMPTS)
            .bisect_batch_on_function_error(true)
            .function_response_types(FunctionResponseType::ReportBatchItemFailures)
            .send()
            .await;
        match updated {
            Ok(_) => break,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                let Some(wait) = busy.failed() else {
                    return Err(aws_error(
                        err,
                        format!("cannot update event source mapping {uuid}"),
                    ));
                };
                tokio::time::sleep(wait).await;
                settle(lambda, &uuid).await?;
            }
            Err(err) => {
                return Err(aws_error(
                    err,
                    format!("cannot update event source mapping {uuid}"),
                ));
            }
        }
    }
    wait_enabled(lambda, &uuid).await?;
    Ok(Ensured {
        uuid,
        change: Change::Updated,
        detail: if disabled { "re-enabled" } else { "updated" },
        replaced: Vec::new(),
    })
}

/// The new mapping's UUID, or `None` when one for this stream and function already exists.
async fn create(
    lambda: &Client,
    spec: &MappingSpec,
    policy_is_fresh: bool,
) -> Result<Option<String>> {
    let (position, timestamp) = match spec.start {
        Start::Latest => (EventSourcePosition::Latest, None),
        Start::TrimHorizon => (EventSourcePosition::TrimHorizon, None),
        Start::AtTimestamp(t) => (
            EventSourcePosition::AtTimestamp,
            Some(aws_smithy_types::DateTime::from_millis(
                t.timestamp_millis(),
            )),
        ),
    };
    // Lambda checks the role's permissions on the stream, which IAM may not show it yet.
    let result = retry(
        iam_propagation(policy_is_fresh),
        |err: &SdkError<CreateEventSourceMappingError, _>| is_iam_propagation(err),
        || {
            lambda
                .create_event_source_mapping()
                .event_source_arn(&spec.source_arn)
                .function_name(&spec.function_name)
                .enabled(true)
                .starting_position(position.clone())
                .set_starting_position_timestamp(timestamp)
                .batch_size(BATCH_SIZE)
                .maximum_batching_window_in_seconds(BATCHING_WINDOW_SECONDS)
                .parallelization_factor(i32::try_from(spec.parallel).unwrap_or(1))
                .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                .maximum_retry_attempts(MAX_RETRY_ATTEMPTS)
                .maximum_record_age_in_seconds(max_record_age(spec.start, Utc::now()))
                .bisect_batch_on_function_error(true)
                .set_tags(Some(spec.tags.clone()))
                .send()
        },
    )
    .await;
    match result {
        Ok(out) => out
            .uuid
            .context("Lambda returned an event source mapping without a UUID")
            .map(Some),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws_error(
            err,
            format!(
                "cannot map stream {} to function {}",
                spec.source_arn, spec.function_name
            ),
        )),
    }
}

/// Waits while the mapping is in a transitional state and returns the state it settles in.
async fn settle(lambda: &Client, uuid: &str) -> Result<String> {
    let mut poll = Retry::new(SETTLE_POLL).with_deadline(Instant::now() + SETTLE_TIMEOUT);
    loop {
        let out = lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .or_aws_error(|| format!("cannot read event source mapping {uuid}"))?;
        let state = out.state.unwrap_or_default();
        if !matches!(
            state.as_str(),
            "Creating" | "Enabling" | "Disabling" | "Updating"
        ) {
            return Ok(state);
        }
        let Some(wait) = poll.failed() else {
            bail!("event source mapping {uuid} is still {state}; check it with `ktail status`");
        };
        tokio::time::sleep(wait).await;
    }
}

/// Whether the mapping was deleted and is on its way out (listed for seconds after
/// DeleteEventSourceMapping).
pub fn is_deleting(mapping: &EventSourceMappingConfiguration) -> bool {
    mapping.state() == Some("Deleting")
}

/// Waits until a deleted mapping is no longer there.
async fn wait_gone(lambda: &Client, uuid: &str) -> Result<()> {
    let mut poll = Retry::new(SETTLE_POLL).with_deadline(Instant::now() + SETTLE_TIMEOUT);
    loop {
        let found = lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .not_found_as_none(|| format!("cannot read event source mapping {uuid}"))?;
        if found.is_none() {
            return Ok(());
        }
        let Some(wait) = poll.failed() else {
            bail!(
                "event source mapping {uuid} is still being deleted; try again in a minute (`ktail status` shows it)"
            );
        };
        tokio::time::sleep(wait).await;
    }
}

async fn wait_enabled(lambda: &Client, uuid: &str) -> Result<()> {
    match settle(lambda, uuid).await?.as_str() {
        "Enabled" => Ok(()),
        other => bail!("event source mapping {uuid} is {other} instead of Enabled"),
    }
}

/// Deletes the mapping; `false` when it was already gone.
pub async fn delete(lambda: &Client, uuid: &str) -> Result<bool> {
    let mut poll = Retry::new(SETTLE_POLL).with_deadline(Instant::now() + SETTLE_TIMEOUT);
    loop {
        match lambda.delete_event_source_mapping().uuid(uuid).send().await {
            Ok(_) => return Ok(true),
            Err(err) if is_not_found(&err) => return Ok(false),
            // A mapping that is being created or updated cannot be deleted until it settles.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                match poll.failed() {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => {
                        return Err(aws_error(
                            err,
                            format!("cannot delete event source mapping {uuid}"),
                        ));
                    }
                }
            }
            Err(err) => {
                return Err(aws_error(
                    err,
                    format!("cannot delete event source mapping {uuid}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_age_covers_the_start_and_stays_bounded() {
        let now = Utc::now();
        assert_eq!(max_record_age(Start::Latest, now), 3600);
        assert_eq!(
            max_record_age(Start::AtTimestamp(now - chrono::Duration::hours(2)), now),
            3 * 3600
        );
        assert_eq!(
            max_record_age(Start::AtTimestamp(now - chrono::Duration::days(30)), now),
            604_800
        );
        assert_eq!(max_record_age(Start::TrimHorizon, now), 604_800);
    }
}
