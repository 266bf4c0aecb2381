//! [`ProcessPoolExecutor`]: Python's process pool, on worker processes that
//! are re-executions of the current binary.
//!
//! # The model
//!
//! * [`init()`] is the first line of `main` (Python's
//!   `if __name__ == "__main__":` guard). In a worker it serves tasks and
//!   never returns; in the parent it returns at once. Building a pool
//!   without it is [`BuildError::NotInitialized`].
//! * Workers exec the parent's own image (`/proc/self/exe`, never `fork`),
//!   and check before running anything that they are that image (see
//!   `docs/process-pool.md`).
//! * Tasks are plain functions `fn(A) -> R` with serde argument and result;
//!   they cross the boundary as code offsets, the values as MessagePack bytes,
//!   on a private socket (a task may print freely: its stdout and stderr are
//!   the parent's).
//! * A worker holds one task at a time; queued tasks stay `Pending` and
//!   cancellable.
//! * A worker that dies fails only its task (`TaskError::WorkerDied` with
//!   the pid and exit code or signal) and is replaced. A task past its time
//!   limit is killed with its worker (`TaskError::TimeLimit`). A panic is
//!   `TaskError::Panicked` and the worker goes on.
//! * Workers exit when the pool is dropped, and when the parent dies, even
//!   by `SIGKILL` (parent-death signal).
//!
//! # Examples
//!
//! ```
//! use concurrent_futures::process::{self, ProcessPoolExecutor};
//!
//! fn count_primes(n: u64) -> usize {
//!     (2..n).filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0)).count()
//! }
//!
//! fn main() {
//!     process::init(); // first: a worker serves here and never returns
//!     let ex = ProcessPoolExecutor::new(2).unwrap();
//!     let f = ex.submit(count_primes, 10_000).unwrap();
//!     assert_eq!(f.into_result().unwrap(), 1229);
//!     let squares = ex.map(|x: u32| x * x, 0..5).unwrap().into_result().unwrap();
//!     assert_eq!(squares, [0, 1, 4, 9, 16]);
//! }
//! ```

// The examples show `fn main` on purpose: `init()` must be its first line.
#![allow(clippy::needless_doctest_main)]

mod builder;
mod chunk;
mod code;
mod codec;
mod dispatcher;
mod job;
pub mod launcher;
mod protocol;
pub mod testing;
mod worker;
mod worker_main;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concurrent_futures_core::{Completer, Future};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use builder::{ProcessPoolBuilder, DEFAULT_MAX_FRAME_SIZE};
pub use codec::{SerdeError, SerdeStage};
pub use protocol::ProtocolError;

/// The protocol decoders' fuzz entry points (`fuzz/`); not a public API.
#[doc(hidden)]
pub use protocol::fuzz_entry as __fuzz;

/// The pool's codec for the Slurm backend's files; not a public API.
#[doc(hidden)]
pub use codec::external as __codec;

use crate::error::{BuildError, SubmitError};
use crate::executor::Executor;
use crate::map::{Map, MapOptions, Slot, Source};
use code::RemoteFn;
use dispatcher::Pool;
use job::{Chunk, Job, One, Sink};

static INIT_CALLED: AtomicBool = AtomicBool::new(false);

