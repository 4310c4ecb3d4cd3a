//! What a failed Kinesis call means for a reader: wait and retry, renew the iterator, or stop the
//! run with one clear line. Errors are told apart by their modelled type (`is_*()`), and by error
//! code only for the ones a given operation does not model (never by message text).

use std::error::Error as StdError;

use anyhow::anyhow;

use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::get_records::GetRecordsError;
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_kinesis::operation::list_shards::ListShardsError;

use super::StreamRef;
use crate::aws::errors;

/// How a reader reacts to a failed call.
#[derive(Debug)]
pub enum Failure {
    /// The shard's (or KMS's) read limit: back off with jitter and try again.
    Throttled,
    /// The iterator is older than five minutes: get a new one after the last record seen.
    Expired,
    /// Network trouble or a 5xx: retry with backoff, give up after a while.
    Transient(anyhow::Error),
    /// Nothing will make it work: end the run with this message.
    Fatal(anyhow::Error),
}

const DENIED: &str = "AccessDeniedException";
const LIMIT: &str = "LimitExceededException";
const KMS_THROTTLED: &str = "KMSThrottlingException";

pub fn get_records(err: SdkError<GetRecordsError, HttpResponse>, stream: &StreamRef) -> Failure {
    if let Some(service) = err.as_service_error() {
        if service.is_provisioned_throughput_exceeded_exception()
            || service.is_kms_throttling_exception()
            || service.code() == Some(LIMIT)
        {
            return Failure::Throttled;
        }
        if service.is_expired_iterator_exception() {
            return Failure::Expired;
        }
        if service.is_resource_not_found_exception() {
            return Failure::Fatal(not_found(stream));
        }
        if service.is_access_denied_exception() || service.code() == Some(DENIED) {
            return Failure::Fatal(denied("kinesis:GetRecords", stream));
        }
        if service.is_kms_access_denied_exception()
            || service.is_kms_disabled_exception()
            || service.is_kms_invalid_state_exception()
            || service.is_kms_not_found_exception()
            || service.is_kms_opt_in_required()
        {
            return Failure::Fatal(anyhow::Error::new(KmsRefused {
                code: service.code().unwrap_or("KMS error").to_owned(),
            }));
        }
        if service.is_internal_failure_exception() {
            return Failure::Transient(errors::cause(err));
        }
    }
    classify_rest(err, "kinesis:GetRecords", stream)
}

/// GetRecords on a KMS-encrypted stream whose key these credentials may not use for kms:Decrypt
/// (KMSAccessDeniedException), or that cannot be used at all (disabled, not found, pending
/// deletion…). Kinesis does not name the key in the error; [`name_the_key`] looks it up.
#[derive(Debug)]
pub struct KmsRefused {
    /// The error code Kinesis returned.
    pub code: String,
}

impl std::fmt::Display for KmsRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KMS refused to decrypt the records ({})", self.code)
    }
}

impl StdError for KmsRefused {}

/// Turns a [`KmsRefused`] into the line the user reads: which key (DescribeStreamSummary's
/// `KeyId`), which permission (kms:Decrypt, "Permissions to use user-generated KMS keys" in the
/// Kinesis Developer Guide), with the access-denied exit code. Any other error is returned as is.
pub async fn name_the_key(
    err: anyhow::Error,
    client: &aws_sdk_kinesis::Client,
    stream: &StreamRef,
) -> anyhow::Error {
    let Some(refused) = err.downcast_ref::<KmsRefused>() else {
        return err;
    };
    let key = match super::streams::kms_key(client, stream).await {
        Ok(Some(key)) => key,
        Ok(None) | Err(_) => "(its key could not be looked up)".to_owned(),
    };
    anyhow::Error::new(crate::exit::Coded(
        crate::exit::ExitCode::AccessDenied,
        kms_message(stream, &key, &refused.code),
    ))
}

