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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use concurrent_futures_core::ExitCause;

use crate::primitives::{Mutex, MutexGuard};

use super::code::RemoteFn;
use super::launcher::Launcher;
use super::protocol::{self, FrameError, FromWorker, Reply, ToWorker};
use super::worker_main::{self, ExeIdentity, Spec, ENV};

/// The pid of a live (not yet reaped) worker, for other threads to signal.
///
/// `kill_workers` / `terminate_workers` mark the cell *doomed*: the signal
/// reaches the live worker, and a worker that is still starting is killed
/// as soon as its pid is published, so no worker outlives the call.
#[derive(Debug)]
pub(crate) struct PidCell {
    inner: Mutex<CellState>,
}

impl Default for PidCell {
    fn default() -> Self {
        PidCell {
            inner: Mutex::new(CellState::default()),
        }
    }
}

#[derive(Debug, Default)]
struct CellState {
    pid: Option<u32>,
    /// A descriptor of the same process (a `dup` of its connection's
    /// pidfd), signalled instead of the pid where the kernel has pidfds.
    pidfd: Option<OwnedFd>,
    doomed: bool,
}

impl PidCell {
    fn guard(&self) -> MutexGuard<'_, CellState> {
        self.inner.lock()
    }

    /// Publishes a live worker's pid (and a pidfd of it, if there is
    /// one); false (nothing published) if the cell is doomed: the caller
    /// kills the worker.
    fn set_live(&self, pid: u32, pidfd: Option<OwnedFd>) -> bool {
        let mut g = self.guard();
        if g.doomed {
            return false;
        }
        g.pid = Some(pid);
        g.pidfd = pidfd;
        true
    }

    /// Clears the pid before the worker is reaped.
    fn set_gone(&self) {
        let mut g = self.guard();
        g.pid = None;
        g.pidfd = None;
    }

    /// The pid, if a worker is alive.
    pub(crate) fn get(&self) -> Option<u32> {
        self.guard().pid
    }

    /// Whether the worker has ended, or there is none, without reaping it
    /// (`waitid` with `WNOWAIT`: its slot reaps it). A worker the kernel
    /// reaped already (`SIGCHLD` ignored) is no child any more: ended too.
    pub(crate) fn exited(&self) -> bool {
        let g = self.guard();
        let Some(pid) = g.pid else { return true };
        // The pidfd names the process itself; a kernel too old for
        // `P_PIDFD` (before 5.4) answers `EINVAL`, and the pid does.
        let by_fd = g
            .pidfd
            .as_ref()
            .map(|fd| waitid_exited(libc::P_PIDFD, fd.as_raw_fd() as libc::id_t));
        match by_fd {
            Some(Ok(ended)) => ended,
            _ => waitid_exited(libc::P_PID, pid as libc::id_t).unwrap_or(true),
        }
    }

    /// Sends `sig` to the worker, if there is one; with `doom`, also every
    /// worker this slot would start later.
    pub(crate) fn signal(&self, sig: libc::c_int, doom: bool) {
        let mut g = self.guard();
        g.doomed |= doom;
        if let Some(fd) = &g.pidfd {
            pidfd_signal(fd, sig);
        } else if let Some(pid) = g.pid {
            // SAFETY: kill(2) touches no memory. The pid is our unreaped
            // child (the slot clears the cell under this lock before it
            // reaps), so it names no other process, unless the kernel reaps
            // our children (SIGCHLD ignored) on a kernel without pidfds.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }
}

/// Whether the child `id` names has ended, leaving it unreaped (`WNOWAIT`).
/// `ECHILD` (no such child: reaped already) is `Ok(true)`.
fn waitid_exited(idtype: libc::idtype_t, id: libc::id_t) -> io::Result<bool> {
    // SAFETY: a zeroed `siginfo_t` is a valid out-buffer, which waitid(2)
    // fills, or leaves zeroed if no child has changed state.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only `info`; `WNOWAIT` reaps nothing.
    let r = unsafe {
        libc::waitid(
            idtype,
            id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ECHILD) {
            Ok(true)
        } else {
            Err(e)
        };
    }
    // SAFETY: for `WEXITED`, waitid sets `si_pid` (0 if none has ended).
    Ok(unsafe { info.si_pid() } != 0)
}

/// Sends `sig` to the process `fd` names. A pidfd names the process
/// itself, not a number that may be reused: a parent that ignores SIGCHLD
/// has its children reaped by the kernel, and their pids freed, before we
/// learn of it. A process that ended already (`ESRCH`) needs no signal.
fn pidfd_signal(fd: &OwnedFd, sig: libc::c_int) {
    // SAFETY: pidfd_send_signal(2) reads no memory of ours (a null
    // `siginfo`); `fd` is a live pidfd we own.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
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
    /// `kill_workers` / `terminate_workers` came while it started.
    Killed,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "a worker process could not be started: {e}"),
            StartError::InitFailed(m) => write!(f, "a worker's initializer failed: {m}"),
            StartError::Died(c) => {
                // "it was killed by signal 9 (SIGKILL)", "it exited with code 3".
                let was = if matches!(c, ExitCause::Signal(_)) {
                    "was "
                } else {
                    ""
                };
                write!(
                    f,
                    "a worker process could not be started: it {was}{c} before it was ready"
                )
            }
            StartError::Protocol(m) => {
                write!(f, "a worker process could not be started: {m}")
            }
            StartError::Killed => f.write_str("the pool's workers were killed"),
        }
    }
}

