//! The `tracing` events of the workspace's executors, in one place.
//!
//! With the `tracing` feature every function here emits one event with
//! target `concurrent_futures` (filter with
//! `RUST_LOG=concurrent_futures=debug` and `tracing-subscriber`'s
//! `EnvFilter`, or by target in any subscriber); without it each is an
//! empty inline function, so call sites need no `cfg`. A [`Future`] emits
//! its own start, finish and cancel events; executors built on this crate
//! may call the others, so their events look like ours.
//!
//! | event | level | fields |
//! |---|---|---|
//! | a task submitted | `DEBUG` | `executor`, `future` |
//! | a task started (`set_running_or_notify_cancel` said run) | `TRACE` | `future` |
//! | a task finished (`returned`, `failed`) | `TRACE` | `future`, `outcome` |
//! | a future cancelled | `DEBUG` | `future` |
//! | a worker started | `DEBUG` | `executor`, `worker` |
//! | a worker died (a process killed, a thread lost) | `WARN` | `executor`, `worker`, `cause` |
//! | a dead or retired worker replaced | `INFO` | `executor`, `worker` |
//!
//! `future` is the future's identity (the address of its shared state, as
//! its `Hash` uses), so a task's events can be followed from submit to
//! finish. [`task_span`] gives a span per task run, entered by the worker
//! that runs it.
//!
//! # Examples
//!
//! ```
//! use concurrent_futures::trace;
//! // An executor of one's own, reporting like the built-in ones:
//! use concurrent_futures::Future;
//! let f = Future::<u8>::new();
//! trace::submitted("my-executor", &f);
//! trace::worker_spawned("my-executor", 0);
//! let _span = trace::task_span(&f);
//! f.run(|| 7);
//! ```

use crate::Future;

#[cfg(feature = "tracing")]
macro_rules! event {
    ($level:ident, $($rest:tt)*) => {
        tracing::event!(target: "concurrent_futures", tracing::Level::$level, $($rest)*)
    };
}

/// A task was submitted to `executor`; `future` is the future it returned.
#[inline]
pub fn submitted<T>(executor: &'static str, future: &Future<T>) {
    #[cfg(feature = "tracing")]
    event!(DEBUG, executor, future = %Id(future.id()), "task submitted");
    let _ = (executor, future);
}

/// The task of `future` started running.
#[inline]
pub(crate) fn started(future: usize) {
    #[cfg(feature = "tracing")]
    event!(TRACE, future = %Id(future), "task started");
    let _ = future;
}

/// The task of `future` ended: `outcome` is `"returned"` or `"failed"`.
#[inline]
pub(crate) fn finished(future: usize, outcome: &'static str) {
    #[cfg(feature = "tracing")]
    event!(TRACE, future = %Id(future), outcome, "task finished");
    let _ = (future, outcome);
}

/// `future` was cancelled before its task ran.
#[inline]
pub(crate) fn cancelled(future: usize) {
    #[cfg(feature = "tracing")]
    event!(DEBUG, future = %Id(future), "future cancelled");
    let _ = future;
}

/// A worker of `executor` started: `worker` is a thread's index in its
/// pool, or a worker process's pid.
#[inline]
pub fn worker_spawned(executor: &'static str, worker: usize) {
    #[cfg(feature = "tracing")]
    event!(DEBUG, executor, worker, "worker started");
    let _ = (executor, worker);
}

/// Worker `worker` of `executor` (an index or a pid) died of `cause`.
#[inline]
pub fn worker_died(executor: &'static str, worker: usize, cause: &dyn std::fmt::Display) {
    #[cfg(feature = "tracing")]
    event!(WARN, executor, worker, cause = %cause, "worker died");
    let _ = (executor, worker, cause);
}

/// A dead or retired worker of `executor` was replaced by `worker` (an
/// index or a pid).
#[inline]
pub fn worker_replaced(executor: &'static str, worker: usize) {
    #[cfg(feature = "tracing")]
    event!(INFO, executor, worker, "worker replaced");
    let _ = (executor, worker);
}

/// An entered span for one run of the task of `future`, closed when the
/// guard drops (a unit struct without the `tracing` feature). A
/// [`Task`](crate::Task) runs its closure in one.
#[inline]
pub fn task_span<T>(future: &Future<T>) -> TaskSpan {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::span!(
            target: "concurrent_futures",
            tracing::Level::TRACE,
            "task",
            future = %Id(future.id())
        );
        TaskSpan {
            _entered: span.entered(),
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = future;
        TaskSpan { _entered: () }
    }
}

/// The guard [`task_span`] returns: the span is left when it drops.
#[derive(Debug)]
#[must_use = "the span closes when the guard drops"]
pub struct TaskSpan {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
    #[cfg(not(feature = "tracing"))]
    _entered: (),
}

/// A future's identity, printed in hex like a pointer.
#[cfg(feature = "tracing")]
struct Id(usize);

#[cfg(feature = "tracing")]
impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
