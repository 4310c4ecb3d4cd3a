//! The control plane of server-side grep: deploy the embedded grep function and wire it between a
//! source stream and a filtered output stream (`attach`), take it apart (`detach`), and list what is
//! running (`status`).
//!
//! `ktail attach`, `detach` and `status` are thin wrappers over this module; `ktail grep` uses the
//! same calls and removes only what its own session created (see [`Attachment`] and [`Removal`]).
//! Every step is idempotent: names are derived from what the attachment matches
//! ([`names::Identity`]) and each resource is looked up before it is created or changed.
//!
//! A grep session, in outline:
//!
//! ```no_run
//! # async fn session(sdk: &aws_config::SdkConfig, plan: ktail::lambda::AttachPlan) -> anyhow::Result<()> {
//! use ktail::lambda::{self, Clients};
//! use ktail::progress::{Feedback, Progress};
//! let clients = Clients::new(sdk);
//! let progress = Progress::new(Feedback::Plain);
//! let attachment = lambda::attach(&clients, &plan, &progress).await?;
//! // ... tail `attachment.output_stream`; every so often, while the session lives:
//! lambda::renew_ttl(&clients, &attachment.function_name, std::time::Duration::from_secs(3600)).await?;
//! // On exit: the mapping always, and whatever this session created unless --keep.
//! let keep = false;
//! lambda::remove(&clients, &attachment.target(), attachment.session_removal(keep), &progress).await?;
//! # Ok(()) }
//! ```

pub mod artifact;
pub mod function;
pub mod mapping;
pub mod names;
pub mod output_stream;
pub mod role;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub use artifact::Architecture;
pub use output_stream::Capacity;

use crate::contract::env;
use crate::exit::usage;
use crate::filter::{MatchOptions, Matcher, PatternError};
use crate::kinesis::Start;
use crate::progress::Progress;
use crate::retry::Backoff;
use names::{Identity, StreamArn};

/// The three clients attach, detach and status need, built from the run's one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct Clients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            kinesis: crate::aws::kinesis(config),
            lambda: crate::aws::lambda(config),
            iam: crate::aws::iam(config),
        }
    }
}

/// How the function and the output stream are deployed. Changing these updates an attachment in
/// place; they are not part of its identity.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Use this role instead of creating one.
    pub role: Option<String>,
    pub arch: Architecture,
    pub memory_mb: u32,
    /// The mapping's ParallelizationFactor (1-10).
    pub parallel: u32,
    /// Use (or create) this output stream instead of the derived one.
    pub output_stream: Option<String>,
    /// How a newly created output stream is provisioned.
    pub output_capacity: Capacity,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            role: None,
            arch: Architecture::Arm64,
            memory_mb: 128,
            parallel: 1,
            output_stream: None,
            output_capacity: Capacity::Provisioned(1),
        }
    }
}

/// The pattern of an attachment, compiled once with the function's own matcher: holding one is
/// proof that the function will accept it.
#[derive(Debug, Clone)]
pub struct GrepPattern {
    text: String,
    options: MatchOptions,
    matcher: Matcher,
}

impl GrepPattern {
    pub fn new(text: impl Into<String>, options: MatchOptions) -> Result<Self, PatternError> {
        let text = text.into();
        let matcher = Matcher::new(&[&text], options)?;
        Ok(GrepPattern {
            text,
            options,
            matcher,
        })
    }

    /// The regex as the user typed it.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn options(&self) -> MatchOptions {
        self.options
    }

    /// The compiled matcher (for `--local` and for highlighting matches).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }
}

/// Everything `attach` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct AttachPlan {
    /// Source stream name or ARN.
    pub source: String,
    pub pattern: GrepPattern,
    pub start: Start,
    pub deploy: DeployOptions,
    /// Dead-client guard: the function disables its own mapping this long from now.
    pub ttl: Option<Duration>,
    /// How the function decodes records before matching (`--decode`), as `tail` does.
    pub decode: crate::decode::Options,
}

