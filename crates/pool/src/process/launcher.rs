//! Starting workers elsewhere: the entry hook that [`init`](super::init)
//! honours, and [`Launcher`], how a pool starts its worker processes (a
//! local re-exec, the default, or `srun` on a Slurm cluster).
//!
//! # The entry hook
//!
//! A process started with [`ENTRY_ENV`] set (to what [`entry_env_value`]
//! made of a `fn()` in the same executable) runs that function inside
//! `init()` and exits, instead of going on with `main`. The value carries
//! the function's offset from an anchor and the offset of a probe function,
//! so a different build of the binary refuses it (exit code 123) rather than
//! jumping into the wrong code. Other crates use it for their own worker
//! modes (the Slurm batch executor's job runs its task this way); the srun
//! launcher below uses it for the bridge on the node.
//!
//! # The srun launcher
//!
//! Each worker is one Slurm job step, `srun -n1 --unbuffered --bcast=/tmp/
//! /proc/PID/exe` (the image this process runs, whatever happened to its
//! file since; srun copies it to the node): the pool's socket is srun's
//! standard input and output, srun relays them to the step. On the node a *bridge* (this executable, through the
//! entry hook) checks that its SHA-256 is the parent's, then starts the
//! ordinary local worker on a socket pair and relays bytes between the
//! step's stdin/stdout and that socket. So the wire protocol and the
//! worker's own checks are the local pool's. The bridge exits as its worker
//! did (same code, or re-raising the same signal), so srun's exit status
//! says how the worker ended: `128 + n` for signal `n`, which
//! [`Launcher`] maps back to `ExitCause::Signal(n)`. srun has
//! `PR_SET_PDEATHSIG` towards the pool's thread that started it, a killed
//! srun makes Slurm cancel the step, and the worker has `PR_SET_PDEATHSIG`
//! towards the bridge: nothing is left behind, even when the parent is
//! killed with `SIGKILL`.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};

use concurrent_futures_core::ExitCause;

use super::code::{self, RemoteFn};
use super::worker;
use super::worker_main::{self, hex, unhex, ExeIdentity, Spec, ENV};

/// The environment variable that makes [`init`](super::init) run an entry
/// function instead of returning (see the module docs).
pub const ENTRY_ENV: &str = "CONCURRENT_FUTURES_ENTRY";

/// The bridge's parameters (srun launcher), next to [`ENTRY_ENV`].
const BRIDGE_ENV: &str = "CONCURRENT_FUTURES_SRUN_BRIDGE";

/// Exit code of a process whose entry value was malformed or made by a
/// different build of the executable.
const EXIT_BAD_ENTRY: i32 = 123;

/// The value of [`ENTRY_ENV`] that makes a process of this same executable
/// run `f` inside [`init`](super::init) and then exit with status 0 (or as
/// `f` exits). `None` if `f` is not in the executable's own image (a
/// shared library's function has no stable offset).
///
/// # Examples
///
/// ```
/// use concurrent_futures::process::launcher;
///
/// fn worker_mode() {}
/// let value = launcher::entry_env_value(worker_mode).unwrap();
/// assert!(value.starts_with("v1:"));
/// ```
#[must_use]
pub fn entry_env_value(f: fn()) -> Option<String> {
    let addr = f as usize;
    code::in_image(addr).then(|| {
        format!(
            "v1:{}:{}",
            code::offset_of(addr),
            worker_main::probe_offset()
        )
    })
}

fn decode_entry(value: &str) -> Option<usize> {
    let mut parts = value.split(':');
    if parts.next()? != "v1" {
        return None;
    }
    let f: i64 = parts.next()?.parse().ok()?;
    let probe: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || probe != worker_main::probe_offset() {
        return None;
    }
    let addr = code::addr_at(f);
    code::in_image(addr).then_some(addr)
}

/// Called first by [`init`](super::init): if [`ENTRY_ENV`] is set, runs its
/// function and exits; otherwise returns.
pub(crate) fn run_entry_if_requested() {
    let Some(raw) = std::env::var_os(ENTRY_ENV) else {
        return;
    };
    // Before any other thread exists (this runs first thing in `main`), and
    // so that a process the entry starts is not taken for one.
    std::env::remove_var(ENTRY_ENV);
    let Some(addr) = raw.to_str().and_then(decode_entry) else {
        eprintln!(
            "concurrent-futures: {ENTRY_ENV} names no function of this build of the executable; exiting"
        );
        std::process::exit(EXIT_BAD_ENTRY);
    };
    // SAFETY: `decode_entry` checked that the probe function lies at the same
    // offset as in the process that made the value (the same build), and the
    // value was made by `entry_env_value` from a `fn()` of the executable's
    // image, so `addr` is that function.
    let f: fn() = unsafe { std::mem::transmute::<usize, fn()>(addr) };
    f();
    std::process::exit(0);
}

