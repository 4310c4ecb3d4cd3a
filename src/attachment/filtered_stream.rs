//! The filtered stream: the Kinesis stream the grep function writes its matches to, and that
//! `ktail grep` tails (`--output-stream` names it).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::client::Waiters as _;
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};

use super::Change;
use super::names::TAG_MANAGED;
use crate::aws::errors::{self, AwsResultExt as _};

/// A new stream is usually ACTIVE within seconds; a busy account can take a minute or two.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// How a newly created filtered stream is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Provisioned(u32),
    OnDemand,
}

/// A stream's ARN and status, or `None` when it does not exist.
pub async fn describe(kinesis: &Client, name: &str) -> Result<Option<(String, StreamStatus)>> {
    let out = kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot describe stream {name}"))?;
    Ok(out
        .and_then(|out| out.stream_description_summary)
        .map(|s| (s.stream_arn, s.stream_status)))
}

/// Creates the stream when missing (tagged with `tags`) and waits until it is ACTIVE.
pub async fn ensure(
    kinesis: &Client,
    name: &str,
    capacity: Capacity,
    tags: &HashMap<String, String>,
) -> Result<(String, Change)> {
    let change = match describe(kinesis, name).await? {
        Some((_, StreamStatus::Deleting)) => bail!(
            "output stream {name} is being deleted; retry in a minute or pass --output-stream"
        ),
        Some(_) => Change::Unchanged,
        None => {
            let mut request = kinesis.create_stream().stream_name(name);
            request = match capacity {
                Capacity::Provisioned(shards) => request
                    .shard_count(i32::try_from(shards).unwrap_or(i32::MAX))
                    .stream_mode_details(
                        StreamModeDetails::builder()
                            .stream_mode(StreamMode::Provisioned)
                            .build()
                            .map_err(anyhow::Error::from)?,
                    ),
                Capacity::OnDemand => request.stream_mode_details(
                    StreamModeDetails::builder()
                        .stream_mode(StreamMode::OnDemand)
                        .build()
                        .map_err(anyhow::Error::from)?,
                ),
            };
            match request.send().await {
                Ok(_) => Change::Created,
                // Another ktail is creating it right now: wait for it like for our own.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_in_use_exception()) =>
                {
                    Change::Unchanged
                }
                Err(err) => {
                    return Err(errors::error(
                        err,
                        format!("cannot create output stream {name}"),
                    ));
                }
            }
        }
    };
    kinesis
        .wait_until_stream_exists()
        .stream_name(name)
        .wait(ACTIVE_TIMEOUT)
        .await
        .map_err(|e| {
            errors::wait_error(e, format!("output stream {name} did not become active"))
        })?;
    if change == Change::Created {
        // Tagged after creation rather than in CreateStream: some emulators drop creation tags.
        kinesis
            .add_tags_to_stream()
            .stream_name(name)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .or_aws_error(|| format!("cannot tag output stream {name}"))?;
    }
    match describe(kinesis, name).await? {
        Some((arn, _)) => Ok((arn, change)),
        None => bail!("output stream {name} disappeared while it was being created"),
    }
}

/// Whether ktail created the stream (and so may delete it).
pub async fn is_managed(kinesis: &Client, name: &str) -> Result<bool> {
    let out = kinesis
        .list_tags_for_stream()
        .stream_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot read the tags of stream {name}"))?;
    Ok(out.is_some_and(|out| {
        out.tags
            .iter()
            .any(|t| t.key == TAG_MANAGED && t.value.as_deref() == Some("true"))
    }))
}

/// Deletes the stream; `false` when it was already gone.
pub async fn delete(kinesis: &Client, name: &str) -> Result<bool> {
    let deleted = kinesis
        .delete_stream()
        .stream_name(name)
        .enforce_consumer_deletion(true)
        .send()
        .await
        .not_found_as_none(|| format!("cannot delete output stream {name}"))?;
    Ok(deleted.is_some())
}
