//! The dead-client guard: an attachment carries a deadline (`KTAIL_EXPIRES_AT`) that the client
//! keeps pushing forward while it lives. Past it nobody is reading the output, so the function
//! stops forwarding and disables its own event source mappings, which ends the cost.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;

/// Whether `expires_at` (unix seconds) has passed at `now`.
pub fn is_expired(expires_at: Option<u64>, now: SystemTime) -> bool {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    expires_at.is_some_and(|at| now >= at)
}

/// Disables every enabled event source mapping of `function_name`; returns the UUIDs disabled.
/// Needs `lambda:ListEventSourceMappings` and `lambda:UpdateEventSourceMapping`.
pub async fn disable_mappings(client: &Client, function_name: &str) -> Result<Vec<String>, String> {
    let mut disabled = Vec::new();
    let mut mappings = client
        .list_event_source_mappings()
        .function_name(function_name)
        .into_paginator()
        .items()
        .send();
    while let Some(mapping) = mappings.next().await {
        let mapping = mapping
            .map_err(|e| format!("listing event source mappings: {}", DisplayErrorContext(e)))?;
        let Some(uuid) = mapping.uuid() else { continue };
        if matches!(mapping.state(), Some("Disabled" | "Disabling" | "Deleting")) {
            continue;
        }
        client
            .update_event_source_mapping()
            .uuid(uuid)
            .enabled(false)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "disabling event source mapping {uuid}: {}",
                    DisplayErrorContext(e)
                )
            })?;
        disabled.push(uuid.to_owned());
    }
    Ok(disabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expiry_is_inclusive_and_optional() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert!(!is_expired(None, at(u64::MAX / 2)));
        assert!(!is_expired(Some(100), at(99)));
        assert!(is_expired(Some(100), at(100)));
        assert!(is_expired(Some(100), at(101)));
    }
}
