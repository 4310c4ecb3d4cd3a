//! The enhanced fan-out consumer a `--efo` tail reads through: found or registered, waited for
//! until ACTIVE, and deregistered when the tail ends.
//!
//! A consumer is named `ktail-<user>-<host>-<slot>`, so `ListStreamConsumers` shows who left it.
//! The slot is a lock file held for the whole run (`flock`, released by the kernel even when the
//! process is killed): a consumer whose slot nobody holds was left behind by a killed client. The
//! run that takes the slot reuses that consumer if it is ACTIVE (registration takes seconds on
//! AWS), and deregisters the other leftovers of this user and host. Two runs on one host never
//! share a consumer, which would fail their subscriptions (one per consumer and shard).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{Consumer as ConsumerDesc, ConsumerStatus};
use md5::{Digest, Md5};

use super::StreamRef;
use crate::aws::errors::{AwsResultExt as _, error as aws_error};
use crate::progress::Progress;
use crate::retry::{Backoff, Retry};
use crate::signals::CancellationToken;

/// Consumers a stream may have (AWS limit), hence slots a host may use per stream.
const MAX_SLOTS: u32 = 20;
/// Consumers an On-demand Advantage stream may have (RegisterStreamConsumer API reference).
const MAX_CONSUMERS_ADVANTAGE: usize = 50;
/// How long a consumer may take to become ACTIVE, or a DELETING one to go. AWS documents no
/// bound and the SDK has no waiter for consumers, so this is a bounded poll.
const STATE_TIMEOUT: Duration = Duration::from_secs(120);
const STATE_POLL: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2));

/// A registered, ACTIVE consumer owned by this run. Call [`Consumer::release`] when done.
#[derive(Debug)]
pub struct Consumer {
    pub arn: String,
    pub name: String,
    /// Held until the consumer is deregistered: it tells other runs the consumer is in use.
    _slot: File,
}

/// `ktail-<user>-<host>-`: the names this user's runs on this host give their consumers.
pub fn name_prefix() -> String {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .take(max)
            .collect()
    };
    format!("ktail-{}-{}-", clean(&user(), 40), clean(&host(), 60))
}

fn user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }))
}

fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or fails.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    // The short host name: a consumer name allows at most 128 characters.
    let short = name.split('.').next().unwrap_or("").to_string();
    if short.is_empty() {
        "host".into()
    } else {
        short
    }
}

/// Finds or registers this run's consumer on `stream` and waits until it is ACTIVE. `None` when
/// cancelled meanwhile (anything registered by then is deregistered).
pub async fn acquire(
    client: &Client,
    stream: &StreamRef,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<Option<Consumer>> {
    let stream_arn = stream_arn(client, stream).await?;
    let prefix = name_prefix();
    let existing = list(client, &stream_arn, stream).await?;
    let (slot, file) = take_slot(&stream_arn)?;
    let name = format!("{prefix}{slot}");

    // Leftovers of killed runs of this user on this host: every slot that nobody holds.
    for other in &existing {
        let Some(n) = other.consumer_name.strip_prefix(&prefix) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        if n == slot || other.consumer_status != ConsumerStatus::Active || slot_held(&stream_arn, n)
        {
            continue;
        }
        tracing::debug!(consumer = %other.consumer_name, "deregistering a consumer left by a killed run");
        if let Err(err) = client
            .deregister_stream_consumer()
            .consumer_arn(&other.consumer_arn)
            .send()
            .await
        {
            tracing::debug!(error = %err, "could not deregister a leftover consumer");
        }
    }

    let step = progress.step(format!("registering enhanced fan-out consumer {name}"));
    let reused = existing
        .iter()
        .find(|c| c.consumer_name == name && c.consumer_status == ConsumerStatus::Active);
    let arn = match reused {
        Some(c) => c.consumer_arn.clone(),
        None => match register(client, &stream_arn, &name, stream, cancel).await? {
            Some(arn) => arn,
            None => return Ok(None),
        },
    };
    let consumer = Consumer {
        arn,
        name,
        _slot: file,
    };
    if !wait_active(client, &consumer.arn, &consumer.name, stream, cancel).await? {
        consumer.release(client).await;
        return Ok(None);
    }
    step.done(if reused.is_some() {
        "reused (left by an earlier run)"
    } else {
        "active"
    });
    Ok(Some(consumer))
}

impl Consumer {
    /// Deregisters the consumer. A failure is only reported: the next run on this host cleans it.
    pub async fn release(self, client: &Client) {
        let call = client
            .deregister_stream_consumer()
            .consumer_arn(&self.arn)
            .send();
        match tokio::time::timeout(Duration::from_secs(10), call).await {
            Ok(Ok(_)) => tracing::debug!(consumer = %self.name, "consumer deregistered"),
            Ok(Err(err)) => tracing::warn!(
                consumer = %self.name,
                error = %err,
                "could not deregister the consumer; the next `ktail tail --efo` from this host removes it"
            ),
            Err(_) => tracing::warn!(consumer = %self.name, "deregistering the consumer timed out"),
        }
    }
}

/// A consumer with a name of the caller's choosing (the grep mapping's, named after its
/// attachment), as [`ensure_named`] left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub arn: String,
    /// Whether this call registered it (rather than finding it ACTIVE or CREATING).
    pub registered: bool,
}

