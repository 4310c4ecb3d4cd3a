//! The session's books: which of the planned resources existed before it (so that it removes only
//! what it made), what a second signal would leave behind, what `--keep` kept, and the sweep that
//! takes the session's resources apart — twice after an interrupted deploy, whose create call may
//! still land.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use super::Session;
use super::report::leftover_message;
use crate::attachment::{
    self, AttachPlan, Attachment, Change, Clients, PlannedNames, Removal, Removed, Target,
    filtered_stream, function, role,
};
use crate::progress::Progress;

/// How long a request sent just before an interrupt may take to land.
const IN_FLIGHT: Duration = Duration::from_secs(1);

/// Which of the planned resources existed before this session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Existing {
    function: bool,
    filtered_stream: bool,
    role: bool,
}

impl Existing {
    pub(super) async fn look(clients: &Clients, planned: &PlannedNames) -> Result<Existing> {
        let (function, filtered_stream, role) = tokio::join!(
            function::get(&clients.lambda, &planned.function),
            filtered_stream::describe(&clients.kinesis, &planned.filtered_stream),
            async {
                match &planned.role {
                    Some(name) => role::exists(&clients.iam, name).await,
                    None => Ok(true),
                }
            },
        );
        Ok(Existing {
            function: function?.is_some(),
            filtered_stream: filtered_stream?.is_some(),
            role: role?,
        })
    }

    /// What to remove when the deploy did not finish: the mapping in any case, and whatever did
    /// not exist before (`remove` skips what is missing and anything not tagged as ktail's).
    pub(super) fn removal(self, keep: bool) -> Removal {
        Removal {
            mapping: true,
            function: !keep && !self.function,
            filtered_stream: !keep && !self.filtered_stream,
            role: !keep && !self.role,
        }
    }
}

/// How the attach step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deploy {
    Finished,
    Failed,
    /// Dropped by a signal, possibly with a create call in flight.
    Interrupted,
}

/// Removes what the session made. After an interrupted deploy a create call may still be in
/// flight (its future was dropped, not its request), so a second pass catches what it created.
pub(super) async fn sweep(
    clients: &Clients,
    target: &Target,
    removal: Removal,
    progress: &Progress,
    deploy: Deploy,
) -> Result<Vec<Removed>> {
    let mut removed = attachment::remove(clients, target, removal, progress).await?;
    if deploy == Deploy::Interrupted {
        tokio::time::sleep(IN_FLIGHT).await;
        removed.extend(attachment::remove(clients, target, removal, progress).await?);
    }
    if deploy != Deploy::Finished
        && removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
        && delete_unfinished_stream(clients, stream, progress).await?
    {
        removed.push(Removed {
            kind: "output stream",
            name: stream.clone(),
        });
    }
    Ok(removed)
}

/// A filtered stream this session created that `remove` left alone because it carries no tags
/// yet: on an emulator that drops CreateStream's tags, they are added only once the stream is
/// ACTIVE, and a deploy interrupted before that leaves it untagged. It did not exist before this
/// session (`removal` says so), so this session made it.
async fn delete_unfinished_stream(
    clients: &Clients,
    stream: &str,
    progress: &Progress,
) -> Result<bool> {
    use aws_sdk_kinesis::types::StreamStatus;
    let Some((_, status)) = filtered_stream::describe(&clients.kinesis, stream).await? else {
        return Ok(false);
    };
    if status == StreamStatus::Deleting {
        return Ok(false);
    }
    let step = progress.step(format!("removing output stream {stream}"));
    if status == StreamStatus::Creating {
        step.update("waiting until it is created");
    }
    let deleted = filtered_stream::delete(&clients.kinesis, stream).await?;
    step.done("removed");
    Ok(deleted)
}

/// What this session used but did not create, and so leaves in place whatever ends it: the
/// function, the filtered stream (unless the user named it) and the role (unless given) that an
/// earlier run made — unless `removal` removes it all the same (handed over by a session that
/// shared the attachment and ended first, see [`attachment::lease`]).
pub(super) fn left_in_place(
    attachment: &Attachment,
    plan: &AttachPlan,
    removal: Removal,
) -> Vec<String> {
    let mut left = Vec::new();
    if attachment.function != Change::Created && !removal.function {
        left.push(format!("function {}", attachment.function_name));
    }
    if attachment.filtered != Change::Created
        && plan.deploy.filtered_stream.is_none()
        && !removal.filtered_stream
    {
        left.push(format!("output stream {}", attachment.filtered_stream));
    }
    if !matches!(attachment.role, Change::Created | Change::Given)
        && !removal.role
        && let Some(role) = attachment.target().role_name
    {
        left.push(format!("role {role}"));
    }
    left
}

/// What `--keep` left in place that this session created: `created` is what it would have
/// removed without `--keep`, `removal` what it did remove.
pub(super) fn kept(target: &Target, created: Removal, removal: Removal) -> Vec<String> {
    let mut kept = Vec::new();
    if created.function && !removal.function {
        kept.push(format!("function {}", target.function_name));
    }
    if created.filtered_stream
        && !removal.filtered_stream
        && let Some(stream) = &target.filtered_stream
    {
        kept.push(format!("output stream {stream}"));
    }
    if created.role
        && !removal.role
        && let Some(role) = &target.role_name
    {
        kept.push(format!("role {role}"));
    }
    kept
}

/// What a second signal would leave behind, as the message it prints; `None` once cleaned up.
pub(super) type Leftovers = Mutex<Option<String>>;

pub(super) fn set_leftovers(
    leftovers: &Leftovers,
    session: &Session,
    target: &Target,
    removal: Removal,
) {
    *leftovers.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(leftover_message(session, target, removal));
}

pub(super) fn clear_leftovers(leftovers: &Leftovers) {
    *leftovers.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A second signal stops waiting for the cleanup: say what may be left and the command that
/// removes it.
pub(super) fn print_leftovers(leftovers: &Leftovers) {
    if let Some(left) = leftovers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_deref()
    {
        let _ = writeln!(std::io::stderr(), "{left}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_deploy_removes_only_what_was_new() {
        let existing = Existing {
            function: true,
            filtered_stream: false,
            role: true,
        };
        assert_eq!(
            existing.removal(false),
            Removal {
                mapping: true,
                function: false,
                filtered_stream: true,
                role: false
            }
        );
        assert_eq!(existing.removal(true), Removal::MAPPING);
    }
}
