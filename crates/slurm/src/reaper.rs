//! The reaper: what cancels a [`SlurmExecutor`](crate::SlurmExecutor)'s
//! jobs when the process that submitted them goes away first.
//!
//! Jobs are Slurm's, not children of this process: when the submitter is
//! killed (`SIGKILL`, the OOM killer, Ctrl-C) or exits with the executor
//! still alive, nothing else would cancel them. Queued jobs would wait for
//! a slot and then run tasks whose results nobody reads, and the folder
//! would stay, refusing a new executor of the same `job_name`.
//!
//! So each executor built with the system CLI starts one small process of
//! this same executable (through the process pool's entry hook, as jobs
//! are). It reads a socket whose other end only the executor holds:
//!
//! ```text
//!   executor (poller thread)                    reaper (own process group)
//!   ───────────────────────                     ─────────────────────────
//!   build: spawn, keep the socket's other end ▶ read stdin …
//!   poller ends (every job done):
//!     write "D", close, wait ────────────────▶ "D": exit 0, nothing done
//!   process dies, or exits with the executor
//!   alive: the kernel closes its end ────────▶ end of file:
//!                                               scancel --name=NAME (retried),
//!                                               wait until squeue lists none,
//!                                               remove the executor's folder
//! ```
//!
//! The executor's end is close-on-exec, so no other child keeps it open,
//! and the disarm byte is sent with `MSG_NOSIGNAL`: a reaper killed from
//! outside costs a program that restored `SIGPIPE`'s default nothing. The
//! reaper sits in a process group of its own (Ctrl-C at the terminal is
//! the submitter's, and a kill of the submitter's group does not take the
//! reaper with it), has no parent-death signal, and its standard streams
//! are `/dev/null` (a caller reading the submitter's output to its end does
//! not wait for it). It lives for as long as the executor, plus at most
//! [`GIVE_UP_AFTER`] of clean-up.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The reaper's parameters: the executor's job name and folder.
const NAME_ENV: &str = "CF_SLURM_REAPER_NAME";
const DIR_ENV: &str = "CF_SLURM_REAPER_DIR";

/// The byte the executor writes when it ended normally.
const DISARM: u8 = b'D';

/// How long the reaper goes on cancelling (a controller that does not
/// answer) and waiting for `squeue` to list no job of the name.
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// The executor's end: the socket to its reaper.
#[derive(Debug)]
pub(crate) struct Reaper {
    child: Child,
    socket: UnixStream,
}

impl Reaper {
    /// Starts the reaper of the executor named `name` whose folder is
    /// `dir`. `entry` is the entry hook's value for [`reaper_main`].
    pub(crate) fn start(name: &str, dir: &Path, entry: &str) -> io::Result<Reaper> {
        use std::os::unix::process::CommandExt;
        // Both ends close-on-exec; the reaper's is moved onto its stdin.
        let (socket, theirs) = UnixStream::pair()?;
        let mut cmd = Command::new("/proc/self/exe");
        cmd.env(concurrent_futures_pool::process::launcher::ENTRY_ENV, entry)
            .env(NAME_ENV, name)
            .env(DIR_ENV, dir)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd.spawn()?;
        Ok(Reaper { child, socket })
    }

    /// The executor ended normally: the reaper exits without doing
    /// anything, and is reaped here.
    pub(crate) fn disarm(mut self) {
        // SAFETY: send(2) reads one byte from a live buffer on a socket this
        // struct owns. MSG_NOSIGNAL: a reaper that is gone already (killed
        // from outside) makes it fail with EPIPE instead of raising SIGPIPE;
        // then there is nothing to tell it.
        let _ = unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                [DISARM].as_ptr().cast(),
                1,
                libc::MSG_NOSIGNAL,
            )
        };
        drop(self.socket);
        let _ = self.child.wait();
    }
}

/// The reaper's entry (through `process::init()`): waits for the disarm
/// byte or the end of the socket, and on the end cleans up.
pub(crate) fn reaper_main() {
    let name = std::env::var(NAME_ENV).unwrap_or_default();
    let dir = std::env::var_os(DIR_ENV).map(PathBuf::from);
    let mut stdin = io::stdin().lock();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == DISARM => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if name.is_empty() {
        return;
    }
    clean_up(&name, Instant::now() + GIVE_UP_AFTER);
    if let Some(dir) = dir {
        // Task files nobody will run, results nobody will read, the logs
        // of cancelled jobs: a new executor of the same name would refuse
        // a folder that still holds them.
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Cancels every job named `name` (retried until it succeeds) and waits
/// until `squeue` lists none, or until `deadline`.
fn clean_up(name: &str, deadline: Instant) {
    let name_arg = format!("--name={name}");
    let mut cancelled = false;
    loop {
        if !cancelled {
            cancelled = quiet(Command::new("scancel").args(["--quiet", &name_arg]))
                .status()
                .is_ok_and(|s| s.success());
        }
        if cancelled && !listed(&name_arg) {
            return;
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Whether `squeue` lists a job of the name (not ended yet); `true` when
/// it cannot tell.
fn listed(name_arg: &str) -> bool {
    match quiet(Command::new("squeue").args(["-h", name_arg, "-o", "%i"])).output() {
        Ok(out) if out.status.success() => !out.stdout.iter().all(u8::is_ascii_whitespace),
        _ => true,
    }
}

fn quiet(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null()).stderr(Stdio::null())
}