/// The consumer `name` of the stream `stream_arn`, registered when missing (a DELETING one of
/// that name waited out), once it is ACTIVE. `None` when cancelled meanwhile; a consumer this
/// call registered is deregistered again then.
pub async fn ensure_named(
    client: &Client,
    stream_arn: &str,
    name: &str,
    stream: &StreamRef,
    cancel: &CancellationToken,
) -> Result<Option<Named>> {
    let found = describe(client, stream_arn, name).await?;
    let (arn, registered) = match found {
        Some(c) if c.consumer_status != ConsumerStatus::Deleting => (c.consumer_arn, false),
        _ => match register(client, stream_arn, name, stream, cancel).await? {
            Some(arn) => (arn, true),
            None => return Ok(None),
        },
    };
    match wait_active(client, &arn, name, stream, cancel).await {
        Ok(true) => Ok(Some(Named { arn, registered })),
        Ok(false) => {
            if registered {
                let _ = deregister(client, &arn).await;
            }
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The ARN of the stream's consumer `name`, unless it is gone or on its way out.
pub async fn arn_of(client: &Client, stream_arn: &str, name: &str) -> Result<Option<String>> {
    Ok(describe(client, stream_arn, name)
        .await?
        .filter(|c| c.consumer_status != ConsumerStatus::Deleting)
        .map(|c| c.consumer_arn))
}

/// Deregisters the consumer; `false` when it was gone already.
pub async fn deregister(client: &Client, consumer_arn: &str) -> Result<bool> {
    let out = client
        .deregister_stream_consumer()
        .consumer_arn(consumer_arn)
        .send()
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(aws_error(
            err,
            format!("cannot deregister consumer {consumer_arn}"),
        )),
    }
}

/// Whether an event source ARN names a stream's consumer rather than the stream
/// (`arn:aws:kinesis:…:stream/NAME/consumer/CONSUMER:TIMESTAMP`).
pub fn is_consumer_arn(arn: &str) -> bool {
    arn.contains(":stream/") && arn.contains("/consumer/")
}

/// The consumer's name in its ARN (without the creation timestamp AWS appends).
pub fn consumer_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once("/consumer/")?;
    Some(rest.split(':').next().unwrap_or(rest))
}

/// An enhanced fan-out consumer that a `ktail tail --efo` registered, as `ktail status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub stream: String,
    pub name: String,
    pub status: String,
    /// Whether a run on this host holds it now; `None` for another host's.
    pub in_use_here: Option<bool>,
}

/// Every ktail consumer on every stream of the region: a run killed before it could deregister
/// leaves one, which costs money per shard-hour until removed.
pub async fn registered(client: &Client) -> Result<Vec<Registered>> {
    let mut streams = client.list_streams().into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = streams.next().await {
        let page = page.context("cannot list the streams")?;
        for summary in page.stream_summaries.unwrap_or_default() {
            arns.push((summary.stream_name, summary.stream_arn));
        }
    }
    let here = name_prefix();
    let mut found = Vec::new();
    for (stream, arn) in arns {
        let mut pages = client
            .list_stream_consumers()
            .stream_arn(&arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            // A stream deleted meanwhile has no consumers to show.
            let Ok(page) = page else { break };
            for c in page.consumers.unwrap_or_default() {
                if !c.consumer_name.starts_with("ktail-") {
                    continue;
                }
                let in_use_here = c
                    .consumer_name
                    .strip_prefix(&here)
                    .and_then(|slot| slot.parse::<u32>().ok())
                    .map(|slot| slot_held(&arn, slot));
                found.push(Registered {
                    stream: stream.clone(),
                    name: c.consumer_name,
                    status: c.consumer_status.as_str().to_string(),
                    in_use_here,
                });
            }
        }
    }
    Ok(found)
}

