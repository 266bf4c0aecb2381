//! [`SlurmExecutor`]: tasks as Slurm batch jobs, arguments and results as
//! files in a shared folder, one poller thread per executor.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use concurrent_futures_core::{ClusterJobError, Future, FutureState, TaskError};
use concurrent_futures_pool::process::launcher::{entry_env_value, sha256_hex};
use concurrent_futures_pool::{BuildError, Executor, Map, MapOptions, SubmitError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cli::{self, JobDetails, QueueRow, SlurmCli, SystemCli};
use crate::code::{self, Outcome, RemoteFn, ResultFile, TaskFile};
use crate::reaper::{self, Reaper};
use crate::state::{Phase, SlurmState};
use crate::worker;

std::thread_local! {
    /// The executor (its `Shared`'s address) whose futures this thread
    /// completes: its poller, or a thread running a future's callbacks.
    /// `shutdown` and the drop never wait there: they would wait for
    /// themselves.
    static SERVING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many array tasks `map` aims for when no `chunksize` is given.
const DEFAULT_MAP_TASKS: usize = 256;

/// Builds a [`SlurmExecutor`] (from [`SlurmExecutor::builder`]).
///
/// # Examples
///
/// ```no_run
/// use concurrent_futures::slurm::SlurmExecutor;
/// use std::time::Duration;
///
/// fn main() {
///     concurrent_futures::process::init();
///     let ex = SlurmExecutor::builder("/shared/scratch/me/cf")
///         .partition("batch")
///         .time_limit(Duration::from_secs(3600))
///         .cpus_per_task(4)
///         .memory_mb(8192)
///         .array_parallelism(50)
///         .sbatch_arg("--account=proj42")
///         .build()
///         .unwrap();
///     # drop(ex);
/// }
/// ```
#[must_use = "a builder does nothing until .build() is called"]
#[derive(Clone, Debug)]
pub struct SlurmBuilder {
    folder: PathBuf,
    partition: Option<String>,
    time_limit: Option<Duration>,
    cpus: Option<u32>,
    memory_mb: Option<u64>,
    extra: Vec<String>,
    array_parallelism: Option<usize>,
    job_name: Option<String>,
    cli: Arc<dyn SlurmCli>,
    poll_min: Duration,
    poll_max: Duration,
    result_grace: Duration,
    max_array_size: Option<usize>,
    cancel_on_exit: Option<bool>,
    custom_cli: bool,
}

impl SlurmBuilder {
    fn new(folder: PathBuf) -> Self {
        SlurmBuilder {
            folder,
            partition: None,
            time_limit: None,
            cpus: None,
            memory_mb: None,
            extra: Vec::new(),
            array_parallelism: None,
            job_name: None,
            cli: Arc::new(SystemCli),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(2),
            result_grace: Duration::from_secs(1),
            max_array_size: None,
            cancel_on_exit: None,
            custom_cli: false,
        }
    }

    /// The partition (`sbatch --partition`); default: the cluster's default.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").partition("debug");
    /// # let _ = b;
    /// ```
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = Some(partition.into());
        self
    }

    /// Each task's time limit. The job enforces it itself, to the
    /// millisecond: past it the task fails with `TaskError::TimeLimit` and
    /// its job ends. Slurm's `--time` is set to the limit rounded up to a
    /// whole minute, plus one (`--time` is minute-grained), as a backstop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf")
    ///     .time_limit(Duration::from_secs(90));
    /// # let _ = b;
    /// ```
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// CPUs per task (`sbatch --cpus-per-task`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").cpus_per_task(2);
    /// # let _ = b;
    /// ```
    pub fn cpus_per_task(mut self, cpus: u32) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Memory per task in MiB (`sbatch --mem`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").memory_mb(512);
    /// # let _ = b;
    /// ```
    pub fn memory_mb(mut self, mb: u64) -> Self {
        self.memory_mb = Some(mb);
        self
    }

    /// One more `sbatch` argument (`--account=x`, `--qos=y`,
    /// `--dependency=afterok:123`, ...), passed as is to every submission.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").sbatch_arg("--qos=short");
    /// # let _ = b;
    /// ```
    pub fn sbatch_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// At most `n` tasks of one `map` array run at once (`--array=...%n`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").array_parallelism(16);
    /// # let _ = b;
    /// ```
    pub fn array_parallelism(mut self, n: usize) -> Self {
        self.array_parallelism = Some(n);
        self
    }

    /// The job name of every job of this executor (default
    /// `cf-HOST-PID-N-RANDOM`, unique). The poller lists jobs by it and
    /// `kill_workers` cancels by it, so it must not be shared with anything
    /// else. ASCII letters, digits and `. _ + -` only (`build` refuses
    /// others: `squeue --name` splits at commas). The executor's folder is
    /// named after it; `build` refuses one that still holds task or result
    /// files of an earlier executor of that name.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").job_name("nightly-7");
    /// # let _ = b;
    /// ```
    pub fn job_name(mut self, name: impl Into<String>) -> Self {
        self.job_name = Some(name.into());
        self
    }

    /// How Slurm's commands are run (default [`SystemCli`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::slurm::{SlurmExecutor, SystemCli};
    /// let b = SlurmExecutor::builder("/tmp/cf").cli(SystemCli);
    /// # let _ = b;
    /// ```
    pub fn cli(mut self, cli: impl SlurmCli + 'static) -> Self {
        self.cli = Arc::new(cli);
        self.custom_cli = true;
        self
    }

    /// Whether the executor's jobs are cancelled if this process goes away
    /// before they are done: killed (`SIGKILL`, the OOM killer, Ctrl-C), or
    /// exiting with the executor still alive (leaked, or `process::exit`).
    /// Default: on with the default CLI, off after [`cli`](Self::cli).
    ///
    /// On, [`build`](Self::build) starts one small process of this
    /// executable beside the executor (its reaper). When the executor ends
    /// normally (every job done, the folder removed) the reaper exits
    /// doing nothing. When this process goes first, the reaper runs
    /// `scancel --name=<job_name>` from `PATH` (retried while the
    /// controller does not answer), waits until `squeue` lists no job of
    /// the name, and removes the executor's folder; it gives up after two
    /// minutes. A custom [`SlurmCli`] cannot be used from that process,
    /// which is why it is off there: with `cancel_on_exit(true)` the real
    /// `scancel` and `squeue` are run.
    ///
    /// # Examples
    ///
    /// ```
    /// // Jobs that must outlive the submitting process:
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").cancel_on_exit(false);
    /// # let _ = b;
    /// ```
    pub fn cancel_on_exit(mut self, on: bool) -> Self {
        self.cancel_on_exit = Some(on);
        self
    }

    /// The poller's interval: `min` after any change, doubling up to `max`
    /// while nothing changes (default 50 ms to 2 s). An interval too long
    /// for the clock (`Duration::MAX`) polls only when the executor wakes
    /// the poller (a submit, a cancel, a shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf")
    ///     .poll_interval(Duration::from_millis(100), Duration::from_secs(10));
    /// # let _ = b;
    /// ```
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.poll_min = min;
        self.poll_max = max.max(min);
        self
    }

    /// How long after a job ended without a result file the executor waits
    /// for the file to appear before it fails the task (a shared file
    /// system may show it late); default 1 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf")
    ///     .result_grace(Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn result_grace(mut self, grace: Duration) -> Self {
        self.result_grace = grace;
        self
    }

    /// The cluster's `MaxArraySize` (default: asked of `scontrol show
    /// config` at the first `map`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").max_array_size(1001);
    /// # let _ = b;
    /// ```
    pub fn max_array_size(mut self, n: usize) -> Self {
        self.max_array_size = Some(n.max(1));
        self
    }

    /// Creates the executor's folder under the shared folder, copies the
    /// executable there under its SHA-256 (once per folder), and starts the
    /// poller.
    ///
    /// # Errors
    ///
    /// [`BuildError::NotInitialized`] if `process::init()` was not called
    /// (the jobs would not know they are jobs);
    /// [`BuildError::InvalidOption`] for `array_parallelism(0)`;
    /// [`BuildError::Spawn`] if the folder or the copy cannot be written.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn main() {
    ///     concurrent_futures::process::init();
    ///     let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    ///     # drop(ex);
    /// }
    /// ```
    pub fn build(self) -> Result<SlurmExecutor, BuildError> {
        if !concurrent_futures_pool::process::initialized() {
            return Err(BuildError::NotInitialized);
        }
        self.build_unchecked()
    }

    fn build_unchecked(self) -> Result<SlurmExecutor, BuildError> {
        if self.array_parallelism == Some(0) {
            return Err(BuildError::InvalidOption(
                "array_parallelism must be >= 1".into(),
            ));
        }
        let spawn = |what: &str, e: io::Error| {
            BuildError::Spawn(io::Error::new(e.kind(), format!("{what}: {e}")))
        };
        let name = match &self.job_name {
            Some(name) => check_job_name(name)?.to_owned(),
            None => unique_name(),
        };
        let folder = if self.folder.is_absolute() {
            self.folder.clone()
        } else {
            std::env::current_dir()
                .map_err(|e| spawn("current directory", e))?
                .join(&self.folder)
        };
        let dir = folder.join(&name);
        for sub in ["tasks", "results", "logs"] {
            fs::create_dir_all(dir.join(sub))
                .map_err(|e| spawn(&format!("cannot create {}", dir.join(sub).display()), e))?;
        }
        // Task and result files are numbered from 0 in every executor: one
        // left by an earlier executor of the same name (one that crashed, or
        // whose jobs still run) would be taken for this one's.
        for sub in ["tasks", "results"] {
            let held = fs::read_dir(dir.join(sub))
                .map_err(|e| spawn(&format!("cannot read {}", dir.join(sub).display()), e))?
                .next()
                .is_some();
            if held {
                return Err(BuildError::InvalidOption(format!(
                    "{} holds the files of an earlier executor named {name:?} (its jobs may \
                     still be running): remove that folder once they are done, or choose \
                     another job_name",
                    dir.join(sub).display()
                )));
            }
        }
        let (exe, sha) = copy_executable(&folder.join("bin"))
            .map_err(|e| spawn("cannot copy the executable to the shared folder", e))?;
        let entry = entry_env_value(worker::batch_main).ok_or_else(|| {
            BuildError::Spawn(io::Error::other(
                "the job entry is not in the executable's image",
            ))
        })?;
        let reaper = if self.cancel_on_exit.unwrap_or(!self.custom_cli) {
            let entry = entry_env_value(reaper::reaper_main).ok_or_else(|| {
                BuildError::Spawn(io::Error::other(
                    "the reaper's entry is not in the executable's image",
                ))
            })?;
            let r = Reaper::start(&name, &dir, &entry)
                .map_err(|e| spawn("cannot start the reaper process", e))?;
            Some(r)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            reaper: Mutex::new(reaper),
            cli: self.cli.clone(),
            name,
            dir,
            exe,
            sha,
            entry,
            max_array: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
            cond: Condvar::new(),
            config: self,
        });
        if let Some(n) = shared.config.max_array_size {
            let _ = shared.max_array.set(n);
        }
        let s = Arc::clone(&shared);
        let poller = std::thread::Builder::new()
            .name(format!("slurm-poller-{}", shared.name))
            .spawn(move || {
                SERVING.with(|c| c.set(Arc::as_ptr(&s) as usize));
                poll_loop(&s);
            })
            .map_err(|e| spawn("cannot start the poller thread", e))?;
        Ok(SlurmExecutor {
            shared,
            poller: Mutex::new(Some(poller)),
        })
    }
}

