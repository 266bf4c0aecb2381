//! The worker side: what [`init`](super::init) does in a process started by
//! a pool.
//!
//! The parent execs its own image (`/proc/self/exe`) with one environment
//! variable, [`ENV`], that says which inherited socket to use, a random
//! token, the parent's pid, the identity of the parent's executable and the
//! initializer. Before it runs any user code the worker:
//!
//! 1. removes the variable (so that a process the task starts is never taken
//!    for a worker);
//! 2. asks for `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`), then
//!    checks that its parent is still the expected pid (the parent may have
//!    died before the request);
//! 3. ignores `SIGINT`: Ctrl-C in a terminal goes to the whole process group,
//!    and what happens then is the parent's decision (if the parent dies, the
//!    parent-death signal ends the worker); and sets `SIGCHLD` back to its
//!    default, since an ignored `SIGCHLD` survives the exec: a parent that
//!    ignores it (so that the kernel reaps its children) would otherwise
//!    make every task that starts and waits for a child of its own fail
//!    with `ECHILD` ("No child processes");
//! 4. checks that its own executable is the parent's (device, inode, size,
//!    modification time of `/proc/self/exe`) and that a probe function is at
//!    the same offset from the anchor as in the parent: a binary rebuilt on
//!    disk never runs the parent's task offsets;
//! 5. checks that the descriptor is a socket, marks it close-on-exec;
//! 6. runs the initializer (its argument comes in an `INIT` frame), then
//!    sends `READY` with the token.
//!
//! Then it serves `TASK` frames one at a time until end-of-file (exit 0).

use std::io::{self, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::code::{self, InitTrampoline, RemoteFailure, RemoteFn, Trampoline};
use super::codec::SerdeStage;
use super::protocol::{self, FailCode, FrameError, FromWorker, Reply, ReplyBody, ToWorker};

/// The environment variable that makes a process a worker.
pub(crate) const ENV: &str = "CONCURRENT_FUTURES_PROCESS_WORKER";

/// Exit codes of a worker that could not start or broke off.
pub(crate) const EXIT_BAD_SPEC: i32 = 121;
pub(crate) const EXIT_WRONG_PARENT: i32 = 122;
pub(crate) const EXIT_NOT_SAME_EXE: i32 = 123;
pub(crate) const EXIT_PROTOCOL: i32 = 124;
pub(crate) const EXIT_INIT_FAILED: i32 = 125;

/// The identity of an executable file: what `/proc/self/exe` stats to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExeIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl ExeIdentity {
    pub(crate) fn of_current() -> io::Result<Self> {
        let m = std::fs::metadata("/proc/self/exe")?;
        Ok(ExeIdentity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }
}

/// A probe function whose offset from the anchor both sides compare.
#[inline(never)]
fn probe() -> u64 {
    std::hint::black_box(0x7072_6f62_6521)
}

pub(crate) fn probe_offset() -> i64 {
    code::offset_of(probe as fn() -> u64 as usize)
}

/// Everything the parent tells a worker through [`ENV`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) fd: RawFd,
    pub(crate) token: [u8; 16],
    pub(crate) parent: u32,
    pub(crate) exe: ExeIdentity,
    pub(crate) probe: i64,
    pub(crate) max_frame: usize,
    pub(crate) init: Option<RemoteFn>,
}

/// Lower-case hex of `bytes` (ids and hashes in the environment).
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 16 bytes a 32-digit [`hex`] string spells.
pub(super) fn unhex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Spec {
    pub(crate) fn encode(&self) -> String {
        let init = match self.init {
            Some(r) => format!("{}:{}", r.f, r.trampoline),
            None => "-:-".to_owned(),
        };
        let e = &self.exe;
        format!(
            "v1:{}:{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
            self.fd,
            hex(&self.token),
            self.parent,
            e.dev,
            e.ino,
            e.size,
            e.mtime,
            e.mtime_nsec,
            self.probe,
            self.max_frame,
            init
        )
    }

    pub(crate) fn decode(s: &str) -> Option<Spec> {
        let p: Vec<&str> = s.split(':').collect();
        if p.len() != 13 || p[0] != "v1" {
            return None;
        }
        let init = match (p[11], p[12]) {
            ("-", "-") => None,
            (f, t) => Some(RemoteFn {
                f: f.parse().ok()?,
                trampoline: t.parse().ok()?,
            }),
        };
        Some(Spec {
            fd: p[1].parse().ok()?,
            token: unhex(p[2])?,
            parent: p[3].parse().ok()?,
            exe: ExeIdentity {
                dev: p[4].parse().ok()?,
                ino: p[5].parse().ok()?,
                size: p[6].parse().ok()?,
                mtime: p[7].parse().ok()?,
                mtime_nsec: p[8].parse().ok()?,
            },
            probe: p[9].parse().ok()?,
            max_frame: p[10].parse().ok()?,
            init,
        })
    }
}

