//! The grep function's IAM role: trusted by Lambda only, with one inline policy that allows exactly
//! what the function does — read the source stream, write the filtered stream, write its own log
//! group, use the KMS keys that encrypt those streams (customer-managed ones only), and (with a
//! TTL) disable its own event source mappings.

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
    /// The KMS key that encrypts the source stream (its `KeyId` as DescribeStreamSummary reports
    /// it), if any: the function needs kms:Decrypt on it to read.
    pub source_key: Option<String>,
    /// The KMS key that encrypts the filtered stream, if any: kms:GenerateDataKey to write.
    pub filtered_key: Option<String>,
    /// The name of the source's enhanced fan-out consumer the mapping reads through (`--efo`).
    pub efo_consumer: Option<String>,
}

/// What a stream's KMS key needs in a policy. Kinesis reports `KeyId` as the user gave it to
/// StartStreamEncryption: a key ARN, a key id, an alias name or an alias ARN (DescribeStreamSummary
/// API reference, StreamDescriptionSummary.KeyId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsGrant {
    /// The AWS-managed `alias/aws/kinesis`: "The use of the default service key for encryption
    /// does not require application of custom IAM permissions" (Kinesis Developer Guide,
    /// "Permissions to use user-generated KMS keys").
    None,
    /// A key ARN, granted directly.
    Key(String),
    /// An alias. A policy's `Resource` cannot name a key through its alias (it would name the
    /// alias resource), so the grant is on the account's keys in that region with the
    /// `kms:ResourceAliases` condition: only a key the alias points at (KMS Developer Guide, "Use
    /// aliases to control access to KMS keys"). Chosen over resolving the alias with
    /// kms:DescribeKey, which needs the KMS SDK crate and the caller's kms:DescribeKey, and which
    /// would pin the key the alias points at today; the condition follows the alias as Kinesis
    /// does. `keys` is `arn:…:kms:REGION:ACCOUNT:key/*`, `alias` is `alias/NAME`.
    Alias { keys: String, alias: String },
}