/// How a pool starts its workers: [`Launcher::local`] (the default: a
/// re-exec of this executable on this machine) or [`Launcher::srun`] (a
/// Slurm job step per worker).
///
/// # Examples
///
/// ```no_run
/// use concurrent_futures::process::{self, launcher::Launcher, ProcessPoolExecutor};
///
/// fn main() {
///     process::init();
///     let ex = ProcessPoolExecutor::builder()
///         .max_workers(4)
///         .launcher(Launcher::srun().partition("debug"))
///         .build()
///         .unwrap();
///     assert_eq!(ex.submit(|x: u32| x + 1, 1).unwrap().into_result().unwrap(), 2);
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Launcher {
    srun: Option<Arc<Srun>>,
}

#[derive(Clone, Debug)]
struct Srun {
    program: PathBuf,
    partition: Option<String>,
    job_name: String,
    bcast: Option<PathBuf>,
    extra: Vec<OsString>,
}

impl Launcher {
    /// Workers are re-executions of this executable on this machine.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::local();
    /// assert!(!l.is_srun());
    /// ```
    #[must_use]
    pub fn local() -> Self {
        Launcher::default()
    }

    /// Each worker is a Slurm job step started with `srun -n1 --unbuffered
    /// --bcast=/tmp/` (see the module docs). `SLURM_CONF` and the rest of
    /// Slurm's environment are the parent's.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun();
    /// assert!(l.is_srun());
    /// ```
    #[must_use]
    pub fn srun() -> Self {
        Launcher {
            srun: Some(Arc::new(Srun {
                program: PathBuf::from("srun"),
                partition: None,
                job_name: format!("cf-pool-{}", std::process::id()),
                bcast: Some(PathBuf::from("/tmp/")),
                extra: Vec::new(),
            })),
        }
    }

    fn srun_mut(&mut self) -> Option<&mut Srun> {
        self.srun.as_mut().map(Arc::make_mut)
    }

    /// The Slurm partition (`srun --partition`); no effect on a local launcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun().partition("debug");
    /// # let _ = l;
    /// ```
    #[must_use]
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        if let Some(s) = self.srun_mut() {
            s.partition = Some(partition.into());
        }
        self
    }

    /// The job name of the workers' steps (default `cf-pool-PID`), e.g. for
    /// `scancel --name`; no effect on a local launcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun().job_name("mine");
    /// # let _ = l;
    /// ```
    #[must_use]
    pub fn job_name(mut self, name: impl Into<String>) -> Self {
        if let Some(s) = self.srun_mut() {
            s.job_name = name.into();
        }
        self
    }

    /// Where `srun --bcast` copies the executable on each node (a path
    /// ending in `/` is a directory; default `/tmp/`), or `None` to run it
    /// in place, for clusters whose nodes share the file system; no effect
    /// on a local launcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun().bcast(None::<&str>);
    /// # let _ = l;
    /// ```
    #[must_use]
    pub fn bcast(mut self, dest: Option<impl Into<PathBuf>>) -> Self {
        if let Some(s) = self.srun_mut() {
            s.bcast = dest.map(Into::into);
        }
        self
    }

    /// Extra `srun` arguments (`--mem=2G`, `--time=10`, `--cpus-per-task=4`,
    /// ...), before the executable; no effect on a local launcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun().arg("--mem=1G");
    /// # let _ = l;
    /// ```
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        if let Some(s) = self.srun_mut() {
            s.extra.push(arg.into());
        }
        self
    }

    /// The `srun` program to run (default `srun` from `PATH`); no effect on
    /// a local launcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = concurrent_futures::process::launcher::Launcher::srun().program("/usr/bin/srun");
    /// # let _ = l;
    /// ```
    #[must_use]
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        if let Some(s) = self.srun_mut() {
            s.program = program.into();
        }
        self
    }

    /// Whether workers are Slurm job steps.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!concurrent_futures::process::launcher::Launcher::default().is_srun());
    /// ```
    #[must_use]
    pub fn is_srun(&self) -> bool {
        self.srun.is_some()
    }

    /// How a worker that ended with `status` ended: its own exit code or
    /// signal. srun reports a step killed by signal `n` as exit code
    /// `128 + n`.
    pub(crate) fn exit_cause(&self, status: ExitStatus) -> ExitCause {
        match (status.code(), status.signal()) {
            (Some(c), _) if self.srun.is_some() && (129..=128 + 64).contains(&c) => {
                ExitCause::Signal(c - 128)
            }
            (Some(c), _) => ExitCause::Code(c),
            (None, Some(s)) => ExitCause::Signal(s),
            _ => ExitCause::Unknown,
        }
    }

    /// Starts the srun of one worker whose end of the connection is
    /// `child_end`; `None` for a local launcher (the caller re-execs).
    pub(crate) fn spawn_srun(
        &self,
        spec: &Spec,
        child_end: &UnixStream,
    ) -> Option<io::Result<Child>> {
        let s = self.srun.as_ref()?;
        Some(spawn_srun(s, spec, child_end))
    }
}