/// `name` if Slurm and the folder take it as it is: `squeue --name` splits
/// its argument at commas, and the name is also a folder's.
fn check_job_name(name: &str) -> Result<&str, BuildError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
    if !name.is_empty() && name != "." && name != ".." && name.chars().all(plain) {
        return Ok(name);
    }
    Err(BuildError::InvalidOption(format!(
        "job_name({name:?}): use ASCII letters, digits and . _ + - only (squeue --name \
         splits names at commas, and the name is also the executor's folder)"
    )))
}

/// `cf-HOST-PID-N-RANDOM`: the host and pid alone repeat (a container
/// restarted with the same pid, login nodes whose names share 20
/// characters), so 32 random bits (the seed std draws from the OS for
/// every `RandomState`) tell such executors apart.
fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let host: String = worker::hostname()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(20)
        .collect();
    use std::hash::BuildHasher;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let random = std::collections::hash_map::RandomState::new().hash_one(n) as u32;
    format!("cf-{host}-{}-{n}-{random:08x}", std::process::id())
}

/// The executable's bytes' SHA-256 (read once per process).
fn own_hash() -> io::Result<&'static (Vec<u8>, String)> {
    static EXE: OnceLock<Result<(Vec<u8>, String), String>> = OnceLock::new();
    EXE.get_or_init(|| {
        let bytes = fs::read("/proc/self/exe").map_err(|e| e.to_string())?;
        let sha = sha256_hex(&bytes);
        Ok((bytes, sha))
    })
    .as_ref()
    .map_err(|e| io::Error::other(e.clone()))
}

/// Copies this executable to `bin/SHA256.exe` unless a file of that hash is
/// there already; returns its path and the hash.
fn copy_executable(bin: &Path) -> io::Result<(PathBuf, String)> {
    let (bytes, sha) = own_hash()?;
    fs::create_dir_all(bin)?;
    let path = bin.join(format!("{sha}.exe"));
    let intact = fs::read(&path).is_ok_and(|b| b.len() == bytes.len() && sha256_hex(&b) == *sha);
    if !intact {
        // Executable before it is in place: another executor of this
        // program may find it intact and submit a job that runs it at once.
        worker::write_atomically_with_mode(&path, bytes, Some(0o755))?;
    }
    Ok((path, sha.clone()))
}

/// The executor's side of one future: typed completion behind a trait
/// object, so the poller handles every task alike.
trait Completer: Send + Sync {
    fn state(&self) -> FutureState;
    /// Marks it running; false if it was cancelled.
    fn start(&self) -> bool;
    fn cancel(&self) -> bool;
    /// `what` names the job, task and result file in an error message.
    fn finish(&self, outcome: Outcome, what: &str);
    fn fail(&self, error: TaskError);
    /// Whether completing it now would run done-callbacks.
    fn has_done_callbacks(&self) -> bool;
}

fn outcome_error(outcome: Outcome) -> Result<Vec<u8>, TaskError> {
    match outcome {
        Outcome::Ok(bytes) => Ok(bytes),
        Outcome::Panicked(m) => Err(TaskError::panic(m)),
        Outcome::Serde(m) => Err(TaskError::error(m)),
        Outcome::TimedOut { limit_ms, pid } => Err(TaskError::TimeLimit {
            limit: Duration::from_millis(limit_ms),
            pid,
        }),
    }
}