/// Call this first in `main`. In a worker process started by a
/// [`ProcessPoolExecutor`] it serves tasks and never returns; in any other
/// process it records that it was called and returns at once.
///
/// Code before it runs in every worker too, so nothing should come before
/// it (Python's `if __name__ == "__main__":` guard, the other way round).
///
/// A task may build a pool of its own: in a worker, `init()` has been
/// called, and the nested pool's workers are that worker's children.
///
/// # Panics
///
/// If called on a thread other than the process's main thread, e.g. in an
/// ordinary `#[test]` (libtest runs each test on a thread of its own, and a
/// worker re-executing the test binary would run the whole suite instead
/// of serving). Test process-pool code with a `harness = false` test and
/// [`testing::main`] (or [`process_test_main!`](crate::process_test_main)).
///
/// # Examples
///
/// ```
/// fn main() {
///     concurrent_futures::process::init();
///     // ... the program, which may build process pools
/// }
/// ```
pub fn init() {
    assert!(
        on_main_thread(),
        "process::init() must be the first line of `main`, on the main thread; it was \
         called on thread {:?}, as in an ordinary #[test] (libtest runs tests on threads \
         of their own, and a worker re-running the test binary would run the whole suite). \
         Test process pools in a `harness = false` test whose `main` is \
         `concurrent_futures_pool::process::testing::main(&[...])`",
        std::thread::current().name().unwrap_or("<unnamed>")
    );
    // In a worker, tasks may build pools of their own (nested pools): the
    // flag is set before serving.
    INIT_CALLED.store(true, Ordering::Release);
    launcher::run_entry_if_requested();
    worker_main::serve_if_worker();
}

/// Whether the calling thread is the process's main thread (its thread id
/// is the process id).
fn on_main_thread() -> bool {
    // SAFETY: gettid and getpid take no arguments and touch no memory.
    unsafe { libc::syscall(libc::SYS_gettid) == libc::c_long::from(libc::getpid()) }
}

pub(crate) fn init_was_called() -> bool {
    INIT_CALLED.load(Ordering::Acquire)
}

/// Whether [`init()`] was called in this process (and returned: this is not
/// a worker). Executors outside this crate that run this binary elsewhere
/// check it, as [`ProcessPoolExecutor`] does.
///
/// # Examples
///
/// ```
/// // This doctest did not call `process::init()`:
/// assert!(!concurrent_futures::process::initialized());
/// ```
#[must_use]
pub fn initialized() -> bool {
    init_was_called()
}

/// A pool of worker processes (Python's `ProcessPoolExecutor`).
///
/// Tasks are plain functions (`fn` items, or closures that capture nothing)
/// with serde argument and result types. See the [module docs](self) for
/// the model and `docs/process-pool.md` for the protocol.
///
/// Dropping the pool is `shutdown(true, false)`: queued tasks run, then the
/// workers exit and are reaped.
///
/// # Examples
///
/// ```
/// use concurrent_futures::process::{self, ProcessPoolExecutor};
/// use concurrent_futures::TaskError;
///
/// fn checked_div((a, b): (i64, i64)) -> i64 {
///     a / b
/// }
///
/// fn main() {
///     process::init();
///     let ex = ProcessPoolExecutor::new(1).unwrap();
///     assert_eq!(ex.submit(checked_div, (7, 2)).unwrap().into_result().unwrap(), 3);
///     let err = ex.submit(checked_div, (1, 0)).unwrap().into_result().unwrap_err();
///     assert!(err.task_error().unwrap().is_panic());
///     // The worker survived the panic.
///     assert_eq!(ex.submit(checked_div, (9, 3)).unwrap().into_result().unwrap(), 3);
/// }
/// ```
pub struct ProcessPoolExecutor {
    pool: Arc<Pool>,
}

impl ProcessPoolExecutor {
    /// A pool of `max_workers` processes, started on demand.
    ///
    /// # Errors
    ///
    /// [`BuildError::NotInitialized`] if [`init()`] was not called,
    /// [`BuildError::ZeroWorkers`] for 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::ProcessPoolExecutor;
    /// use concurrent_futures::BuildError;
    /// // This doctest did not call `process::init()`:
    /// assert!(matches!(ProcessPoolExecutor::new(2), Err(BuildError::NotInitialized)));
    /// ```
    pub fn new(max_workers: usize) -> Result<Self, BuildError> {
        Self::builder().max_workers(max_workers).build()
    }

