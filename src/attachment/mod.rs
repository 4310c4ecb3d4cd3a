//! The control plane of server-side grep: deploy the embedded grep function and wire it between a
//! source stream and a filtered stream (`attach`), take it apart (`detach`), and list what is
//! running (`status`).
//!
//! `ktail attach`, `detach` and `status` are thin wrappers over this module; `ktail grep` uses the
//! same calls and removes only what its own session created (see [`Attachment`] and [`Removal`]).
//! Every step is idempotent: names are derived from what the attachment matches
//! ([`names::Identity`]) and each resource is looked up before it is created or changed.
//!
//! One file per step: [`plan`] (what to make, checked before any AWS call), [`attach`](mod@attach)
//! (the sequence), [`remove`](mod@remove) (taking it apart, `detach`), [`inventory`] (`status`
//! and the counts `ls` shows); one per resource: [`role`], [`filtered_stream`], [`function`],
//! [`mapping`]; and [`names`] (names and tags), [`artifact`] (the embedded zips), [`lease`] (which
//! `grep` sessions share an attachment).
//!
//! A grep session, in outline:
//!
//! ```no_run
//! # async fn session(sdk: &aws_config::SdkConfig, plan: ktail::attachment::AttachPlan) -> anyhow::Result<()> {
//! use ktail::attachment::{self, Clients};
//! use ktail::progress::{Feedback, Progress};
//! let clients = Clients::new(sdk);
//! let progress = Progress::new(Feedback::Plain);
//! let attachment = attachment::attach(&clients, &plan, &progress).await?;
//! // ... tail `attachment.filtered_stream`; every so often, while the session lives:
//! attachment::renew_ttl(&clients, &attachment.function_name, std::time::Duration::from_secs(3600)).await?;
//! // On exit: the mapping always, and whatever this session created unless --keep.
//! let keep = false;
//! attachment::remove(&clients, &attachment.target(), attachment.session_removal(keep), &progress).await?;
//! # Ok(()) }
//! ```

pub mod artifact;
pub mod attach;
pub mod filtered_stream;
pub mod function;
pub mod inventory;
pub mod lease;
pub mod mapping;
pub mod names;
pub mod plan;
pub mod remove;
pub mod role;

use std::time::Duration;

use aws_config::SdkConfig;
use serde::Serialize;

use crate::retry::Backoff;

pub use artifact::Architecture;
pub use attach::{Attachment, attach, renew_ttl};
pub use filtered_stream::Capacity;
pub use inventory::{AttachmentStatus, enabled_greps_by_stream, status};
pub use plan::{AttachPlan, DeployOptions, GrepPattern, PlannedNames, shell_quote};
pub use remove::{Removal, Removed, Selector, Target, detach, remove};

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

    /// The region the clients call (part of a role's name: IAM is global, the rest regional).
    pub fn region(&self) -> String {
        self.lambda
            .config()
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default()
    }
}

/// The error of a step that created `what` and then failed, after it tried to delete `what`
/// again (`undo`): the step's own error, plus what could not be removed if the undo failed too.
pub(crate) fn undone(err: anyhow::Error, what: &str, undo: anyhow::Result<bool>) -> anyhow::Error {
    match undo {
        Ok(_) => err,
        Err(undo) => {
            anyhow::anyhow!(
                "{err:#}; {what} was created by this run and could not be removed: {undo:#}"
            )
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

/// The retry policy for a change that meets another change of the same function or mapping still
/// in progress (Lambda: ResourceConflictException for a function whose update is InProgress,
/// ResourceInUseException for a mapping that is Creating or Updating): someone else's change
/// landed between ktail's wait for the resource and its call. ktail waits for the resource again
/// and retries, a few times.
pub(crate) const BUSY: Backoff =
    Backoff::exponential(Duration::from_secs(1), Duration::from_secs(8))
        .with_jitter()
        .max_attempts(6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_propagation_is_waited_for_only_after_a_change() {
        assert_eq!(
            iam_propagation(true).attempts(),
            Some(IAM_PROPAGATION_ATTEMPTS)
        );
        assert_eq!(iam_propagation(true).delay(5), IAM_PROPAGATION_DELAY);
        assert_eq!(iam_propagation(false).attempts(), Some(1));
    }
}