impl AttachPlan {
    /// Checks the plan before any AWS call (the pattern was checked when it was compiled).
    pub fn validate(&self) -> Result<()> {
        Self::check_streams(&self.source, self.deploy.output_stream.as_deref())
    }

    /// The source must be named, and the output stream must not be the source.
    pub fn check_streams(source: &str, output_stream: Option<&str>) -> Result<()> {
        if source.trim().is_empty() {
            return Err(usage("the stream name is empty"));
        }
        // The function would read its own output: every match would be matched again, forever.
        if output_stream == Some(names::stream_name(source)) {
            return Err(usage(
                "--output-stream must differ from the source stream; omit it to use a derived name",
            ));
        }
        Ok(())
    }

    fn identity(&self) -> Identity {
        Identity {
            source: names::stream_name(&self.source).to_owned(),
            pattern: self.pattern.text().to_owned(),
            options: self.pattern.options(),
        }
    }
}

/// What a step did to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    /// Supplied by the user (`--role`); ktail neither changes nor deletes it.
    Given,
}

/// An attachment as `attach` left it.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: String,
    pub source_stream: String,
    pub source_stream_arn: String,
    pub pattern: String,
    pub options: String,
    pub role_arn: String,
    pub role: Change,
    pub output_stream: String,
    pub output_stream_arn: String,
    pub output: Change,
    pub function_name: String,
    pub function_arn: String,
    pub function: Change,
    pub mapping_uuid: String,
    pub mapping: Change,
    /// The dead-client deadline (unix seconds), when a TTL was given.
    pub expires_at: Option<i64>,
}

impl Attachment {
    /// Whether this run changed anything at all.
    pub fn changed(&self) -> bool {
        [self.role, self.output, self.function, self.mapping]
            .iter()
            .any(|c| matches!(c, Change::Created | Change::Updated))
    }

    /// What `grep` should remove at the end of a session that made this attachment: the mapping
    /// always, and everything else only when this session created it (and `keep` is not set).
    pub fn session_removal(&self, keep: bool) -> Removal {
        Removal {
            mapping: true,
            function: !keep && self.function == Change::Created,
            output_stream: !keep && self.output == Change::Created,
            role: !keep && self.role == Change::Created,
        }
    }

    /// What [`remove`] works on.
    pub fn target(&self) -> Target {
        Target {
            function_name: self.function_name.clone(),
            output_stream: Some(self.output_stream.clone()),
            role_name: (self.role != Change::Given)
                .then(|| role::name_from_arn(&self.role_arn).to_owned()),
        }
    }
}