/// The executor's side of one future: core's uncounted
/// [`Completer`](concurrent_futures_core::Completer), so the executor's
/// reference never counts as a user handle (`into_result` on the caller's
/// future never reports it). Taken out when the future is completed or
/// cancelled; every transition happens under the lock, so `start` and
/// `cancel` do not race each other.
struct Side<T>(Mutex<Option<concurrent_futures_core::Completer<T>>>);

impl<T: Send> Side<T> {
    fn new(completer: concurrent_futures_core::Completer<T>) -> Self {
        Side(Mutex::new(Some(completer)))
    }

    fn lock(&self) -> MutexGuard<'_, Option<concurrent_futures_core::Completer<T>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The future's state; a completer already taken means a done future.
    fn state(&self) -> FutureState {
        self.lock()
            .as_ref()
            .map_or(FutureState::Finished, |c| c.state())
    }

    fn start(&self) -> bool {
        match self.lock().as_ref() {
            Some(c) => match c.state() {
                FutureState::Pending => c.set_running_or_notify_cancel(),
                FutureState::Running => true,
                _ => false,
            },
            None => false,
        }
    }

    /// Cancels a pending future. The completer is taken under the lock
    /// (so `start` now finds none) and cancelled after it is released: the
    /// cancel runs the done-callbacks, which may wait for anything, and the
    /// poller's `start` of another task must not wait for them (found by a
    /// probe: a `shutdown(cancel_futures)` stalled every running future).
    fn cancel(&self) -> bool {
        let taken = {
            let mut g = self.lock();
            match g.as_ref().map(|c| c.state()) {
                Some(FutureState::Pending) => g.take(),
                Some(FutureState::Cancelled) => return true,
                _ => return false,
            }
        };
        if let Some(c) = taken {
            c.cancel();
        }
        true
    }

    /// Marks it running (unless cancelled) and takes the completer out.
    fn take_started(&self) -> Option<concurrent_futures_core::Completer<T>> {
        let mut g = self.lock();
        let go = match g.as_ref()?.state() {
            FutureState::Pending => g.as_ref()?.set_running_or_notify_cancel(),
            FutureState::Running => true,
            _ => false,
        };
        if go {
            g.take()
        } else {
            None
        }
    }
}

/// One job's future with the decoder of its result file's value: a single
/// result (`submit`) or a chunk's results (`map`).
struct Job<T> {
    side: Side<T>,
    decode: fn(&[u8], &str) -> Result<T, TaskError>,
}

impl<T: Send + 'static> Completer for Job<T> {
    fn state(&self) -> FutureState {
        self.side.state()
    }
    fn start(&self) -> bool {
        self.side.start()
    }
    fn cancel(&self) -> bool {
        self.side.cancel()
    }
    fn finish(&self, outcome: Outcome, what: &str) {
        if let Some(c) = self.side.take_started() {
            c.complete(outcome_error(outcome).and_then(|bytes| (self.decode)(&bytes, what)));
        }
    }
    fn fail(&self, error: TaskError) {
        if let Some(c) = self.side.take_started() {
            c.complete(Err(error));
        }
    }
    fn has_done_callbacks(&self) -> bool {
        self.side
            .lock()
            .as_ref()
            .is_some_and(concurrent_futures_core::Completer::has_done_callbacks)
    }
}

/// The value of a `submit` job (`what`: the job, task and result file).
fn decode_one<R: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<R, TaskError> {
    code::decode::<R>(bytes)
        .map_err(|e| TaskError::error(format!("cannot decode the result of {what}: {e}")))
}

/// The values of a `map` chunk's job, each item's panic at its place.
fn decode_chunk<R: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<ChunkResults<R>, TaskError> {
    code::decode::<Vec<Result<R, String>>>(bytes)
        .map(|items| {
            items
                .into_iter()
                .map(|r| r.map_err(TaskError::panic))
                .collect()
        })
        .map_err(|e| TaskError::error(format!("cannot decode the results of {what}: {e}")))
}

type ChunkResults<R> = Vec<Result<R, TaskError>>;

/// A submitted chunk's future and its number of items.
type ChunkSlot<R> = (Future<ChunkResults<R>>, usize);

/// What the poller last saw of a job.
#[derive(Clone, Debug, Default)]
struct Seen {
    state: Option<SlurmState>,
    node: Option<String>,
    /// When the job was first seen ended without a result file.
    ended_at: Option<Instant>,
}

struct Task {
    index: u64,
    job_id: String,
    submitted: Instant,
    future: Box<dyn Completer>,
    seen: Mutex<Seen>,
}

impl Task {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Inner {
    /// Tasks whose future is not done, by job id (`"123"` or `"123_4"`).
    live: HashMap<String, Arc<Task>>,
    /// Job ids to cancel with the next `scancel`.
    cancels: Vec<String>,
    /// When an `scancel` of jobs still queued first failed (the controller
    /// unreachable); they are retried until [`CANCEL_RETRY_FOR`] after it.
    cancel_failing_since: Option<Instant>,
    closed: bool,
    stopping: bool,
    /// Submissions between their `closed` check and their insertion.
    submitting: usize,
    /// A change the poller should look at now.
    kick: bool,
    /// Futures out of `live` whose completion is still being carried out
    /// (on the poller, or on a thread of its own when it runs callbacks).
    finishing: usize,
    next_index: u64,
    /// `squeue` calls so far (for tests and `Debug`).
    polls: u64,
    /// Callers cancelling many futures at once: the poller leaves the
    /// cancel queue alone until they are done, so one `scancel` takes all.
    batching: usize,
}

struct Shared {
    /// The process that cancels the jobs if this one goes first; disarmed
    /// by the poller as it ends.
    reaper: Mutex<Option<Reaper>>,
    cli: Arc<dyn SlurmCli>,
    config: SlurmBuilder,
    name: String,
    dir: PathBuf,
    exe: PathBuf,
    sha: String,
    entry: String,
    max_array: OnceLock<usize>,
    inner: Mutex<Inner>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> io::Result<cli::CommandOutput> {
        self.cli.run(program, args, stdin)
    }

    /// A future was cancelled by its owner: forget it, queue its scancel.
    fn queue_cancel(&self, job_id: &str) {
        let mut g = self.lock();
        if let Some(t) = g.live.remove(job_id) {
            g.cancels.push(job_id.to_owned());
            g.kick = true;
            self.cond.notify_all();
            drop(g);
            // A job that starts before its scancel lands finds no task and
            // runs nothing.
            let _ = fs::remove_file(worker::task_path(&self.dir, t.index));
        }
    }

    fn max_array_size(&self) -> usize {
        *self.max_array.get_or_init(|| {
            self.run("scontrol", &["show".into(), "config".into()], None)
                .ok()
                .filter(|o| o.success)
                .and_then(|o| cli::parse_max_array_size(&o.stdout))
                .unwrap_or(1001)
                .max(1)
        })
    }