    /// A builder with Python's options and ours.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = concurrent_futures::process::ProcessPoolExecutor::builder().max_workers(3);
    /// # let _ = b;
    /// ```
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::default()
    }

    /// The most worker processes the pool runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     assert_eq!(ProcessPoolExecutor::new(3).unwrap().max_workers(), 3);
    /// }
    /// ```
    #[must_use]
    pub fn max_workers(&self) -> usize {
        self.pool.max_workers()
    }

    /// A snapshot of the pool's counters, as the thread pool's
    /// [`stats`](crate::ThreadPoolExecutor::stats): `workers` counts live
    /// worker processes, `idle` the slots waiting for a task (`sleeping`
    /// those asleep), `running` the tasks a worker holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(2).unwrap();
    ///     ex.submit(|x: u8| x, 1).unwrap().into_result().unwrap();
    ///     ex.shutdown(true, false);
    ///     let s = ex.stats();
    ///     assert_eq!((s.completed, s.failed, s.workers, s.queued), (1, 0, 0, 0));
    /// }
    /// ```
    #[must_use]
    pub fn stats(&self) -> crate::PoolStats {
        self.pool.stats()
    }

    /// Runs `f(arg)` in a worker process (Python's `submit(fn, arg)`).
    ///
    /// `arg` is serialized here, in the caller's thread; a failure is
    /// returned at once and nothing is sent.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] after `shutdown`, [`SubmitError::Broken`]
    /// if the pool broke, [`SubmitError::Serialize`] if `arg` cannot be
    /// serialized (or is over the frame limit), or `f` lives outside the
    /// executable (in a shared library).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(1).unwrap();
    ///     let f = ex.submit(u64::count_ones, 0b1011).unwrap();
    ///     assert_eq!(f.into_result().unwrap(), 3);
    ///     let g = ex.submit(|s: String| s.len(), "four".to_owned()).unwrap();
    ///     assert_eq!(g.into_result().unwrap(), 4);
    /// }
    /// ```
    ///
    /// A closure that captures anything is not a plain function, and is
    /// refused at compile time (its captures could not cross the process
    /// boundary):
    ///
    /// ```compile_fail
    /// use concurrent_futures::process::ProcessPoolExecutor;
    /// let ex = ProcessPoolExecutor::new(1).unwrap();
    /// let offset = 3u32;
    /// let f = ex.submit(move |x: u32| x + offset, 1);
    /// ```
    ///
    /// And so is an argument type without serde:
    ///
    /// ```compile_fail
    /// use concurrent_futures::process::ProcessPoolExecutor;
    /// struct Opaque;
    /// fn take(_: Opaque) -> u8 { 0 }
    /// let ex = ProcessPoolExecutor::new(1).unwrap();
    /// let f = ex.submit(take, Opaque);
    /// ```
    pub fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_inner(f, &arg, self.pool.config.task_timeout)
    }

    /// Like [`submit`](Self::submit) with a time limit for this task
    /// (instead of the pool's `task_timeout`): past it, the task is killed
    /// with its worker and fails with `TaskError::TimeLimit`.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) {
    ///     std::thread::sleep(Duration::from_millis(ms));
    /// }
    ///
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(1).unwrap();
    ///     let f = ex.submit_with_timeout(nap, 60_000, Duration::from_millis(100)).unwrap();
    ///     let err = f.into_result().unwrap_err();
    ///     assert!(err.task_error().unwrap().is_time_limit());
    /// }
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
        self.submit_inner(f, &arg, Some(limit))
    }

    fn submit_inner<A, R>(
        &self,
        f: fn(A) -> R,
        arg: &A,
        limit: Option<Duration>,
    ) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        submit_one(&self.pool, f, arg, limit, false)
    }

    /// Python's `map(fn, iterable)`: submits `f(item)` for every item now;
    /// the iterator yields each result in input order.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit), for the first item refused; the items
    /// submitted before it are cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(2).unwrap();
    ///     let lens: Vec<usize> = ex.map(|s: String| s.len(), ["a".to_owned(), "bc".to_owned()])
    ///         .unwrap()
    ///         .into_result()
    ///         .unwrap();
    ///     assert_eq!(lens, [1, 2]);
    /// }
    /// ```
    pub fn map<A, R, I>(&self, f: fn(A) -> R, iter: I) -> Result<Map<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        self.map_with(f, iter, MapOptions::default())
    }

    /// `map` with Python's options: `chunksize` sends that many items per
    /// task (each item's panic still fails only its own place; a worker
    /// death or time limit fails the whole chunk), `timeout` bounds the whole
    /// map, `buffersize` bounds the tasks ahead of the consumer.
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// use concurrent_futures::MapOptions;
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(2).unwrap();
    ///     let m = ex.map_with(|x: u64| x + 1, 0..1000, MapOptions::default().chunksize(100)).unwrap();
    ///     assert_eq!(m.into_result().unwrap().iter().sum::<u64>(), 500_500);
    /// }
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
        I::IntoIter: Send + 'static,
    {
        let pool = self.pool.clone();
        let limit = pool.config.task_timeout;
        let mut it = iter.into_iter();
        let chunk = options.get_chunksize();
        let source: Source<R> = if chunk <= 1 {
            // Process tasks wait for no room: the deadline is not needed.
            Box::new(move |_| {
                let a = it.next()?;
                Some(submit_one(&pool, f, &a, limit, true).map(Slot::One))
            })
        } else {
            Box::new(move |_| {
                let items: Vec<A> = it.by_ref().take(chunk).collect();
                if items.is_empty() {
                    return None;
                }
                let len = items.len();
                Some(
                    submit_chunk(&pool, f, &items, limit).map(|future| Slot::Chunk { future, len }),
                )
            })
        };
        Map::start(source, options)
    }

    /// Python's `shutdown(wait, cancel_futures)`: refuses new tasks; with
    /// `cancel_futures` cancels the queued ones; with `wait` returns once
    /// every accepted task is done and every worker is reaped. Idempotent.
    ///
    /// Called with `wait` from a done-callback that runs on one of the
    /// pool's own slot threads (where the callbacks of a task that completed
    /// run), it cannot wait for that thread: it waits for the other slots
    /// only, and returns while tasks queued behind the callback are still
    /// to run (with one worker, all of them); they run after the callback
    /// returns. As for the thread pool's own tasks, waiting there would
    /// wait for ever. Nor does it wait for another slot whose callback is
    /// inside `shutdown` (or `kill_workers`) too: the two would wait for
    /// each other.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(1).unwrap();
    ///     ex.shutdown(true, false);
    ///     assert!(ex.submit(|x: u8| x, 1).unwrap_err().is_shutdown());
    /// }
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.shutdown(wait, cancel_futures);
    }

    /// Python 3.14's `terminate_workers()`: shuts down cancelling queued
    /// tasks, sends `SIGTERM` to every worker (running tasks, and `map`
    /// tasks sent ahead to them, fail with `TaskError::WorkerDied`), and
    /// waits until they are reaped. A worker still alive 500 ms after
    /// `SIGTERM` (a task that ignores or handles it) gets `SIGKILL`, so the
    /// call returns within about half a second. No task starts after the
    /// call, and no worker is started.
    ///
    /// A slot thread busy running done-callbacks (see
    /// [`shutdown`](Self::shutdown)) is not waited for once its worker is
    /// dead: that would wait for user code. The slot reaps the worker, and
    /// fails a `map` task sent ahead to it, when the callbacks return.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(1).unwrap();
    ///     ex.terminate_workers();
    ///     assert!(ex.submit(|x: u8| x, 1).is_err());
    /// }
    /// ```
    pub fn terminate_workers(&self) {
        self.pool.signal_workers(libc::SIGTERM);
    }

    /// Python 3.14's `kill_workers()`: as
    /// [`terminate_workers`](Self::terminate_workers) with `SIGKILL` at
    /// once; returns as soon as the workers are reaped.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::process::{self, ProcessPoolExecutor};
    /// fn main() {
    ///     process::init();
    ///     let ex = ProcessPoolExecutor::new(1).unwrap();
    ///     let f = ex.submit(std::thread::sleep, std::time::Duration::from_secs(60)).unwrap();
    ///     while !f.running() {
    ///         std::thread::yield_now();
    ///     }
    ///     ex.kill_workers();
    ///     assert!(f.exception().unwrap().unwrap().is_worker_died());
    /// }
    /// ```
    pub fn kill_workers(&self) {
        self.pool.signal_workers(libc::SIGKILL);
    }
}