/// Deploys and wires the grep function for `plan`, reusing whatever already exists.
pub async fn attach(
    clients: &Clients,
    plan: &AttachPlan,
    progress: &Progress,
) -> Result<Attachment> {
    plan.validate()?;
    let identity = plan.identity();
    let source_name = identity.source.clone();

    let step = progress.step(format!("checking stream {source_name}"));
    let source_arn = match output_stream::describe(&clients.kinesis, &source_name).await? {
        Some((arn, _)) => arn,
        None => bail!(
            "stream {source_name} not found; check the name, --region and --profile (`ktail ls` lists streams)"
        ),
    };
    let source = StreamArn::parse(&source_arn)
        .with_context(|| format!("Kinesis returned an unexpected stream ARN {source_arn}"))?;
    step.done("found");

    let base = identity.base_name();
    let output_name = plan
        .deploy
        .output_stream
        .clone()
        .unwrap_or_else(|| base.clone());
    let output_arn_expected = source.sibling(&output_name);
    let tags = identity.tags(&Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));

    let (role_arn, role_change) = match &plan.deploy.role {
        Some(arn) => {
            progress.step("role").done(format!("using {arn}"));
            (arn.clone(), Change::Given)
        }
        None => {
            let step = progress.step(format!("role {base}"));
            let policy = role::inline_policy(&role::PolicyScope {
                source: source.clone(),
                source_arn: source_arn.clone(),
                output_arn: output_arn_expected.clone(),
                function_name: base.clone(),
                ttl_guard: plan.ttl.is_some(),
            });
            let (arn, change) = role::ensure(&clients.iam, &base, &policy, &tags).await?;
            step.done(describe_change(change, "policy updated"));
            (arn, change)
        }
    };
    let role_is_fresh = matches!(role_change, Change::Created | Change::Updated);

    let step = progress.step(format!("output stream {output_name}"));
    let (output_arn, output_change) = output_stream::ensure(
        &clients.kinesis,
        &output_name,
        plan.deploy.output_capacity,
        &tags,
    )
    .await?;
    step.done(describe_change(output_change, "updated"));

    let expires_at = plan
        .ttl
        .map(|ttl| Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2));
    let step = progress.step(format!("function {base}"));
    let function = function::ensure(
        &clients.lambda,
        &function::FunctionSpec {
            name: base.clone(),
            role_arn: role_arn.clone(),
            arch: plan.deploy.arch,
            memory_mb: plan.deploy.memory_mb,
            env: function_env(plan, &output_name, expires_at),
            tags: tags.clone(),
        },
        role_is_fresh,
    )
    .await?;
    step.done(function.detail);

    let step = progress.step(format!("event source mapping {source_name} → {base}"));
    let mapping = mapping::ensure(
        &clients.lambda,
        &mapping::MappingSpec {
            source_arn: source_arn.clone(),
            function_name: base.clone(),
            start: plan.start,
            parallel: plan.deploy.parallel,
            tags,
        },
        role_is_fresh,
    )
    .await?;
    step.done(mapping.detail);

    Ok(Attachment {
        id: identity.id(),
        source_stream: source_name,
        source_stream_arn: source_arn,
        pattern: plan.pattern.text().to_owned(),
        options: identity.options_label(),
        role_arn,
        role: role_change,
        output_stream: output_name,
        output_stream_arn: output_arn,
        output: output_change,
        function_name: base,
        function_arn: function.arn,
        function: function.change,
        mapping_uuid: mapping.uuid,
        mapping: mapping.change,
        expires_at,
    })
}

fn describe_change(change: Change, updated: &str) -> String {
    match change {
        Change::Created => "created".to_owned(),
        Change::Updated => updated.to_owned(),
        Change::Unchanged => "exists".to_owned(),
        Change::Given => "given".to_owned(),
    }
}

fn function_env(
    plan: &AttachPlan,
    output_stream: &str,
    expires_at: Option<i64>,
) -> HashMap<String, String> {
    let mut env = HashMap::from([
        (env::MATCH.to_owned(), plan.pattern.text().to_owned()),
        (env::STREAM_NAME.to_owned(), output_stream.to_owned()),
    ]);
    let options = plan.pattern.options();
    if options.invert {
        env.insert(env::MATCH_INVERT.to_owned(), env::TRUE.to_owned());
    }
    if options.ignore_case {
        env.insert(env::MATCH_IGNORE_CASE.to_owned(), env::TRUE.to_owned());
    }
    if let Some(at) = expires_at {
        env.insert(env::EXPIRES_AT.to_owned(), at.to_string());
    }
    if plan.decode.mode != crate::decode::Decode::Auto {
        env.insert(env::DECODE.to_owned(), plan.decode.mode.name().to_owned());
    }
    if plan.decode.max_decoded_size != crate::decode::DEFAULT_MAX_DECODED_SIZE {
        env.insert(
            env::DECODE_MAX_SIZE.to_owned(),
            plan.decode.max_decoded_size.to_string(),
        );
    }
    env
}