    /// `sbatch` arguments common to every submission.
    fn sbatch_args(&self, log_pattern: &str) -> Vec<String> {
        let c = &self.config;
        // `--output` and `--error` are filename patterns: a `%` of the
        // folder's path is written `%%`, or Slurm expands it (`%u` is the
        // user), and the job fails to open its log (`JobLaunchFailure`).
        let logs = self
            .dir
            .join("logs")
            .display()
            .to_string()
            .replace('%', "%%");
        let mut a = vec![
            "--parsable".to_owned(),
            format!("--job-name={}", self.name),
            format!("--chdir={}", self.dir.display()),
            format!("--output={logs}/{log_pattern}.out"),
            format!("--error={logs}/{log_pattern}.err"),
        ];
        if let Some(p) = &c.partition {
            a.push(format!("--partition={p}"));
        }
        if let Some(t) = c.time_limit {
            a.push(format!("--time={}", minutes_for(t)));
        }
        if let Some(n) = c.cpus {
            a.push(format!("--cpus-per-task={n}"));
        }
        if let Some(m) = c.memory_mb {
            a.push(format!("--mem={m}M"));
        }
        a.extend(c.extra.iter().cloned());
        a
    }

    /// The batch script: sets the job's environment and `exec`s the copy
    /// (so that a signal that kills the task is the job's own).
    fn script(&self, index_var: (&str, u64)) -> String {
        format!(
            "#!/bin/sh\n{}={}\n{}={}\n{}={}\n{}={}\nexport {} {} {} {}\nexec {}\n",
            concurrent_futures_pool::process::launcher::ENTRY_ENV,
            quote(&self.entry),
            worker::DIR_ENV,
            quote(&self.dir.display().to_string()),
            worker::SHA_ENV,
            quote(&self.sha),
            index_var.0,
            index_var.1,
            concurrent_futures_pool::process::launcher::ENTRY_ENV,
            worker::DIR_ENV,
            worker::SHA_ENV,
            index_var.0,
            quote(&self.exe.display().to_string()),
        )
    }

    fn sbatch(&self, args: &[String], script: &str) -> Result<String, SubmitError> {
        let out = self
            .run("sbatch", args, Some(script))
            .map_err(|e| SubmitError::rejected(format!("cannot run sbatch: {e}")))?;
        if !out.success {
            // Submit's error (a refused partition, a controller down): the
            // command's own words and how it ended, not only that it failed.
            let mut why = format!(
                "sbatch failed with {}, nothing was submitted",
                out.status_text()
            );
            match (out.stderr.trim(), out.stdout.trim()) {
                ("", "") => why.push_str(" (it printed nothing)"),
                ("", stdout) => why.push_str(&format!("; its stdout: {stdout}")),
                (stderr, _) => why.push_str(&format!(": {stderr}")),
            }
            return Err(SubmitError::rejected(why));
        }
        cli::parse_sbatch(&out.stdout).ok_or_else(|| {
            SubmitError::rejected(format!("sbatch printed no job id: {:?}", out.stdout))
        })
    }

    /// Reserves `n` task indices, unless the executor is shut down.
    fn begin_submit(&self, n: u64) -> Result<u64, SubmitError> {
        let mut g = self.lock();
        if g.closed {
            return Err(SubmitError::Shutdown);
        }
        g.submitting += 1;
        let base = g.next_index;
        g.next_index += n;
        Ok(base)
    }

    fn end_submit(&self, tasks: Vec<Arc<Task>>) {
        let mut g = self.lock();
        g.submitting -= 1;
        for t in tasks {
            g.live.insert(t.job_id.clone(), t);
        }
        g.kick = true;
        self.cond.notify_all();
    }

    fn write_task(&self, index: u64, task: &TaskFile) -> Result<(), SubmitError> {
        worker::write_atomically_unsynced(&worker::task_path(&self.dir, index), &task.to_bytes())
            .map_err(|e| SubmitError::rejected(format!("cannot write the task file: {e}")))
    }
}

/// `--time` in whole minutes: the limit rounded up, plus one, so that the
/// job's own (exact) limit fires first.
fn minutes_for(limit: Duration) -> u64 {
    limit.as_secs().div_ceil(60) + 1
}

/// A shell word for `s`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn not_in_image() -> SubmitError {
    SubmitError::Serialize(
        "the function is not in the executable's own image (functions from shared \
         libraries cannot run in a job)"
            .into(),
    )
}

/// Registers the owner-cancel hook of a submitted future.
fn on_cancel<T: Send + 'static>(shared: &Arc<Shared>, future: &Future<T>, job_id: String) {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    future.add_done_callback(move |f| {
        if f.cancelled() {
            if let Some(s) = weak.upgrade() {
                s.queue_cancel(&job_id);
            }
        }
    });
}

/// Tasks as Slurm batch jobs (submitit's `AutoExecutor`, with Python's
/// `concurrent.futures` semantics): `submit` writes the argument to the
/// shared folder and runs `sbatch`; `map` submits job arrays of chunks. One
/// poller thread per executor reads the result files and one `squeue` of
/// all its jobs per round. The futures are the same [`Future`]s as the
/// pools', so `wait` and `as_completed` mix them with local ones.
///
/// `process::init()` must be the first line of `main`: a job is this same
/// program, entering its task there. See `docs/cluster.md` for the state
/// table and the limits.
///
/// Dropping the executor is `shutdown(true, false)`: it waits until every
/// job's future is done.
///
/// # Examples
///
/// ```no_run
/// use concurrent_futures::slurm::SlurmExecutor;
///
/// fn simulate(seed: u64) -> f64 {
///     seed as f64 * 0.5
/// }
///
/// fn main() {
///     concurrent_futures::process::init();
///     let ex = SlurmExecutor::builder("/shared/scratch/cf").partition("debug").build().unwrap();
///     let f = ex.submit(simulate, 7).unwrap();
///     assert_eq!(f.into_result().unwrap(), 3.5);
///     let all: Vec<f64> = ex.map(simulate, 0..1000).unwrap().into_result().unwrap();
///     assert_eq!(all.len(), 1000);
/// }
/// ```
pub struct SlurmExecutor {
    shared: Arc<Shared>,
    poller: Mutex<Option<JoinHandle<()>>>,
}

/// A submitted task with its Slurm job: [`SlurmExecutor::submit_job`].
pub struct SlurmJob<R> {
    future: Future<R>,
    task: Arc<Task>,
}

impl<R> SlurmJob<R> {
    /// The task's future.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// # let ex = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").build().unwrap();
    /// let job = ex.submit_job(|x: u8| x + 1, 1).unwrap();
    /// assert_eq!(*job.future().result().unwrap(), 2);
    /// # }
    /// ```
    pub fn future(&self) -> &Future<R> {
        &self.future
    }

    /// The future, by value.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// # let ex = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").build().unwrap();
    /// let f = ex.submit_job(|x: u8| x + 1, 1).unwrap().into_future();
    /// assert_eq!(f.into_result().unwrap(), 2);
    /// # }
    /// ```
    pub fn into_future(self) -> Future<R> {
        self.future
    }

    /// The Slurm job id (`"123"`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// # let ex = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").build().unwrap();
    /// let job = ex.submit_job(|x: u8| x, 1).unwrap();
    /// println!("submitted as job {}", job.job_id());
    /// # }
    /// ```
    pub fn job_id(&self) -> &str {
        &self.task.job_id
    }