fn spawn_srun(s: &Srun, spec: &Spec, child_end: &UnixStream) -> io::Result<Child> {
    let exe = exe_copy(s.bcast.is_some())?;
    let entry = entry_env_value(bridge_main)
        .ok_or_else(|| io::Error::other("the bridge is not in the executable's image"))?;
    let init = match spec.init {
        Some(r) => format!("{}:{}", r.f, r.trampoline),
        None => "-:-".to_owned(),
    };
    let bridge = format!(
        "v1:{}:{}:{}:{}",
        exe.hash,
        hex(&spec.token),
        spec.max_frame,
        init
    );
    let mut cmd = Command::new(&s.program);
    cmd.args([
        "-n1",
        "-N1",
        "--unbuffered",
        "--quiet",
        "--kill-on-bad-exit=1",
    ])
    .arg(format!("--job-name={}", s.job_name));
    if let Some(p) = &s.partition {
        cmd.arg(format!("--partition={p}"));
    }
    if let Some(dest) = &s.bcast {
        let mut a = OsString::from("--bcast=");
        a.push(dest);
        cmd.arg(a);
    }
    cmd.args(&s.extra).arg(&exe.path);
    let out: OwnedFd = child_end.try_clone()?.into();
    let inp: OwnedFd = child_end.try_clone()?.into();
    cmd.env(ENTRY_ENV, entry)
        .env(BRIDGE_ENV, bridge)
        .env_remove(ENV)
        .stdin(Stdio::from(inp))
        .stdout(Stdio::from(out));
    // A new process group: Ctrl-C at the terminal is the parent's decision,
    // as for local workers (srun would forward it to the step).
    cmd.process_group(0);
    // srun dies with the thread that started it (the slot thread, which
    // owns the worker until it reaps it), as local workers do: a parent
    // killed with SIGKILL leaves no step running its task on.
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls
    // only prctl(2), getppid(2) and _exit(2), which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the request.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// The SHA-256 of `bytes`, in hex.
///
/// # Examples
///
/// ```
/// use concurrent_futures::process::launcher::sha256_hex;
/// assert_eq!(
///     sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// What srun starts: this executable (its path, and its SHA-256 for the
/// bridge's check).
struct ExeCopy {
    path: PathBuf,
    hash: String,
}

/// With `--bcast`, srun reads the executable through `/proc/PID/exe`, which
/// is the image this process runs even if the file was rebuilt or deleted
/// since; without it (nodes share the file system) the path itself, and the
/// bridge's hash check refuses a file rebuilt since this process started.
fn exe_copy(bcast: bool) -> io::Result<ExeCopy> {
    static HASH: OnceLock<Result<String, String>> = OnceLock::new();
    let hash = HASH
        .get_or_init(|| {
            std::fs::read("/proc/self/exe")
                .map(|b| sha256_hex(&b))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| io::Error::other(format!("cannot hash the executable: {e}")))?;
    let path = if bcast {
        PathBuf::from(format!("/proc/{}/exe", std::process::id()))
    } else {
        std::env::current_exe()?
    };
    Ok(ExeCopy { path, hash })
}

/// The bridge on the node (see the module docs): runs through the entry
/// hook in the process srun started.
fn bridge_main() {
    let code = match bridge() {
        Ok(status) => exit_like(status),
        Err(msg) => {
            eprintln!(
                "concurrent-futures srun bridge {}: {msg}; exiting",
                std::process::id()
            );
            worker_main::EXIT_NOT_SAME_EXE
        }
    };
    std::process::exit(code);
}

fn bridge() -> Result<ExitStatus, String> {
    let raw = std::env::var(BRIDGE_ENV).map_err(|_| format!("{BRIDGE_ENV} is not set"))?;
    std::env::remove_var(BRIDGE_ENV);
    let p: Vec<&str> = raw.split(':').collect();
    if p.len() != 6 || p[0] != "v1" {
        return Err("malformed bridge parameters".into());
    }
    let bytes = std::fs::read("/proc/self/exe").map_err(|e| e.to_string())?;
    if sha256_hex(&bytes) != p[1] {
        return Err("this executable's SHA-256 is not the parent's".into());
    }
    drop(bytes);
    // The copy srun --bcast made is ours alone: unlinked now, it is still
    // /proc/self/exe for the worker's exec.
    if let Ok(path) = std::fs::read_link("/proc/self/exe") {
        if path
            .file_name()
            .is_some_and(|n| n.to_str().is_some_and(|n| n.starts_with("slurm_bcast_")))
        {
            let _ = std::fs::remove_file(path);
        }
    }
    let token = unhex(p[2]).ok_or("malformed token")?;
    let max_frame: usize = p[3].parse().map_err(|_| "malformed frame limit")?;
    let init = match (p[4], p[5]) {
        ("-", "-") => None,
        (f, t) => Some(RemoteFn {
            f: f.parse().map_err(|_| "malformed initializer")?,
            trampoline: t.parse().map_err(|_| "malformed initializer")?,
        }),
    };
    let (mine, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    let theirs = worker::above_stdio(theirs).map_err(|e| e.to_string())?;
    let spec = Spec {
        fd: theirs.as_raw_fd(),
        token,
        parent: std::process::id(),
        exe: ExeIdentity::of_current().map_err(|e| e.to_string())?,
        probe: worker_main::probe_offset(),
        max_frame,
        init,
    };
    // The node's own worker, started as a local pool starts one.
    let mut child = worker::launch(&spec, &theirs).map_err(|e| e.to_string())?;
    drop(theirs);
    let to_worker = mine.try_clone().map_err(|e| e.to_string())?;
    // stdin → worker: at end of input, the worker sees end-of-file and exits.
    std::thread::spawn(move || {
        let mut to_worker = to_worker;
        let _ = io::copy(&mut io::stdin().lock(), &mut to_worker);
        let _ = to_worker.shutdown(std::net::Shutdown::Write);
    });
    // worker → stdout, unbuffered: each read is written and flushed at once.
    let relay = std::thread::spawn(move || {
        let mut from = &mine;
        let mut out = io::stdout().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = relay.join();
    Ok(status)
}

/// The exit code that reports `status` as the bridge's own: the same code,
/// or (for a signal) the same signal raised on the bridge, without a core
/// dump.
fn exit_like(status: ExitStatus) -> i32 {
    if let Some(sig) = status.signal() {
        // SAFETY: setrlimit reads the struct we pass; signal and raise take
        // integers. Restoring the default disposition makes raise end this
        // process the way the worker ended.
        unsafe {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return 128 + sig;
    }
    status.code().unwrap_or(1)
}

impl fmt::Display for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.srun {
            None => f.write_str("local"),
            Some(s) => write!(f, "srun (job name {})", s.job_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() {}

    #[test]
    fn entry_values_round_trip() {
        let v = entry_env_value(nothing).unwrap();
        assert_eq!(decode_entry(&v), Some(nothing as fn() as usize));
        assert_eq!(decode_entry("v1:1:2"), None, "wrong probe");
        assert_eq!(decode_entry("v2:0:0"), None);
        assert_eq!(decode_entry("v1:x"), None);
    }

    #[test]
    fn srun_exit_statuses() {
        let srun = Launcher::srun();
        let local = Launcher::local();
        let code = |c: i32| ExitStatus::from_raw(c << 8);
        assert_eq!(srun.exit_cause(code(139)), ExitCause::Signal(11));
        assert_eq!(srun.exit_cause(code(137)), ExitCause::Signal(9));
        assert_eq!(srun.exit_cause(code(3)), ExitCause::Code(3));
        assert_eq!(local.exit_cause(code(139)), ExitCause::Code(139));
        assert_eq!(
            local.exit_cause(ExitStatus::from_raw(9)),
            ExitCause::Signal(9)
        );
    }
}