/// Pushes the dead-client deadline `ttl` from now; `grep` calls this while its session lives.
/// Returns the new deadline (unix seconds).
pub async fn renew_ttl(clients: &Clients, function_name: &str, ttl: Duration) -> Result<i64> {
    let at = Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    function::set_env(
        &clients.lambda,
        function_name,
        env::EXPIRES_AT,
        &at.to_string(),
    )
    .await?;
    Ok(at)
}

/// Which parts of an attachment [`remove`] deletes. The output stream and the role are deleted only
/// when they carry ktail's tag, so a stream or role the user supplied is never removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub mapping: bool,
    pub function: bool,
    pub output_stream: bool,
    pub role: bool,
}

impl Removal {
    /// Only the mapping: the function stops being invoked, everything else stays for a re-attach.
    pub const MAPPING: Removal = Removal {
        mapping: true,
        function: false,
        output_stream: false,
        role: false,
    };
    /// Everything ktail created.
    pub const PURGE: Removal = Removal {
        mapping: true,
        function: true,
        output_stream: true,
        role: true,
    };
}

/// The resources of one attachment, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub function_name: String,
    pub output_stream: Option<String>,
    pub role_name: Option<String>,
}

/// One resource that was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// `mapping`, `function`, `output stream` or `role`.
    pub kind: &'static str,
    pub name: String,
}

/// Deletes the parts of `target` that `what` selects, mapping first so that nothing is invoked
/// while the rest goes away. Missing pieces are skipped: running it twice is harmless.
pub async fn remove(
    clients: &Clients,
    target: &Target,
    what: Removal,
    progress: &Progress,
) -> Result<Vec<Removed>> {
    let mut removed = Vec::new();
    if what.mapping {
        for m in mapping::list(&clients.lambda, &target.function_name).await? {
            let Some(uuid) = m.uuid() else { continue };
            let step = progress.step(format!("removing event source mapping {uuid}"));
            if mapping::delete(&clients.lambda, uuid).await? {
                removed.push(Removed {
                    kind: "mapping",
                    name: uuid.to_owned(),
                });
                step.done("removed");
            } else {
                step.done("already gone");
            }
        }
    }
    if what.function {
        let step = progress.step(format!("removing function {}", target.function_name));
        if function::delete(&clients.lambda, &target.function_name).await? {
            removed.push(Removed {
                kind: "function",
                name: target.function_name.clone(),
            });
            step.done("removed");
        } else {
            step.done("already gone");
        }
    }
    if what.output_stream
        && let Some(stream) = &target.output_stream
        && output_stream::is_managed(&clients.kinesis, stream).await?
    {
        let step = progress.step(format!("removing output stream {stream}"));
        if output_stream::delete(&clients.kinesis, stream).await? {
            removed.push(Removed {
                kind: "output stream",
                name: stream.clone(),
            });
        }
        step.done("removed");
    }
    if what.role
        && let Some(role_name) = &target.role_name
        && role_is_managed(&clients.iam, role_name).await?
    {
        let step = progress.step(format!("removing role {role_name}"));
        if role::delete(&clients.iam, role_name).await? {
            removed.push(Removed {
                kind: "role",
                name: role_name.clone(),
            });
        }
        step.done("removed");
    }
    Ok(removed)
}

async fn role_is_managed(iam: &aws_sdk_iam::Client, name: &str) -> Result<bool> {
    match role::is_managed(iam, name).await {
        Ok(managed) => Ok(managed),
        // Already deleted: nothing to do.
        Err(_) if !role_exists(iam, name).await? => Ok(false),
        Err(err) => Err(err),
    }
}

async fn role_exists(iam: &aws_sdk_iam::Client, name: &str) -> Result<bool> {
    match iam.get_role().role_name(name).send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(aws_error(err, &format!("cannot look up IAM role {name}"))),
    }
}

/// Which attachments of a stream `detach` removes.
#[derive(Debug, Clone)]
pub enum Selector {
    /// The one made with this pattern and these options.
    Pattern(String, MatchOptions),
    /// Every attachment of the stream.
    All,
}