    /// The node the job ran (or runs) on, once the poller has seen it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// # let ex = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").build().unwrap();
    /// let job = ex.submit_job(|x: u8| x, 1).unwrap();
    /// job.future().result().unwrap();
    /// println!("ran on {:?}", job.node());
    /// # }
    /// ```
    pub fn node(&self) -> Option<String> {
        self.task.seen().node.clone()
    }

    /// The job's Slurm state as the poller last saw it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// # let ex = concurrent_futures::slurm::SlurmExecutor::builder("/tmp/cf").build().unwrap();
    /// let job = ex.submit_job(|x: u8| x, 1).unwrap();
    /// println!("{:?}", job.slurm_state());
    /// # }
    /// ```
    pub fn slurm_state(&self) -> Option<SlurmState> {
        self.task.seen().state.clone()
    }
}

impl<R> fmt::Debug for SlurmJob<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlurmJob")
            .field("job_id", &self.task.job_id)
            .field("state", &self.future.state())
            .finish()
    }
}

impl SlurmExecutor {
    /// A builder whose jobs keep their files under `shared_folder`, which
    /// every node must see at the same path.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf");
    /// # let _ = b;
    /// ```
    pub fn builder(shared_folder: impl Into<PathBuf>) -> SlurmBuilder {
        SlurmBuilder::new(shared_folder.into())
    }

