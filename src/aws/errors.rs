//! What a failed AWS call means, and how the user reads it.
//!
//! Errors are told apart by their modelled type (`as_service_error()` and the operation's `is_*()`
//! predicates), never by message text: [`NotFound`] names, once per operation, which error means
//! "no such resource", and [`AwsResultExt::not_found_as_none`] turns it into `Ok(None)` — the one
//! place that answer is made, instead of a match block per call.
//!
//! Every failure the user sees is worded by [`error`]: one line, `<what failed>: <why>`, where the
//! why is the service's error code and message, or, for a call that never got an answer (no
//! network, a timeout), the chain of causes — never the SDK's `Debug` dump. `main` prints it as
//! `ktail: <what failed>: <why>`.

use std::error::Error as StdError;
use std::fmt::{Debug, Display, Write as _};

use aws_credential_types::provider::error::{CredentialsError, TokenError};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use crate::exit::{Coded, ExitCode};

/// The one user-facing form of a failed AWS call: `what` failed, then why. The failures a new
/// user meets first (no credentials, an expired SSO session, access denied, an endpoint that
/// cannot be reached) say what to do and carry their own exit code.
pub fn error<E, R>(err: SdkError<E, R>, what: impl Display) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match classify(&err) {
        Some((code, text)) => anyhow::Error::new(Coded(code, format!("{what}: {text}"))),
        None => anyhow::anyhow!("{what}: {}", why(&err)),
    }
}

/// The failure alone, worded like [`error`], for a caller that says around it what failed.
pub fn cause<E, R>(err: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match classify(&err) {
        Some((code, text)) => anyhow::Error::new(Coded(code, text)),
        None => anyhow::Error::msg(why(&err)),
    }
}

/// A call that never reached its endpoint, naming the endpoint. The SDK's own connector error
/// does not say which host failed; `aws::NameTheEndpoint` puts this one in its place.
#[derive(Debug)]
pub struct Unreachable {
    /// `scheme://host[:port]`
    pub endpoint: String,
    /// The connector error's causes, on one line.
    pub cause: String,
}

impl Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot reach {} ({})", self.endpoint, self.cause)
    }
}

impl StdError for Unreachable {}

/// What to do when ktail has no credentials at all.
const NO_CREDENTIALS: &str = "no AWS credentials found: run `aws configure`, set AWS_PROFILE (or \
pass --profile) to a configured profile, or run `aws sso login`";

/// The failures that have their own exit code, worded with what to do: by the service's error
/// code, or by the types in the chain of a call that got no answer.
fn classify<E, R>(err: &SdkError<E, R>) -> Option<(ExitCode, String)>
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug + 'static,
{
    if let Some(service) = err.as_service_error() {
        let code = service.code()?;
        let message = service.message().unwrap_or_default();
        return match code {
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                Some((ExitCode::AccessDenied, access_denied(message)))
            }
            "ExpiredTokenException"
            | "ExpiredToken"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch" => Some((
                ExitCode::Credentials,
                format!(
                    "AWS refused the credentials ({code}: {message}): renew them (`aws sso login`, \
                     `aws configure`) or pick another profile"
                ),
            )),
            _ => None,
        };
    }
    let top: &(dyn StdError + 'static) = err;
    let chain = || std::iter::successors(Some(top), |&e| e.source());
    if let Some(token) = chain().find(|e| e.is::<TokenError>()) {
        return Some((
            ExitCode::Credentials,
            format!(
                "cannot get an SSO token ({}): run `aws sso login` (with --profile if you use one)",
                causes(token)
            ),
        ));
    }
    if let Some(credentials) = chain().find_map(|e| e.downcast_ref::<CredentialsError>()) {
        let text = match credentials {
            CredentialsError::CredentialsNotLoaded(_) => NO_CREDENTIALS.to_owned(),
            other => format!(
                "cannot load AWS credentials ({}): check your profile, run `aws configure` or \
                 `aws sso login`",
                causes(other)
            ),
        };
        return Some((ExitCode::Credentials, text));
    }
    if let Some(unreachable) = chain().find_map(|e| e.downcast_ref::<Unreachable>()) {
        return Some((
            ExitCode::Network,
            format!("{unreachable}: check your network connection, --region and --endpoint-url"),
        ));
    }
    None
}

