//! Python's `concurrent.futures`, in Rust: [`Future`], executors, `wait` and
//! `as_completed`, and the `threading` primitives `std` lacks.
//!
//! This is the one dependency users add; it re-exports the workspace's
//! crates (`concurrent-futures-core`, `-pool`, `-wait`).
//!
//! # A tour
//!
//! ```
//! use concurrent_futures::Future;
//!
//! let fut = Future::new();
//! let worker = fut.clone();
//! std::thread::spawn(move || worker.run(|| "hello from a worker".len()));
//! assert_eq!(fut.into_result().unwrap(), 19);
//! ```

pub use concurrent_futures_core::{
    panic_message, BoxError, Completion, ExitCause, Future, FutureError, FutureState,
    InvalidStateError, RefResultFuture, ResultFuture, SharedError, TaskError, TimeoutError,
    Waitable, Waiter,
};
pub use concurrent_futures_wait::{
    as_completed, as_completed_any, wait, wait_any, AsCompleted, AsCompletedAny, DoneAndNotDone,
    DoneAndNotDoneIndices, ReturnWhen,
};

pub use concurrent_futures_pool::{
    BuildError, Executor, Map, MapOptions, PoolStats, Scope, SubmitError, ThreadPoolBuilder,
    ThreadPoolExecutor,
};

/// Python's `threading` primitives `std` lacks: `Event`, `Semaphore`,
/// `BoundedSemaphore`, `Barrier`, `Timer`.
pub use concurrent_futures_core::sync;

/// The process pool: `process::init()` (first line of `main`),
/// [`ProcessPoolExecutor`] and its errors.
#[cfg(target_os = "linux")]
pub use concurrent_futures_pool::process;
#[cfg(target_os = "linux")]
pub use concurrent_futures_pool::{ProcessPoolBuilder, ProcessPoolExecutor};

/// The README's examples, run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The Python migration guide's examples, run as doctests so they match the code.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/python-migration.md")]
pub struct MigrationGuideDoctests;