/// `ktail detach`: removes the selected attachments of `source` (the mappings; with `purge`, also the
/// functions, output streams and roles ktail created).
pub async fn detach(
    clients: &Clients,
    source: &str,
    selector: &Selector,
    purge: bool,
    progress: &Progress,
) -> Result<Vec<Removed>> {
    let source = names::stream_name(source);
    let step = progress.step(format!("finding what ktail attached to {source}"));
    let found: Vec<Found> = match selector {
        Selector::Pattern(pattern, options) => {
            let identity = Identity {
                source: source.to_owned(),
                pattern: pattern.clone(),
                options: *options,
            };
            find_one(clients, &identity.base_name())
                .await?
                .into_iter()
                .collect()
        }
        Selector::All => find_all(clients)
            .await?
            .into_iter()
            .filter(|f| f.source.as_deref() == Some(source))
            .collect(),
    };
    step.done(match found.len() {
        0 => "nothing".to_owned(),
        1 => "1 attachment".to_owned(),
        n => format!("{n} attachments"),
    });
    let what = if purge {
        Removal::PURGE
    } else {
        Removal::MAPPING
    };
    let mut removed = Vec::new();
    for f in &found {
        removed.extend(remove(clients, &f.target(), what, progress).await?);
    }
    Ok(removed)
}

/// A ktail function found in the account.
#[derive(Debug, Clone)]
struct Found {
    function_name: String,
    env: HashMap<String, String>,
    role_arn: Option<String>,
    tags: HashMap<String, String>,
    source: Option<String>,
}

impl Found {
    fn target(&self) -> Target {
        Target {
            function_name: self.function_name.clone(),
            output_stream: self.env.get(env::STREAM_NAME).cloned(),
            role_name: self
                .role_arn
                .as_deref()
                .map(|arn| role::name_from_arn(arn).to_owned()),
        }
    }

    fn from_config(
        config: &aws_sdk_lambda::types::FunctionConfiguration,
        tags: HashMap<String, String>,
    ) -> Option<Found> {
        if tags.get(names::TAG_MANAGED).map(String::as_str) != Some("true") {
            return None;
        }
        Some(Found {
            function_name: config.function_name()?.to_owned(),
            env: config
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default(),
            role_arn: config.role().map(str::to_owned),
            source: tags.get(names::TAG_SOURCE).cloned(),
            tags,
        })
    }
}

async fn find_one(clients: &Clients, function_name: &str) -> Result<Option<Found>> {
    let Some(config) = function::get(&clients.lambda, function_name).await? else {
        return Ok(None);
    };
    let Some(arn) = config.function_arn() else {
        return Ok(None);
    };
    let tags = function::tags(&clients.lambda, arn).await?;
    Ok(Found::from_config(&config, tags))
}

/// Every function ktail manages in the region: named `ktail-…` and tagged `ktail:managed`.
async fn find_all(clients: &Clients) -> Result<Vec<Found>> {
    let mut pages = clients
        .lambda
        .list_functions()
        .into_paginator()
        .items()
        .send();
    let mut found = Vec::new();
    while let Some(config) = pages.next().await {
        let config = config.map_err(|e| aws_error(e, "cannot list Lambda functions"))?;
        let (Some(name), Some(arn)) = (config.function_name(), config.function_arn()) else {
            continue;
        };
        if !name.starts_with(names::PREFIX) {
            continue;
        }
        let tags = function::tags(&clients.lambda, arn).await?;
        found.extend(Found::from_config(&config, tags));
    }
    Ok(found)
}

/// One attachment as `ktail status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentStatus {
    pub source_stream: String,
    pub pattern: String,
    pub options: String,
    /// The mapping's state (`Enabled`, `Disabled`, …) or `detached` when it has none.
    pub state: String,
    pub last_processing_result: Option<String>,
    pub function: String,
    pub output_stream: Option<String>,
    pub mapping_uuid: Option<String>,
    pub created: Option<String>,
    /// The dead-client deadline (RFC 3339), when one is set.
    pub expires_at: Option<String>,
    pub expired: bool,
}

