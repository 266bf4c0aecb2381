//! [`ProcessPoolBuilder`]: Python's `ProcessPoolExecutor(max_workers,
//! initializer, initargs, max_tasks_per_child)` options, plus per-task time limits and
//! the frame size limit.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::code::{self, RemoteFn};
use super::codec::{self, SerdeStage};
use super::dispatcher::{Config, Pool};
use super::launcher::Launcher;
use super::worker::SpawnConfig;
use super::ProcessPoolExecutor;
use crate::error::BuildError;

/// The default limit on one frame's payload: 1 GiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1 << 30;

/// Builds a [`ProcessPoolExecutor`] (from
/// [`ProcessPoolExecutor::builder`]).
///
/// # Examples
///
/// ```no_run
/// use concurrent_futures::process::{self, ProcessPoolExecutor};
/// use std::time::Duration;
///
/// fn main() {
///     process::init();
///     let ex = ProcessPoolExecutor::builder()
///         .max_workers(4)
///         .max_tasks_per_child(100)
///         .task_timeout(Duration::from_secs(60))
///         .build()
///         .unwrap();
///     ex.shutdown(true, false);
/// }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct ProcessPoolBuilder {
    max_workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    task_timeout: Option<Duration>,
    max_frame_size: usize,
    /// The initializer, its trampoline, and its encoded argument (or why it
    /// could not be encoded).
    init: Option<(usize, code::InitTrampoline, Result<Vec<u8>, String>)>,
    launcher: Launcher,
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            max_workers: None,
            max_tasks_per_child: None,
            task_timeout: None,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            init: None,
            launcher: Launcher::local(),
        }
    }
}

impl ProcessPoolBuilder {
    /// The number of worker processes (default: the number of CPUs, as
    /// Python's `os.process_cpu_count()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder().max_workers(2);
    /// # let _ = b;
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Replaces each worker after it ran `n` tasks (Python's
    /// `max_tasks_per_child`). Live processes are counted, so the pool never
    /// waits for a worker that is not there (CPython gh-115634).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder().max_tasks_per_child(1);
    /// # let _ = b;
    /// ```
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }

    /// A time limit for every task, counted from when a worker takes it. A
    /// task past its limit is killed with its worker (`SIGKILL`) and fails
    /// with `TaskError::TimeLimit`; a new worker takes over.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder()
    ///     .task_timeout(Duration::from_secs(30));
    /// # let _ = b;
    /// ```
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }

    /// The largest frame (encoded argument or result) either side accepts;
    /// default [`DEFAULT_MAX_FRAME_SIZE`]. A larger argument is refused at
    /// submit, a larger result fails its task.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder()
    ///     .max_frame_size(64 << 20);
    /// # let _ = b;
    /// ```
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// A function each worker runs once before its first task (Python's
    /// `initializer`). If it panics, the pool breaks as in Python: queued
    /// futures fail with `TaskError::Broken` and `submit` returns
    /// `SubmitError::Broken`.
    ///
    /// # Examples
    ///
    /// ```
    /// fn setup() {}
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder().initializer(setup);
    /// # let _ = b;
    /// ```
    pub fn initializer(mut self, f: fn()) -> Self {
        self.init = Some((f as usize, code::init_plain, Ok(Vec::new())));
        self
    }

    /// Like [`initializer`](Self::initializer) for an initializer that can
    /// fail: `Err(message)` breaks the pool with that message.
    ///
    /// # Examples
    ///
    /// ```
    /// fn setup() -> Result<(), String> {
    ///     Ok(())
    /// }
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder().try_initializer(setup);
    /// # let _ = b;
    /// ```
    pub fn try_initializer(mut self, f: fn() -> Result<(), String>) -> Self {
        self.init = Some((f as usize, code::init_fallible, Ok(Vec::new())));
        self
    }

    /// An initializer that takes an argument (Python's `initializer` with
    /// `initargs`): `arg` is serialized now and decoded in each worker.
    /// A panic breaks the pool, as with [`initializer`](Self::initializer).
    ///
    /// # Examples
    ///
    /// ```
    /// fn connect(url: String) {
    ///     let _ = url;
    /// }
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder()
    ///     .initializer_with(connect, "db://localhost".to_owned());
    /// # let _ = b;
    /// ```
    pub fn initializer_with<A>(mut self, f: fn(A), arg: A) -> Self
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        let mut bytes = Vec::new();
        let encoded = codec::encode_into(&arg, &mut bytes, SerdeStage::ArgumentEncode)
            .map(|()| bytes)
            .map_err(|e| e.to_string());
        let t: code::InitTrampoline = code::init_with::<A>;
        self.init = Some((f as usize, t, encoded));
        self
    }

    /// How workers are started: [`Launcher::local`] (the default) or
    /// [`Launcher::srun`], one Slurm job step per worker (see
    /// [`launcher`](super::launcher)). Everything else about the pool stays
    /// as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{launcher::Launcher, ProcessPoolExecutor};
    /// let b = ProcessPoolExecutor::builder().launcher(Launcher::srun().partition("debug"));
    /// # let _ = b;
    /// ```
    pub fn launcher(mut self, launcher: Launcher) -> Self {
        self.launcher = launcher;
        self
    }

    /// Builds the pool. No process starts until the first task.
    ///
    /// # Errors
    ///
    /// [`BuildError::NotInitialized`] if `process::init()` was not called
    /// (workers would not know they are workers);
    /// [`BuildError::ZeroWorkers`] for `max_workers(0)`;
    /// [`BuildError::InvalidOption`] for `max_tasks_per_child(0)`, a frame
    /// limit of 0 or over `u32::MAX`, an initializer outside the
    /// executable's image, or an initializer argument that failed to
    /// serialize.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::builder().max_workers(2).build().unwrap();
    ///     # drop(ex);
    /// }
    /// ```
    pub fn build(self) -> Result<ProcessPoolExecutor, BuildError> {
        if !super::init_was_called() {
            return Err(BuildError::NotInitialized);
        }
        let max_workers = self.max_workers.unwrap_or_else(num_cpus::get);
        if max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::InvalidOption(
                "max_tasks_per_child must be >= 1".into(),
            ));
        }
        if self.max_frame_size == 0 || u32::try_from(self.max_frame_size).is_err() {
            return Err(BuildError::InvalidOption(
                "max_frame_size must be between 1 and u32::MAX".into(),
            ));
        }
        let (init, init_arg): (Option<RemoteFn>, Vec<u8>) = match self.init {
            None => (None, Vec::new()),
            Some((f, t, arg)) => {
                let rf = code::remote_init(f, t).ok_or_else(|| {
                    BuildError::InvalidOption(
                        "the initializer is not in the executable's image".into(),
                    )
                })?;
                let arg = arg.map_err(|e| {
                    BuildError::InvalidOption(format!("the initializer's argument: {e}"))
                })?;
                // Every worker reads it in one frame: one it cannot read
                // would break the pool at its first start instead.
                if arg.len() > self.max_frame_size {
                    return Err(BuildError::InvalidOption(format!(
                        "the initializer's argument is {} bytes encoded, over max_frame_size ({} bytes)",
                        arg.len(),
                        self.max_frame_size
                    )));
                }
                (Some(rf), arg)
            }
        };
        let config = Config {
            max_workers,
            max_tasks_per_child: self.max_tasks_per_child,
            task_timeout: self.task_timeout,
            spawn: SpawnConfig {
                max_frame: self.max_frame_size,
                init,
                init_arg: init_arg.into(),
                launcher: self.launcher,
            },
        };
        Ok(ProcessPoolExecutor {
            pool: Pool::new(config),
        })
    }
}
