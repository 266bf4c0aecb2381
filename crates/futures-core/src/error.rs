//! Errors: what a future reports ([`FutureError`]), why a task failed
//! ([`TaskError`]), and misuse of the executor-implementer API
//! ([`InvalidStateError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::state::FutureState;

/// An error value as tasks return it (`Box<dyn Error + Send + Sync>`).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A task's error value as [`TaskError::Error`] keeps it: shared, so that
/// `result()` can hand out the same error again and again, as Python re-raises
/// the same exception object.
pub type SharedError = Arc<dyn StdError + Send + Sync + 'static>;

/// Why [`Future::into_result`](crate::Future::into_result) (or an owned
/// `.await`) did not take the value although the task finished: other
/// handles of the future were alive (or a done-callback of the future tried
/// to take its value). The value stays in the future for the other handles.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureError};
///
/// let f = Future::new();
/// f.set_result(String::from("x")).unwrap();
/// let keys = vec![f.clone(), f.clone()];
/// match f.into_result() {
///     Err(FutureError::NotUnique(e)) => assert_eq!(e.others(), 2),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(keys[0].result().unwrap(), "x"); // still there
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotUniqueError {
    others: usize,
    in_callback: bool,
}

impl NotUniqueError {
    /// How many other handles were alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # use concurrent_futures::{Future, FutureError};
    /// let f = Future::new();
    /// f.set_result(0).unwrap();
    /// let _g = f.clone();
    /// let Err(FutureError::NotUnique(e)) = f.into_result() else { unreachable!() };
    /// assert_eq!(e.others(), 1);
    /// ```
    #[must_use]
    pub fn others(&self) -> usize {
        self.others
    }
}

impl fmt::Display for NotUniqueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_callback {
            return f.write_str(
                "cannot take the value of a future from its own done-callback: \
                 borrow it with result() there",
            );
        }
        let (n, handles, is) = match self.others {
            1 => (1, "handle", "is"),
            n => (n, "handles", "are"),
        };
        write!(
            f,
            "cannot take the value of a future while {n} other {handles} of it {is} alive: \
             borrow it with result() or (&future).await, or drop the other handles first"
        )
    }
}

impl std::error::Error for NotUniqueError {}

/// Why `result()` (or `wait`, `as_completed`, `map`) did not give a value.
///
/// Python raises `CancelledError`, `TimeoutError` or the task's own exception;
/// here the three are variants.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureError};
/// use std::time::Duration;
///
/// let f = Future::<i32>::new();
/// let err = f.result_timeout(Duration::ZERO).unwrap_err();
/// assert!(err.is_timeout());
/// assert!(f.cancel());
/// assert!(matches!(f.result(), Err(FutureError::Cancelled)));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum FutureError {
    /// The future was cancelled (Python's `CancelledError`).
    Cancelled,
    /// The wait ran past its timeout (Python's `TimeoutError`); the future
    /// itself is untouched and may still complete.
    Timeout(TimeoutError),
    /// The task failed; the [`TaskError`] says how.
    Failed(TaskError),
    /// `into_result` (or an owned `.await`) could not take the value: other
    /// handles of the future are alive. The value stays for them.
    NotUnique(NotUniqueError),
}

impl fmt::Display for FutureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FutureError::Cancelled => f.write_str("future was cancelled"),
            FutureError::Timeout(e) => fmt::Display::fmt(e, f),
            FutureError::Failed(e) => fmt::Display::fmt(e, f),
            FutureError::NotUnique(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Transparent: the variants' errors are the error, so their sources are
/// its source.
impl StdError for FutureError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            FutureError::Cancelled => None,
            FutureError::Timeout(e) => e.source(),
            FutureError::Failed(e) => e.source(),
            FutureError::NotUnique(e) => e.source(),
        }
    }
}

impl FutureError {
    pub(crate) fn not_unique(others: usize, in_callback: bool) -> Self {
        FutureError::NotUnique(NotUniqueError {
            others,
            in_callback,
        })
    }

    /// Whether this is [`FutureError::NotUnique`]: the value was not taken
    /// because other handles of the future are alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::new();
    /// f.set_result(1).unwrap();
    /// let g = f.clone();
    /// assert!(f.into_result().unwrap_err().is_not_unique());
    /// assert_eq!(g.into_result().unwrap(), 1);
    /// ```
    #[must_use]
    pub fn is_not_unique(&self) -> bool {
        matches!(self, FutureError::NotUnique(_))
    }

    /// A timeout waiting on one future.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::FutureError::timeout().is_timeout());
    /// ```
    #[must_use]
    pub fn timeout() -> Self {
        FutureError::Timeout(TimeoutError::new(1, 1))
    }

