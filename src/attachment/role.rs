//! The grep function's IAM role: trusted by Lambda only, with one inline policy that allows exactly
//! what the function does — read the source stream, write the filtered stream, write its own log
//! group, and (with a TTL) disable its own event source mappings.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use aws_sdk_iam::Client;
use serde_json::{Value, json};

use super::Change;
use super::names::{StreamArn, is_managed_tag};
use crate::aws::errors::{AwsResultExt as _, error as aws_error};

/// The name of the inline policy ktail puts on the roles it creates.
pub const POLICY_NAME: &str = "ktail-grep";

/// What the policy is scoped to.
#[derive(Debug, Clone)]
pub struct PolicyScope {
    pub source: StreamArn,
    pub source_arn: String,
    pub filtered_arn: String,
    pub function_name: String,
    /// Whether the dead-client guard may disable the function's own mappings.
    pub ttl_guard: bool,
}

/// Only the Lambda service may assume the role.
pub fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The least-privilege inline policy for one attachment.
pub fn inline_policy(scope: &PolicyScope) -> Value {
    let log_group = format!("log-group:/aws/lambda/{}", scope.function_name);
    let function_arn = scope
        .source
        .service_arn("lambda", &format!("function:{}", scope.function_name));
    let mut statements = vec![
        json!({
            "Sid": "ReadSourceStream",
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards"
            ],
            "Resource": scope.source_arn
        }),
        // The event source mapping lists streams; the action has no resource-level scoping.
        json!({
            "Sid": "ListStreams",
            "Effect": "Allow",
            "Action": "kinesis:ListStreams",
            "Resource": "*"
        }),
        json!({
            "Sid": "WriteOutputStream",
            "Effect": "Allow",
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
            "Resource": scope.filtered_arn
        }),
        json!({
            "Sid": "CreateOwnLogGroup",
            "Effect": "Allow",
            "Action": "logs:CreateLogGroup",
            "Resource": scope.source.service_arn("logs", &format!("{log_group}:*"))
        }),
        json!({
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": scope.source.service_arn("logs", &format!("{log_group}:log-stream:*"))
        }),
    ];
    if scope.ttl_guard {
        // ListEventSourceMappings supports no resource scoping; it only reveals mapping metadata.
        statements.push(json!({
            "Sid": "FindOwnMappings",
            "Effect": "Allow",
            "Action": "lambda:ListEventSourceMappings",
            "Resource": "*"
        }));
        // Mapping ids are not known before the role exists, so scope by the function they feed.
        statements.push(json!({
            "Sid": "DisableOwnMappings",
            "Effect": "Allow",
            "Action": "lambda:UpdateEventSourceMapping",
            "Resource": scope.source.service_arn("lambda", "event-source-mapping:*"),
            "Condition": {"StringEquals": {"lambda:FunctionArn": function_arn}}
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Creates the role when missing and makes its inline policy equal to `policy`. A role this call
/// created and could not finish is deleted again before the error is returned.
pub async fn ensure(
    iam: &Client,
    name: &str,
    policy: &Value,
    tags: &HashMap<String, String>,
) -> Result<(String, Change)> {
    let (arn, created) = match arn(iam, name).await? {
        Some(arn) => {
            if !is_managed(iam, name).await? {
                anyhow::bail!(
                    "IAM role {name} exists but was not created by ktail; delete it or pass --role"
                );
            }
            (arn, false)
        }
        None => create(iam, name, tags).await?,
    };
    let current = if created {
        None
    } else {
        current_policy(iam, name).await?
    };
    if current.as_ref() == Some(policy) {
        return Ok((arn, Change::Unchanged));
    }
    let put = iam
        .put_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .policy_document(policy.to_string())
        .send()
        .await
        .or_aws_error(|| format!("cannot set the policy of IAM role {name}"));
    if let Err(err) = put {
        return Err(if created {
            super::undone(err, &format!("IAM role {name}"), delete(iam, name).await)
        } else {
            err
        });
    }
    Ok((
        arn,
        if created {
            Change::Created
        } else {
            Change::Updated
        },
    ))
}

/// The new role's ARN, and whether this call created it (`false`: another ktail did a moment ago).
async fn create(
    iam: &Client,
    name: &str,
    tags: &HashMap<String, String>,
) -> Result<(String, bool)> {
    let mut request = iam
        .create_role()
        .role_name(name)
        .description("ktail grep function: reads one stream, writes its matches to another")
        .assume_role_policy_document(trust_policy().to_string());
    for (key, value) in tags {
        request = request.tags(
            aws_sdk_iam::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .context("building an IAM tag")?,
        );
    }
    match request.send().await {
        Ok(out) => out
            .role
            .map(|r| (r.arn, true))
            .with_context(|| format!("IAM returned no role for {name}")),
        // Another ktail created it a moment ago.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_already_exists_exception()) =>
        {
            let arn = arn(iam, name)
                .await?
                .with_context(|| format!("IAM role {name} was created and is gone again"))?;
            Ok((arn, false))
        }
        Err(err) => Err(aws_error(err, format!("cannot create IAM role {name}"))),
    }
}

/// The role's current ktail policy, if it has one.
pub async fn current_policy(iam: &Client, name: &str) -> Result<Option<Value>> {
    let out = iam
        .get_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .send()
        .await
        .not_found_as_none(|| format!("cannot read the policy of IAM role {name}"))?;
    Ok(out.and_then(|out| parse_policy_document(&out.policy_document)))
}

/// The role's ARN, or `None` when it does not exist.
pub async fn arn(iam: &Client, name: &str) -> Result<Option<String>> {
    let out = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot look up IAM role {name}"))?;
    Ok(out.and_then(|out| out.role).map(|r| r.arn))
}

/// Whether the role exists.
pub async fn exists(iam: &Client, name: &str) -> Result<bool> {
    Ok(arn(iam, name).await?.is_some())
}

/// Whether the role carries ktail's tag, i.e. ktail may change or delete it.
pub async fn is_managed(iam: &Client, name: &str) -> Result<bool> {
    let mut pages = iam.list_role_tags().role_name(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_aws_error(|| format!("cannot read the tags of IAM role {name}"))?;
        if page.tags.iter().any(|t| is_managed_tag(&t.key, &t.value)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Deletes a role ktail created, with its inline policies. Returns whether there was one to delete.
pub async fn delete(iam: &Client, name: &str) -> Result<bool> {
    let mut policies = Vec::new();
    let mut pages = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) =
            page.not_found_as_none(|| format!("cannot list the policies of IAM role {name}"))?
        else {
            return Ok(false);
        };
        policies.extend(page.policy_names);
    }
    for policy in policies {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
            .not_found_as_none(|| format!("cannot delete policy {policy} of IAM role {name}"))?;
    }
    let deleted = iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot delete IAM role {name}"))?;
    Ok(deleted.is_some())
}

/// The source stream a ktail policy (from [`inline_policy`]) lets the function read.
pub fn policy_source(policy: &Value) -> Option<StreamArn> {
    policy["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == "ReadSourceStream")
        .and_then(|s| s["Resource"].as_str())
        .and_then(StreamArn::parse)
}

/// The role name in a role ARN (`arn:aws:iam::1:role/path/name`).
pub fn name_from_arn(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}

/// IAM returns policy documents URL-encoded; emulators often do not.
fn parse_policy_document(document: &str) -> Option<Value> {
    serde_json::from_str(document)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(document)?).ok())
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(ttl_guard: bool) -> PolicyScope {
        let source = "arn:aws:kinesis:eu-west-1:111122223333:stream/logs";
        PolicyScope {
            source: StreamArn::parse(source).unwrap(),
            source_arn: source.to_owned(),
            filtered_arn: "arn:aws:kinesis:eu-west-1:111122223333:stream/ktail-logs-1".to_owned(),
            function_name: "ktail-logs-1".to_owned(),
            ttl_guard,
        }
    }

    #[test]
    fn policy_is_scoped_to_the_two_streams_and_own_logs() {
        let policy = inline_policy(&scope(false));
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 5);
        assert!(
            !policy.to_string().contains("lambda:"),
            "no mapping permissions without a TTL"
        );
        assert_eq!(
            statements[4]["Resource"],
            "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/ktail-logs-1:log-stream:*"
        );
    }

    #[test]
    fn a_policy_names_its_source_stream() {
        let source = policy_source(&inline_policy(&scope(false))).unwrap();
        assert_eq!(source.region, "eu-west-1");
        assert_eq!(policy_source(&json!({"Statement": []})), None);
    }

    #[test]
    fn ttl_guard_may_only_touch_own_mappings() {
        let policy = inline_policy(&scope(true));
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 7);
        assert_eq!(
            statements[6]["Condition"]["StringEquals"]["lambda:FunctionArn"],
            "arn:aws:lambda:eu-west-1:111122223333:function:ktail-logs-1"
        );
    }

    #[test]
    fn policy_documents_are_read_encoded_or_not() {
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        assert_eq!(parse_policy_document(&doc.to_string()), Some(doc.clone()));
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_policy_document(encoded), Some(doc));
        assert_eq!(name_from_arn("arn:aws:iam::1:role/a/b/name"), "name");
    }
}
