//! The parent's handle on one worker process: spawning it (a re-exec of
//! `/proc/self/exe` with the worker's end of a socket pair), the handshake,
//! running one task with a deadline, and reaping.
//!
//! Only the slot thread that spawned a worker reads, writes and reaps it.
//! Other threads (`kill_workers`, `terminate_workers`) reach it through its
//! [`PidCell`]: they signal the pid under the cell's lock, and the slot
//! clears the pid under that lock before it reaps, so a signal never reaches
//! a recycled pid.

use std::ffi::OsString;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use concurrent_futures_core::ExitCause;

use super::code::RemoteFn;
use super::launcher::Launcher;
use super::protocol::{self, Frame, FrameError, FrameKind};
use super::worker_main::{self, ExeIdentity, Spec, ENV};

/// The pid of a live (not yet reaped) worker, for other threads to signal.
#[derive(Debug, Default)]
pub(crate) struct PidCell {
    pid: Mutex<Option<u32>>,
}

impl PidCell {
    fn guard(&self) -> std::sync::MutexGuard<'_, Option<u32>> {
        self.pid.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, pid: Option<u32>) {
        *self.guard() = pid;
    }

    /// The pid, if a worker is alive.
    pub(crate) fn get(&self) -> Option<u32> {
        *self.guard()
    }

    /// Sends `sig` to the worker, if there is one.
    pub(crate) fn signal(&self, sig: libc::c_int) {
        let g = self.guard();
        if let Some(pid) = *g {
            // SAFETY: kill(2) touches no memory. The pid is our unreaped
            // child (the slot clears the cell under this lock before it
            // reaps), so it names no other process.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }
}

/// What a worker needs to be started.
#[derive(Clone, Debug)]
pub(crate) struct SpawnConfig {
    pub(crate) max_frame: usize,
    pub(crate) init: Option<RemoteFn>,
    /// The initializer's encoded argument (empty for `fn()`).
    pub(crate) init_arg: Arc<[u8]>,
    /// How workers are started.
    pub(crate) launcher: Launcher,
}

/// Why a worker could not be started.
#[derive(Debug)]
pub(crate) enum StartError {
    Spawn(io::Error),
    InitFailed(String),
    Died(ExitCause),
    Protocol(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "a worker process could not be started: {e}"),
            StartError::InitFailed(m) => write!(f, "a worker's initializer failed: {m}"),
            StartError::Died(c) => {
                write!(
                    f,
                    "a worker process could not be started: it {c} before it was ready"
                )
            }
            StartError::Protocol(m) => {
                write!(f, "a worker process could not be started: {m}")
            }
        }
    }
}

/// How one task on a worker ended. Every variant but `Reply` means the
/// worker is gone (reaped).
#[derive(Debug)]
pub(crate) enum RunOutcome {
    /// The worker answered (an `OK` or `FAILED` frame for this task).
    Reply(Frame),
    /// The worker died; its pid and how it ended.
    Died(u32, ExitCause),
    /// The deadline passed; the worker (this pid) was killed.
    TimedOut(u32),
    /// The worker broke the protocol and was killed.
    Protocol(u32, String),
}

/// A socket reader that honours a deadline: each `read` sets the socket's
/// receive timeout to the time left, and reports `TimedOut` once it is past.
#[derive(Debug)]
struct DeadlineStream {
    stream: UnixStream,
    deadline: Option<Instant>,
    timeout_set: bool,
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.deadline {
                None if self.timeout_set => {
                    self.stream.set_read_timeout(None)?;
                    self.timeout_set = false;
                }
                None => {}
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    self.stream.set_read_timeout(Some(left))?;
                    self.timeout_set = true;
                }
            }
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && self.deadline.is_some() => {}
                r => return r,
            }
        }
    }
}

/// A started worker process.
#[derive(Debug)]
pub(crate) struct WorkerProcess {
    child: Child,
    pid: u32,
    reader: BufReader<DeadlineStream>,
    writer: UnixStream,
    /// Tasks this process ran (for `max_tasks_per_child`).
    pub(crate) tasks_done: usize,
    /// How it was started (how to read its exit status).
    launcher: Launcher,
}

