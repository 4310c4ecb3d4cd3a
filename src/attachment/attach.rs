//! The attach sequence: role → filtered stream → function → event source mapping, each step
//! ensured (looked up, then created or brought up to date) and shown as it happens.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use serde::Serialize;

use super::names::{self, StreamArn};
use super::plan::AttachPlan;
use super::remove::{EfoConsumer, Removal, Target, remove};
use super::{Change, Clients, filtered_stream, function, mapping, role};
use crate::contract::{StreamRef, env};
use crate::kinesis::consumer;
use crate::progress::Progress;
use crate::signals::CancellationToken;

/// An attachment as `attach` left it. Serialized as `ktail attach -o json`'s report, whose keys
/// predate the name "filtered stream" and stay as they are.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: String,
    pub source_stream: String,
    pub source_stream_arn: String,
    pub pattern: String,
    pub options: String,
    pub role_arn: String,
    pub role: Change,
    #[serde(rename = "output_stream")]
    pub filtered_stream: String,
    #[serde(rename = "output_stream_arn")]
    pub filtered_stream_arn: String,
    #[serde(rename = "output")]
    pub filtered: Change,
    pub function_name: String,
    pub function_arn: String,
    pub function: Change,
    pub mapping_uuid: String,
    pub mapping: Change,
    /// The mapping's event source: the source stream's ARN, or with `--efo` its consumer's.
    pub mapping_source_arn: String,
    /// The enhanced fan-out consumer the mapping reads through (`--efo`), and what was done to it.
    pub consumer_arn: Option<String>,
    pub consumer: Option<Change>,
    /// The dead-client deadline (unix seconds), when a TTL was given.
    pub expires_at: Option<i64>,
}

impl Attachment {
    /// Whether this run changed anything at all.
    pub fn changed(&self) -> bool {
        [self.role, self.filtered, self.function, self.mapping]
            .iter()
            .chain(&self.consumer)
            .any(|c| matches!(c, Change::Created | Change::Updated))
    }

    /// What `grep` should remove at the end of a session that made this attachment: the mapping
    /// always, and everything else only when this session created it (and `keep` is not set).
    pub fn session_removal(&self, keep: bool) -> Removal {
        Removal {
            mapping: true,
            function: !keep && self.function == Change::Created,
            filtered_stream: !keep && self.filtered == Change::Created,
            role: !keep && self.role == Change::Created,
        }
    }

    /// What [`remove`](super::remove()) works on.
    pub fn target(&self) -> Target {
        Target {
            function_name: self.function_name.clone(),
            filtered_stream: Some(self.filtered_stream.clone()),
            role_name: (self.role != Change::Given)
                .then(|| role::name_from_arn(&self.role_arn).to_owned()),
            efo_consumer: self
                .consumer_arn
                .as_deref()
                .and_then(consumer::consumer_name)
                .map(|name| EfoConsumer {
                    stream: self.source_stream.clone(),
                    name: name.to_owned(),
                }),
        }
    }
}

/// Deploys and wires the grep function for `plan`, reusing whatever already exists. When a step
/// fails, what this call created is removed again (each step takes back its own half-made
/// resource; this takes back the earlier steps'), so a failed attach leaves nothing behind.
pub async fn attach(
    clients: &Clients,
    plan: &AttachPlan,
    progress: &Progress,
) -> Result<Attachment> {
    plan.validate()?;
    let mut made = Removal::NOTHING;
    match deploy(clients, plan, progress, &mut made).await {
        Ok(attachment) => Ok(attachment),
        Err(err) if made == Removal::NOTHING => Err(err),
        Err(err) => Err(roll_back(clients, plan, made, err, progress).await),
    }
}

/// Removes what a failed [`deploy`] created (`made`) and returns its error, with a word about
/// what could not be removed.
async fn roll_back(
    clients: &Clients,
    plan: &AttachPlan,
    made: Removal,
    err: anyhow::Error,
    progress: &Progress,
) -> anyhow::Error {
    progress.note("removing what this run created");
    let target = plan.names(&clients.region()).target();
    // A role this run created serves no other attachment yet: no need to ask Lambda (which may
    // be what failed) who else uses it, as `remove` does.
    let rest = Removal {
        role: false,
        ..made
    };
    let removed = async {
        remove(clients, &target, rest, progress).await?;
        if made.role
            && let Some(name) = &target.role_name
        {
            let step = progress.step(format!("removing role {name}"));
            role::delete(&clients.iam, name).await?;
            step.done("removed");
        }
        anyhow::Ok(())
    };
    match removed.await {
        Ok(()) => err,
        Err(undo) => anyhow::anyhow!(
            "{err:#}; could not remove what this run created ({undo:#}); run `{}`",
            plan.detach_command(true, "")
        ),
    }
}