    /// Runs `f(arg)` as one Slurm batch job.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] after `shutdown`;
    /// [`SubmitError::Serialize`] if `arg` cannot be serialized or `f` is
    /// not in the executable's image; [`SubmitError::Rejected`] if the task
    /// file cannot be written or `sbatch` fails (its message is kept; the
    /// executor stays usable).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// assert_eq!(ex.submit(u64::count_ones, 7).unwrap().into_result().unwrap(), 3);
    /// # }
    /// ```
    pub fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_job(f, arg).map(SlurmJob::into_future)
    }

    /// Like [`submit`](Self::submit) with a time limit for this task
    /// instead of the builder's.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// use std::time::Duration;
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// let f = ex.submit_with_timeout(std::thread::sleep, Duration::from_secs(60), Duration::from_secs(1)).unwrap();
    /// assert!(f.into_result().unwrap_err().task_error().unwrap().is_time_limit());
    /// # }
    /// ```
    pub fn submit_with_timeout<A, R>(
        &self,
        f: fn(A) -> R,
        arg: A,
        limit: Duration,
    ) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_one(f, &arg, Some(limit))
            .map(SlurmJob::into_future)
    }

    /// [`submit`](Self::submit), returning the job with its future (for its
    /// job id and node).
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// let job = ex.submit_job(|x: u32| x * 2, 21).unwrap();
    /// assert_eq!(*job.future().result().unwrap(), 42);
    /// println!("job {} on {:?}", job.job_id(), job.node());
    /// # }
    /// ```
    pub fn submit_job<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<SlurmJob<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_one(f, &arg, self.shared.config.time_limit)
    }

    fn submit_one<A, R>(
        &self,
        f: fn(A) -> R,
        arg: &A,
        limit: Option<Duration>,
    ) -> Result<SlurmJob<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let func = code::remote_fn(f).ok_or_else(not_in_image)?;
        let arg = code::encode(arg).map_err(SubmitError::Serialize)?;
        let s = &self.shared;
        let index = s.begin_submit(1)?;
        let submitted = (|| {
            s.write_task(index, &task_file(func, limit, arg))?;
            let args = s.sbatch_args("%j");
            s.sbatch(&args, &s.script((worker::TASK_ENV, index)))
        })();
        let job_id = match submitted {
            Ok(id) => id,
            Err(e) => {
                s.end_submit(Vec::new());
                let _ = fs::remove_file(worker::task_path(&s.dir, index));
                return Err(e);
            }
        };
        let (completer, future) = concurrent_futures_core::Completer::new();
        let task = Arc::new(Task {
            index,
            job_id: job_id.clone(),
            submitted: Instant::now(),
            future: Box::new(Job {
                side: Side::new(completer),
                decode: decode_one::<R>,
            }),
            seen: Mutex::new(Seen::default()),
        });
        s.end_submit(vec![Arc::clone(&task)]);
        on_cancel(s, &future, job_id);
        Ok(SlurmJob { future, task })
    }

    /// Python's `map(fn, iterable)` as job arrays: the input is split in
    /// chunks (`options`' `chunksize`, or enough for about 256 array tasks),
    /// each chunk one array task; arrays longer than the cluster's
    /// `MaxArraySize` are split over several `sbatch` calls. Each item's
    /// panic fails only its place; a job that fails fails its chunk's places.
    /// The whole input is submitted now (`buffersize` is not used); the
    /// `timeout` bounds the iteration.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit); what was submitted before the error is
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// use concurrent_futures::MapOptions;
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// let m = ex.map_with(|x: u64| x * x, 0..1000, MapOptions::default().chunksize(100)).unwrap();
    /// assert_eq!(m.into_result().unwrap().len(), 1000);
    /// # }
    /// ```
    pub fn map_with<A, R, I>(
        &self,
        f: fn(A) -> R,
        iter: I,
        options: MapOptions,
    ) -> Result<Map<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        let func = code::remote_chunk_fn(f).ok_or_else(not_in_image)?;
        let items: Vec<A> = iter.into_iter().collect();
        let chunk = match options.get_chunksize() {
            0 | 1 => items.len().div_ceil(DEFAULT_MAP_TASKS).max(1),
            n => n,
        };
        let mut encoded = Vec::new();
        for c in items.chunks(chunk) {
            encoded.push((code::encode(c).map_err(SubmitError::Serialize)?, c.len()));
        }
        let s = &self.shared;
        let limit = s.config.time_limit;
        let max = s.max_array_size();
        let mut out: Vec<ChunkSlot<R>> = Vec::with_capacity(encoded.len());
        let mut groups = Vec::new();
        let mut rest = encoded;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(max));
            groups.push(std::mem::replace(&mut rest, tail));
        }
        for group in groups {
            match self.submit_array::<R>(func, limit, group) {
                Ok(mut futures) => out.append(&mut futures),
                Err(e) => {
                    for (f, _) in &out {
                        f.cancel();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Map::from_chunks(out, options))
    }

    /// [`map_with`](Self::map_with) with the default options.
    ///
    /// # Errors
    ///
    /// As [`map_with`](Self::map_with).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// let v: Vec<u8> = ex.map(|x: u8| x + 1, [1, 2]).unwrap().into_result().unwrap();
    /// assert_eq!(v, [2, 3]);
    /// # }
    /// ```
    pub fn map<A, R, I>(&self, f: fn(A) -> R, iter: I) -> Result<Map<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_with(f, iter, MapOptions::default())
    }

    fn submit_array<R>(
        &self,
        func: RemoteFn,
        limit: Option<Duration>,
        chunks: Vec<(Vec<u8>, usize)>,
    ) -> Result<Vec<ChunkSlot<R>>, SubmitError>
    where
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let s = &self.shared;
        let n = chunks.len() as u64;
        let base = s.begin_submit(n)?;
        let lens: Vec<usize> = chunks.iter().map(|c| c.1).collect();
        let submitted = (|| {
            for (i, (arg, _)) in chunks.into_iter().enumerate() {
                s.write_task(base + i as u64, &task_file(func, limit, arg))?;
            }
            let mut args = s.sbatch_args("%A_%a");
            let mut spec = format!("--array=0-{}", n - 1);
            if let Some(p) = s.config.array_parallelism {
                spec.push_str(&format!("%{p}"));
            }
            args.push(spec);
            s.sbatch(&args, &s.script((worker::BASE_ENV, base)))
        })();
        let array_id = match submitted {
            Ok(id) => id,
            Err(e) => {
                s.end_submit(Vec::new());
                for i in 0..n {
                    let _ = fs::remove_file(worker::task_path(&s.dir, base + i));
                }
                return Err(e);
            }
        };
        let now = Instant::now();
        let mut tasks = Vec::with_capacity(lens.len());
        let mut out = Vec::with_capacity(lens.len());
        for (i, len) in lens.into_iter().enumerate() {
            let (completer, future) = concurrent_futures_core::Completer::new();
            tasks.push(Arc::new(Task {
                index: base + i as u64,
                job_id: format!("{array_id}_{i}"),
                submitted: now,
                future: Box::new(Job {
                    side: Side::new(completer),
                    decode: decode_chunk::<R>,
                }),
                seen: Mutex::new(Seen::default()),
            }));
            out.push((future, len));
        }
        s.end_submit(tasks);
        for (i, (future, _)) in out.iter().enumerate() {
            on_cancel(s, future, format!("{array_id}_{i}"));
        }
        Ok(out)
    }

    /// Python's `shutdown(wait, cancel_futures)`: refuses new tasks; with
    /// `cancel_futures` cancels every task whose job has not started (one
    /// batched `scancel`); with `wait` returns once every accepted task's
    /// future is done. Idempotent.
    ///
    /// Called from a done-callback of one of this executor's futures (they
    /// run on the thread that completes it: the poller, or one of its own),
    /// it does not wait, which would be for itself; the other tasks still
    /// complete.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// ex.shutdown(true, true);
    /// assert!(ex.submit(|x: u8| x, 1).unwrap_err().is_shutdown());
    /// # }
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        let s = &self.shared;
        self.close(cancel_futures);
        if wait && !self.on_poller() {
            let mut g = s.lock();
            while !(g.live.is_empty()
                && g.submitting == 0
                && g.cancels.is_empty()
                && g.finishing == 0)
            {
                g = s.cond.wait(g).unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Whether this thread completes this executor's futures (its poller,
    /// or a thread running a future's done-callbacks), which must never
    /// wait for the poller or for itself.
    fn on_poller(&self) -> bool {
        SERVING.with(std::cell::Cell::get) == Arc::as_ptr(&self.shared) as usize
    }

    /// Refuses new tasks; with `cancel_futures` cancels every future whose
    /// job has not started. The cancels' job ids are queued for one
    /// `scancel` (`kill_workers` drops them once its `scancel --name` has
    /// covered them).
    fn close(&self, cancel_futures: bool) {
        let s = &self.shared;
        let pending: Vec<Arc<Task>> = {
            let mut g = s.lock();
            g.closed = true;
            g.kick = true;
            // While `batching`, the poller leaves the queue alone.
            g.batching += 1;
            if cancel_futures {
                g.live
                    .values()
                    .filter(|t| t.future.state() == FutureState::Pending)
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            }
        };
        // Outside the lock: each cancel runs the future's callback, which
        // queues the job's scancel.
        for t in &pending {
            t.future.cancel();
        }
        let mut g = s.lock();
        g.batching -= 1;
        g.kick = true;
        s.cond.notify_all();
    }

    /// Python 3.14's `kill_workers()`: shuts down cancelling the tasks that
    /// have not started, then one `scancel --name` of this executor's jobs:
    /// running tasks fail with `TaskError::ClusterJob` (state `CANCELLED`).
    /// Does not wait.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// let f = ex.submit(std::thread::sleep, std::time::Duration::from_secs(600)).unwrap();
    /// ex.kill_workers();
    /// // Cancelled if it had not started, else failed with state CANCELLED.
    /// assert!(f.cancelled() || f.exception().unwrap().unwrap().is_cluster_job());
    /// # }
    /// ```
    pub fn kill_workers(&self) {
        let s = &self.shared;
        // Batching across the `scancel --name`: the poller leaves the
        // cancels `close` queues alone, so a kill that works is one call.
        s.lock().batching += 1;
        self.close(true);
        let killed = matches!(
            s.run("scancel", &["--quiet".into(), format!("--name={}", s.name)], None),
            Ok(o) if o.success
        );
        let mut g = s.lock();
        g.batching -= 1;
        if killed {
            // The name covered the pending jobs too: one call.
            g.cancels.clear();
        } else {
            // The controller may be unreachable: every job goes to the
            // poller's cancels, which it retries (`send_cancels`).
            let running: Vec<String> = g.live.keys().cloned().collect();
            for id in running {
                if !g.cancels.contains(&id) {
                    g.cancels.push(id);
                }
            }
        }
        g.kick = true;
        s.cond.notify_all();
    }

    /// The job name of this executor's jobs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").job_name("x").build().unwrap();
    /// assert_eq!(ex.job_name(), "x");
    /// # }
    /// ```
    pub fn job_name(&self) -> &str {
        &self.shared.name
    }

    /// This executor's folder (tasks, results and logs) in the shared folder.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// assert!(ex.folder().starts_with("/shared/cf"));
    /// # }
    /// ```
    pub fn folder(&self) -> &Path {
        &self.shared.dir
    }

    /// The copy of the executable that the jobs run.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// assert!(ex.executable().ends_with(".exe"));
    /// # }
    /// ```
    pub fn executable(&self) -> &Path {
        &self.shared.exe
    }

    /// How many `squeue` calls the poller made so far (one per round, for
    /// all jobs).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() { concurrent_futures::process::init();
    /// let ex = concurrent_futures::slurm::SlurmExecutor::builder("/shared/cf").build().unwrap();
    /// assert_eq!(ex.squeue_calls(), 0);
    /// # }
    /// ```
    pub fn squeue_calls(&self) -> u64 {
        self.shared.lock().polls
    }
}

fn task_file(func: RemoteFn, limit: Option<Duration>, arg: Vec<u8>) -> TaskFile {
    TaskFile {
        func,
        limit_ms: limit.map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
        arg,
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        // Dropped by a done-callback (on the poller, or on the thread that
        // runs a future's callbacks): it cannot wait for itself; the poller
        // goes on until the last job is done, then ends.
        let on_poller = self.on_poller();
        self.shutdown(true, false);
        {
            let mut g = self.shared.lock();
            g.stopping = true;
            self.shared.cond.notify_all();
        }
        let handle = self
            .poller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The poller removes the folder as it ends (`remove_folder`).
        if let Some(h) = handle.filter(|_| !on_poller) {
            let _ = h.join();
        }
    }
}

/// The executor's folder goes if nothing is left in it (the logs of failed
/// jobs, task files of jobs that never ran, stay). Only once no job is live:
/// a job writes its result into `results/`.
fn remove_folder(dir: &Path) {
    for sub in ["tasks", "results", "logs"] {
        let _ = fs::remove_dir(dir.join(sub));
    }
    let _ = fs::remove_dir(dir);
}

impl fmt::Debug for SlurmExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.shared.lock();
        f.debug_struct("SlurmExecutor")
            .field("job_name", &self.shared.name)
            .field("folder", &self.shared.dir)
            .field("live", &g.live.len())
            .field("closed", &g.closed)
            .finish()
    }
}

