//! Deterministic names and tags for what `ktail attach` creates.
//!
//! An attachment is identified by what it matches: (source stream, pattern, regex or filter
//! pattern, `-v`, `-i`). The same
//! arguments always give the same names, so a second `attach` finds and reuses what the first one made,
//! and a different pattern on the same stream gets its own function, role and filtered stream. Deploy
//! options (memory, architecture, parallelism) are not part of the identity: changing them updates the
//! attachment in place.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::filter::{MatchOptions, Syntax};

// Tag keys and values keep to the characters every service ktail tags documents: Kinesis allows
// letters, digits, spaces and `_ . / = + - % @`; Lambda and IAM allow letters, digits, spaces and
// `_ . : / = + - @`. So `ktail/…`, not the `ktail:…` of older versions, which Kinesis refuses
// (ktail still reads those, see [`tag`]).

/// Every resource ktail creates carries this tag with the value `true`.
pub const TAG_MANAGED: &str = "ktail/managed";
/// The source stream's name.
pub const TAG_SOURCE: &str = "ktail/source";
/// The pattern, base64-encoded: tag values may not hold most punctuation a regex uses.
pub const TAG_PATTERN: &str = "ktail/pattern";
/// `-v` / `-i` as given, or `none`.
pub const TAG_OPTIONS: &str = "ktail/options";
/// The attachment id (the hash in every name).
pub const TAG_ID: &str = "ktail/id";
/// When the attachment was first created, UTC, as `20240501T120000Z` (ISO 8601's basic format:
/// RFC 3339's `:` is not allowed in a Kinesis tag). Older versions wrote RFC 3339.
pub const TAG_CREATED: &str = "ktail/created";

/// How a tag key of this version differs from the same key written by older versions.
const KEY_SEPARATOR: char = '/';
const LEGACY_KEY_SEPARATOR: char = ':';
/// [`TAG_CREATED`]'s format.
const CREATED_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Every ktail name starts with this, which is how `status` finds candidates cheaply.
pub const PREFIX: &str = "ktail-";

/// Lambda function and IAM role names may be 64 characters long.
const MAX_SHORT_NAME: usize = 64;
const ID_LEN: usize = 12;
/// AWS caps tag values at 256 characters.
const MAX_TAG_VALUE: usize = 256;

/// What identifies an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub source: String,
    pub pattern: String,
    pub syntax: Syntax,
    pub options: MatchOptions,
}

impl Identity {
    /// A short hex hash of the identity; length-prefixed fields so that no two identities collide by
    /// concatenation.
    pub fn id(&self) -> String {
        let mut hasher = Sha256::new();
        for field in [self.source.as_bytes(), self.pattern.as_bytes()] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field);
        }
        hasher.update([
            u8::from(self.options.invert),
            u8::from(self.options.ignore_case),
        ]);
        // Only filter patterns add the syntax, so a regex keeps the id (and the names) it had
        // before filter patterns existed, and `detach` still finds it.
        if self.syntax == Syntax::FilterPattern {
            hasher.update(b"filter-pattern");
        }
        let digest = hasher.finalize();
        hex_prefix(&digest, ID_LEN)
    }

    /// The role's name: `ktail-<stream>-<role id>`, where the role id hashes the identity with the
    /// region. IAM is global to the account while functions and streams are regional, so the same
    /// stream name and pattern in two regions are two attachments that must not share (and
    /// rewrite, and delete) one role. The account needs no place in it: a role name is already
    /// the account's own.
    pub fn role_name(&self, region: &str) -> String {
        let mut hasher = Sha256::new();
        for field in [self.id().as_bytes(), region.as_bytes()] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field);
        }
        self.name_with(&hex_prefix(&hasher.finalize(), ID_LEN))
    }

    /// The name shared by the function and (unless given) the filtered stream, and by the role
    /// in versions before the role's name held the region: `ktail-<stream>-<id>`, valid for all
    /// three (letters, digits, `-`, `_`; at most 64 characters).
    pub fn base_name(&self) -> String {
        self.name_with(&self.id())
    }

    fn name_with(&self, id: &str) -> String {
        let room = MAX_SHORT_NAME - PREFIX.len() - 1 - ID_LEN;
        let stream: String = self
            .source
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(room)
            .collect();
        format!("{PREFIX}{stream}-{id}")
    }

    /// `-v -i` as the user typed them, for tags and reports.
    pub fn options_label(&self) -> String {
        options_label(self.syntax, self.options)
    }

    /// The tags every resource of this attachment carries.
    pub fn tags(&self, created: &str) -> HashMap<String, String> {
        let mut tags = HashMap::from([
            (TAG_MANAGED.to_owned(), "true".to_owned()),
            (TAG_SOURCE.to_owned(), self.source.clone()),
            (TAG_OPTIONS.to_owned(), self.options_label()),
            (TAG_ID.to_owned(), self.id()),
            (TAG_CREATED.to_owned(), created.to_owned()),
        ]);
        let pattern = base64::engine::general_purpose::STANDARD.encode(&self.pattern);
        // A very long pattern is still in the function's MATCH variable, which is authoritative.
        if pattern.len() <= MAX_TAG_VALUE {
            tags.insert(TAG_PATTERN.to_owned(), pattern);
        }
        tags
    }
}