fn encode_task(
    rf: RemoteFn,
    id: u64,
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), codec::SerdeError>,
    max_frame: usize,
) -> Result<Vec<u8>, SubmitError> {
    let mut fb = protocol::task_frame(id, rf.f, rf.trampoline);
    encode(&mut fb.buf).map_err(|e| SubmitError::Serialize(e.message().to_owned()))?;
    fb.finish(max_frame)
        .map_err(|e| SubmitError::Serialize(format!("the encoded argument is too large: {e}")))
}

fn not_in_image() -> SubmitError {
    SubmitError::Serialize(
        "the function is not in the executable's own image (functions from shared \
         libraries cannot be sent to a worker process)"
            .into(),
    )
}

/// Encodes the argument (`encode`) for the function `rf` and queues it as
/// one task whose reply completes a fresh future through the sink `sink`
/// makes of it.
fn queue_task<T: Send>(
    pool: &Arc<Pool>,
    rf: Option<RemoteFn>,
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), codec::SerdeError>,
    limit: Option<Duration>,
    prefetch: bool,
    sink: impl FnOnce(Completer<T>) -> Box<dyn Sink>,
) -> Result<Future<T>, SubmitError> {
    pool.check_open()?;
    let rf = rf.ok_or_else(not_in_image)?;
    let id = pool.next_id();
    let frame = encode_task(rf, id, encode, pool.config.spawn.max_frame)?;
    let (completer, future) = Completer::new();
    concurrent_futures_core::trace::submitted("process", &future);
    pool.submit(Job {
        id,
        frame,
        time_limit: limit,
        sink: sink(completer),
        prefetch,
        started: false,
    })?;
    Ok(future)
}