impl Executor for SlurmExecutor {
    fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        SlurmExecutor::submit(self, f, arg)
    }

    fn map<A, R, I>(
        &self,
        f: fn(A) -> R,
        iter: I,
        options: MapOptions,
    ) -> Result<Map<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        self.map_with(f, iter, options)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        SlurmExecutor::shutdown(self, wait, cancel_futures);
    }
}

/// How long the cancels of jobs still queued are retried after an `scancel`
/// first failed (the controller down or unreachable). A `shutdown(wait)` or
/// drop waits for them meanwhile; past it they are given up (their task
/// files are gone already, so such a job that starts runs nothing).
const CANCEL_RETRY_FOR: Duration = Duration::from_secs(60);

/// Sends one `scancel` for `cancels`. If it fails, the jobs that may still
/// be queued go back to the queue for the next round: all of them if
/// `squeue` cannot say either, else those it still lists as not ended (an
/// `scancel` also fails when some of its jobs ended meanwhile).
fn send_cancels(s: &Shared, cancels: Vec<String>) {
    let mut args = vec!["--quiet".to_owned()];
    args.extend(cancels.iter().cloned());
    if matches!(s.run("scancel", &args, None), Ok(o) if o.success) {
        s.lock().cancel_failing_since = None;
        return;
    }
    let left: Vec<String> = match s.run("squeue", &cli::squeue_args(&s.name), None) {
        Ok(o) if o.success => {
            let live: std::collections::HashSet<String> = cli::parse_squeue(&o.stdout)
                .into_iter()
                .filter(|r| r.state.phase() != Phase::Ended)
                .map(|r| r.job_id)
                .collect();
            cancels.into_iter().filter(|id| live.contains(id)).collect()
        }
        _ => cancels,
    };
    let mut g = s.lock();
    if left.is_empty() {
        g.cancel_failing_since = None;
        return;
    }
    let since = *g.cancel_failing_since.get_or_insert_with(Instant::now);
    if since.elapsed() < CANCEL_RETRY_FOR {
        g.cancels.extend(left);
    } else {
        g.cancel_failing_since = None;
    }
}