    /// Whether this is [`FutureError::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::FutureError::Cancelled.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, FutureError::Cancelled)
    }

    /// Whether this is [`FutureError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!concurrent_futures::FutureError::Cancelled.is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, FutureError::Timeout(_))
    }

    /// Whether the task failed ([`FutureError::Failed`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{FutureError, TaskError};
    /// assert!(FutureError::from(TaskError::panic("p")).is_failed());
    /// ```
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self, FutureError::Failed(_))
    }

    /// The task's error, if the task failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{FutureError, TaskError};
    /// let e = FutureError::from(TaskError::broken("gone"));
    /// assert!(e.task_error().unwrap().is_broken());
    /// assert!(FutureError::Cancelled.task_error().is_none());
    /// ```
    #[must_use]
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            FutureError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The task's error by value, if the task failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{FutureError, TaskError};
    /// let e = FutureError::from(TaskError::panic("p")).into_task_error().unwrap();
    /// assert_eq!(e.panic_message(), Some("p"));
    /// ```
    #[must_use]
    pub fn into_task_error(self) -> Option<TaskError> {
        match self {
            FutureError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TaskError> for FutureError {
    fn from(e: TaskError) -> Self {
        FutureError::Failed(e)
    }
}

/// A wait ran out of time: how many futures were still unfinished, of how many.
///
/// Displays as `"timed out: 2 (of 4) futures unfinished"` (Python's
/// message, after the words that say what happened), or `"timed out waiting
/// for the future"` for a single future.
///
/// # Examples
///
/// ```
/// use concurrent_futures::TimeoutError;
/// assert_eq!(TimeoutError::new(2, 4).to_string(), "timed out: 2 (of 4) futures unfinished");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeoutError {
    unfinished: usize,
    total: usize,
}

impl TimeoutError {
    /// `unfinished` of `total` futures were not done when time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = concurrent_futures::TimeoutError::new(2, 4);
    /// assert_eq!((t.unfinished(), t.total()), (2, 4));
    /// ```
    #[must_use]
    pub fn new(unfinished: usize, total: usize) -> Self {
        TimeoutError { unfinished, total }
    }

    /// How many futures were unfinished.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::TimeoutError::new(1, 3).unfinished(), 1);
    /// ```
    #[must_use]
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// How many futures were waited on.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::TimeoutError::new(1, 3).total(), 3);
    /// ```
    #[must_use]
    pub fn total(&self) -> usize {
        self.total
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total == 1 && self.unfinished == 1 {
            f.write_str("timed out waiting for the future")
        } else {
            write!(
                f,
                "timed out: {} (of {}) futures unfinished",
                self.unfinished, self.total
            )
        }
    }
}

impl StdError for TimeoutError {}

/// How a worker process ended.
///
/// # Examples
///
/// ```
/// use concurrent_futures::ExitCause;
/// assert_eq!(ExitCause::Signal(9).to_string(), "killed by signal 9 (SIGKILL)");
/// assert_eq!(ExitCause::Code(3).to_string(), "exited with code 3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitCause {
    /// The process exited with this code (0 included: a worker must never exit
    /// while it holds a task).
    Code(i32),
    /// The process was killed by this signal.
    Signal(i32),
    /// The exit status could not be read.
    Unknown,
    /// The process ended, but its exit status is gone: this process ignores
    /// `SIGCHLD` (`SIG_IGN`, or `SA_NOCLDWAIT` set), so the kernel reaped the
    /// worker itself and `waitpid` had nothing to report.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ExitCause;
    /// assert!(ExitCause::SigchldIgnored.to_string().contains("SIGCHLD is ignored"));
    /// ```
    SigchldIgnored,
}