/// RegisterStreamConsumer wants the stream's ARN.
async fn stream_arn(client: &Client, stream: &StreamRef) -> Result<String> {
    if let StreamRef::Arn { arn, .. } = stream {
        return Ok(arn.clone());
    }
    let out = client
        .describe_stream_summary()
        .stream_name(stream.name())
        .send()
        .await
        .map_err(|err| {
            let service = err.as_service_error();
            if service.is_some_and(|s| s.is_resource_not_found_exception()) {
                super::errors::not_found(stream)
            } else if service.is_some_and(|s| s.is_access_denied_exception()) {
                super::errors::denied("kinesis:DescribeStreamSummary", stream)
            } else {
                aws_error(err, format!("cannot describe {stream}"))
            }
        })?;
    out.stream_description_summary
        .map(|d| d.stream_arn)
        .ok_or_else(|| anyhow!("DescribeStreamSummary returned no description of {stream}"))
}

/// Every consumer of the stream (ListStreamConsumers, all pages).
async fn list(client: &Client, stream_arn: &str, stream: &StreamRef) -> Result<Vec<ConsumerDesc>> {
    let mut pages = client
        .list_stream_consumers()
        .stream_arn(stream_arn)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                super::errors::not_found(stream)
            } else if err.code() == Some("AccessDeniedException") {
                super::errors::denied("kinesis:ListStreamConsumers", stream)
            } else {
                aws_error(err, format!("cannot list the consumers of {stream}"))
            }
        })?;
        all.extend(page.consumers.unwrap_or_default());
    }
    Ok(all)
}

/// Registers `name`; waits out a DELETING consumer of the same name first. `None` if cancelled.
async fn register(
    client: &Client,
    stream_arn: &str,
    name: &str,
    stream: &StreamRef,
    cancel: &CancellationToken,
) -> Result<Option<String>> {
    let mut poll = Retry::new(STATE_POLL).with_deadline(Instant::now() + STATE_TIMEOUT);
    let mut full_refusals = 0;
    loop {
        let out = client
            .register_stream_consumer()
            .stream_arn(stream_arn)
            .consumer_name(name)
            .send()
            .await;
        let err = match out {
            Ok(out) => match out.consumer {
                Some(c) => return Ok(Some(c.consumer_arn)),
                None => bail!("RegisterStreamConsumer returned no consumer for {stream}"),
            },
            Err(err) => err,
        };
        let Some(service) = err.as_service_error() else {
            return Err(aws_error(
                err,
                format!("cannot register a consumer on {stream}"),
            ));
        };
        if service.is_limit_exceeded_exception() {
            // Either the stream has all the consumers it may have (20; 50 on On-demand
            // Advantage streams), or the account registers too many at once (5 calls per second,
            // 5 consumers CREATING): the latter passes, so it is waited out.
            let consumers = list(client, stream_arn, stream).await?.len();
            full_refusals += usize::from(consumers >= MAX_SLOTS as usize);
            if consumers >= MAX_CONSUMERS_ADVANTAGE || full_refusals >= 3 {
                bail!(
                    "stream {stream} already has {consumers} enhanced fan-out consumers, the most \
                     it may have; deregister one (`ktail status` lists ktail's) or drop --efo"
                );
            }
        } else if service.is_resource_in_use_exception() {
            // Our name is still DELETING (a consumer released a moment ago), or another run
            // registered it concurrently: look again.
            if let Some(c) = describe(client, stream_arn, name).await?
                && c.consumer_status != ConsumerStatus::Deleting
            {
                return Ok(Some(c.consumer_arn));
            }
        } else if service.is_resource_not_found_exception() {
            return Err(super::errors::not_found(stream));
        } else if service.code() == Some("AccessDeniedException") {
            return Err(super::errors::denied(
                "kinesis:RegisterStreamConsumer",
                stream,
            ));
        } else {
            return Err(aws_error(
                err,
                format!("cannot register a consumer on {stream}"),
            ));
        }
        let Some(wait) = poll.failed() else {
            bail!(
                "consumer {name} on {stream} stayed in use for {STATE_TIMEOUT:?}; try again later"
            );
        };
        if super::reader::sleep_or_cancel(wait, cancel).await {
            return Ok(None);
        }
    }
}

