//! The streams of a region: ListStreams (every page) and a DescribeStreamSummary per stream, for
//! `ktail ls`, the interactive picker and TAB completion.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::StreamMode;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::errors::{self, AwsResultExt as _};

/// ListStreams page size: AWS's own default and maximum-friendly value; also stops emulators
/// that default to 10 from cutting the list short.
const PAGE_SIZE: i32 = 100;

/// DescribeStreamSummary calls in flight: its account limit is 20 per second, and the SDK
/// retries the throttled ones.
const DESCRIBE_CONCURRENCY: usize = 8;

/// One stream with what a tail needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub name: String,
    pub arn: String,
    /// CREATING, ACTIVE, UPDATING or DELETING.
    pub status: String,
    pub mode: CapacityMode,
    pub open_shards: i32,
    pub retention_hours: i32,
}

/// How a stream's capacity is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityMode {
    OnDemand,
    Provisioned,
}

impl CapacityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityMode::OnDemand => "on-demand",
            CapacityMode::Provisioned => "provisioned",
        }
    }
}

/// Every stream in the region, sorted by name, with its summary. A stream deleted between the
/// listing and its description is left out.
pub async fn list_streams(client: &Client) -> Result<Vec<StreamInfo>> {
    let names = list_stream_names(client).await?;
    let permits = Arc::new(Semaphore::new(DESCRIBE_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for name in names {
        let client = client.clone();
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            describe(&client, name).await
        });
    }
    let mut streams = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Some(info) = joined.context("a stream description task failed")?? {
            streams.push(info);
        }
    }
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(streams)
}

/// All pages of ListStreams. Pages follow `NextToken` as the SDK paginator does, and fall back to
/// the older `ExclusiveStartStreamName` when a service says `HasMoreStreams` without a token
/// (ferrokinesis and older emulators), which the paginator would silently stop at.
pub async fn list_stream_names(client: &Client) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let request = client.list_streams().limit(PAGE_SIZE);
        let request = match next_token.take() {
            // The API rejects a start name next to a token.
            Some(token) => request.next_token(token),
            None => request.set_exclusive_start_stream_name(names.last().cloned()),
        };
        let page = request.send().await.map_err(errors::cause)?;
        let before = names.len();
        names.extend(page.stream_names().iter().cloned());
        next_token = page.next_token().map(str::to_owned);
        let progressed = names.len() > before;
        if next_token.is_none() && !(page.has_more_streams() && progressed) {
            break;
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

async fn describe(client: &Client, name: String) -> Result<Option<StreamInfo>> {
    let Some(out) = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot describe stream {name}"))?
    else {
        return Ok(None);
    };
    let Some(summary) = out.stream_description_summary else {
        anyhow::bail!("the description of stream {name} came back empty; try again");
    };
    let mode = match summary
        .stream_mode_details()
        .map(|details| details.stream_mode())
    {
        Some(StreamMode::OnDemand) => CapacityMode::OnDemand,
        // Streams created before capacity modes existed report none: they are provisioned.
        _ => CapacityMode::Provisioned,
    };
    Ok(Some(StreamInfo {
        arn: summary.stream_arn().to_owned(),
        status: summary.stream_status().as_str().to_owned(),
        mode,
        open_shards: summary.open_shard_count(),
        retention_hours: summary.retention_period_hours(),
        name,
    }))
}

/// The KMS key that encrypts `stream` (DescribeStreamSummary's `KeyId` when its `EncryptionType`
/// is `KMS`), or `None` when it is not encrypted.
pub async fn kms_key(client: &Client, stream: &super::StreamRef) -> Result<Option<String>> {
    let request = match stream {
        super::StreamRef::Name(name) => client.describe_stream_summary().stream_name(name),
        super::StreamRef::Arn { arn, .. } => client.describe_stream_summary().stream_arn(arn),
    };
    let out = request
        .send()
        .await
        .not_found_as_none(|| format!("cannot describe stream {stream}"))?;
    Ok(out
        .and_then(|out| out.stream_description_summary)
        .filter(|s| s.encryption_type == Some(aws_sdk_kinesis::types::EncryptionType::Kms))
        .and_then(|s| s.key_id))
}