impl fmt::Display for ExitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitCause::Code(c) => write!(f, "exited with code {c}"),
            ExitCause::Signal(s) => match signal_name(s) {
                Some(name) => write!(f, "killed by signal {s} ({name})"),
                None => write!(f, "killed by signal {s}"),
            },
            ExitCause::Unknown => f.write_str("ended for an unknown reason"),
            ExitCause::SigchldIgnored => f.write_str(
                "ended (its exit status is unavailable because SIGCHLD is ignored in this process)",
            ),
        }
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Why a task failed: the exception of a failed future.
///
/// Each failed future owns its own `TaskError` (CPython shared one exception
/// object between futures until gh-139462).
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, TaskError};
///
/// let f = Future::<()>::new();
/// f.set_exception(TaskError::panic("boom")).unwrap();
/// let e = f.exception().unwrap().unwrap();
/// assert_eq!(e.panic_message(), Some("boom"));
/// assert_eq!(e.to_string(), "task panicked: boom");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the panic's message is kept.
    Panicked {
        /// The panic's message (`"<non-string panic payload>"` when it had none).
        message: String,
    },
    /// The task returned an error (`submit_fallible`), kept as it was.
    Error(SharedError),
    /// The executor broke before the task could run (Python's `BrokenExecutor`).
    Broken {
        /// What broke it, e.g. what a failing initializer reported.
        reason: String,
    },
    /// The worker process running the task died.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// Its exit code or signal.
        cause: ExitCause,
    },
    /// The task ran past its time limit and was killed with its worker.
    TimeLimit {
        /// The limit the task ran past.
        limit: Duration,
        /// The worker process that was killed.
        pid: u32,
    },
    /// A cluster job (Slurm) that ran the task ended without a result.
    ClusterJob(Box<ClusterJobError>),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "task panicked: {message}"),
            TaskError::Error(e) => write!(f, "task failed: {e}"),
            TaskError::Broken { reason } => write!(f, "executor is broken: {reason}"),
            TaskError::WorkerDied { pid, cause } => {
                write!(f, "worker process {pid} {cause} while running the task")
            }
            TaskError::TimeLimit { limit, pid } => write!(
                f,
                "task ran past its time limit of {limit:?} and was killed (worker process {pid})"
            ),
            TaskError::ClusterJob(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TaskError::Error(e) => Some(e),
            _ => None,
        }
    }
}

impl TaskError {
    /// A panic with this message.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::TaskError::panic("index out of range");
    /// assert_eq!(e.to_string(), "task panicked: index out of range");
    /// ```
    #[must_use]
    pub fn panic(message: impl Into<String>) -> Self {
        TaskError::Panicked {
            message: message.into(),
        }
    }

    /// A panic, from the payload `catch_unwind` returned.
    ///
    /// # Examples
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let e = concurrent_futures::TaskError::from_panic(payload);
    /// assert_eq!(e.panic_message(), Some("boom"));
    /// ```
    #[must_use]
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        TaskError::panic(crate::unwind::payload_message(payload))
    }

    /// An error value returned by the task.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::TaskError::error("not a number");
    /// assert!(e.is_error());
    /// assert_eq!(e.to_string(), "task failed: not a number");
    /// ```
    #[must_use]
    pub fn error(e: impl Into<BoxError>) -> Self {
        TaskError::Error(Arc::from(e.into()))
    }

    /// The executor is broken for this reason.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::TaskError::broken("initializer failed: no database");
    /// assert!(e.is_broken() && e.to_string().contains("no database"));
    /// ```
    #[must_use]
    pub fn broken(reason: impl Into<String>) -> Self {
        TaskError::Broken {
            reason: reason.into(),
        }
    }

    /// Whether the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::TaskError::panic("p").is_panic());
    /// ```
    #[must_use]
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked { .. })
    }

    /// The panic's message, if the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::TaskError;
    /// assert_eq!(TaskError::panic("p").panic_message(), Some("p"));
    /// assert_eq!(TaskError::broken("b").panic_message(), None);
    /// ```
    #[must_use]
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked { message } => Some(message),
            _ => None,
        }
    }

    /// Whether the task returned an error value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::TaskError::error("e").is_error());
    /// ```
    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self, TaskError::Error(_))
    }

    /// The task's error value as `E`, if it returned one of that type.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::TaskError;
    /// let e = TaskError::error("x".parse::<u32>().unwrap_err());
    /// assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
    /// assert!(e.downcast_ref::<std::io::Error>().is_none());
    /// ```
    #[must_use]
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            TaskError::Error(e) => (**e).downcast_ref(),
            _ => None,
        }
    }

    /// Whether the executor was broken.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::TaskError::broken("b").is_broken());
    /// ```
    #[must_use]
    pub fn is_broken(&self) -> bool {
        matches!(self, TaskError::Broken { .. })
    }

    /// Whether the worker process died.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{ExitCause, TaskError};
    /// let e = TaskError::WorkerDied { pid: 42, cause: ExitCause::Signal(9) };
    /// assert!(e.is_worker_died());
    /// assert_eq!(e.to_string(), "worker process 42 killed by signal 9 (SIGKILL) while running the task");
    /// ```
    #[must_use]
    pub fn is_worker_died(&self) -> bool {
        matches!(self, TaskError::WorkerDied { .. })
    }

    /// A short name of the kind of failure, used by `Future`'s `Debug`
    /// (`"panic"`, `"error"`, `"broken executor"`, `"worker died"`,
    /// `"time limit"`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::TaskError::panic("p").kind(), "panic");
    /// ```
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            TaskError::Panicked { .. } => "panic",
            TaskError::Error(_) => "error",
            TaskError::Broken { .. } => "broken executor",
            TaskError::WorkerDied { .. } => "worker died",
            TaskError::TimeLimit { .. } => "time limit",
            TaskError::ClusterJob(_) => "cluster job failed",
        }
    }

    /// Whether the task ran past its time limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::TaskError;
    /// use std::time::Duration;
    /// let e = TaskError::TimeLimit { limit: Duration::from_secs(1), pid: 7 };
    /// assert!(e.is_time_limit());
    /// ```
    #[must_use]
    pub fn is_time_limit(&self) -> bool {
        matches!(self, TaskError::TimeLimit { .. })
    }
}

