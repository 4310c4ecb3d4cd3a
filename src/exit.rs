//! Exit codes and the error kinds that choose them.
//!
//! Errors travel as `anyhow::Error`; the few kinds that need a code other than 1 are marker
//! types found by downcasting the chain, so any layer can attach context without losing them.

use std::fmt;
use std::io;

/// What the process returns. Documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for was done (a closed stdout counts as done).
    Success = 0,
    /// A runtime or AWS error.
    Failure = 1,
    /// Bad usage or bad input: nothing was sent to AWS.
    Usage = 2,
    /// No AWS credentials, a profile that does not exist, an expired SSO session, or
    /// credentials AWS refused.
    Credentials = 3,
    /// AWS denied a permission (the message names it and the resource).
    AccessDenied = 4,
    /// An AWS endpoint could not be reached: no network, a DNS failure, nothing listening, an
    /// untrusted TLS certificate.
    Network = 5,
    /// Interrupted by Ctrl-C or a signal before finishing.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// A usage or input error (exit 2). The message says what to type instead.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A failure that has its own exit code (credentials, access, network): the message says what
/// to do.
#[derive(Debug)]
pub struct Coded(pub ExitCode, pub String);

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Coded {}

/// The user interrupted the run (exit 130).
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// What every failed write to stdout says before the system's reason (`ktail ls > /dev/full`:
/// `ktail: cannot write the output: No space left on device`). A closed pipe is still success.
pub const WRITE_OUTPUT: &str = "cannot write the output";

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The exit code an error maps to; `None` means it is a closed stdout, which is success.
pub fn code_for(err: &anyhow::Error) -> Option<ExitCode> {
    if is_broken_pipe(err) {
        return None;
    }
    if err.chain().any(|e| e.is::<UsageError>()) {
        Some(ExitCode::Usage)
    } else if err.chain().any(|e| e.is::<Interrupted>()) {
        Some(ExitCode::Interrupted)
    } else if let Some(Coded(code, _)) = err.chain().find_map(|e| e.downcast_ref::<Coded>()) {
        Some(*code)
    } else {
        Some(ExitCode::Failure)
    }
}

/// Whether the error (anywhere in its chain) is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_chain() {
        assert_eq!(code_for(&usage("bad")), Some(ExitCode::Usage));
        assert_eq!(
            code_for(&anyhow::Error::new(Interrupted).context("while tailing")),
            Some(ExitCode::Interrupted)
        );
        assert_eq!(code_for(&anyhow::anyhow!("boom")), Some(ExitCode::Failure));
        let denied = anyhow::Error::new(Coded(ExitCode::AccessDenied, "denied".into()));
        assert_eq!(
            code_for(&denied.context("cannot list")),
            Some(ExitCode::AccessDenied)
        );
        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("write");
        assert_eq!(code_for(&pipe), None);
    }
}