fn kms_message(stream: &StreamRef, key: &str, code: &str) -> String {
    let why = match code {
        "KMSAccessDeniedException" => "these credentials lack kms:Decrypt on it",
        "KMSDisabledException" => "the key is disabled, so kms:Decrypt fails",
        "KMSNotFoundException" => "the key does not exist, so kms:Decrypt fails",
        "KMSInvalidStateException" => {
            "the key is not usable (pending deletion or import?), so kms:Decrypt fails"
        }
        "KMSOptInRequired" => "the account is not subscribed to KMS, so kms:Decrypt fails",
        _ => "kms:Decrypt on it was refused",
    };
    format!(
        "access denied: stream {stream} is encrypted with KMS key {key} and {why} ({code}); \
         allow kms:Decrypt on that key for these credentials, or use another --profile"
    )
}

pub fn get_shard_iterator(
    err: SdkError<GetShardIteratorError, HttpResponse>,
    stream: &StreamRef,
) -> Failure {
    if let Some(service) = err.as_service_error() {
        if service.is_provisioned_throughput_exceeded_exception() || service.code() == Some(LIMIT) {
            return Failure::Throttled;
        }
        if service.is_resource_not_found_exception() {
            return Failure::Fatal(not_found(stream));
        }
        if service.is_access_denied_exception() || service.code() == Some(DENIED) {
            return Failure::Fatal(denied("kinesis:GetShardIterator", stream));
        }
        if service.is_internal_failure_exception() {
            return Failure::Transient(errors::cause(err));
        }
    }
    classify_rest(err, "kinesis:GetShardIterator", stream)
}

/// ListShards runs once at the start (fatal errors end the run before any read) and again while
/// tailing, where a failure only delays discovering new shards. LimitExceededException is the
/// stream's ListShards limit (1,000 calls per second per stream, shared with every other reader of
/// it, KCL applications included: API_ListShards in the Kinesis API Reference), so it is
/// throttling; ExpiredNextTokenException means a page token outlived its 300 seconds.
pub fn list_shards(err: SdkError<ListShardsError, HttpResponse>, stream: &StreamRef) -> Failure {
    if let Some(service) = err.as_service_error() {
        if service.is_limit_exceeded_exception() {
            return Failure::Throttled;
        }
        if service.is_expired_next_token_exception() {
            return Failure::Expired;
        }
        if service.is_resource_not_found_exception() {
            return Failure::Fatal(not_found(stream));
        }
        if service.is_access_denied_exception() || service.code() == Some(DENIED) {
            return Failure::Fatal(denied("kinesis:ListShards", stream));
        }
    }
    // The SDK already retried what time may cure (its retries are on for ListShards).
    Failure::Fatal(errors::cause(err))
}

/// Everything the operation's own checks left: unmodelled codes, 5xx, transport.
pub(super) fn classify_rest<E>(
    err: SdkError<E, HttpResponse>,
    action: &str,
    stream: &StreamRef,
) -> Failure
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            if service.err().code() == Some(KMS_THROTTLED) {
                return Failure::Throttled;
            }
            if service.err().code() == Some(DENIED) {
                return Failure::Fatal(denied(action, stream));
            }
            if service.raw().status().is_server_error() {
                return Failure::Transient(errors::cause(err));
            }
            Failure::Fatal(errors::error(err, format!("{action} failed on {stream}")))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient(errors::cause(err))
        }
        _ => Failure::Fatal(errors::error(err, format!("{action} failed on {stream}"))),
    }
}

pub(super) fn not_found(stream: &StreamRef) -> anyhow::Error {
    anyhow!(
        "stream {stream} does not exist (or was deleted) in this region; `ktail ls` lists the streams"
    )
}

pub(super) fn denied(action: &str, stream: &StreamRef) -> anyhow::Error {
    anyhow::Error::new(crate::exit::Coded(
        crate::exit::ExitCode::AccessDenied,
        format!(
            "access denied: these credentials lack {action} on stream {stream}; grant it or use another --profile"
        ),
    ))
}