/// How one task on a worker ended. Every variant but `Reply` means the
/// worker is gone (reaped).
#[derive(Debug)]
pub(crate) enum RunOutcome {
    /// The worker answered (an `OK` or `FAILED` frame for this task).
    Reply(Reply),
    /// The worker died; its pid and how it ended.
    Died(u32, ExitCause),
    /// The deadline passed; the worker (this pid) was killed.
    TimedOut(u32),
    /// The worker broke the protocol and was killed.
    Protocol(u32, String),
}

/// Why a worker that held no task was let go (it has been reaped); see
/// [`WorkerProcess::check_idle`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdleEnd {
    /// Its process ended, or it hung up (and then ended, or was killed
    /// after the grace period): how it ended.
    Ended(ExitCause),
    /// It wrote while it held no task (a protocol error); it was killed.
    Spoke,
}

impl std::fmt::Display for IdleEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // "killed by signal 9 (SIGKILL) while idle"
            IdleEnd::Ended(cause) => write!(f, "{cause} while idle"),
            IdleEnd::Spoke => f.write_str("wrote out of turn while idle (killed)"),
        }
    }
}

/// What an idle worker's socket holds (`WorkerProcess::peek`).
enum Peek {
    Nothing,
    Bytes,
    /// End-of-file, or an error such as a reset.
    Closed,
}

/// How long the slot spins (non-blocking reads, yielding the CPU between
/// them) for a reply before it sleeps in `poll`: a tiny task's reply comes
/// within microseconds, and a read that finds it saves the sleep and the
/// wake-up. Yielding, not `spin_loop`: on a loaded machine a pure spin
/// took the core from the worker and the caller (280 us per round trip
/// against 40 us with yields, `benches/process_pool.rs`).
const REPLY_SPIN: Duration = Duration::from_micros(50);

/// Without a pidfd (kernels before 5.3) `poll` wakes this often to ask
/// `waitid` whether the worker is still alive.
const EXIT_CHECK_INTERVAL_MS: libc::c_int = 50;

/// The error a read or write returns once the worker process has exited
/// (its pidfd is readable) and the socket has nothing more: the socket may
/// never see end-of-file, when a process the task forked holds its end.
fn exited() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the worker process exited",
    )
}

/// The parent's end of a worker's socket (non-blocking), read and written
/// through `poll(2)` beside the worker's pidfd: whatever waits on the socket
/// also learns at once that the worker died, and a deadline bounds every
/// wait (`TimedOut` once it is past).
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    pidfd: Option<OwnedFd>,
    pid: u32,
    deadline: Option<Instant>,
    /// Spin with non-blocking reads for [`REPLY_SPIN`] before sleeping.
    spin: bool,
}

/// `pidfd_open(2)`: a descriptor that polls readable when the process exits.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor
    // (or -1); `pid` is our unreaped child, so it names that process.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the kernel just made `fd` for us and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether process `pid` (our unreaped child) has ended, without reaping it
/// (`WNOWAIT`), so the pid stays ours until it is reaped.
fn has_exited(pid: u32) -> io::Result<bool> {
    // SAFETY: waitid writes only into the zeroed `siginfo_t` we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(info.si_pid() != 0)
    }
}