/// The consumer by name, `None` when it does not exist.
async fn describe(client: &Client, stream_arn: &str, name: &str) -> Result<Option<ConsumerInfo>> {
    let out = client
        .describe_stream_consumer()
        .stream_arn(stream_arn)
        .consumer_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot describe consumer {name}"))?;
    Ok(out
        .and_then(|out| out.consumer_description)
        .map(|d| ConsumerInfo {
            consumer_arn: d.consumer_arn,
            consumer_status: d.consumer_status,
        }))
}

struct ConsumerInfo {
    consumer_arn: String,
    consumer_status: ConsumerStatus,
}

/// Polls DescribeStreamConsumer until ACTIVE (no SDK waiter exists for consumers). False when
/// cancelled.
async fn wait_active(
    client: &Client,
    arn: &str,
    name: &str,
    stream: &StreamRef,
    cancel: &CancellationToken,
) -> Result<bool> {
    let mut poll = Retry::new(STATE_POLL).with_deadline(Instant::now() + STATE_TIMEOUT);
    loop {
        let out = client
            .describe_stream_consumer()
            .consumer_arn(arn)
            .send()
            .await
            .map_err(|err| {
                if err.code() == Some("AccessDeniedException") {
                    super::errors::denied("kinesis:DescribeStreamConsumer", stream)
                } else {
                    aws_error(err, format!("cannot describe consumer {name} on {stream}"))
                }
            })?;
        let status = out.consumer_description.map(|d| d.consumer_status);
        match status {
            Some(ConsumerStatus::Active) => return Ok(true),
            Some(ConsumerStatus::Deleting) | None => bail!(
                "consumer {name} on {stream} was deregistered while starting (by another run?); try again"
            ),
            _ => {}
        }
        let Some(wait) = poll.failed() else {
            bail!("consumer {name} on {stream} did not become ACTIVE within {STATE_TIMEOUT:?}");
        };
        if super::reader::sleep_or_cancel(wait, cancel).await {
            return Ok(false);
        }
    }
}

/// The lock file of one slot of one stream, per user (`$XDG_RUNTIME_DIR`, else the temp dir).
fn slot_path(stream_arn: &str, slot: u32) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let hash = hex_prefix(&Md5::digest(stream_arn.as_bytes()));
    let uid = unsafe { libc::getuid() };
    dir.join(format!("ktail-{uid}-efo-{hash}-{slot}.lock"))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn open_slot(stream_arn: &str, slot: u32) -> Result<File> {
    let path = slot_path(stream_arn, slot);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

fn try_lock(file: &File) -> bool {
    // SAFETY: a valid open descriptor; LOCK_NB never blocks.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The first slot no running ktail holds, locked for this run.
fn take_slot(stream_arn: &str) -> Result<(u32, File)> {
    for slot in 0..MAX_SLOTS {
        let file = open_slot(stream_arn, slot)?;
        if try_lock(&file) {
            return Ok((slot, file));
        }
    }
    bail!("{MAX_SLOTS} ktail --efo runs already follow this stream from this host")
}

/// Whether a running ktail holds this slot (its consumer is in use).
fn slot_held(stream_arn: &str, slot: u32) -> bool {
    match open_slot(stream_arn, slot) {
        // Dropping the file releases the probe's lock at once.
        Ok(file) => !try_lock(&file),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_consumer_names() {
        let name = format!("{}19", name_prefix());
        assert!(name.len() <= 128, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
            "{name}"
        );
        assert!(name.starts_with("ktail-"));
    }

    #[test]
    fn a_held_slot_is_skipped_and_freed_on_drop() {
        let arn = format!(
            "arn:aws:kinesis:us-east-1:1:stream/slots-{}",
            std::process::id()
        );
        let (a, file_a) = take_slot(&arn).unwrap();
        assert!(slot_held(&arn, a));
        let (b, file_b) = take_slot(&arn).unwrap();
        assert_ne!(a, b);
        drop(file_a);
        assert!(!slot_held(&arn, a));
        drop(file_b);
    }
}