/// An access-denied message as IAM words it ("User: ARN is not authorized to perform: ACTION on
/// resource: ARN because …"), as which permission on which resource is missing, and what to do.
fn access_denied(message: &str) -> String {
    let permission = message
        .split_once("perform: ")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default());
    let resource = message
        .split_once("on resource: ")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default());
    let who = message
        .strip_prefix("User: ")
        .and_then(|rest| rest.split_whitespace().next());
    match (permission, resource) {
        (Some(permission), Some(resource)) => format!(
            "access denied: {} may not {permission} on {resource}: ask your AWS administrator to \
             allow it (README: IAM permissions lists what ktail needs)",
            who.unwrap_or("your identity")
        ),
        _ => format!(
            "access denied ({message}): ask your AWS administrator for the permission (README: \
             IAM permissions lists what ktail needs)"
        ),
    }
}

/// Why a call failed, in one line: what to do for the failures [`error`] gives their own exit
/// code, else the service's `Code: message` when it answered with an error, else the causes.
pub fn why<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug + 'static,
{
    if let Some((_, text)) = classify(err) {
        return text;
    }
    if let Some(service) = err.as_service_error() {
        match (service.code(), service.message()) {
            (Some(code), Some(message)) => return format!("{code}: {message}"),
            (Some(code), None) => return code.to_owned(),
            _ => {}
        }
    }
    causes(err)
}

/// An error and its sources on one line, joined by `: ` (as `{:#}` prints an `anyhow::Error`),
/// leaving out a source whose text its parent already shows.
pub fn causes(err: &(dyn StdError + 'static)) -> String {
    let mut line = err.to_string();
    let mut shown = line.clone();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !shown.contains(&text) {
            let _ = write!(line, ": {text}");
            shown = text;
        }
        source = cause.source();
    }
    line
}

/// A waiter that gave up or failed, worded like [`error`].
pub fn wait_error<E>(err: E, what: impl Display) -> anyhow::Error
where
    E: StdError + Send + Sync + 'static,
{
    anyhow::anyhow!("{what}: {}", causes(&err))
}

/// What Lambda says, as an `InvalidParameterValueException`, while IAM has not yet shown it a role
/// or policy created or changed moments ago ("Changes that I make are not always immediately
/// visible", IAM User Guide): CreateFunction's "The role defined for the function cannot be
/// assumed by Lambda.", CreateEventSourceMapping's "Cannot access stream … Please ensure the role
/// can perform …" and "The provided execution role does not have permissions to call …". Lambda
/// models no separate error for it, so these are the one place ktail reads message text.
const IAM_PROPAGATION_MESSAGES: [&str; 3] = [
    "cannot be assumed by lambda",
    "cannot access stream",
    "execution role does not have permissions",
];

/// Whether Lambda refused the call only because IAM is still propagating a new role or policy:
/// worth calling again for a while. Any other `InvalidParameterValueException` is final.
pub fn is_iam_propagation<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("InvalidParameterValueException")
            && e.message().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                IAM_PROPAGATION_MESSAGES.iter().any(|t| m.contains(t))
            })
    })
}

/// An operation error that can say "the resource does not exist".
pub trait NotFound {
    fn is_not_found(&self) -> bool;
}

/// Whether the call failed because the resource does not exist.
pub fn is_not_found<E: NotFound, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(NotFound::is_not_found)
}

/// [`NotFound`] for the operations whose "no such resource" ktail treats as an answer.
macro_rules! not_found {
    ($($error:ty => $is:ident,)*) => {
        $(impl NotFound for $error {
            fn is_not_found(&self) -> bool {
                self.$is()
            }
        })*
    };
}

not_found! {
    aws_sdk_kinesis::operation::delete_stream::DeleteStreamError => is_resource_not_found_exception,
    aws_sdk_kinesis::operation::describe_stream_consumer::DescribeStreamConsumerError => is_resource_not_found_exception,
    aws_sdk_kinesis::operation::describe_stream_summary::DescribeStreamSummaryError => is_resource_not_found_exception,
    aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::delete_function::DeleteFunctionError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::get_function::GetFunctionError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsError => is_resource_not_found_exception,
    aws_sdk_lambda::operation::list_tags::ListTagsError => is_resource_not_found_exception,
    aws_sdk_iam::operation::delete_role::DeleteRoleError => is_no_such_entity_exception,
    aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyError => is_no_such_entity_exception,
    aws_sdk_iam::operation::get_role::GetRoleError => is_no_such_entity_exception,
    aws_sdk_iam::operation::get_role_policy::GetRolePolicyError => is_no_such_entity_exception,
    aws_sdk_iam::operation::list_role_policies::ListRolePoliciesError => is_no_such_entity_exception,
    aws_sdk_iam::operation::list_role_tags::ListRoleTagsError => is_no_such_entity_exception,
}