impl Conn {
    /// Waits until the socket is ready for `events` (or hung up), the
    /// worker exits ([`exited`]), or the deadline passes (`TimedOut`).
    fn wait(&self, events: libc::c_short) -> io::Result<()> {
        loop {
            let mut timeout: libc::c_int = match self.deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    // Rounded up, so the deadline is never missed by a hair.
                    libc::c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            if self.pidfd.is_none() && !(0..=EXIT_CHECK_INTERVAL_MS).contains(&timeout) {
                timeout = EXIT_CHECK_INTERVAL_MS;
            }
            let mut fds = [
                libc::pollfd {
                    fd: self.stream.as_raw_fd(),
                    events,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.pidfd.as_ref().map_or(-1, AsRawFd::as_raw_fd),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll reads and writes exactly the two `pollfd`s of the
            // array we pass (a negative fd is ignored by the kernel).
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // The socket first: bytes the worker wrote before it died are
            // still read.
            if fds[0].revents != 0 {
                return Ok(());
            }
            // Without a pidfd: `ECHILD` means the kernel reaped it already
            // (SIGCHLD ignored), so it exited too.
            let gone = || has_exited(self.pid).unwrap_or(true);
            if fds[1].revents != 0 || (self.pidfd.is_none() && gone()) {
                return Err(exited());
            }
        }
    }

    /// Writes all of `buf`, waiting (as [`wait`](Self::wait)) while the
    /// socket's buffer is full.
    fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match (&self.stream).write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLOUT)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let spin_until = self.spin.then(|| Instant::now() + REPLY_SPIN);
        loop {
            match (&self.stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if spin_until.is_some_and(|t| Instant::now() < t) {
                std::thread::yield_now();
                continue;
            }
            self.wait(libc::POLLIN)?;
        }
    }
}

/// A started worker process.
#[derive(Debug)]
pub(crate) struct WorkerProcess {
    child: Child,
    pid: u32,
    reader: BufReader<Conn>,
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
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
        ),
        _ => false,
    }
}

/// `s`, moved to a descriptor above 2 if it sits on 0, 1 or 2. A program
/// that closed its standard descriptors gets its next sockets there; a
/// child would then inherit such a socket as its stdin, stdout or stderr
/// (the worker's prints would reach the pool's socket), and the worker
/// refuses a socket below 3. Python's `_posixsubprocess` moves low
/// descriptors out of the way too.
pub(super) fn above_stdio(s: UnixStream) -> io::Result<UnixStream> {
    let fd = s.as_raw_fd();
    if fd > 2 {
        return Ok(s);
    }
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor this process owns
    // returns a new descriptor (close-on-exec, at 3 or above) or -1.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just made and nothing else owns it; `s` (the low
    // descriptor) is closed when it is dropped here.
    Ok(unsafe { UnixStream::from_raw_fd(new) })
}

/// Starts the worker process: how the child is started, and which
/// descriptor it speaks on. Today a re-exec of `/proc/self/exe` that
/// inherits `child_end` (close-on-exec cleared in the child only), with the
/// spec in [`ENV`]. The `srun` launcher's bridge starts the node's worker
/// with it too (`launcher.rs`). The caller owns the rest: the handshake,
/// pidfd, reaping.
pub(super) fn launch(spec: &Spec, child_end: &UnixStream) -> io::Result<Child> {
    let fd = child_end.as_raw_fd();
    debug_assert_eq!(fd, spec.fd);
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
    cmd.spawn()
}