/// The attach sequence; records in `made` what it creates as it goes.
async fn deploy(
    clients: &Clients,
    plan: &AttachPlan,
    progress: &Progress,
    made: &mut Removal,
) -> Result<Attachment> {
    let identity = plan.identity();
    let source_name = identity.source.clone();

    let step = progress.step(format!("checking stream {source_name}"));
    let (source_arn, source_key) = match filtered_stream::summary(&clients.kinesis, &source_name)
        .await?
    {
        Some(summary) => (summary.arn, summary.kms_key),
        None => bail!(
            "stream {source_name} not found; check the name, --region and --profile (`ktail ls` lists streams)"
        ),
    };
    let source = StreamArn::parse(&source_arn)
        .with_context(|| format!("Kinesis returned an unexpected stream ARN {source_arn}"))?;
    step.done("found");

    let base = identity.base_name();
    let planned = plan.names(&clients.region());
    let filtered_name = planned.filtered_stream.clone();
    let filtered_arn_expected = source.sibling(&filtered_name);
    let tags = identity.tags(&names::created_tag(Utc::now()));
    // A filtered stream that exists already (the user's --output-stream, or an earlier run's) may
    // be encrypted: the function needs its key to write. One ktail creates is not encrypted.
    let filtered_key = match &plan.deploy.role {
        Some(_) => None,
        None => filtered_stream::summary(&clients.kinesis, &filtered_name)
            .await?
            .and_then(|s| s.kms_key),
    };

    let (role_arn, role_change) = match &plan.deploy.role {
        Some(arn) => {
            progress.step("role").done(format!("using {arn}"));
            (arn.clone(), Change::Given)
        }
        None => {
            let role_name = planned.role.clone().unwrap_or_else(|| base.clone());
            let step = progress.step(format!("role {role_name}"));
            let policy = role::inline_policy(&role::PolicyScope {
                source: source.clone(),
                source_arn: source_arn.clone(),
                filtered_arn: filtered_arn_expected.clone(),
                function_name: base.clone(),
                ttl_guard: plan.ttl.is_some(),
                source_key,
                filtered_key,
                efo_consumer: planned.efo_consumer.as_ref().map(|c| c.name.clone()),
            });
            let (arn, change) = role::ensure(&clients.iam, &role_name, &policy, &tags).await?;
            made.role = change == Change::Created;
            step.done(describe_change(change, "policy updated"));
            (arn, change)
        }
    };
    let role_is_fresh = matches!(role_change, Change::Created | Change::Updated);

    let step = progress.step(format!("output stream {filtered_name}"));
    let (filtered_arn, filtered_change) = filtered_stream::ensure(
        &clients.kinesis,
        &filtered_name,
        plan.deploy.filtered_capacity,
        &tags,
    )
    .await?;
    made.filtered_stream = filtered_change == Change::Created;
    step.done(describe_change(filtered_change, "updated"));

    let expires_at = plan.ttl.map(deadline);
    let step = progress.step(format!("function {base}"));
    let function = function::ensure(
        &clients.lambda,
        &function::FunctionSpec {
            name: base.clone(),
            role_arn: role_arn.clone(),
            arch: plan.deploy.arch,
            memory_mb: plan.deploy.memory_mb,
            env: plan.function_env(&filtered_name, expires_at),
            tags: tags.clone(),
        },
        role_is_fresh,
    )
    .await?;
    // A function this run created takes its mapping with it.
    made.function = function.change == Change::Created;
    made.mapping = made.function;
    step.done(function.detail);

    let efo = match &planned.efo_consumer {
        Some(c) => {
            Some(ensure_consumer(clients, &source_arn, &source_name, &c.name, progress).await?)
        }
        None => None,
    };
    let mapping_source = efo.as_ref().map_or(&source_arn, |c| &c.arn).clone();

    let step = progress.step(format!("event source mapping {source_name} → {base}"));
    let mapping = mapping::ensure(
        &clients.lambda,
        &mapping::MappingSpec {
            source_arn: mapping_source.clone(),
            function_name: base.clone(),
            start: plan.start,
            parallel: plan.deploy.parallel,
            tags,
        },
        role_is_fresh,
    )
    .await;
    let mapping = match (mapping, &efo) {
        (Ok(mapping), _) => mapping,
        // A consumer registered for a mapping that could not be made reads nothing, and bills.
        (Err(err), Some(c)) if c.registered => {
            let undo = consumer::deregister(&clients.kinesis, &c.arn).await;
            return Err(super::undone(
                err,
                &format!("enhanced fan-out consumer {}", c.arn),
                undo,
            ));
        }
        (Err(err), _) => return Err(err),
    };
    step.done(mapping.detail);
    // Moved between polling and --efo: the consumer of the other way goes with its mapping.
    for old in &mapping.replaced {
        if consumer::is_consumer_arn(old) {
            let step = progress.step(format!(
                "removing enhanced fan-out consumer {}",
                consumer::consumer_name(old).unwrap_or(old)
            ));
            consumer::deregister(&clients.kinesis, old).await?;
            step.done("removed");
        }
    }

    Ok(Attachment {
        id: identity.id(),
        source_stream: source_name,
        source_stream_arn: source_arn,
        pattern: plan.pattern.text().to_owned(),
        options: identity.options_label(),
        role_arn,
        role: role_change,
        filtered_stream: filtered_name,
        filtered_stream_arn: filtered_arn,
        filtered: filtered_change,
        function_name: base,
        function_arn: function.arn,
        function: function.change,
        mapping_uuid: mapping.uuid,
        mapping: mapping.change,
        mapping_source_arn: mapping_source,
        consumer: efo.as_ref().map(|c| {
            if c.registered {
                Change::Created
            } else {
                Change::Unchanged
            }
        }),
        consumer_arn: efo.map(|c| c.arn),
        expires_at,
    })
}

