//! Errors of the pools: [`SubmitError`] when a task is refused,
//! [`BuildError`] when a pool cannot be built.

use std::fmt;
use std::io;

/// Why `submit` (or `map`) refused a task.
///
/// Python raises `RuntimeError('cannot schedule new futures after shutdown')`
/// or `BrokenExecutor`; here they are variants.
///
/// # Examples
///
/// ```
/// use concurrent_futures::SubmitError;
///
/// let err = SubmitError::Shutdown;
/// assert!(err.is_shutdown());
/// assert_eq!(err.to_string(), "cannot schedule new futures after shutdown");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// `shutdown` has begun; no new task is accepted.
    Shutdown,
    /// The executor is broken (Python's `BrokenExecutor`), e.g. because an
    /// initializer failed; `reason` says what broke it.
    Broken {
        /// What broke the executor.
        reason: String,
    },
    /// The task's argument could not be serialized for a worker process;
    /// the message is the serializer's.
    Serialize(String),
    /// `try_submit` on a pool whose queue holds `max_queued` tasks not yet
    /// started.
    Full {
        /// The pool's bound.
        max_queued: usize,
    },
    /// `submit_timeout` gave up: the queue stayed full for the whole timeout.
    Timeout {
        /// The pool's bound.
        max_queued: usize,
    },
    /// This one task was refused by the executor's backend, and the
    /// executor stays usable: a Slurm `sbatch` that failed (an unknown
    /// partition, a job limit reached), a task file that could not be
    /// written. `reason` says why, with what the backend printed.
    Rejected {
        /// Why the task was refused.
        reason: String,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown => f.write_str("cannot schedule new futures after shutdown"),
            SubmitError::Broken { reason } => write!(f, "executor is broken: {reason}"),
            SubmitError::Serialize(e) => write!(f, "cannot serialize the task's argument: {e}"),
            SubmitError::Full { max_queued } => write!(
                f,
                "the pool's queue is full ({max_queued} tasks waiting to start)"
            ),
            SubmitError::Timeout { max_queued } => write!(
                f,
                "timed out waiting for room in the pool's queue ({max_queued} tasks waiting to start)"
            ),
            SubmitError::Rejected { reason } => write!(f, "the task was rejected: {reason}"),
        }
    }
}

impl std::error::Error for SubmitError {}

impl SubmitError {
    /// A broken-executor error with this reason.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::SubmitError::broken("initializer failed");
    /// assert!(e.is_broken());
    /// assert_eq!(e.to_string(), "executor is broken: initializer failed");
    /// ```
    #[must_use]
    pub fn broken(reason: impl Into<String>) -> Self {
        SubmitError::Broken {
            reason: reason.into(),
        }
    }

    /// A rejected-task error with this reason (the executor stays usable).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::SubmitError::rejected("sbatch: error: invalid partition");
    /// assert!(e.is_rejected() && !e.is_broken());
    /// assert_eq!(e.to_string(), "the task was rejected: sbatch: error: invalid partition");
    /// ```
    #[must_use]
    pub fn rejected(reason: impl Into<String>) -> Self {
        SubmitError::Rejected {
            reason: reason.into(),
        }
    }

    /// Whether this is [`SubmitError::Rejected`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!concurrent_futures::SubmitError::Shutdown.is_rejected());
    /// ```
    #[must_use]
    pub fn is_rejected(&self) -> bool {
        matches!(self, SubmitError::Rejected { .. })
    }

    /// Whether this is [`SubmitError::Shutdown`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::SubmitError::Shutdown.is_shutdown());
    /// ```
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        matches!(self, SubmitError::Shutdown)
    }

    /// Whether this is [`SubmitError::Broken`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!concurrent_futures::SubmitError::Shutdown.is_broken());
    /// ```
    #[must_use]
    pub fn is_broken(&self) -> bool {
        matches!(self, SubmitError::Broken { .. })
    }

    /// Whether this is [`SubmitError::Serialize`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::SubmitError::Serialize("bad".into());
    /// assert!(e.is_serialize());
    /// ```
    #[must_use]
    pub fn is_serialize(&self) -> bool {
        matches!(self, SubmitError::Serialize(_))
    }

    /// Whether the queue was full: [`SubmitError::Full`] or
    /// [`SubmitError::Timeout`] (backpressure; the task may be retried).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::SubmitError::Full { max_queued: 8 };
    /// assert!(e.is_full());
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full { .. } | SubmitError::Timeout { .. })
    }

    /// The reason the executor broke, if it is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::SubmitError::broken("no threads");
    /// assert_eq!(e.broken_reason(), Some("no threads"));
    /// ```
    #[must_use]
    pub fn broken_reason(&self) -> Option<&str> {
        match self {
            SubmitError::Broken { reason } => Some(reason),
            _ => None,
        }
    }
}