impl KmsGrant {
    /// The grant for `key_id` on a stream of `stream`'s account and region (a bare key id or alias
    /// name is in the stream's region and account).
    pub fn for_key(key_id: &str, stream: &StreamArn) -> KmsGrant {
        const MANAGED: &str = "alias/aws/kinesis";
        if let Some(rest) = key_id.strip_prefix("arn:") {
            // arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if let [partition, _, region, account, resource] = parts.as_slice() {
                if *resource == MANAGED {
                    return KmsGrant::None;
                }
                if resource.starts_with("alias/") {
                    return KmsGrant::Alias {
                        keys: format!("arn:{partition}:kms:{region}:{account}:key/*"),
                        alias: (*resource).to_owned(),
                    };
                }
            }
            return KmsGrant::Key(key_id.to_owned());
        }
        if key_id == MANAGED {
            return KmsGrant::None;
        }
        if key_id.starts_with("alias/") {
            return KmsGrant::Alias {
                keys: stream.service_arn("kms", "key/*"),
                alias: key_id.to_owned(),
            };
        }
        KmsGrant::Key(stream.service_arn("kms", &format!("key/{key_id}")))
    }

    /// The policy statement that allows `action` with this key, if it needs one.
    fn statement(&self, sid: &str, action: &str) -> Option<Value> {
        match self {
            KmsGrant::None => None,
            KmsGrant::Key(arn) => Some(json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": action,
                "Resource": arn
            })),
            KmsGrant::Alias { keys, alias } => Some(json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": action,
                "Resource": keys,
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
            })),
        }
    }
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
    // "Your Kinesis stream consumers must have the kms:Decrypt permission", producers
    // kms:GenerateDataKey (Kinesis Developer Guide, "Permissions to use user-generated KMS keys").
    // The filtered stream is in the source's account and region.
    let filtered = StreamArn::parse(&scope.filtered_arn).unwrap_or_else(|| scope.source.clone());
    let kms = [
        (
            &scope.source_key,
            &scope.source,
            "DecryptSourceStream",
            "kms:Decrypt",
        ),
        (
            &scope.filtered_key,
            &filtered,
            "EncryptOutputStream",
            "kms:GenerateDataKey",
        ),
    ];
    for (key, stream, sid, action) in kms {
        if let Some(statement) = key
            .as_deref()
            .and_then(|key| KmsGrant::for_key(key, stream).statement(sid, action))
        {
            statements.push(statement);
        }
    }
    if let Some(consumer) = &scope.efo_consumer {
        // A mapping on a consumer reads with SubscribeToShard and checks the consumer with
        // DescribeStreamConsumer (Lambda Developer Guide, "Process Amazon Kinesis Data Streams
        // records with Lambda"); both take the consumer's ARN, which ends in its registration
        // time, hence the wildcard: this consumer, whenever it was registered.
        statements.push(json!({
            "Sid": "ReadThroughOwnConsumer",
            "Effect": "Allow",
            "Action": ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"],
            "Resource": format!("{}/consumer/{consumer}:*", scope.source_arn)
        }));
    }
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
            source_key: None,
            filtered_key: None,
            efo_consumer: None,
        }
    }

    #[test]
    fn an_efo_mapping_may_read_through_its_own_consumer_only() {
        let plain = inline_policy(&scope(false));
        assert!(
            !plain.to_string().contains("SubscribeToShard"),
            "polling needs no consumer: {plain:#}"
        );
        let efo = inline_policy(&PolicyScope {
            efo_consumer: Some("ktail-logs-1".to_owned()),
            ..scope(false)
        });
        let grant = efo["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "ReadThroughOwnConsumer")
            .unwrap();
        assert_eq!(
            grant["Resource"],
            "arn:aws:kinesis:eu-west-1:111122223333:stream/logs/consumer/ktail-logs-1:*"
        );
        assert_eq!(
            grant["Action"],
            json!(["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"])
        );
    }

    #[test]
    fn kms_keys_are_granted_by_arn_or_through_their_alias() {
        let stream = scope(false).source;
        let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            KmsGrant::for_key(key, &stream),
            KmsGrant::Key(key.to_owned())
        );
        assert_eq!(
            KmsGrant::for_key("1234abcd-12ab-34cd-56ef-1234567890ab", &stream),
            KmsGrant::Key(key.to_owned())
        );
        let alias = KmsGrant::Alias {
            keys: "arn:aws:kms:eu-west-1:111122223333:key/*".to_owned(),
            alias: "alias/logs".to_owned(),
        };
        assert_eq!(KmsGrant::for_key("alias/logs", &stream), alias);
        assert_eq!(
            KmsGrant::for_key("arn:aws:kms:eu-west-1:111122223333:alias/logs", &stream),
            alias
        );
        assert_eq!(
            KmsGrant::for_key("alias/aws/kinesis", &stream),
            KmsGrant::None
        );
        assert_eq!(
            KmsGrant::for_key(
                "arn:aws:kms:eu-west-1:111122223333:alias/aws/kinesis",
                &stream
            ),
            KmsGrant::None
        );
    }

    #[test]
    fn encrypted_streams_add_exactly_their_key_permissions() {
        let mut scope = scope(false);
        scope.source_key = Some("alias/aws/kinesis".to_owned());
        assert_eq!(
            inline_policy(&scope)["Statement"].as_array().unwrap().len(),
            5
        );
        scope.source_key = Some("k1".to_owned());
        scope.filtered_key = Some("alias/out".to_owned());
        let policy = inline_policy(&scope);
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 7);
        assert_eq!(statements[5]["Action"], "kms:Decrypt");
        assert_eq!(
            statements[5]["Resource"],
            "arn:aws:kms:eu-west-1:111122223333:key/k1"
        );
        assert_eq!(statements[6]["Action"], "kms:GenerateDataKey");
        assert_eq!(
            statements[6]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/out"
        );
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