/// `ktail status`: every attachment ktail manages in the region, oldest first.
pub async fn status(clients: &Clients) -> Result<Vec<AttachmentStatus>> {
    let now = Utc::now();
    let mut out = Vec::new();
    for f in find_all(clients).await? {
        let mappings = mapping::list(&clients.lambda, &f.function_name).await?;
        let first = mappings.first();
        let expires = f
            .env
            .get(env::EXPIRES_AT)
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0));
        out.push(AttachmentStatus {
            source_stream: f.source.clone().unwrap_or_default(),
            pattern: f.env.get(env::MATCH).cloned().unwrap_or_default(),
            options: names::options_label(MatchOptions {
                invert: is_true(f.env.get(env::MATCH_INVERT)),
                ignore_case: is_true(f.env.get(env::MATCH_IGNORE_CASE)),
            }),
            state: first
                .and_then(|m| m.state())
                .unwrap_or("detached")
                .to_owned(),
            last_processing_result: first
                .and_then(|m| m.last_processing_result())
                .map(str::to_owned),
            function: f.function_name.clone(),
            output_stream: f.env.get(env::STREAM_NAME).cloned(),
            mapping_uuid: first.and_then(|m| m.uuid()).map(str::to_owned),
            created: f.tags.get(names::TAG_CREATED).cloned(),
            expires_at: expires.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            expired: expires.is_some_and(|t| t <= now),
        });
    }
    out.sort_by(|a, b| {
        (a.created.as_deref(), &a.source_stream, &a.function).cmp(&(
            b.created.as_deref(),
            &b.source_stream,
            &b.function,
        ))
    });
    Ok(out)
}

/// For `ktail ls`: how many enabled ktail greps read each stream, keyed by source stream ARN.
///
/// One paginated ListEventSourceMappings call for the whole region; ktail's functions are told
/// apart by their `ktail-` name prefix rather than by one tag lookup per function, which is
/// enough for a listing.
pub async fn enabled_greps_by_stream(
    lambda: &aws_sdk_lambda::Client,
) -> Result<HashMap<String, usize>> {
    let mut pages = lambda
        .list_event_source_mappings()
        .into_paginator()
        .items()
        .send();
    let mut counts = HashMap::new();
    while let Some(m) = pages.next().await {
        let m = m.map_err(|e| aws_error(e, "cannot list event source mappings"))?;
        let ours = m
            .function_arn()
            .and_then(|arn| arn.rsplit_once(":function:"))
            .is_some_and(|(_, name)| name.starts_with(names::PREFIX));
        if let (true, Some("Enabled"), Some(source)) = (ours, m.state(), m.event_source_arn()) {
            *counts.entry(source.to_owned()).or_default() += 1;
        }
    }
    Ok(counts)
}

fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|v| env::parse_flag(v) == Some(true))
}

/// How long a new or changed role or policy may take to become visible to Lambda: IAM is eventually
/// consistent, and no waiter covers "Lambda may now assume this role".
pub(crate) const IAM_PROPAGATION_ATTEMPTS: u32 = 12;
pub(crate) const IAM_PROPAGATION_DELAY: Duration = Duration::from_secs(3);

/// The retry policy for the calls that fail until IAM shows Lambda a role or policy: every
/// [`IAM_PROPAGATION_DELAY`] up to [`IAM_PROPAGATION_ATTEMPTS`] calls when it was created or
/// changed in this run, a single call otherwise (nothing to wait for).
pub(crate) fn iam_propagation(fresh: bool) -> Backoff {
    Backoff::constant(IAM_PROPAGATION_DELAY).max_attempts(if fresh {
        IAM_PROPAGATION_ATTEMPTS
    } else {
        1
    })
}