/// What `shutdown_timeout` found still running when its timeout passed
/// (Java's `awaitTermination` returning `false`). The pool goes on shutting
/// down: the tasks finish, and dropping the pool still joins its threads.
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// use std::time::Duration;
///
/// let ex = ThreadPoolExecutor::new(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let started = ex.submit(move || rx.recv_timeout(Duration::from_secs(10))).unwrap();
/// while !started.running() { std::thread::yield_now(); }
/// let late = ex.shutdown_timeout(Duration::from_millis(10), false).unwrap_err();
/// assert_eq!((late.running, late.workers), (1, 1));
/// assert_eq!(late.threads.len(), 1);
/// tx.send(()).unwrap();
/// assert!(ex.shutdown_timeout(Duration::from_secs(10), false).is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownTimeout {
    /// Tasks running when the timeout passed.
    pub running: usize,
    /// Tasks queued, not yet started.
    pub queued: usize,
    /// Worker threads not yet exited.
    pub workers: usize,
    /// The names of the worker threads not yet exited.
    pub threads: Vec<String>,
}

impl fmt::Display for ShutdownTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ShutdownTimeout {
            running,
            queued,
            workers,
            threads,
        } = self;
        write!(
            f,
            "shutdown timed out: {running} tasks running and {queued} queued on {workers} worker threads {threads:?}"
        )
    }
}

impl std::error::Error for ShutdownTimeout {}

/// Why a pool could not be built.
///
/// # Examples
///
/// ```
/// use concurrent_futures::BuildError;
///
/// let err = BuildError::ZeroWorkers;
/// assert!(err.is_zero_workers());
/// assert_eq!(err.to_string(), "max_workers must be greater than 0");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_workers(0)`: a pool needs at least one worker (Python's
    /// `ValueError("max_workers must be greater than 0")`).
    ZeroWorkers,
    /// A worker thread or process could not be started.
    Spawn(io::Error),
    /// An option has a value the pool cannot use; the message says which.
    InvalidOption(String),
    /// A process pool was built in a program whose `main` did not call
    /// `process::init()` first (its workers would not know they are workers).
    NotInitialized,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("max_workers must be greater than 0"),
            BuildError::Spawn(e) => write!(f, "cannot start a worker: {e}"),
            BuildError::InvalidOption(why) => write!(f, "invalid option: {why}"),
            BuildError::NotInitialized => f.write_str(
                "process::init() was not called at the start of main; a process pool needs it",
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

impl BuildError {
    /// Whether this is [`BuildError::ZeroWorkers`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::BuildError::ZeroWorkers.is_zero_workers());
    /// ```
    #[must_use]
    pub fn is_zero_workers(&self) -> bool {
        matches!(self, BuildError::ZeroWorkers)
    }

    /// Whether a worker could not be started ([`BuildError::Spawn`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::BuildError;
    /// assert!(BuildError::Spawn(std::io::Error::other("no")).is_spawn());
    /// ```
    #[must_use]
    pub fn is_spawn(&self) -> bool {
        matches!(self, BuildError::Spawn(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_static() {
        fn check<E: std::error::Error + Send + Sync + 'static>() {}
        check::<SubmitError>();
        check::<BuildError>();
    }

    #[test]
    fn messages_are_lower_case() {
        assert_eq!(
            SubmitError::Serialize("x".into()).to_string(),
            "cannot serialize the task's argument: x"
        );
        assert!(BuildError::Spawn(io::Error::other("eagain"))
            .to_string()
            .starts_with("cannot start a worker"));
    }
}