impl WorkerProcess {
    /// Starts a worker and waits for its `READY`. The pid is published in
    /// `cell` as soon as it exists, so the worker can be killed while it
    /// starts.
    pub(crate) fn spawn(cfg: &SpawnConfig, cell: &PidCell) -> Result<Self, StartError> {
        let (parent_end, child_end) = UnixStream::pair().map_err(StartError::Spawn)?;
        let parent_end = above_stdio(parent_end).map_err(StartError::Spawn)?;
        let child_end = above_stdio(child_end).map_err(StartError::Spawn)?;
        // Local workers inherit the descriptor number; srun gets the socket
        // as its stdin and stdout (launcher.rs).
        let token = random_token().map_err(StartError::Spawn)?;
        let spec = Spec {
            fd: child_end.as_raw_fd(),
            token,
            parent: std::process::id(),
            exe: exe_identity().map_err(StartError::Spawn)?,
            probe: worker_main::probe_offset(),
            max_frame: cfg.max_frame,
            init: cfg.init,
        };
        let launched = match cfg.launcher.spawn_srun(&spec, &child_end) {
            Some(srun) => srun,
            None => launch(&spec, &child_end),
        };
        let mut child = launched.map_err(StartError::Spawn)?;
        drop(child_end);
        let pid = child.id();
        if let Err(e) = parent_end.set_nonblocking(true) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartError::Spawn(e));
        }
        let mut w = WorkerProcess {
            child,
            pid,
            reader: BufReader::with_capacity(
                64 * 1024,
                Conn {
                    stream: parent_end,
                    pidfd: pidfd_open(pid),
                    pid,
                    deadline: None,
                    spin: false,
                },
            ),
            tasks_done: 0,
            launcher: cfg.launcher.clone(),
        };
        // After the pidfd exists: a kill that comes now is seen at once.
        let pidfd = w
            .reader
            .get_ref()
            .pidfd
            .as_ref()
            .and_then(|fd| fd.try_clone().ok());
        if !cell.set_live(pid, pidfd) {
            // `kill_workers` / `terminate_workers` came while it started.
            w.kill_and_reap_in_place(cell);
            return Err(StartError::Killed);
        }
        if cfg.init.is_some() {
            let init = protocol::encode_to_worker(&ToWorker::Init { arg: &cfg.init_arg });
            if w.conn().write_all(&init).is_err() {
                return Err(StartError::Died(w.reap_after_eof_in_place(cell)));
            }
        }
        w.handshake(&token, cell)?;
        Ok(w)
    }

    fn conn(&self) -> &Conn {
        self.reader.get_ref()
    }

    fn handshake(&mut self, token: &[u8; 16], cell: &PidCell) -> Result<(), StartError> {
        let read = protocol::read_frame(&mut self.reader, protocol::HANDSHAKE_MAX)
            .and_then(|f| protocol::decode_from_worker(f).map_err(FrameError::Malformed));
        match read {
            Ok(FromWorker::Ready { token: t, pid }) => {
                // Behind srun the worker's pid is on the node, not srun's.
                let pid_ok = self.launcher.is_srun() || pid == self.pid;
                if &t == token && pid_ok {
                    return Ok(());
                }
                self.kill_and_reap_in_place(cell);
                Err(StartError::Protocol("bad token in its handshake".into()))
            }
            Ok(FromWorker::InitFailed { message }) => {
                self.reap_after_eof_in_place(cell);
                Err(StartError::InitFailed(message))
            }
            Ok(other) => {
                self.kill_and_reap_in_place(cell);
                Err(StartError::Protocol(format!(
                    "unexpected {} frame in its handshake",
                    other.kind_name()
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

    /// Looks at a worker that holds no task: `None` if it is alive, quiet
    /// and connected (nothing buffered, nothing readable, its process not
    /// ended). Otherwise it is reaped here (killed first if it is still
    /// alive) and the caller drops it: it ended, hung up, or wrote out of
    /// turn. One `poll` with a zero timeout when all is well.
    pub(crate) fn check_idle(&mut self, cell: &PidCell) -> Option<IdleEnd> {
        let conn = self.conn();
        let mut fds = [
            libc::pollfd {
                fd: conn.stream.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: conn.pidfd.as_ref().map_or(-1, AsRawFd::as_raw_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll reads and writes exactly the two `pollfd`s we pass.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 0) };
        let ended = fds[1].revents != 0
            || (conn.pidfd.is_none() && has_exited(self.pid).ok() != Some(false));
        if ended {
            return Some(IdleEnd::Ended(self.reap_after_eof_in_place(cell)));
        }
        if self.reader.buffer().is_empty() {
            if n == 0 {
                return None;
            }
            match self.peek() {
                Peek::Nothing => return None,
                // End-of-file or a reset: reaped, killed only if it lives
                // on after the grace period.
                Peek::Closed => {
                    return Some(IdleEnd::Ended(self.reap_after_eof_in_place(cell)));
                }
                Peek::Bytes => {}
            }
        }
        self.kill_and_reap_in_place(cell);
        Some(IdleEnd::Spoke)
    }

    /// What the socket holds, looked at without consuming it.
    fn peek(&self) -> Peek {
        let mut byte = 0u8;
        // SAFETY: recv writes at most one byte into `byte`, which we own;
        // MSG_PEEK leaves it in the socket, MSG_DONTWAIT never blocks.
        let n = unsafe {
            libc::recv(
                self.conn().stream.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            1.. => Peek::Bytes,
            0 => Peek::Closed,
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Peek::Nothing,
                _ => Peek::Closed,
            },
        }
    }

    /// Sends one task frame, waiting at most until `deadline` while the
    /// socket is full. An error means the worker's end is gone, the worker
    /// exited, or (`TimedOut`) the deadline passed; see
    /// [`after_failed_send`](Self::after_failed_send).
    pub(crate) fn send(&mut self, frame: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let conn = self.reader.get_mut();
        conn.deadline = deadline;
        let r = conn.write_all(frame);
        conn.deadline = None;
        r
    }

    /// Ends a worker whose task could not be sent: past the deadline it is
    /// killed (`TimedOut`); otherwise its connection or process is gone, and
    /// it is reaped.
    pub(crate) fn after_failed_send(&mut self, e: &io::Error, cell: &PidCell) -> RunOutcome {
        if e.kind() == io::ErrorKind::TimedOut {
            self.kill_and_reap_in_place(cell);
            return RunOutcome::TimedOut(self.pid);
        }
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
        let conn = self.reader.get_mut();
        conn.deadline = deadline;
        conn.spin = true;
        let read = protocol::read_frame(&mut self.reader, max_frame);
        let conn = self.reader.get_mut();
        conn.deadline = None;
        conn.spin = false;
        match read.and_then(|f| protocol::decode_from_worker(f).map_err(FrameError::Malformed)) {
            Ok(FromWorker::Reply(reply)) if reply.id == id => {
                self.tasks_done += 1;
                RunOutcome::Reply(reply)
            }
            Ok(FromWorker::Reply(reply)) => {
                self.kill_and_reap_in_place(cell);
                RunOutcome::Protocol(pid, format!("a reply for task {} (running {id})", reply.id))
            }
            Ok(other) => {
                self.kill_and_reap_in_place(cell);
                RunOutcome::Protocol(
                    pid,
                    format!("unexpected {} frame (running {id})", other.kind_name()),
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
        self.reap_after_eof_in_place(cell)
    }

    fn kill_and_reap_in_place(&mut self, cell: &PidCell) -> ExitCause {
        cell.set_gone();
        // Through the pidfd where there is one (`pidfd_signal`); `Child::kill`
        // signals the pid.
        match &self.reader.get_ref().pidfd {
            Some(fd) => pidfd_signal(fd, libc::SIGKILL),
            None => {
                let _ = self.child.kill();
            }
        }
        self.wait()
    }

    /// Reaps a worker whose connection ended or which is to exit: closes
    /// the connection, gives it a moment to finish on its own (so its own
    /// exit code or signal is what we report), then kills it.
    fn reap_after_eof_in_place(&mut self, cell: &PidCell) -> ExitCause {
        let _ = self.conn().stream.shutdown(std::net::Shutdown::Both);
        let start = Instant::now();
        let mut pause = Duration::from_micros(20);
        while start.elapsed() < Duration::from_secs(2) {
            match has_exited(self.pid) {
                Ok(true) => {
                    cell.set_gone();
                    return self.wait();
                }
                Ok(false) => {}
                // No such child: the kernel reaped it already (this process
                // ignores SIGCHLD). Its pid may name another process now,
                // so it gets no signal.
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    cell.set_gone();
                    return self.wait();
                }
                Err(_) => break,
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
        self.kill_and_reap_in_place(cell)
    }

    fn wait(&mut self) -> ExitCause {
        match self.child.wait() {
            Ok(status) => self.launcher.exit_cause(status),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) && children_are_auto_reaped() => {
                ExitCause::SigchldIgnored
            }
            Err(_) => ExitCause::Unknown,
        }
    }
}

/// Whether the kernel reaps this process's children itself, discarding
/// their exit status: `SIGCHLD` is set to `SIG_IGN`, or has `SA_NOCLDWAIT`
/// (inherited, or set by the program; read now, as it may change).
fn children_are_auto_reaped() -> bool {
    // SAFETY: sigaction with a null new action only writes the current one
    // into the zeroed struct we own.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old) != 0 {
            return false;
        }
        old.sa_sigaction == libc::SIG_IGN || old.sa_flags & libc::SA_NOCLDWAIT != 0
    }
}
