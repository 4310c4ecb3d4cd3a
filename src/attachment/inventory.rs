//! What ktail has attached in the region: the functions it manages (found by name prefix and
//! tag), each attachment's state as `ktail status` shows it, and the per-stream counts `ktail ls`
//! shows.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::remove::Target;
use super::{Clients, function, mapping, names, role};
use crate::aws::errors::AwsResultExt as _;
use crate::contract::env;
use crate::filter::{MatchOptions, Syntax};

/// A ktail function found in the account.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) function_name: String,
    env: HashMap<String, String>,
    role_arn: Option<String>,
    tags: HashMap<String, String>,
    pub(crate) source: Option<String>,
}

impl Found {
    pub(crate) fn target(&self) -> Target {
        Target {
            function_name: self.function_name.clone(),
            filtered_stream: self.env.get(env::STREAM_NAME).cloned(),
            role_name: self
                .role_arn
                .as_deref()
                .map(|arn| role::name_from_arn(arn).to_owned()),
            efo_consumer: None,
        }
    }

    /// The attachment this function serves, read back from its tags and environment.
    pub(crate) fn identity(&self) -> Option<names::Identity> {
        let (syntax, pattern) = match self.env.get(env::FILTER_PATTERN) {
            Some(pattern) => (Syntax::FilterPattern, pattern.clone()),
            None => (Syntax::Regex, self.env.get(env::MATCH)?.clone()),
        };
        Some(names::Identity {
            source: self.source.clone()?,
            pattern,
            syntax,
            options: MatchOptions {
                invert: is_true(self.env.get(env::MATCH_INVERT)),
                ignore_case: is_true(self.env.get(env::MATCH_IGNORE_CASE)),
            },
        })
    }

    /// The role and filtered stream ktail made for this attachment under their default names,
    /// where they are not the ones the function uses now: re-attached with `--role` or
    /// `--output-stream`, or made by a version that named the role like the function. `remove`
    /// deletes them only if they carry ktail's tag and no other attachment uses the role.
    pub(crate) fn earlier_defaults(&self, region: &str) -> Vec<Target> {
        let current = self.target();
        let (default_stream, roles) = match self.identity() {
            Some(identity) => (
                identity.base_name(),
                vec![identity.role_name(region), identity.base_name()],
            ),
            None => (self.function_name.clone(), vec![self.function_name.clone()]),
        };
        let mut stream = (current.filtered_stream.as_deref() != Some(default_stream.as_str()))
            .then_some(default_stream);
        let mut targets: Vec<Target> = roles
            .into_iter()
            .filter(|r| current.role_name.as_deref() != Some(r.as_str()))
            .map(|role| Target {
                function_name: self.function_name.clone(),
                filtered_stream: stream.take(),
                role_name: Some(role),
                efo_consumer: None,
            })
            .collect();
        if let Some(stream) = stream {
            targets.push(Target {
                function_name: self.function_name.clone(),
                filtered_stream: Some(stream),
                role_name: None,
                efo_consumer: None,
            });
        }
        targets
    }

    fn from_config(
        config: &aws_sdk_lambda::types::FunctionConfiguration,
        tags: HashMap<String, String>,
    ) -> Option<Found> {
        if names::tag(&tags, names::TAG_MANAGED) != Some("true") {
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
            source: names::tag(&tags, names::TAG_SOURCE).map(str::to_owned),
            tags,
        })
    }
}

/// The ktail function of this name, if there is one.
pub(crate) async fn find_one(clients: &Clients, function_name: &str) -> Result<Option<Found>> {
    let Some(config) = function::get(&clients.lambda, function_name).await? else {
        return Ok(None);
    };
    let Some(arn) = config.function_arn() else {
        return Ok(None);
    };
    let Some(tags) = function::tags(&clients.lambda, arn).await? else {
        return Ok(None);
    };
    Ok(Found::from_config(&config, tags))
}

/// Every function ktail manages in the region: named `ktail-…` and tagged as ktail's (by this
/// version or an older one).
pub(crate) async fn find_all(clients: &Clients) -> Result<Vec<Found>> {
    let mut pages = clients
        .lambda
        .list_functions()
        .into_paginator()
        .items()
        .send();
    let mut found = Vec::new();
    while let Some(config) = pages.next().await {
        let config = config.or_aws_error(|| "cannot list Lambda functions")?;
        let (Some(name), Some(arn)) = (config.function_name(), config.function_arn()) else {
            continue;
        };
        if !name.starts_with(names::PREFIX) {
            continue;
        }
        // Deleted since the listing (by a detach elsewhere): not an attachment any more.
        let Some(tags) = function::tags(&clients.lambda, arn).await? else {
            continue;
        };
        found.extend(Found::from_config(&config, tags));
    }
    Ok(found)
}

/// One attachment as `ktail status` shows it. The `output_stream` key of `status -o json`
/// predates the name "filtered stream" and stays as it is.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentStatus {
    pub source_stream: String,
    pub pattern: String,
    /// `regex` or `filter-pattern`.
    pub syntax: &'static str,
    pub options: String,
    /// The mapping's state (`Enabled`, `Disabled`, …) or `detached` when it has none.
    pub state: String,
    pub last_processing_result: Option<String>,
    pub function: String,
    #[serde(rename = "output_stream")]
    pub filtered_stream: Option<String>,
    pub mapping_uuid: Option<String>,
    /// The enhanced fan-out consumer the mapping reads through (`--efo`), by ARN.
    pub consumer: Option<String>,
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
        let (syntax, pattern) = match f.env.get(env::FILTER_PATTERN) {
            Some(pattern) => (Syntax::FilterPattern, pattern.clone()),
            None => (
                Syntax::Regex,
                f.env.get(env::MATCH).cloned().unwrap_or_default(),
            ),
        };
        out.push(AttachmentStatus {
            source_stream: f.source.clone().unwrap_or_default(),
            pattern,
            syntax: syntax.label(),
            options: names::options_label(
                syntax,
                MatchOptions {
                    invert: is_true(f.env.get(env::MATCH_INVERT)),
                    ignore_case: is_true(f.env.get(env::MATCH_IGNORE_CASE)),
                },
            ),
            state: first
                .and_then(|m| m.state())
                .unwrap_or("detached")
                .to_owned(),
            last_processing_result: first
                .and_then(|m| m.last_processing_result())
                .map(str::to_owned),
            function: f.function_name.clone(),
            filtered_stream: f.env.get(env::STREAM_NAME).cloned(),
            mapping_uuid: first.and_then(|m| m.uuid()).map(str::to_owned),
            consumer: first
                .and_then(|m| m.event_source_arn())
                .filter(|arn| crate::kinesis::consumer::is_consumer_arn(arn))
                .map(str::to_owned),
            created: names::tag(&f.tags, names::TAG_CREATED).map(names::created_rfc3339),
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
        let m = m.or_aws_error(|| "cannot list event source mappings")?;
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