/// The value of the tag `key` (a `TAG_*` key), or of the same tag as older versions wrote it
/// (`ktail:managed` for [`TAG_MANAGED`]), so that what they made is still found and removed.
pub fn tag<'a>(tags: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    tags.get(key)
        .or_else(|| tags.get(&legacy_key(key)))
        .map(String::as_str)
}

/// Whether the tag `key` = `value` marks a resource as ktail's, as this version or an older one
/// wrote it.
pub fn is_managed_tag(key: &str, value: &str) -> bool {
    (key == TAG_MANAGED || key == legacy_key(TAG_MANAGED)) && value == "true"
}

fn legacy_key(key: &str) -> String {
    key.replacen(KEY_SEPARATOR, &LEGACY_KEY_SEPARATOR.to_string(), 1)
}

/// [`TAG_CREATED`]'s value for `at`.
pub fn created_tag(at: DateTime<Utc>) -> String {
    at.format(CREATED_FORMAT).to_string()
}

/// A [`TAG_CREATED`] value as RFC 3339, whichever version wrote it.
pub fn created_rfc3339(value: &str) -> String {
    NaiveDateTime::parse_from_str(value, CREATED_FORMAT).map_or_else(
        |_| value.to_owned(),
        |at| at.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// `-v`, `-i`, `-v -i` or `none` for a regex; `--filter-pattern` (and ` -v`) for a filter pattern.
pub fn options_label(syntax: Syntax, options: MatchOptions) -> String {
    let flags = match (options.invert, options.ignore_case) {
        (false, false) => "",
        (true, false) => "-v",
        (false, true) => "-i",
        (true, true) => "-v -i",
    };
    match (syntax, flags) {
        (Syntax::Regex, "") => "none".to_owned(),
        (Syntax::Regex, flags) => flags.to_owned(),
        (Syntax::FilterPattern, "") => "--filter-pattern".to_owned(),
        (Syntax::FilterPattern, flags) => format!("--filter-pattern {flags}"),
    }
}

fn hex_prefix(bytes: &[u8], len: usize) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(len)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect()
}

/// The parts of a Kinesis stream ARN that the policy and the filtered stream's ARN are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub name: String,
}