/// How a cluster job that ran a task ended without a result: what the
/// scheduler (Slurm) reported for it, and the tail of its standard error.
///
/// Built by the Slurm executors; [`TaskError::ClusterJob`] carries it.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{ClusterJobError, ExitCause, TaskError};
///
/// let e = ClusterJobError::new("4242_7", "FAILED")
///     .with_exit(ExitCause::Signal(11))
///     .with_reason("JobLaunchFailure")
///     .with_node("node17")
///     .with_stderr_tail("Segmentation fault");
/// assert_eq!(e.job_id(), "4242_7");
/// assert_eq!(e.state(), "FAILED");
/// assert_eq!(e.exit(), Some(ExitCause::Signal(11)));
/// let t = TaskError::from(e);
/// assert!(t.is_cluster_job());
/// assert_eq!(
///     t.to_string(),
///     "cluster job 4242_7 on node17 ended FAILED, killed by signal 11 (SIGSEGV) \
///      (reason: JobLaunchFailure); stderr: Segmentation fault"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterJobError {
    job_id: String,
    state: String,
    exit: Option<ExitCause>,
    reason: Option<String>,
    node: Option<String>,
    stderr_tail: String,
}

impl ClusterJobError {
    /// The job `job_id` (`"1234"`, or `"1234_5"` for an array task) ended in
    /// the scheduler's `state` (`"FAILED"`, `"TIMEOUT"`, `"NODE_FAIL"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::ClusterJobError::new("7", "NODE_FAIL");
    /// assert_eq!(e.to_string(), "cluster job 7 ended NODE_FAIL");
    /// ```
    #[must_use]
    pub fn new(job_id: impl Into<String>, state: impl Into<String>) -> Self {
        ClusterJobError {
            job_id: job_id.into(),
            state: state.into(),
            exit: None,
            reason: None,
            node: None,
            stderr_tail: String::new(),
        }
    }

    /// With the job's exit code or signal.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{ClusterJobError, ExitCause};
    /// let e = ClusterJobError::new("7", "FAILED").with_exit(ExitCause::Code(3));
    /// assert_eq!(e.exit(), Some(ExitCause::Code(3)));
    /// ```
    #[must_use]
    pub fn with_exit(mut self, exit: ExitCause) -> Self {
        self.exit = Some(exit);
        self
    }

    /// With the scheduler's reason (`"NonZeroExitCode"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::ClusterJobError::new("7", "FAILED").with_reason("NonZeroExitCode");
    /// assert_eq!(e.reason(), Some("NonZeroExitCode"));
    /// ```
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// With the node the job ran on.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::ClusterJobError::new("7", "FAILED").with_node("n1");
    /// assert_eq!(e.node(), Some("n1"));
    /// ```
    #[must_use]
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// With the last lines of the job's standard error.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = concurrent_futures::ClusterJobError::new("7", "FAILED").with_stderr_tail("oops");
    /// assert_eq!(e.stderr_tail(), "oops");
    /// ```
    #[must_use]
    pub fn with_stderr_tail(mut self, tail: impl Into<String>) -> Self {
        self.stderr_tail = tail.into();
        self
    }

    /// The job's id (`"1234"`, or `"1234_5"` for an array task).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9_1", "FAILED").job_id(), "9_1");
    /// ```
    #[must_use]
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The scheduler's final state of the job.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9", "TIMEOUT").state(), "TIMEOUT");
    /// ```
    #[must_use]
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The job's exit code or signal, if the scheduler reported one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9", "FAILED").exit(), None);
    /// ```
    #[must_use]
    pub fn exit(&self) -> Option<ExitCause> {
        self.exit
    }