/// The poller: one round per interval (shorter after a change, see
/// [`SlurmBuilder::poll_interval`]), until the executor is dropped and no
/// job is left.
fn poll_loop(s: &Arc<Shared>) {
    let mut interval = s.config.poll_min;
    loop {
        let (cancels, tasks) = {
            let mut g = s.lock();
            // `None`: an interval past the clock's range (`Duration::MAX`)
            // polls only when woken, instead of panicking here.
            let deadline = Instant::now().checked_add(interval);
            loop {
                // Cancels still queued when stopping are retries (a fresh
                // one kicks): they wait for the interval like a poll.
                if g.kick || (g.stopping && g.live.is_empty() && g.cancels.is_empty()) {
                    break;
                }
                let idle = g.live.is_empty() && g.cancels.is_empty();
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if !idle && left.is_some_and(|l| l.is_zero()) {
                    break;
                }
                g = match left {
                    Some(left) if !idle => {
                        s.cond
                            .wait_timeout(g, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                    _ => s.cond.wait(g).unwrap_or_else(PoisonError::into_inner),
                };
            }
            g.kick = false;
            let cancels = if g.batching == 0 {
                std::mem::take(&mut g.cancels)
            } else {
                Vec::new()
            };
            let tasks: Vec<Arc<Task>> = g.live.values().cloned().collect();
            if !tasks.is_empty() {
                g.polls += 1;
            }
            (cancels, tasks)
        };
        if !cancels.is_empty() {
            send_cancels(s, cancels);
        }
        let changed = if tasks.is_empty() {
            false
        } else {
            poll_round(s, &tasks)
        };
        {
            let g = s.lock();
            // Wake `shutdown(wait)` callers to look again.
            s.cond.notify_all();
            if g.stopping && g.live.is_empty() && g.cancels.is_empty() {
                drop(g);
                remove_folder(&s.dir);
                let reaper = s
                    .reaper
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(r) = reaper {
                    r.disarm();
                }
                return;
            }
        }
        interval = if changed {
            s.config.poll_min
        } else {
            interval.saturating_mul(2).min(s.config.poll_max)
        };
    }
}

/// What a round decided for one task, carried out outside the lock.
enum Action {
    Finish(Arc<Task>, ResultFile),
    Fail(Arc<Task>, TaskError),
    Cancel(Arc<Task>),
}

/// One round: one `squeue` of every job of the executor, one listing of the
/// results folder; `scontrol` (or `sacct`) only for a job that ended
/// without a result. Returns whether anything changed.
fn poll_round(s: &Arc<Shared>, tasks: &[Arc<Task>]) -> bool {
    // squeue before the listing: a job seen ended has already renamed its
    // result file into place.
    let rows: Option<HashMap<String, QueueRow>> = s
        .run("squeue", &cli::squeue_args(&s.name), None)
        .ok()
        .filter(|o| o.success)
        .map(|o| {
            cli::parse_squeue(&o.stdout)
                .into_iter()
                .map(|r| (r.job_id.clone(), r))
                .collect()
        });
    let results = list_results(&s.dir);
    let mut actions = Vec::new();
    let mut changed = false;
    for t in tasks {
        if results.contains(&t.index) {
            match read_result(&s.dir, t.index) {
                ResultRead::Found(r) => {
                    actions.push(Action::Finish(Arc::clone(t), r));
                    continue;
                }
                ResultRead::Bad(why) => {
                    actions.push(Action::Fail(Arc::clone(t), bad_result(t, &why)));
                    continue;
                }
                // Listed a moment ago: only a rename over it could do this.
                ResultRead::Missing => {}
            }
        }
        let Some(rows) = &rows else {
            continue;
        };
        let row = rows.get(&t.job_id);
        let mut seen = t.seen();
        if let Some(r) = row {
            if seen.state.as_ref() != Some(&r.state) {
                changed = true;
                seen.state = Some(r.state.clone());
            }
            if !r.node.is_empty() {
                seen.node = Some(r.node.clone());
            }
        }
        let phase = row.map(|r| r.state.phase());
        match phase {
            Some(Phase::Pending) => {}
            Some(Phase::Running) => {
                // false: the owner cancelled it; its callback queued the scancel.
                t.future.start();
            }
            Some(Phase::Ended) | None => {
                if row.is_none() && t.submitted.elapsed() < s.config.result_grace {
                    // Not listed yet (or a listing raced the submission).
                    continue;
                }
                let ended = *seen.ended_at.get_or_insert_with(Instant::now);
                if ended.elapsed() < s.config.result_grace {
                    continue;
                }
                drop(seen);
                // One last look at the result file itself.
                match read_result(&s.dir, t.index) {
                    ResultRead::Found(r) => actions.push(Action::Finish(Arc::clone(t), r)),
                    ResultRead::Bad(why) => {
                        actions.push(Action::Fail(Arc::clone(t), bad_result(t, &why)));
                    }
                    ResultRead::Missing => actions.push(ended_without_result(s, t, row)),
                }
            }
        }
    }
    if !actions.is_empty() {
        changed = true;
        {
            let mut g = s.lock();
            for a in &actions {
                let t = match a {
                    Action::Finish(t, _) | Action::Fail(t, _) | Action::Cancel(t) => t,
                };
                g.live.remove(&t.job_id);
            }
            g.finishing += actions.len();
        }
        for a in actions {
            let t = match &a {
                Action::Finish(t, _) | Action::Fail(t, _) | Action::Cancel(t) => t,
            };
            if let Action::Finish(t, r) = &a {
                t.seen().node.get_or_insert_with(|| r.node.clone());
                // The value is in the future now: the job's files go
                // (a failed job's logs stay, for its owner to read).
                let _ = fs::remove_file(worker::task_path(&s.dir, t.index));
                let _ = fs::remove_file(worker::result_path(&s.dir, t.index));
                if matches!(r.outcome, Outcome::Ok(_)) {
                    for ext in ["out", "err"] {
                        let _ =
                            fs::remove_file(s.dir.join("logs").join(format!("{}.{ext}", t.job_id)));
                    }
                }
            }
            if t.future.has_done_callbacks() {
                // Its callbacks run where it completes: not on the poller,
                // so a callback that waits for another task of this
                // executor does not hold back the poller that completes it.
                // A callback added after this look runs on the poller.
                // If no thread can start, it completes here after all.
                let slot = Arc::new(Mutex::new(Some(a)));
                let (shared, theirs) = (Arc::clone(s), Arc::clone(&slot));
                let helper = std::thread::Builder::new()
                    .name(format!("slurm-callbacks-{}", s.name))
                    .spawn(move || {
                        SERVING.with(|c| c.set(Arc::as_ptr(&shared) as usize));
                        if let Some(a) = take_action(&theirs) {
                            complete(&shared, a);
                        }
                    });
                if helper.is_err() {
                    if let Some(a) = take_action(&slot) {
                        complete(s, a);
                    }
                }
            } else {
                complete(s, a);
            }
        }
    }
    changed
}

fn take_action(slot: &Mutex<Option<Action>>) -> Option<Action> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Carries out one decision of a round on its future (after its files were
/// dealt with), then counts it finished.
fn complete(s: &Shared, action: Action) {
    /// Counts the completion over however it ends, so `shutdown(wait)`
    /// never waits for it for ever.
    struct Over<'a>(&'a Shared);
    impl Drop for Over<'_> {
        fn drop(&mut self) {
            let mut g = self.0.lock();
            g.finishing -= 1;
            self.0.cond.notify_all();
        }
    }
    let _over = Over(s);
    match action {
        Action::Finish(t, r) => {
            let what = format!(
                "job {} (task {}, result file {})",
                t.job_id,
                t.index,
                worker::result_path(&s.dir, t.index).display()
            );
            t.future.finish(r.outcome, &what);
        }
        Action::Fail(t, e) => t.future.fail(e),
        Action::Cancel(t) => {
            t.future.cancel();
        }
    }
}

/// The decision for a job that ended (or vanished) without a result.
fn ended_without_result(s: &Shared, t: &Arc<Task>, row: Option<&QueueRow>) -> Action {
    let details = job_details(s, &t.job_id);
    let state = details
        .as_ref()
        .and_then(|d| d.state.clone())
        .or_else(|| row.map(|r| r.state.clone()))
        .unwrap_or(SlurmState::Unknown);
    // Cancelled (by someone else: ours are no longer live) before it ever
    // ran: the future is cancelled, as a cancel() would have done.
    if state == SlurmState::Cancelled && t.future.state() == FutureState::Pending {
        return Action::Cancel(Arc::clone(t));
    }
    let mut e = ClusterJobError::new(t.job_id.clone(), state.name());
    let d = details.unwrap_or_default();
    if let Some(x) = d.exit {
        e = e.with_exit(x);
    }
    let reason = d.reason.or_else(|| {
        row.map(|r| r.reason.clone())
            .filter(|r| !r.is_empty() && r != "None")
    });
    if let Some(r) = reason {
        e = e.with_reason(r);
    } else if state == SlurmState::Unknown {
        e = e.with_reason("no longer known to squeue, scontrol or sacct");
    }
    let node = d.node.or_else(|| t.seen().node.clone());
    if let Some(n) = node {
        t.seen().node = Some(n.clone());
        e = e.with_node(n);
    }
    let logs = s.dir.join("logs");
    let (out_log, err_log) = (
        logs.join(format!("{}.out", t.job_id)),
        logs.join(format!("{}.err", t.job_id)),
    );
    if state == SlurmState::Completed {
        // COMPLETED is exit status 0: the job ended as if its task had run,
        // yet left no result (it was not this program's job entry, the
        // folder it wrote to is not the one read here, ...). Say exactly
        // that, and where its output went.
        if d.exit.is_none() {
            e = e.with_exit(concurrent_futures_core::ExitCause::Code(0));
        }
        e = e.with_reason(format!(
            "the job exited with status 0 without writing its result file {} (task {}); \
             its output is in {} and {}",
            worker::result_path(&s.dir, t.index).display(),
            t.index,
            out_log.display(),
            err_log.display()
        ));
    }
    let tail = stderr_tail(&err_log);
    if !tail.is_empty() {
        e = e.with_stderr_tail(tail);
    }
    Action::Fail(Arc::clone(t), TaskError::from(e))
}

fn job_details(s: &Shared, job_id: &str) -> Option<JobDetails> {
    let from_scontrol = s
        .run(
            "scontrol",
            &["show".into(), "job".into(), "-o".into(), job_id.into()],
            None,
        )
        .ok()
        .filter(|o| o.success)
        .and_then(|o| cli::parse_scontrol(&o.stdout));
    if from_scontrol.is_some() {
        return from_scontrol;
    }
    s.run(
        "sacct",
        &[
            "-n".into(),
            "-X".into(),
            "-P".into(),
            "-j".into(),
            job_id.into(),
            "-o".into(),
            "State,ExitCode,NodeList,Reason".into(),
        ],
        None,
    )
    .ok()
    .filter(|o| o.success)
    .and_then(|o| cli::parse_sacct(&o.stdout))
}

/// The last lines (at most 2 KiB) of a job's stderr file.
fn stderr_tail(path: &Path) -> String {
    const MAX: usize = 2048;
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(MAX);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn list_results(dir: &Path) -> HashSet<u64> {
    let Ok(rd) = fs::read_dir(dir.join("results")) else {
        return HashSet::new();
    };
    rd.filter_map(|e| {
        let name = e.ok()?.file_name();
        name.to_str()?.strip_suffix(".result")?.parse().ok()
    })
    .collect()
}

/// What is in a task's result file.
enum ResultRead {
    Found(ResultFile),
    /// No file (yet).
    Missing,
    /// A file that cannot be read or is not a result file: why, with its path.
    Bad(String),
}

fn read_result(dir: &Path, index: u64) -> ResultRead {
    let path = worker::result_path(dir, index);
    match fs::read(&path) {
        Ok(bytes) => match ResultFile::from_bytes(&bytes) {
            Some(r) => ResultRead::Found(r),
            None => ResultRead::Bad(format!(
                "its result file {} is corrupt: {} bytes that are not a result file of this \
                 version (truncated, or written by something else); the file is left there",
                path.display(),
                bytes.len()
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => ResultRead::Missing,
        Err(e) => ResultRead::Bad(format!(
            "cannot read its result file {}: {e}",
            path.display()
        )),
    }
}

/// The error of a task whose result file is there but unusable.
fn bad_result(t: &Task, why: &str) -> TaskError {
    TaskError::error(format!("job {} (task {}): {why}", t.job_id, t.index))
}

#[cfg(test)]
mod tests;