/// If this process was started as a worker, serves and exits; otherwise
/// returns.
pub(crate) fn serve_if_worker() {
    let Some(raw) = std::env::var_os(ENV) else {
        return;
    };
    // Before any other thread exists (this runs first thing in `main`).
    std::env::remove_var(ENV);
    let code = match raw.to_str().and_then(Spec::decode) {
        Some(spec) => run(&spec),
        None => fail(EXIT_BAD_SPEC, "malformed worker specification"),
    };
    std::process::exit(code);
}

fn fail(code: i32, why: &str) -> i32 {
    eprintln!(
        "concurrent-futures worker {}: {why}; exiting",
        std::process::id()
    );
    code
}

fn run(spec: &Spec) -> i32 {
    if let Err(code) = guard_parent(spec.parent) {
        return code;
    }
    match ExeIdentity::of_current() {
        Ok(id) if id == spec.exe => {}
        _ => return fail(EXIT_NOT_SAME_EXE, "not the parent's executable"),
    }
    if probe_offset() != spec.probe {
        return fail(EXIT_NOT_SAME_EXE, "code layout differs from the parent's");
    }
    let Some(stream) = adopt_socket(spec.fd) else {
        return fail(EXIT_BAD_SPEC, "the connection descriptor is not a socket");
    };
    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    if let Some(init) = spec.init {
        let frame = match protocol::read_frame(&mut reader, spec.max_frame) {
            Ok(f) => f,
            Err(_) => return fail(EXIT_PROTOCOL, "no INIT frame from the parent"),
        };
        let Ok(ToWorker::Init { arg }) = protocol::decode_to_worker(&frame) else {
            return fail(EXIT_PROTOCOL, "no INIT frame from the parent");
        };
        if let Err(message) = run_initializer(init, arg) {
            let m = FromWorker::InitFailed { message };
            let _ = (&stream).write_all(&protocol::encode_from_worker(&m));
            return EXIT_INIT_FAILED;
        }
    }
    let ready = FromWorker::Ready {
        token: spec.token,
        pid: std::process::id(),
    };
    if (&stream)
        .write_all(&protocol::encode_from_worker(&ready))
        .is_err()
    {
        return 0;
    }
    serve(&stream, reader, spec.max_frame)
}

/// Steps 2 and 3 of the module docs.
fn guard_parent(parent: u32) -> Result<(), i32> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes an integer argument and
    // touches no memory of ours; signal(SIGINT, SIG_IGN) and
    // signal(SIGCHLD, SIG_DFL) install no handler code. All are plain system
    // calls.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    if u32::try_from(ppid).ok() != Some(parent) {
        return Err(fail(EXIT_WRONG_PARENT, "the parent is gone"));
    }
    Ok(())
}

fn adopt_socket(fd: RawFd) -> Option<UnixStream> {
    // SAFETY: fstat writes into the zeroed `stat` we own; an invalid `fd` is
    // reported as -1, not undefined behaviour.
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    };
    if fd < 3 || !is_socket {
        return None;
    }
    // SAFETY: F_SETFD on a valid descriptor only changes its flags.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: the parent made `fd` for this process alone (the socketpair's
    // worker end, inherited through exec), nothing else in this process owns
    // it, and we checked above that it is an open socket.
    Some(unsafe { UnixStream::from_raw_fd(fd) })
}

fn run_initializer(init: RemoteFn, arg: &[u8]) -> Result<(), String> {
    let t = code::addr_at(init.trampoline);
    // SAFETY: the parent built this offset from an `InitTrampoline`
    // (`code::init_plain`, `init_fallible` or `init_with`) and the worker is checked
    // to run the parent's image (`run`), so the address is that function.
    let t: InitTrampoline = unsafe { std::mem::transmute::<usize, InitTrampoline>(t) };
    t(code::addr_at(init.f), arg)
}

