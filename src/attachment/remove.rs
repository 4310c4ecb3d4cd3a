//! Taking attachments apart: [`remove`] deletes the chosen parts of one attachment (what `grep`
//! does when its session ends), [`detach`] finds a stream's attachments and removes them (`ktail
//! detach`). The filtered stream and the role are deleted only when they carry ktail's tag, so a
//! stream or role the user supplied is never removed.

use anyhow::Result;
use serde::Serialize;

use super::inventory::{self, Found};
use super::names::{self, Identity};
use super::{Clients, filtered_stream, function, mapping, role};
use crate::aws::errors::AwsResultExt as _;
use crate::filter::{MatchOptions, Syntax};
use crate::kinesis::consumer;
use crate::progress::Progress;

/// Which parts of an attachment [`remove`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub mapping: bool,
    pub function: bool,
    pub filtered_stream: bool,
    pub role: bool,
}

impl Removal {
    /// Only the mapping: the function stops being invoked, everything else stays for a re-attach.
    pub const MAPPING: Removal = Removal {
        mapping: true,
        function: false,
        filtered_stream: false,
        role: false,
    };
    /// Nothing at all.
    pub const NOTHING: Removal = Removal {
        mapping: false,
        function: false,
        filtered_stream: false,
        role: false,
    };
    /// Everything ktail created.
    pub const PURGE: Removal = Removal {
        mapping: true,
        function: true,
        filtered_stream: true,
        role: true,
    };
}

/// The resources of one attachment, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub function_name: String,
    pub filtered_stream: Option<String>,
    pub role_name: Option<String>,
    /// The enhanced fan-out consumer an `--efo` deploy registers, for a deploy that may not have
    /// reached its mapping. A finished attachment's consumer is found from its mapping.
    pub efo_consumer: Option<EfoConsumer>,
}

/// An attachment's enhanced fan-out consumer, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfoConsumer {
    /// The source stream's name.
    pub stream: String,
    pub name: String,
}

/// One resource that was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// `mapping`, `consumer`, `function`, `output stream` or `role`.
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
        let mappings = mapping::list(&clients.lambda, &target.function_name).await?;
        // The consumer goes with the mapping that reads through it: it bills per shard-hour.
        let consumers: Vec<String> = mappings
            .iter()
            .filter_map(|m| m.event_source_arn())
            .filter(|arn| consumer::is_consumer_arn(arn))
            .map(str::to_owned)
            .collect();
        for m in mappings {
            let Some(uuid) = m.uuid() else { continue };
            let step = progress.step(format!("removing event source mapping {uuid}"));
            // Deleted already and still listed for a few seconds; AWS refuses a second delete.
            if mapping::is_deleting(&m) {
                step.done("already being removed");
                continue;
            }
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
        removed.extend(deregister_consumers(clients, consumers, target, progress).await?);
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
    if what.filtered_stream
        && let Some(stream) = &target.filtered_stream
        && filtered_stream::is_managed(&clients.kinesis, stream).await?
    {
        let step = progress.step(format!("removing output stream {stream}"));
        if filtered_stream::delete(&clients.kinesis, stream).await? {
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
        if let Some(user) = role_used_elsewhere(clients, role_name, &target.function_name).await? {
            step.done(format!("kept: {user} uses it"));
            return Ok(removed);
        }
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

/// Deregisters the consumers the attachment's mappings read through (`arns`), and the one its
/// deploy registers (`target.efo_consumer`) when no mapping named it yet.
async fn deregister_consumers(
    clients: &Clients,
    mut arns: Vec<String>,
    target: &Target,
    progress: &Progress,
) -> Result<Vec<Removed>> {
    if let Some(c) = &target.efo_consumer
        && !arns
            .iter()
            .any(|arn| consumer::consumer_name(arn) == Some(c.name.as_str()))
        && let Some(summary) = filtered_stream::summary(&clients.kinesis, &c.stream).await?
        && let Some(arn) = consumer::arn_of(&clients.kinesis, &summary.arn, &c.name).await?
    {
        arns.push(arn);
    }
    let mut removed = Vec::new();
    for arn in arns {
        let name = consumer::consumer_name(&arn).unwrap_or(&arn).to_owned();
        let step = progress.step(format!("removing enhanced fan-out consumer {name}"));
        if consumer::deregister(&clients.kinesis, &arn).await? {
            removed.push(Removed {
                kind: "consumer",
                name,
            });
            step.done("removed");
        } else {
            step.done("already gone");
        }
    }
    Ok(removed)
}

/// Who else uses a ktail role, if anyone: another function of this region (a role passed with
/// `--role` to another attachment), or an attachment in another region, which the role's policy
/// names (roles made before their name held the region were shared by the same stream and pattern
/// in every region, IAM being global).
async fn role_used_elsewhere(
    clients: &Clients,
    role_name: &str,
    function_name: &str,
) -> Result<Option<String>> {
    let region = clients.region();
    if let Some(policy) = role::current_policy(&clients.iam, role_name).await?
        && let Some(source) = role::policy_source(&policy)
        && source.region != region
    {
        return Ok(Some(format!("the attachment in {}", source.region)));
    }
    let mut pages = clients
        .lambda
        .list_functions()
        .into_paginator()
        .items()
        .send();
    while let Some(config) = pages.next().await {
        let config = config.or_aws_error(|| "cannot list Lambda functions")?;
        let (Some(name), Some(arn)) = (config.function_name(), config.role()) else {
            continue;
        };
        if name != function_name && role::name_from_arn(arn) == role_name {
            return Ok(Some(format!("function {name}")));
        }
    }
    Ok(None)
}

async fn role_is_managed(iam: &aws_sdk_iam::Client, name: &str) -> Result<bool> {
    match role::is_managed(iam, name).await {
        Ok(managed) => Ok(managed),
        // Already deleted: nothing to do.
        Err(_) if !role::exists(iam, name).await? => Ok(false),
        Err(err) => Err(err),
    }
}

/// Which attachments of a stream `detach` removes.
#[derive(Debug, Clone)]
pub enum Selector {
    /// The one made with this pattern (a regex or a filter pattern) and these options.
    Pattern(String, Syntax, MatchOptions),
    /// Every attachment of the stream.
    All,
}

/// `ktail detach`: removes the selected attachments of `source` (the mappings; with `purge`, also the
/// functions, filtered streams and roles ktail created).
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
        Selector::Pattern(pattern, syntax, options) => {
            let identity = Identity {
                source: source.to_owned(),
                pattern: pattern.clone(),
                syntax: *syntax,
                options: *options,
            };
            inventory::find_one(clients, &identity.base_name())
                .await?
                .into_iter()
                .collect()
        }
        Selector::All => inventory::find_all(clients)
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
    let region = clients.region();
    for f in &found {
        removed.extend(remove(clients, &f.target(), what, progress).await?);
        if purge {
            // What ktail made for this attachment before it was re-attached with another
            // `--role` or `--output-stream` (or by a version that named the role otherwise).
            let earlier = Removal {
                filtered_stream: true,
                role: true,
                ..Removal::NOTHING
            };
            for target in f.earlier_defaults(&region) {
                removed.extend(remove(clients, &target, earlier, progress).await?);
            }
        }
    }
    Ok(removed)
}