/// The attachment's enhanced fan-out consumer on the source, registered when missing and ACTIVE.
async fn ensure_consumer(
    clients: &Clients,
    source_arn: &str,
    source_name: &str,
    name: &str,
    progress: &Progress,
) -> Result<consumer::Named> {
    let step = progress.step(format!("enhanced fan-out consumer {name}"));
    let stream = StreamRef::Arn {
        arn: source_arn.to_owned(),
        name: source_name.to_owned(),
    };
    // Nothing cancels it here: a grep session drops the whole deploy on a signal instead, and
    // its sweep deregisters the consumer by name.
    let named = consumer::ensure_named(
        &clients.kinesis,
        source_arn,
        name,
        &stream,
        &CancellationToken::new(),
    )
    .await?
    .context("registering the consumer was cancelled")?;
    step.done(if named.registered {
        "registered"
    } else {
        "exists"
    });
    Ok(named)
}

fn describe_change(change: Change, updated: &str) -> String {
    match change {
        Change::Created => "created".to_owned(),
        Change::Updated => updated.to_owned(),
        Change::Unchanged => "exists".to_owned(),
        Change::Given => "given".to_owned(),
    }
}

/// The dead-client deadline `ttl` from now (unix seconds).
fn deadline(ttl: Duration) -> i64 {
    Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)
}

/// Pushes the dead-client deadline `ttl` from now; `grep` calls this while its session lives.
/// Returns the new deadline (unix seconds).
pub async fn renew_ttl(clients: &Clients, function_name: &str, ttl: Duration) -> Result<i64> {
    let at = deadline(ttl);
    function::set_env(
        &clients.lambda,
        function_name,
        env::EXPIRES_AT,
        &at.to_string(),
    )
    .await?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            filtered_stream: "ktail-logs-id".into(),
            filtered_stream_arn: "arn".into(),
            filtered: Change::Created,
            function_name: "ktail-logs-id".into(),
            function_arn: "arn".into(),
            function: Change::Updated,
            mapping_uuid: "u".into(),
            mapping: Change::Created,
            mapping_source_arn: "arn".into(),
            consumer_arn: None,
            consumer: None,
            expires_at: None,
        };
        assert_eq!(
            attachment.session_removal(false),
            Removal {
                mapping: true,
                function: false,
                filtered_stream: true,
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