    /// The scheduler's reason, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9", "FAILED").reason(), None);
    /// ```
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The node the job ran on, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9", "FAILED").node(), None);
    /// ```
    #[must_use]
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The tail of the job's standard error (empty if none was found).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::ClusterJobError::new("9", "FAILED").stderr_tail(), "");
    /// ```
    #[must_use]
    pub fn stderr_tail(&self) -> &str {
        &self.stderr_tail
    }
}

impl fmt::Display for ClusterJobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster job {}", self.job_id)?;
        if let Some(node) = &self.node {
            write!(f, " on {node}")?;
        }
        write!(f, " ended {}", self.state)?;
        if let Some(exit) = self.exit {
            write!(f, ", {exit}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " (reason: {reason})")?;
        }
        if !self.stderr_tail.is_empty() {
            write!(f, "; stderr: {}", self.stderr_tail)?;
        }
        Ok(())
    }
}

impl StdError for ClusterJobError {}

impl From<ClusterJobError> for TaskError {
    fn from(e: ClusterJobError) -> Self {
        TaskError::ClusterJob(Box::new(e))
    }
}

impl TaskError {
    /// Whether a cluster job ended without a result
    /// ([`TaskError::ClusterJob`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{ClusterJobError, TaskError};
    /// assert!(TaskError::from(ClusterJobError::new("1", "FAILED")).is_cluster_job());
    /// assert!(!TaskError::panic("p").is_cluster_job());
    /// ```
    #[must_use]
    pub fn is_cluster_job(&self) -> bool {
        matches!(self, TaskError::ClusterJob(_))
    }

    /// The cluster job's details, if a cluster job failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{ClusterJobError, TaskError};
    /// let e = TaskError::from(ClusterJobError::new("1", "TIMEOUT"));
    /// assert_eq!(e.cluster_job().unwrap().state(), "TIMEOUT");
    /// ```
    #[must_use]
    pub fn cluster_job(&self) -> Option<&ClusterJobError> {
        match self {
            TaskError::ClusterJob(e) => Some(e),
            _ => None,
        }
    }
}

/// A misuse of the executor-implementer API: a second `set_result`, a set
/// after `cancel`, a second `set_running_or_notify_cancel`.
///
/// Python raises `InvalidStateError` (or `RuntimeError`); nothing is
/// overwritten and nothing panics.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureState};
///
/// let f = Future::new();
/// f.set_result(1).unwrap();
/// let e = f.set_result(2).unwrap_err();
/// assert_eq!(e.state(), FutureState::Finished);
/// assert_eq!(e.to_string(), "invalid state: cannot set_result on a finished future");
/// assert_eq!(*f.result().unwrap(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidStateError {
    state: FutureState,
    operation: &'static str,
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InvalidStateError { state, operation } = self;
        write!(f, "invalid state: cannot {operation} on a {state} future")
    }
}

impl StdError for InvalidStateError {}

impl InvalidStateError {
    pub(crate) fn new(state: FutureState, operation: &'static str) -> Self {
        InvalidStateError { state, operation }
    }

    /// The state the future was in.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Future, FutureState};
    /// let f = Future::<()>::new();
    /// f.cancel();
    /// assert_eq!(f.set_result(()).unwrap_err().state(), FutureState::Cancelled);
    /// ```
    #[must_use]
    pub fn state(&self) -> FutureState {
        self.state
    }

    /// The operation that was refused (`"set_result"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::<()>::new();
    /// f.set_result(()).unwrap();
    /// assert_eq!(f.set_exception(concurrent_futures::TaskError::panic("p")).unwrap_err().operation(), "set_exception");
    /// ```
    #[must_use]
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_static() {
        fn check<E: StdError + Send + Sync + 'static>() {}
        check::<FutureError>();
        check::<TaskError>();
        check::<InvalidStateError>();
        check::<TimeoutError>();
    }

    #[test]
    fn messages() {
        assert_eq!(FutureError::Cancelled.to_string(), "future was cancelled");
        assert_eq!(
            FutureError::timeout().to_string(),
            "timed out waiting for the future"
        );
        let died = TaskError::WorkerDied {
            pid: 42,
            cause: ExitCause::Signal(11),
        };
        assert_eq!(
            died.to_string(),
            "worker process 42 killed by signal 11 (SIGSEGV) while running the task"
        );
        assert!(TaskError::broken("init failed")
            .to_string()
            .contains("init failed"));
    }

    #[test]
    fn source_and_downcast() {
        let e = TaskError::error(std::io::Error::other("disk"));
        assert!(e.source().is_some());
        assert_eq!(
            e.downcast_ref::<std::io::Error>().unwrap().to_string(),
            "disk"
        );
        let fe = FutureError::from(e);
        assert!(fe.is_failed() && fe.task_error().unwrap().is_error());
    }
}