/// A one-line error for a failed AWS call: what failed, then the service's code and message.
pub(crate) fn aws_error<E, R>(err: SdkError<E, R>, what: &str) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let detail = match err.as_service_error() {
        Some(e) => match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&err).to_string(),
        },
        None => DisplayErrorContext(&err).to_string(),
    };
    anyhow::anyhow!("{what}: {detail}")
}

/// A one-line error for a waiter that gave up or failed.
pub(crate) fn wait_error<E: std::error::Error + Send + Sync + 'static>(
    err: E,
    what: &str,
) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", DisplayErrorContext(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pattern: &str) -> AttachPlan {
        plan_with(pattern, MatchOptions::default())
    }

    fn plan_with(pattern: &str, options: MatchOptions) -> AttachPlan {
        AttachPlan {
            source: "logs".into(),
            pattern: GrepPattern::new(pattern, options).unwrap(),
            start: Start::Latest,
            deploy: DeployOptions::default(),
            ttl: None,
            decode: crate::decode::Options::default(),
        }
    }

    #[test]
    fn plans_are_validated_before_any_aws_call() {
        assert!(plan("\"status\":500").validate().is_ok());
        // A bad regex never becomes a plan: it fails where it is compiled.
        let err = GrepPattern::new("(", MatchOptions::default()).unwrap_err();
        assert_eq!(err.pattern, "(");
        let mut looped = plan("x");
        looped.source = "arn:aws:kinesis:us-east-1:1:stream/logs".into();
        looped.deploy.output_stream = Some("logs".into());
        let err = looped.validate().unwrap_err();
        assert_eq!(
            crate::exit::code_for(&err),
            Some(crate::exit::ExitCode::Usage)
        );
    }

    #[test]
    fn function_env_follows_the_contract() {
        let p = plan_with(
            "a.b",
            MatchOptions {
                invert: true,
                ignore_case: false,
            },
        );
        let env = function_env(&p, "out", Some(1_700_000_000));
        assert_eq!(env[env::MATCH], "a.b");
        assert_eq!(env[env::STREAM_NAME], "out");
        assert_eq!(env[env::MATCH_INVERT], "true");
        assert!(!env.contains_key(env::MATCH_IGNORE_CASE));
        assert_eq!(env[env::EXPIRES_AT], "1700000000");
        assert!(!function_env(&plan("x"), "out", None).contains_key(env::EXPIRES_AT));
    }

    #[test]
    fn iam_propagation_is_waited_for_only_after_a_change() {
        assert_eq!(
            iam_propagation(true).attempts(),
            Some(IAM_PROPAGATION_ATTEMPTS)
        );
        assert_eq!(iam_propagation(true).delay(5), IAM_PROPAGATION_DELAY);
        assert_eq!(iam_propagation(false).attempts(), Some(1));
    }

    #[test]
    fn a_session_removes_only_what_it_created() {
        let attachment = Attachment {
            id: "id".into(),
            source_stream: "logs".into(),
            source_stream_arn: "arn".into(),
            pattern: "x".into(),
            options: "none".into(),
            role_arn: "arn:aws:iam::1:role/ktail-logs-id".into(),
            role: Change::Unchanged,
            output_stream: "ktail-logs-id".into(),
            output_stream_arn: "arn".into(),
            output: Change::Created,
            function_name: "ktail-logs-id".into(),
            function_arn: "arn".into(),
            function: Change::Updated,
            mapping_uuid: "u".into(),
            mapping: Change::Created,
            expires_at: None,
        };
        assert_eq!(
            attachment.session_removal(false),
            Removal {
                mapping: true,
                function: false,
                output_stream: true,
                role: false
            }
        );
        assert_eq!(attachment.session_removal(true), Removal::MAPPING);
        assert_eq!(
            attachment.target().role_name.as_deref(),
            Some("ktail-logs-id")
        );
    }
}
