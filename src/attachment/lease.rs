//! Leases: which `ktail grep` sessions use an attachment right now. Two sessions with the same
//! pattern and options share one attachment (one function, one mapping); each holds a lease, a
//! tag on the function (`ktail/session/<id>` = the unix second it lapses), taken once attached and
//! renewed with the dead-client deadline, so a session that was killed lets its lease lapse. A
//! session that ends while another lease is live removes nothing and hands what it would have
//! removed (the function, filtered stream or role it created) to the others in another tag; the
//! last session removes the mapping and all of that.
//!
//! Tags rather than a table: the function is the one resource every sharer already knows and may
//! change, and tagging it (Lambda TagResource) is no function update, so it never meets an update
//! in progress. A narrow race remains: a session that lists the leases at the very moment a new
//! session, already past its attach, has not yet tagged its own, removes the mapping under it.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_lambda::Client;
use chrono::Utc;

use super::Removal;
use super::function;
use crate::aws::errors::AwsResultExt as _;

/// A lease tag's key prefix; the session id follows.
pub const TAG_LEASE: &str = "ktail/session/";
/// What sessions that ended before the last one would have removed, as words: `function`,
/// `output-stream`, `role`.
pub const TAG_HANDED_OVER: &str = "ktail/handed-over";

/// One session's lease on the function `function_arn`.
#[derive(Debug, Clone)]
pub struct Lease {
    function_arn: String,
    key: String,
}

/// How a session's end went: whether others still use the attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// This was the last live session: remove this (the session's own removal, and what the
    /// sessions that ended before handed over).
    Last(Removal),
    /// This many other sessions still hold a live lease: remove nothing.
    Shared(usize),
}

impl Lease {
    /// A new lease for one session (not yet taken).
    pub fn new(function_arn: &str) -> Lease {
        Lease {
            function_arn: function_arn.to_owned(),
            key: format!("{TAG_LEASE}{:016x}", rand::random::<u64>()),
        }
    }

    /// Takes or renews the lease: it lapses `ttl` from now.
    pub async fn renew(&self, lambda: &Client, ttl: Duration) -> Result<()> {
        let until = Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        lambda
            .tag_resource()
            .resource(&self.function_arn)
            .tags(&self.key, until.to_string())
            .send()
            .await
            .or_aws_error(|| format!("cannot tag function {}", self.function_arn))?;
        Ok(())
    }

    /// Gives the lease up. With other live leases, hands `removal` (what this session would
    /// remove, but the mapping) over to them; otherwise returns what to remove. Lapsed leases of
    /// killed sessions are dropped on the way.
    pub async fn release(&self, lambda: &Client, removal: Removal) -> Result<Release> {
        // Someone removed the function already: nobody is left to share with, and what remains
        // (mapping, role, stream) is this session's to remove.
        let Some(tags) = function::tags(lambda, &self.function_arn).await? else {
            return Ok(Release::Last(removal));
        };
        let now = Utc::now().timestamp();
        let (live, lapsed) = leases(&tags, now, &self.key);
        let mut drop: Vec<String> = lapsed;
        drop.push(self.key.clone());
        let handed = tags
            .get(TAG_HANDED_OVER)
            .map(|v| parse_handed_over(v))
            .unwrap_or(Removal::NOTHING);
        let release = if live > 0 {
            let merged = union(
                handed,
                Removal {
                    mapping: false,
                    ..removal
                },
            );
            if merged != handed {
                lambda
                    .tag_resource()
                    .resource(&self.function_arn)
                    .tags(TAG_HANDED_OVER, handed_over_value(merged))
                    .send()
                    .await
                    .or_aws_error(|| format!("cannot tag function {}", self.function_arn))?;
            }
            Release::Shared(live)
        } else {
            if tags.contains_key(TAG_HANDED_OVER) {
                drop.push(TAG_HANDED_OVER.to_owned());
            }
            Release::Last(union(removal, handed))
        };
        lambda
            .untag_resource()
            .resource(&self.function_arn)
            .set_tag_keys(Some(drop))
            .send()
            .await
            .or_aws_error(|| format!("cannot untag function {}", self.function_arn))?;
        Ok(release)
    }
}

/// How many leases other than `own` are live at `now`, and the keys of the lapsed ones.
fn leases(tags: &HashMap<String, String>, now: i64, own: &str) -> (usize, Vec<String>) {
    let mut live = 0;
    let mut lapsed = Vec::new();
    for (key, value) in tags {
        if !key.starts_with(TAG_LEASE) || key == own {
            continue;
        }
        match value.parse::<i64>() {
            Ok(until) if until > now => live += 1,
            _ => lapsed.push(key.clone()),
        }
    }
    (live, lapsed)
}

fn union(a: Removal, b: Removal) -> Removal {
    Removal {
        mapping: a.mapping || b.mapping,
        function: a.function || b.function,
        filtered_stream: a.filtered_stream || b.filtered_stream,
        role: a.role || b.role,
    }
}

fn handed_over_value(removal: Removal) -> String {
    let mut words = Vec::new();
    if removal.function {
        words.push("function");
    }
    if removal.filtered_stream {
        words.push("output-stream");
    }
    if removal.role {
        words.push("role");
    }
    words.join(" ")
}

fn parse_handed_over(value: &str) -> Removal {
    let mut removal = Removal::NOTHING;
    for word in value.split_whitespace() {
        match word {
            "function" => removal.function = true,
            "output-stream" => removal.filtered_stream = true,
            "role" => removal.role = true,
            _ => {}
        }
    }
    removal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_other_unexpired_leases_are_live() {
        let own = format!("{TAG_LEASE}own");
        let tags: HashMap<String, String> = [
            (own.clone(), "50".to_owned()),
            (format!("{TAG_LEASE}a"), "200".to_owned()),
            (format!("{TAG_LEASE}b"), "99".to_owned()),
            (format!("{TAG_LEASE}c"), "junk".to_owned()),
            ("ktail/managed".to_owned(), "true".to_owned()),
        ]
        .into();
        let (live, mut lapsed) = leases(&tags, 100, &own);
        lapsed.sort();
        assert_eq!(live, 1);
        assert_eq!(lapsed, [format!("{TAG_LEASE}b"), format!("{TAG_LEASE}c")]);
    }

    #[test]
    fn handed_over_removals_round_trip() {
        let removal = Removal {
            mapping: false,
            function: true,
            filtered_stream: true,
            role: false,
        };
        assert_eq!(handed_over_value(removal), "function output-stream");
        assert_eq!(parse_handed_over(&handed_over_value(removal)), removal);
        assert_eq!(parse_handed_over(""), Removal::NOTHING);
        assert_eq!(
            union(Removal::MAPPING, removal),
            Removal {
                mapping: true,
                ..removal
            }
        );
    }
}