fn exe_identity() -> io::Result<ExeIdentity> {
    static ID: OnceLock<Result<ExeIdentity, String>> = OnceLock::new();
    ID.get_or_init(|| ExeIdentity::of_current().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn argv0() -> Option<OsString> {
    std::env::args_os().next()
}

fn random_token() -> io::Result<[u8; 16]> {
    let mut t = [0u8; 16];
    let mut filled = 0;
    while filled < t.len() {
        // SAFETY: getrandom writes at most `len` bytes into the buffer we
        // pass, which is `t[filled..]`, valid for that many bytes.
        let n = unsafe { libc::getrandom(t[filled..].as_mut_ptr().cast(), t.len() - filled, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(t)
}

/// Whether a read error means the worker's end is gone (end-of-file, or a
/// reset when it died with our bytes unread).
fn is_disconnect(e: &FrameError) -> bool {
    match e {
        FrameError::Closed | FrameError::Truncated { .. } => true,
        FrameError::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

impl WorkerProcess {
    /// Starts a worker and waits for its `READY`. The pid is published in
    /// `cell` as soon as it exists, so the worker can be killed while it
    /// starts.
    pub(crate) fn spawn(cfg: &SpawnConfig, cell: &PidCell) -> Result<Self, StartError> {
        let (parent_end, child_end) = UnixStream::pair().map_err(StartError::Spawn)?;
        // Local workers inherit the descriptor number; srun gets the socket
        // as its stdin and stdout (launcher.rs).
        let token = random_token().map_err(StartError::Spawn)?;
        let fd = child_end.as_raw_fd();
        let spec = Spec {
            fd,
            token,
            parent: std::process::id(),
            exe: exe_identity().map_err(StartError::Spawn)?,
            probe: worker_main::probe_offset(),
            max_frame: cfg.max_frame,
            init: cfg.init,
        };
        let child = match cfg.launcher.spawn_srun(&spec, &child_end) {
            Some(srun) => srun.map_err(StartError::Spawn)?,
            None => {
                let mut cmd = Command::new("/proc/self/exe");
                if let Some(a0) = argv0() {
                    cmd.arg0(a0);
                }
                cmd.env(ENV, spec.encode()).stdin(Stdio::null());
                // SAFETY: the closure runs in the forked child before exec and only
                // calls fcntl(2), which is async-signal-safe; it clears close-on-exec
                // on the worker's end in the child only (descriptor flags are per
                // process), so no other child of ours ever inherits it.
                unsafe {
                    cmd.pre_exec(move || {
                        if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                            return Err(io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                cmd.spawn().map_err(StartError::Spawn)?
            }
        };
        drop(child_end);
        let pid = child.id();
        cell.set(Some(pid));
        let writer = match parent_end.try_clone() {
            Ok(w) => w,
            Err(e) => {
                let mut child = child;
                cell.set(None);
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Spawn(e));
            }
        };
        let mut w = WorkerProcess {
            child,
            pid,
            reader: BufReader::with_capacity(
                64 * 1024,
                DeadlineStream {
                    stream: parent_end,
                    deadline: None,
                    timeout_set: false,
                },
            ),
            writer,
            tasks_done: 0,
            launcher: cfg.launcher.clone(),
        };
        if cfg.init.is_some()
            && protocol::write_frame(&mut w.writer, FrameKind::Init, 0, &cfg.init_arg).is_err()
        {
            return Err(StartError::Died(w.reap_after_eof_in_place(cell)));
        }
        w.handshake(&token, cell)?;
        Ok(w)
    }

    fn handshake(&mut self, token: &[u8; 16], cell: &PidCell) -> Result<(), StartError> {
        match protocol::read_frame(&mut self.reader, 64 * 1024) {
            Ok(f) if f.kind == FrameKind::Ready => {
                // Behind srun the worker's pid is on the node, not srun's.
                let pid_ok = self.launcher.is_srun()
                    || f.payload.get(16..20) == Some(&self.pid.to_le_bytes()[..]);
                if f.payload.len() == 20 && &f.payload[..16] == token && pid_ok {
                    return Ok(());
                }
                self.kill_and_reap_in_place(cell);
                Err(StartError::Protocol("bad token in its handshake".into()))
            }
            Ok(f) if f.kind == FrameKind::InitFailed => {
                let msg = String::from_utf8_lossy(&f.payload).into_owned();
                self.reap_after_eof_in_place(cell);
                Err(StartError::InitFailed(msg))
            }
            Ok(f) => {
                self.kill_and_reap_in_place(cell);
                Err(StartError::Protocol(format!(
                    "unexpected {:?} frame in its handshake",
                    f.kind
                )))
            }
            Err(e) if is_disconnect(&e) => {
                Err(StartError::Died(self.reap_after_eof_in_place(cell)))
            }
            Err(e) => {
                self.kill_and_reap_in_place(cell);
                Err(StartError::Protocol(e.to_string()))
            }
        }
    }

    /// The worker's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the idle worker is still quiet and connected: nothing
    /// buffered, nothing readable (no unsolicited bytes, no end-of-file).
    pub(crate) fn is_healthy(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd: self.writer.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes exactly the one `pollfd` we pass.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 0
    }

    /// Sends one task frame. An error means the worker's end is gone; the
    /// reply that will never come tells the rest (see [`receive`](Self::receive)).
    pub(crate) fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.writer.write_all(frame)
    }

    /// Reaps a worker whose connection failed while a task was sent to it.
    pub(crate) fn died_on_send(&mut self, cell: &PidCell) -> RunOutcome {
        RunOutcome::Died(self.pid, self.reap_after_eof_in_place(cell))
    }

    /// Waits until `deadline` for the reply to task `id`, the oldest task
    /// sent and not answered (replies come in order).
    pub(crate) fn receive(
        &mut self,
        id: u64,
        deadline: Option<Instant>,
        max_frame: usize,
        cell: &PidCell,
    ) -> RunOutcome {
        let pid = self.pid;
        self.reader.get_mut().deadline = deadline;
        let read = protocol::read_frame(&mut self.reader, max_frame);
        self.reader.get_mut().deadline = None;
        match read {
            Ok(f) if matches!(f.kind, FrameKind::Ok | FrameKind::Failed) && f.id == id => {
                self.tasks_done += 1;
                RunOutcome::Reply(f)
            }
            Ok(f) => {
                self.kill_and_reap_in_place(cell);
                RunOutcome::Protocol(
                    pid,
                    format!(
                        "unexpected {:?} frame for task {} (running {id})",
                        f.kind, f.id
                    ),
                )
            }
            Err(e) if is_disconnect(&e) => {
                RunOutcome::Died(pid, self.reap_after_eof_in_place(cell))
            }
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                self.kill_and_reap_in_place(cell);
                RunOutcome::TimedOut(pid)
            }
            Err(e) => {
                self.kill_and_reap_in_place(cell);
                RunOutcome::Protocol(pid, e.to_string())
            }
        }
    }

    /// Retires an idle worker: closes its connection (it exits on
    /// end-of-file) and reaps it.
    pub(crate) fn close(mut self, cell: &PidCell) -> ExitCause {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        self.reap_after_eof_in_place(cell)
    }

    /// Kills the worker and reaps it.
    pub(crate) fn kill(mut self, cell: &PidCell) {
        self.kill_and_reap_in_place(cell);
    }

    fn kill_and_reap_in_place(&mut self, cell: &PidCell) -> ExitCause {
        cell.set(None);
        let _ = self.child.kill();
        self.wait()
    }

    /// Reaps a worker whose connection ended: it is exiting, or about to.
    /// Gives it a moment to finish on its own (so its own exit code or
    /// signal is what we report), then kills it.
    fn reap_after_eof_in_place(&mut self, cell: &PidCell) -> ExitCause {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        let start = Instant::now();
        let mut pause = Duration::from_micros(20);
        while start.elapsed() < Duration::from_secs(2) {
            match self.has_exited() {
                Ok(true) => {
                    cell.set(None);
                    return self.wait();
                }
                Ok(false) => {}
                Err(_) => break,
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
        self.kill_and_reap_in_place(cell)
    }

    /// Whether the worker has ended, without reaping it (`WNOWAIT`), so the
    /// pid stays ours until the cell is cleared.
    fn has_exited(&self) -> io::Result<bool> {
        // SAFETY: waitid writes only into the zeroed `siginfo_t` we own.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            if r == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(info.si_pid() != 0)
        }
    }

    fn wait(&mut self) -> ExitCause {
        match self.child.wait() {
            Ok(status) => self.launcher.exit_cause(status),
            Err(_) => ExitCause::Unknown,
        }
    }
}
