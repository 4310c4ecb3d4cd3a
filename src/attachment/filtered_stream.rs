//! The filtered stream: the Kinesis stream the grep function writes its matches to, and that
//! `ktail grep` tails (`--output-stream` names it).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::client::Waiters as _;
use aws_sdk_kinesis::types::{EncryptionType, StreamMode, StreamModeDetails, StreamStatus};

use super::Change;
use super::names::is_managed_tag;
use crate::aws::errors::{self, AwsResultExt as _};

/// A new stream is usually ACTIVE within seconds; a busy account can take a minute or two.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// How a newly created filtered stream is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Provisioned(u32),
    OnDemand,
}

/// What attach needs to know of an existing stream.
#[derive(Debug, Clone)]
pub struct Summary {
    pub arn: String,
    pub status: StreamStatus,
    /// The KMS key that encrypts the stream (`KeyId` when `EncryptionType` is `KMS`), as
    /// DescribeStreamSummary reports it: a key ARN, key id, alias name or alias ARN.
    pub kms_key: Option<String>,
}

/// A stream's ARN, status and KMS key, or `None` when it does not exist.
pub async fn summary(kinesis: &Client, name: &str) -> Result<Option<Summary>> {
    let out = kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot describe stream {name}"))?;
    Ok(out.and_then(|out| out.stream_description_summary).map(|s| {
        let kms_key = (s.encryption_type == Some(EncryptionType::Kms))
            .then_some(s.key_id)
            .flatten();
        Summary {
            arn: s.stream_arn,
            status: s.stream_status,
            kms_key,
        }
    }))
}

/// A stream's ARN and status, or `None` when it does not exist.
pub async fn describe(kinesis: &Client, name: &str) -> Result<Option<(String, StreamStatus)>> {
    Ok(summary(kinesis, name).await?.map(|s| (s.arn, s.status)))
}

/// Creates the stream when missing, tagged with `tags` in the same call, and waits until it is
/// ACTIVE. A stream this call created and could not finish is deleted again before the error is
/// returned, so a failed step leaves nothing behind.
pub async fn ensure(
    kinesis: &Client,
    name: &str,
    capacity: Capacity,
    tags: &HashMap<String, String>,
) -> Result<(String, Change)> {
    let created = match describe(kinesis, name).await? {
        Some((_, StreamStatus::Deleting)) => bail!(
            "output stream {name} is being deleted; retry in a minute or pass --output-stream"
        ),
        Some(_) => false,
        None => create(kinesis, name, capacity, tags).await?,
    };
    match settle(kinesis, name, tags, created).await {
        Ok(arn) if created => Ok((arn, Change::Created)),
        Ok(arn) => Ok((arn, Change::Unchanged)),
        Err(err) if created => Err(super::undone(
            err,
            &format!("output stream {name}"),
            delete(kinesis, name).await,
        )),
        Err(err) => Err(err),
    }
}

/// CreateStream with the tags; `false` when another ktail is creating the same stream right now
/// (it is then waited for like our own, and not ours to delete).
async fn create(
    kinesis: &Client,
    name: &str,
    capacity: Capacity,
    tags: &HashMap<String, String>,
) -> Result<bool> {
    let mode = match capacity {
        Capacity::Provisioned(_) => StreamMode::Provisioned,
        Capacity::OnDemand => StreamMode::OnDemand,
    };
    let mut request = kinesis
        .create_stream()
        .stream_name(name)
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(mode)
                .build()
                .map_err(anyhow::Error::from)?,
        )
        .set_tags(Some(tags.clone()));
    if let Capacity::Provisioned(shards) = capacity {
        request = request.shard_count(i32::try_from(shards).unwrap_or(i32::MAX));
    }
    match request.send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(errors::error(
            err,
            format!("cannot create output stream {name}"),
        )),
    }
}

/// Waits until the stream is ACTIVE and returns its ARN. A stream this run created carries its
/// tags from CreateStream; an emulator that drops creation tags gets them added here.
async fn settle(
    kinesis: &Client,
    name: &str,
    tags: &HashMap<String, String>,
    created: bool,
) -> Result<String> {
    kinesis
        .wait_until_stream_exists()
        .stream_name(name)
        .wait(ACTIVE_TIMEOUT)
        .await
        .map_err(|e| {
            errors::wait_error(e, format!("output stream {name} did not become active"))
        })?;
    if created && !is_managed(kinesis, name).await? {
        kinesis
            .add_tags_to_stream()
            .stream_name(name)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .or_aws_error(|| format!("cannot tag output stream {name}"))?;
    }
    match describe(kinesis, name).await? {
        Some((arn, _)) => Ok(arn),
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
            .any(|t| is_managed_tag(&t.key, t.value.as_deref().unwrap_or_default()))
    }))
}

/// Deletes the stream, waiting first while it is still being created (Kinesis refuses to delete
/// a CREATING stream); `false` when it was already gone or is being deleted.
pub async fn delete(kinesis: &Client, name: &str) -> Result<bool> {
    match describe(kinesis, name).await? {
        None | Some((_, StreamStatus::Deleting)) => return Ok(false),
        Some((_, StreamStatus::Active)) => {}
        Some(_) => {
            kinesis
                .wait_until_stream_exists()
                .stream_name(name)
                .wait(ACTIVE_TIMEOUT)
                .await
                .map_err(|e| {
                    errors::wait_error(e, format!("output stream {name} did not finish creating"))
                })?;
        }
    }
    let deleted = kinesis
        .delete_stream()
        .stream_name(name)
        .enforce_consumer_deletion(true)
        .send()
        .await
        .not_found_as_none(|| format!("cannot delete output stream {name}"))?;
    Ok(deleted.is_some())
}