fn submit_one<A, R>(
    pool: &Arc<Pool>,
    f: fn(A) -> R,
    arg: &A,
    limit: Option<Duration>,
    prefetch: bool,
) -> Result<Future<R>, SubmitError>
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    let rf = code::remote_fn(f);
    let encode = |out: &mut Vec<u8>| codec::encode_into(arg, out, SerdeStage::ArgumentEncode);
    queue_task(pool, rf, encode, limit, prefetch, |fut| Box::new(One(fut)))
}

type ChunkFuture<R> = Future<Vec<Result<R, concurrent_futures_core::TaskError>>>;

fn submit_chunk<A, R>(
    pool: &Arc<Pool>,
    f: fn(A) -> R,
    items: &[A],
    limit: Option<Duration>,
) -> Result<ChunkFuture<R>, SubmitError>
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    let rf = code::remote_chunk_fn(f);
    let encode = |out: &mut Vec<u8>| chunk::encode_arguments(items, out);
    queue_task(pool, rf, encode, limit, true, |fut| Box::new(Chunk(fut)))
}

impl Drop for ProcessPoolExecutor {
    fn drop(&mut self) {
        self.pool.shutdown(true, false);
    }
}

impl fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pool.describe())
    }
}

impl Executor for ProcessPoolExecutor {
    fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        ProcessPoolExecutor::submit(self, f, arg)
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
        ProcessPoolExecutor::shutdown(self, wait, cancel_futures);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<ProcessPoolExecutor>();
    }
}