fn serve(stream: &UnixStream, mut reader: BufReader<&UnixStream>, max_frame: usize) -> i32 {
    loop {
        let frame = match protocol::read_frame(&mut reader, max_frame) {
            Ok(f) => f,
            Err(FrameError::Closed) => return 0,
            Err(e) => return fail(EXIT_PROTOCOL, &format!("bad frame from the parent: {e}")),
        };
        let (id, f, t, arg) = match protocol::decode_to_worker(&frame) {
            Ok(ToWorker::Task {
                id,
                f,
                trampoline,
                arg,
            }) => (id, f, trampoline, arg),
            Ok(ToWorker::Init { .. }) => return fail(EXIT_PROTOCOL, "a second INIT frame"),
            Err(e) => return fail(EXIT_PROTOCOL, &e),
        };
        let reply = run_task(id, f, t, arg, max_frame);
        drop(frame);
        if (&*stream).write_all(&reply).is_err() {
            return 0;
        }
        // The next task of a sequential caller comes within microseconds:
        // look for it for a moment before sleeping in `read`.
        spin_for_input(stream, reader.buffer().is_empty());
    }
}

/// How long an idle worker polls its socket before it sleeps in `read`.
const TASK_SPIN: Duration = Duration::from_micros(50);

/// Polls `stream` without blocking for [`TASK_SPIN`] (or not at all when
/// input is buffered already), so that a task sent right after the last
/// reply is read without a sleep and a wake-up.
fn spin_for_input(stream: &UnixStream, nothing_buffered: bool) {
    if !nothing_buffered {
        return;
    }
    let until = Instant::now() + TASK_SPIN;
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    while Instant::now() < until {
        // SAFETY: poll reads and writes exactly the one `pollfd` we pass.
        if unsafe { libc::poll(&mut pfd, 1, 0) } != 0 {
            return;
        }
        std::thread::yield_now();
    }
}

/// Runs one task and returns the complete reply frame.
fn run_task(id: u64, f: i64, t: i64, arg: &[u8], max_frame: usize) -> Vec<u8> {
    let tramp = code::addr_at(t);
    // SAFETY: the parent built `t` from a `Trampoline` (`code::remote_fn` or
    // `code::remote_chunk_fn`) checked to lie in the executable's image, and
    // this process runs the parent's image (checked in `run`).
    let tramp: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(tramp) };
    let mut ok = protocol::ok_frame(id);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        tramp(code::addr_at(f), arg, &mut ok.buf)
    }))
    .unwrap_or_else(|p| {
        Err(RemoteFailure::Panicked(super::codec::panic_message(
            p.as_ref(),
        )))
    });
    let (code, message) = match outcome {
        Ok(()) => match ok.finish(max_frame) {
            Ok(bytes) => return bytes,
            Err(e) => (
                FailCode::ResultEncode,
                format!("the result is too large: {e}"),
            ),
        },
        Err(RemoteFailure::Panicked(m)) => (FailCode::Panic, m),
        Err(RemoteFailure::Serde(e)) => {
            let code = match e.stage() {
                SerdeStage::ArgumentDecode => FailCode::ArgDecode,
                _ => FailCode::ResultEncode,
            };
            (code, e.message().to_owned())
        }
    };
    protocol::encode_from_worker(&FromWorker::Reply(Reply {
        id,
        body: ReplyBody::Failed { code, message },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trip() {
        let spec = Spec {
            fd: 7,
            token: [0xab; 16],
            parent: 42,
            exe: ExeIdentity::of_current().unwrap(),
            probe: probe_offset(),
            max_frame: 1 << 20,
            init: Some(RemoteFn {
                f: -5,
                trampoline: 9,
            }),
        };
        assert_eq!(Spec::decode(&spec.encode()), Some(spec.clone()));
        let none = Spec { init: None, ..spec };
        assert_eq!(Spec::decode(&none.encode()), Some(none));
        assert_eq!(Spec::decode("v1:1:2"), None);
        assert_eq!(Spec::decode(""), None);
    }
}
