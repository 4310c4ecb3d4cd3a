//! Signals and cancellation, the same for every command: the first SIGINT or SIGTERM (and SIGHUP
//! where asked) cancels a [`CancellationToken`], and the command winds down on it (prints what
//! was read, sends what was read, cleans up); a signal that finds the token cancelled already (a
//! second Ctrl-C, or one after the command started stopping for its own reasons) exits at once
//! with 130.
//!
//! The token is tokio-util's, so every layer below (readers, the tail's fan-in, the grep
//! session) waits on the same well-tested primitive and can hand out child tokens.

use std::io;

pub use tokio_util::sync::CancellationToken;

use crate::exit::ExitCode;

/// Which signals stop a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// SIGINT (Ctrl-C) and SIGTERM (`kill`, `docker stop`, systemd).
    InterruptAndTerminate,
    /// Those and SIGHUP (the terminal closed): a grep session must clean up then too.
    WithHangup,
}

/// Cancels `token` on the first signal of `listen`. A signal that finds `token` cancelled
/// already runs `last_words` (e.g. a note of what may be left behind) and exits 130 at once.
///
/// Listening starts before this returns, so a signal that arrives right after never gets the
/// default action (dying without winding down). Needs a Tokio runtime.
pub fn watch(token: CancellationToken, listen: Listen, last_words: impl FnOnce() + Send + 'static) {
    let mut signals = match Signals::listen(listen) {
        Ok(signals) => signals,
        Err(err) => {
            tracing::debug!(error = %err, "cannot watch signals; Ctrl-C ends ktail at once");
            return;
        }
    };
    tokio::spawn(async move {
        let mut last_words = Some(last_words);
        loop {
            signals.recv().await;
            if on_signal(&token) == Action::Exit {
                if let Some(last_words) = last_words.take() {
                    last_words();
                }
                std::process::exit(ExitCode::Interrupted as i32);
            }
        }
    });
}

/// What a signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The token was cancelled: the command winds down.
    Cancelled,
    /// It was cancelled already: stop waiting.
    Exit,
}

fn on_signal(token: &CancellationToken) -> Action {
    if token.is_cancelled() {
        return Action::Exit;
    }
    token.cancel();
    Action::Cancelled
}

/// The listened signals, registered once for the whole run.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    #[cfg(unix)]
    fn listen(listen: Listen) -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: match listen {
                Listen::WithHangup => Some(signal(SignalKind::hangup())?),
                Listen::InterruptAndTerminate => None,
            },
        })
    }

    #[cfg(not(unix))]
    fn listen(_listen: Listen) -> io::Result<Self> {
        Ok(Signals {})
    }

    /// The next signal.
    #[cfg(unix)]
    async fn recv(&mut self) {
        let hangup = async {
            match &mut self.hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = hangup => {}
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_cancels_the_next_exits() {
        let token = CancellationToken::new();
        assert_eq!(on_signal(&token), Action::Cancelled);
        assert!(token.is_cancelled());
        assert_eq!(on_signal(&token), Action::Exit);
    }

    #[test]
    fn a_signal_after_the_command_stopped_itself_exits() {
        // `ktail tail s | head -1`: the closed stdout cancelled the token; Ctrl-C then means now.
        let token = CancellationToken::new();
        token.cancel();
        assert_eq!(on_signal(&token), Action::Exit);
    }

    #[tokio::test]
    async fn cancel_wakes_waiters() {
        let cancel = CancellationToken::new();
        let waiter = {
            let cancel = cancel.clone();
            tokio::spawn(async move { cancel.cancelled().await })
        };
        cancel.cancel();
        waiter.await.unwrap();
        assert!(cancel.is_cancelled());
    }
}
