//! Noticing that the reader of stdout went away while nothing is being written.
//!
//! A following tail on a quiet stream may not write for minutes, so a write error alone would keep
//! `ktail tail s | head -1` running long after `head` exited. Like coreutils' `tail -f`, watch the
//! pipe itself: Linux reports POLLERR on a pipe's write end once its read end is closed.

/// Calls `on_close` (once, from a background thread) when stdout is a pipe whose reader is gone.
/// Does nothing when stdout is a terminal or a file.
#[cfg(unix)]
pub fn on_stdout_closed(on_close: impl FnOnce() + Send + 'static) {
    use std::os::fd::AsRawFd;

    let fd = std::io::stdout().as_raw_fd();
    // SAFETY: fstat only writes into the zeroed struct we own; fd 1 is valid for the process.
    let is_pipe = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut stat) == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFIFO
    };
    if !is_pipe {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("stdout-watch".into())
        .spawn(move || {
            loop {
                let mut pollfd = libc::pollfd {
                    fd,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; events 0 still reports POLLERR/POLLHUP.
                let ready = unsafe { libc::poll(&mut pollfd, 1, 1000) };
                if ready < 0 {
                    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return;
                }
                if pollfd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                    on_close();
                    return;
                }
                if pollfd.revents & libc::POLLNVAL != 0 {
                    return;
                }
            }
        });
    // Without the thread ktail still stops on its next write; nothing to report.
    drop(spawned);
}

#[cfg(not(unix))]
pub fn on_stdout_closed(_on_close: impl FnOnce() + Send + 'static) {}