impl StreamArn {
    /// Parses `arn:<partition>:kinesis:<region>:<account>:stream/<name>`.
    pub fn parse(arn: &str) -> Option<StreamArn> {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("kinesis"),
            Some(region),
            Some(account),
            Some(rest),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        let name = rest.strip_prefix("stream/")?;
        if name.is_empty() || partition.is_empty() || region.is_empty() || account.is_empty() {
            return None;
        }
        Some(StreamArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The ARN of another stream in the same account and region.
    pub fn sibling(&self, name: &str) -> String {
        format!(
            "arn:{}:kinesis:{}:{}:stream/{name}",
            self.partition, self.region, self.account
        )
    }

    /// An ARN of another service in the same account and region, e.g. `("logs", "log-group:…")`.
    pub fn service_arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

/// The stream name from a name or an ARN as the user typed it.
pub fn stream_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn
            .rsplit_once("stream/")
            .map_or(name_or_arn, |(_, name)| name)
    } else {
        name_or_arn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(source: &str, pattern: &str, invert: bool, ignore_case: bool) -> Identity {
        Identity {
            source: source.to_owned(),
            pattern: pattern.to_owned(),
            syntax: Syntax::Regex,
            options: MatchOptions {
                invert,
                ignore_case,
            },
        }
    }

    #[test]
    fn names_are_deterministic_and_distinct() {
        let a = identity("log-stream", "\"status\":500", false, false);
        assert_eq!(a.base_name(), a.clone().base_name());
        assert!(a.base_name().starts_with("ktail-log-stream-"));
        assert_eq!(a.base_name().len(), "ktail-log-stream-".len() + ID_LEN);
        let others = [
            identity("log-stream", "\"status\":501", false, false),
            identity("log-stream", "\"status\":500", true, false),
            identity("log-stream", "\"status\":500", false, true),
            identity("log-stream2", "\"status\":500", false, false),
            // Concatenation must not collide.
            identity("log-stream\"", "status\":500", false, false),
        ];
        for other in others {
            assert_ne!(a.base_name(), other.base_name(), "{other:?}");
        }
    }

    #[test]
    fn a_regex_and_a_filter_pattern_of_the_same_text_are_two_attachments() {
        let regex = identity("logs", "ERROR", false, false);
        let filter = Identity {
            syntax: Syntax::FilterPattern,
            ..regex.clone()
        };
        assert_ne!(regex.base_name(), filter.base_name());
        assert_eq!(filter.options_label(), "--filter-pattern");
        assert_eq!(regex.options_label(), "none");
        // A regex's id is what it was before filter patterns, so existing attachments keep
        // their names: sha256 of the length-prefixed fields and the two flags, as before.
        assert_eq!(regex.id(), "c0ea78efea63");
    }

    #[test]
    fn a_role_s_name_differs_per_region() {
        let a = identity("log-stream", "x", false, false);
        assert_eq!(a.role_name("eu-west-1"), a.role_name("eu-west-1"));
        assert_ne!(a.role_name("eu-west-1"), a.role_name("us-east-1"));
        assert_ne!(a.role_name("eu-west-1"), a.base_name());
        assert!(a.role_name("eu-west-1").starts_with("ktail-log-stream-"));
        let long = identity(&"a".repeat(100), "x", false, false);
        assert!(long.role_name("ap-southeast-2").len() <= 64);
    }

    #[test]
    fn names_fit_lambda_and_iam_rules() {
        let long = "a.b".repeat(60);
        let name = identity(&long, "x", false, false).base_name();
        assert!(name.len() <= 64, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name}"
        );
    }

    #[test]
    fn tags_carry_the_pattern_readably_encoded() {
        let tags = identity("s", "\"status\":500", true, true).tags("2024-05-01T12:00:00Z");
        assert_eq!(tags[TAG_MANAGED], "true");
        assert_eq!(tags[TAG_SOURCE], "s");
        assert_eq!(tags[TAG_OPTIONS], "-v -i");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&tags[TAG_PATTERN])
                .unwrap(),
            b"\"status\":500"
        );
        let long = identity("s", &"x".repeat(300), false, false).tags("t");
        assert!(!long.contains_key(TAG_PATTERN));
        assert!(long.values().all(|v| v.len() <= MAX_TAG_VALUE));
    }

    /// Every key and value in the character set that Kinesis, Lambda and IAM all document.
    #[test]
    fn tags_are_valid_for_every_service_ktail_tags() {
        let valid = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_./=+-@".contains(c))
        };
        for (invert, ignore_case) in [(false, false), (true, true)] {
            let tags = identity(
                "log.stream_1-a",
                "\"status\":5[0-9]{2} /x?",
                invert,
                ignore_case,
            )
            .tags(&created_tag(Utc::now()));
            assert_eq!(tags.len(), 6);
            for (key, value) in &tags {
                assert!(valid(key) && key.len() <= 128, "key {key:?}");
                assert!(
                    valid(value) && value.len() <= MAX_TAG_VALUE,
                    "{key} = {value:?}"
                );
            }
        }
    }

    #[test]
    fn tags_of_older_versions_are_still_read() {
        let old = HashMap::from([
            ("ktail:managed".to_owned(), "true".to_owned()),
            ("ktail:source".to_owned(), "logs".to_owned()),
            (
                "ktail:created".to_owned(),
                "2024-05-01T12:00:00Z".to_owned(),
            ),
        ]);
        assert_eq!(tag(&old, TAG_MANAGED), Some("true"));
        assert_eq!(tag(&old, TAG_SOURCE), Some("logs"));
        assert_eq!(tag(&old, TAG_ID), None);
        assert!(is_managed_tag("ktail:managed", "true"));
        assert!(is_managed_tag(TAG_MANAGED, "true"));
        assert!(!is_managed_tag(TAG_MANAGED, "false"));
        assert!(!is_managed_tag("managed", "true"));
        let new = HashMap::from([(TAG_SOURCE.to_owned(), "new".to_owned())]);
        assert_eq!(tag(&new, TAG_SOURCE), Some("new"));
    }

    #[test]
    fn creation_times_read_back_as_rfc3339() {
        let at = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(created_tag(at), "20240501T120000Z");
        assert_eq!(created_rfc3339(&created_tag(at)), "2024-05-01T12:00:00Z");
        // Written by an older version: already RFC 3339.
        assert_eq!(
            created_rfc3339("2024-05-01T12:00:00Z"),
            "2024-05-01T12:00:00Z"
        );
    }

    #[test]
    fn stream_arns() {
        let arn =
            StreamArn::parse("arn:aws:kinesis:us-east-1:123456789012:stream/log-stream").unwrap();
        assert_eq!(arn.name, "log-stream");
        assert_eq!(
            arn.sibling("out"),
            "arn:aws:kinesis:us-east-1:123456789012:stream/out"
        );
        assert_eq!(
            arn.service_arn("logs", "log-group:/aws/lambda/f:*"),
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"
        );
        assert!(StreamArn::parse("arn:aws:lambda:us-east-1:1:function:f").is_none());
        assert_eq!(stream_name("arn:aws:kinesis:us-east-1:1:stream/abc"), "abc");
        assert_eq!(stream_name("abc"), "abc");
    }
}