/// The two ways a call's result is taken: "not found" as an answer, or any failure worded by
/// [`error`].
pub trait AwsResultExt<T, E, R> {
    /// `Ok(None)` when the resource does not exist; any other failure as [`error`] words it.
    fn not_found_as_none<W: Display>(self, what: impl FnOnce() -> W) -> anyhow::Result<Option<T>>
    where
        E: NotFound;

    /// Any failure as [`error`] words it.
    fn or_aws_error<W: Display>(self, what: impl FnOnce() -> W) -> anyhow::Result<T>;
}

impl<T, E, R> AwsResultExt<T, E, R> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    fn not_found_as_none<W: Display>(self, what: impl FnOnce() -> W) -> anyhow::Result<Option<T>>
    where
        E: NotFound,
    {
        match self {
            Ok(out) => Ok(Some(out)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(error(err, what())),
        }
    }

    fn or_aws_error<W: Display>(self, what: impl FnOnce() -> W) -> anyhow::Result<T> {
        self.map_err(|err| error(err, what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kinesis::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_kinesis::operation::describe_stream_summary::DescribeStreamSummaryError;
    use aws_sdk_kinesis::types::error::ResourceNotFoundException;

    /// The raw response plays no part in the wording.
    type Err = SdkError<DescribeStreamSummaryError, ()>;

    fn not_found() -> Err {
        SdkError::service_error(
            DescribeStreamSummaryError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("Stream logs under account 1 not found.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .message("Stream logs under account 1 not found.")
                            .build(),
                    )
                    .build(),
            ),
            (),
        )
    }

    fn refused() -> Err {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        SdkError::dispatch_failure(ConnectorError::io(Box::new(io)))
    }

    #[test]
    fn not_found_is_an_answer_and_other_failures_are_errors() {
        let found: Result<u8, Err> = Ok(7);
        assert_eq!(found.not_found_as_none(|| "x").unwrap(), Some(7));
        let missing: Result<u8, Err> = Err(not_found());
        assert_eq!(missing.not_found_as_none(|| "x").unwrap(), None);
        let failed: Result<u8, Err> = Err(refused());
        let err = failed
            .not_found_as_none(|| "cannot describe stream logs")
            .unwrap_err();
        assert!(
            format!("{err:#}").starts_with("cannot describe stream logs: "),
            "{err:#}"
        );
    }

    #[test]
    fn one_line_without_a_debug_dump() {
        let text = format!("{:#}", error(not_found(), "cannot describe stream logs"));
        assert_eq!(
            text,
            "cannot describe stream logs: ResourceNotFoundException: Stream logs under account 1 not found."
        );
        let text = format!("{:#}", error(refused(), "cannot describe stream logs"));
        assert!(text.contains("connection refused"), "{text}");
        for debug in ["DispatchFailure {", "ConnectorError {", "source:", "kind:"] {
            assert!(!text.contains(debug), "{text}");
        }
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn only_iam_propagation_messages_are_transient() {
        use aws_sdk_lambda::operation::create_function::CreateFunctionError;
        let invalid = |message: &str| -> SdkError<CreateFunctionError, ()> {
            SdkError::service_error(
                CreateFunctionError::generic(
                    ErrorMetadata::builder()
                        .code("InvalidParameterValueException")
                        .message(message)
                        .build(),
                ),
                (),
            )
        };
        assert!(is_iam_propagation(&invalid(
            "The role defined for the function cannot be assumed by Lambda."
        )));
        assert!(is_iam_propagation(&invalid(
            "Cannot access stream arn:aws:kinesis:us-east-1:1:stream/s. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
        )));
        assert!(!is_iam_propagation(&invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit."
        )));
    }

    #[test]
    fn causes_skip_what_the_parent_already_says() {
        let inner = std::io::Error::other("tcp connect error");
        let outer = anyhow::Error::new(inner).context("tcp connect error");
        let err: &(dyn StdError + 'static) = outer.as_ref();
        assert_eq!(causes(err), "tcp connect error");
    }
}
