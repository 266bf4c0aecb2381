//! [`ThreadPoolExecutor`]: Python's thread pool on work-stealing queues.
//!
//! * `queue.rs` — the injector, the per-worker deques, stealing;
//! * `sleep.rs` — how idle workers sleep and wake (protocol in `README.md`);
//! * `worker.rs` — a worker thread's loop;
//! * `builder.rs` — [`ThreadPoolBuilder`];
//! * `scope.rs` — [`Scope`]: tasks that borrow from the caller's stack;
//! * `stats.rs` — [`PoolStats`];
//! * `loom_models.rs` — model checks of the submit, sleep and shutdown
//!   protocols (`--cfg loom`).
//!
//! Submit, in order: reserve room under `max_queued` if set
//! (`lifecycle/bound.rs`), check the admission gate (`lifecycle/gate.rs`),
//! make one [`WorkItem`] (closure + future handle), push it onto the
//! injector (a scoped submit made on a worker: that worker's own deque),
//! fence, wake one sleeping worker if any sleeps, else start a thread if no
//! worker is idle and fewer than `max_workers` run, and confirm the gate
//! (if it closed meanwhile, revoke the job: `lifecycle/mod.rs`, rule 3).

mod builder;
#[cfg(all(test, loom))]
mod loom_models;
mod queue;
mod scope;
mod sleep;
mod stats;
mod worker;

use std::fmt;
use std::io;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::{catch_unwind, AssertUnwindSafe};

use concurrent_futures_core::__private::unwind;
use concurrent_futures_core::diagnostics::{self, Diagnostic, DiagnosticKind};
use concurrent_futures_core::{trace, BoxError, Future, TaskError};
#[cfg(feature = "process")]
use serde::{de::DeserializeOwned, Serialize};

use self::queue::Queues;
use self::sleep::Sleep;
use crate::error::{ShutdownTimeout, SubmitError};
use crate::executor::Executor;
use crate::lifecycle::bound::{Bound, NoRoom, Wait};
use crate::lifecycle::{self, Lifecycle, Queued};
use crate::map::{Map, MapOptions, Slot};
use crate::primitives::thread::{self, JoinHandle};
use crate::primitives::{fence, AtomicUsize, Condvar, Mutex, Ordering};
use crate::work_item::{Abandon, Job, WorkItem};

pub use builder::ThreadPoolBuilder;
pub(crate) use builder::{Config, Initializer};
pub use scope::Scope;
pub use stats::PoolStats;

/// Numbers pools for their default thread names, as Python's class counter.
static POOL_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A pool of threads running submitted closures: Python's
/// `concurrent.futures.ThreadPoolExecutor`.
///
/// Threads start lazily, up to `max_workers`, and an idle thread is reused
/// before a new one starts. Dropping the pool is `shutdown(true, false)`:
/// every accepted task runs, then the threads are joined.
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// use std::time::Duration;
///
/// let ex = ThreadPoolExecutor::new(4).unwrap();
/// let f = ex.submit(|| 6 * 7).unwrap();
/// assert_eq!(*f.result_timeout(Duration::from_secs(10)).unwrap(), 42);
///
/// let lens: Vec<usize> = ex.map(|s: &str| s.len(), ["a", "bb", "ccc"]).unwrap()
///     .map(Result::unwrap)
///     .collect();
/// assert_eq!(lens, [1, 2, 3]);
/// ex.shutdown(true, false);
/// assert!(ex.submit(|| ()).unwrap_err().is_shutdown());
/// ```
///
/// A task must be `Send` and `'static` (borrowing needs
/// [`scope`](ThreadPoolExecutor::scope)):
///
/// ```compile_fail
/// let ex = concurrent_futures::ThreadPoolExecutor::new(1).unwrap();
/// let rc = std::rc::Rc::new(1);
/// ex.submit(move || *rc);
/// ```
pub struct ThreadPoolExecutor {
    shared: Arc<Shared>,
}

/// What the pool's handle and its threads share.
pub(crate) struct Shared {
    /// The pool number: default thread names, and the tag of workers'
    /// thread-local deques.
    id: usize,
    queues: Queues,
    sleep: Sleep,
    /// Admission, shutdown, breaking (`lifecycle/`).
    lc: Lifecycle,
    /// `max_queued`, if set.
    bound: Option<Bound>,
    /// Worker threads started and not yet exited.
    alive: AtomicUsize,
    /// Threads started or starting that did not die: a submit starts one
    /// more only while this is below `max_workers` (fast check before
    /// taking `threads`).
    spawned: AtomicUsize,
    max_workers: usize,
    prefix: String,
    stack_size: Option<usize>,
    initializer: Option<Initializer>,
    threads: Mutex<Threads>,
    /// Signalled (under `threads`) each time a worker exits, and when a
    /// caller of `join_workers` has joined the threads.
    exited: Condvar,
    #[cfg(test)]
    faults: tests::Faults,
}

#[derive(Default)]
struct Threads {
    /// Slot ids handed out: one per thread ever started (a failed spawn and
    /// a dead worker's replacement use one each).
    next_slot: usize,
    /// Worker indices handed out (`current_thread_index`).
    next_index: usize,
    /// Indices free again (a failed spawn); a replacement takes the dead
    /// worker's own.
    free_indices: Vec<usize>,
    handles: Vec<JoinHandle<()>>,
    /// A caller of `join_workers` has taken `handles` and is joining them
    /// (outside the lock); the others wait for it on `exited`.
    joining: bool,
}

/// How `push` admits a job.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    /// Waiting for room under `max_queued`.
    pub(crate) wait: Wait,
    /// Onto the current worker's own deque if this is one of the pool's
    /// workers (scoped submits only: `queue.rs`).
    pub(crate) local: bool,
}

impl Route {
    /// `submit`: FIFO through the injector, blocking while full.
    pub(crate) const SUBMIT: Route = Route {
        wait: Wait::Forever,
        local: false,
    };
}

impl ThreadPoolExecutor {
    /// A pool of at most `max_workers` threads.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`](crate::BuildError::ZeroWorkers) if
    /// `max_workers` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::new(2).unwrap();
    /// assert_eq!(ex.max_workers(), 2);
    /// ```
    pub fn new(max_workers: usize) -> Result<Self, crate::BuildError> {
        Self::builder().max_workers(max_workers).build()
    }

    /// A builder for the other options.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .build()
    ///     .unwrap();
    /// # drop(ex);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    pub(crate) fn from_config(c: Config) -> Self {
        let id = POOL_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ThreadPoolExecutor {
            shared: Arc::new(Shared {
                id,
                queues: Queues::new(),
                sleep: Sleep::new(),
                lc: Lifecycle::new(),
                bound: c.max_queued.map(Bound::new),
                alive: AtomicUsize::new(0),
                spawned: AtomicUsize::new(0),
                max_workers: c.max_workers,
                // An empty prefix means the default, as Python's `prefix or ...`.
                prefix: c
                    .prefix
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| format!("ThreadPoolExecutor-{id}")),
                stack_size: c.stack_size,
                initializer: c.initializer,
                threads: Mutex::new(Threads::default()),
                exited: Condvar::new(),
                #[cfg(test)]
                faults: tests::Faults::default(),
            }),
        }
    }

    /// The most threads this pool starts.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::new(7).unwrap();
    /// assert_eq!(ex.max_workers(), 7);
    /// ```
    #[must_use]
    pub fn max_workers(&self) -> usize {
        self.shared.max_workers
    }

    /// Schedules `f` and returns its future (Python's `submit(fn)`). A panic
    /// in `f` fails the future with the panic's message; the worker goes on.
    /// A future cancelled before its task starts never runs it.
    ///
    /// Tasks start in submission order, one queue for the whole pool as in
    /// Python, whether submitted from outside or from another task (exactly
    /// so with one worker; with several, workers take queued tasks in small
    /// batches, so order across workers is approximate). With
    /// [`max_queued`](ThreadPoolBuilder::max_queued) set, this waits while
    /// the queue is full (see [`try_submit`](ThreadPoolExecutor::try_submit)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] once `shutdown` began,
    /// [`SubmitError::Broken`] if an initializer failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// let f = ex.submit(|| "hello".to_uppercase()).unwrap();
    /// assert_eq!(f.into_result().unwrap(), "HELLO");
    /// let p = ex.submit(|| -> u8 { panic!("oops") }).unwrap();
    /// assert_eq!(p.exception().unwrap().unwrap().panic_message(), Some("oops"));
    /// ```
    pub fn submit<F, T>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(f, Wait::Forever)
    }

    /// Like [`submit`](ThreadPoolExecutor::submit), but refuses at once
    /// instead of waiting when the pool's queue is full
    /// ([`max_queued`](ThreadPoolBuilder::max_queued)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] while `max_queued` tasks wait to start; else as
    /// [`submit`](ThreadPoolExecutor::submit).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let ex = ThreadPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let busy = ex.submit(move || rx.recv_timeout(Duration::from_secs(10))).unwrap();
    /// while !busy.running() { std::thread::yield_now(); }
    /// let queued = ex.try_submit(|| 1).unwrap(); // takes the one place
    /// assert!(ex.try_submit(|| 2).unwrap_err().is_full());
    /// tx.send(()).unwrap();
    /// assert_eq!(queued.into_result().unwrap(), 1);
    /// ```
    pub fn try_submit<F, T>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(f, Wait::No)
    }

    /// Like [`submit`](ThreadPoolExecutor::submit), but waits at most
    /// `timeout` for room in a full queue
    /// ([`max_queued`](ThreadPoolBuilder::max_queued)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Timeout`] if the queue stayed full for `timeout`; else
    /// as [`submit`](ThreadPoolExecutor::submit).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let ex = ThreadPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let busy = ex.submit(move || rx.recv_timeout(Duration::from_secs(10))).unwrap();
    /// while !busy.running() { std::thread::yield_now(); }
    /// ex.submit(|| ()).unwrap();
    /// let e = ex.submit_timeout(|| (), Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(e, concurrent_futures::SubmitError::Timeout { max_queued: 1 }));
    /// tx.send(()).unwrap();
    /// ```
    pub fn submit_timeout<F, T>(&self, f: F, timeout: Duration) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let wait = Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until);
        self.submit_with(f, wait)
    }

    fn submit_with<F, T>(&self, f: F, wait: Wait) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (item, future) = WorkItem::new(f);
        let route = Route { wait, local: false };
        self.shared
            .push(Job::new(item), route, || future.cancel())?;
        Ok(future)
    }

    /// The index of the worker thread this is called on, in its pool
    /// (`0..max_workers`), or `None` off the pool's threads (rayon's
    /// `current_thread_index`). A worker that replaces one that died keeps
    /// its index, so per-worker tables indexed by it stay valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let ex = ThreadPoolExecutor::new(4).unwrap();
    /// let i = ex.submit(ThreadPoolExecutor::current_thread_index).unwrap();
    /// assert!(i.into_result().unwrap().unwrap() < 4);
    /// assert_eq!(ThreadPoolExecutor::current_thread_index(), None);
    /// ```
    #[must_use]
    pub fn current_thread_index() -> Option<usize> {
        queue::local_index()
    }

    /// Schedules a fallible `f`: `Err(e)` becomes the future's exception
    /// ([`TaskError::Error`](concurrent_futures_core::TaskError::Error)
    /// keeps `e`).
    ///
    /// # Errors
    ///
    /// As [`submit`](ThreadPoolExecutor::submit).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::num::ParseIntError;
    ///
    /// let ex = ThreadPoolExecutor::new(1).unwrap();
    /// let f = ex.submit_fallible(|| "12x".parse::<i32>()).unwrap();
    /// let err = f.exception().unwrap().unwrap();
    /// assert!(err.downcast_ref::<ParseIntError>().is_some());
    /// ```
    pub fn submit_fallible<F, T, E>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let (item, future) = WorkItem::fallible(f);
        self.shared
            .push(Job::new(item), Route::SUBMIT, || future.cancel())?;
        Ok(future)
    }

    /// Runs `f` on every item of `iter`, submitting them all now (as Python
    /// does); the iterator yields each item's result in input order.
    ///
    /// # Errors
    ///
    /// The first refused submit; the items submitted before it are
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::new(2).unwrap();
    /// let out: Vec<_> = ex.map(|x: i32| 10 / x, [5, 0, 2]).unwrap().collect();
    /// assert_eq!(*out[0].as_ref().unwrap(), 2);
    /// assert!(out[1].as_ref().unwrap_err().is_failed()); // only its own place fails
    /// assert_eq!(*out[2].as_ref().unwrap(), 5);
    /// ```
    pub fn map<A, T, F, I>(&self, f: F, iter: I) -> Result<Map<T>, SubmitError>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        let f = Arc::new(f);
        let slots = iter.into_iter().map(|a| {
            let f = Arc::clone(&f);
            self.submit(move || f(a)).map(Slot::One)
        });
        Map::submitted(slots, MapOptions::default())
    }

    /// [`map`](ThreadPoolExecutor::map) with options: a `timeout` counted
    /// from this call, a `buffersize` that reads the input only as fast as
    /// results are taken (so it may be endless), and a `chunksize` that runs
    /// that many items per task (Python ignores it for threads; here it
    /// makes a big map cheaper, each item still failing only its place).
    ///
    /// # Errors
    ///
    /// As [`map`](ThreadPoolExecutor::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    ///
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// // An endless input: only a few items are ever read ahead.
    /// let evens: Vec<u64> = ex
    ///     .map_with(|x: u64| x * 2, 0.., MapOptions::default().buffersize(4))
    ///     .unwrap()
    ///     .take(5)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(evens, [0, 2, 4, 6, 8]);
    /// ```
    pub fn map_with<A, T, F, I>(
        &self,
        f: F,
        iter: I,
        options: MapOptions,
    ) -> Result<Map<T>, SubmitError>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        let f = Arc::new(f);
        let chunk = options.get_chunksize();
        let mut iter = iter.into_iter();
        if options.get_buffersize().is_none() {
            // The map's timeout bounds the submits too (it counts from the
            // call): a bounded pool without room by then refuses with
            // `SubmitError::Timeout`, and what was submitted is cancelled.
            let deadline = options
                .get_timeout()
                .and_then(|t| Instant::now().checked_add(t));
            let slots = std::iter::from_fn(|| next_chunk(&mut iter, chunk))
                .map(|items| submit_slot(&self.shared, &f, items, deadline));
            return Map::submitted(slots, options);
        }
        // The source keeps only a weak link: a map outliving its pool
        // reports the pool as shut down instead of keeping it alive.
        let pool = Arc::downgrade(&self.shared);
        let source = Box::new(move |deadline| {
            let items = next_chunk(&mut iter, chunk)?;
            Some(match pool.upgrade() {
                Some(shared) => submit_slot(&shared, &f, items, deadline),
                None => Err(SubmitError::Shutdown),
            })
        });
        Map::start(source, options)
    }

    /// Stops the pool, as Python's `shutdown(wait, cancel_futures)`: from
    /// now on every submit is refused; with `cancel_futures` every task not
    /// yet started is cancelled; with `wait` this returns once every
    /// accepted task is done and the threads are joined. Idempotent.
    ///
    /// Called from inside one of this pool's tasks, it does not wait (the
    /// calling thread cannot join itself); the other tasks still run.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let ex = ThreadPoolExecutor::new(1).unwrap();
    /// let slow = ex.submit(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    /// let queued = ex.submit(|| ()).unwrap();
    /// ex.shutdown(true, true);
    /// assert!(slow.done());
    /// assert!(queued.cancelled() || queued.done());
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shared.lc.shutdown(&*self.shared, cancel_futures);
        if wait && !self.shared.on_worker_thread() {
            let _ = self.shared.join_workers(None);
        }
    }

    /// Shuts down (as `shutdown(true, cancel_futures)`), but waits at most
    /// `timeout` for the tasks to finish and the threads to exit (Java's
    /// `shutdown` + `awaitTermination`). On time it returns `Ok`, with every
    /// thread joined. Late, it says what is still running; the pool goes on
    /// shutting down, and dropping it later waits as `Drop` always does.
    /// Another thread's `shutdown` or `shutdown_timeout` running at the same
    /// time does not make it wait past its own timeout.
    /// Called from one of the pool's own tasks it cannot wait for itself: it
    /// waits for the other threads (at most `timeout`), then reports that
    /// task as running.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimeout`] with the tasks and threads still running.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// ex.submit(|| std::thread::sleep(Duration::from_millis(5))).unwrap();
    /// ex.shutdown_timeout(Duration::from_secs(10), false).unwrap();
    /// assert_eq!(ex.stats().workers, 0);
    /// ```
    pub fn shutdown_timeout(
        &self,
        timeout: Duration,
        cancel_futures: bool,
    ) -> Result<(), ShutdownTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        self.shared.lc.shutdown(&*self.shared, cancel_futures);
        self.shared.join_workers(deadline)
    }

    /// A snapshot of the pool's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::new(2).unwrap();
    /// ex.submit(|| ()).unwrap().into_result().unwrap();
    /// ex.shutdown(true, false);
    /// let s = ex.stats();
    /// assert_eq!((s.completed, s.workers, s.queued), (1, 0, 0));
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Shared {
    /// Queues an accepted job; see the module docs for the steps.
    pub(crate) fn push(
        self: &Arc<Self>,
        job: Job,
        route: Route,
        revoke: impl FnOnce() -> bool,
    ) -> Result<(), SubmitError> {
        if let Some(bound) = &self.bound {
            self.reserve(bound, route.wait)?;
        }
        if let Err(e) = self.lc.admit() {
            if let Some(bound) = &self.bound {
                bound.release();
            }
            // The closure is dropped here, on the caller's thread: a
            // panicking capture is reported, not thrown out of `submit`.
            unwind::drop_reporting("the drop of a refused task", job);
            return Err(e);
        }
        #[cfg(test)]
        self.faults.after_admit();
        // Python's rule: a submit takes an idle worker's token, or else
        // starts a thread. The token is taken before the push: a spinning
        // worker that finds the job first is then already claimed, instead
        // of busy when the claim looks (which started a second thread for
        // sequential tasks about 1 time in 40). Once every thread started,
        // this is one load.
        let start_thread =
            self.spawned.load(Ordering::Relaxed) < self.max_workers && !self.queues.claim_idle();
        if route.local {
            if let Err(job) = queue::push_local(self.id, job) {
                self.queues.inject(job);
            }
        } else {
            self.queues.inject(job);
        }
        // One fence for two Dekker pairs: the sleep protocol's (a worker
        // going to sleep sees the job, or we see it asleep) and admission's
        // (a closer sees the job, or our confirm sees the close).
        fence(Ordering::SeqCst);
        self.sleep.wake_one_fenced();
        // Before the confirm: a thread started for an accepted job is one
        // `shutdown` joins.
        if start_thread {
            self.spawn_worker(None);
        }
        match self.lc.confirm() {
            Ok(()) => Ok(()),
            Err(e) => self.closed_during_submit(e, revoke),
        }
    }

    /// The gate closed between this submit's check and its confirm
    /// (`lifecycle/gate.rs`): revoke the job, unless a worker started it
    /// (then it is accepted). A revoked job stays queued until a worker
    /// skips it or a sweep drops it; if no worker is left to do either, this
    /// submitter sweeps (`lifecycle/mod.rs`, rule 3).
    #[cold]
    #[inline(never)]
    fn closed_during_submit(
        &self,
        e: SubmitError,
        revoke: impl FnOnce() -> bool,
    ) -> Result<(), SubmitError> {
        if !revoke() {
            return Ok(());
        }
        self.queues.count_revoked();
        // Exact under the lock: workers start and exit under it. None left
        // means every accepted job was taken (each exiting worker saw the
        // queues empty after it saw the gate closed), so what is queued now
        // is revoked, or pushed by a submitter whose confirm will fail too.
        let none_left = self.alive_workers() == 0;
        if none_left {
            self.sweep_closed();
        }
        Err(e)
    }

    /// Workers alive, read under the threads' lock.
    fn alive_workers(&self) -> usize {
        let _threads = self.threads.lock();
        self.alive.load(Ordering::Relaxed)
    }

    /// Drops what is left in the queues of a closed pool with no worker
    /// left: revoked jobs, and jobs of submitters about to be refused.
    fn sweep_closed(&self) {
        self.abandon_queued(self.lc.abandon_reason());
    }

    /// Reserves room under `max_queued`. A task of this pool never waits
    /// for room (it could be waiting for itself): it overdraws instead.
    fn reserve(&self, bound: &Bound, wait: Wait) -> Result<(), SubmitError> {
        let wait = if wait != Wait::No && self.on_worker_thread() {
            Wait::Overdraw
        } else {
            wait
        };
        let max_queued = bound.max();
        bound
            .reserve(wait, || self.lc.closed())
            .map_err(|e| match e {
                NoRoom::Full => SubmitError::Full { max_queued },
                NoRoom::Timeout => SubmitError::Timeout { max_queued },
                NoRoom::Closed if self.lc.broken() => SubmitError::broken(self.lc.broken_reason()),
                NoRoom::Closed => SubmitError::Shutdown,
            })
    }

    /// A job left the queue (a worker took it, or it was abandoned).
    fn dequeued(&self) {
        if let Some(bound) = &self.bound {
            bound.release();
        }
    }

    pub(crate) fn broken_reason(&self) -> &str {
        self.lc.broken_reason()
    }

    /// Starts one more worker thread, unless `max_workers` already run or the
    /// pool is closed; or, with `replacing`, a thread with that index in
    /// place of a worker that died (it still counts as alive). Returns
    /// whether a thread started.
    fn spawn_worker(self: &Arc<Self>, replacing: Option<usize>) -> bool {
        let mut threads = self.threads.lock();
        let index = match replacing {
            Some(index) => index,
            None => {
                // A closed pool starts no thread: the submit asking for one
                // loads the gate again at its confirm, after this, so it sees
                // the close too and is refused (or its job was started).
                if self.spawned.load(Ordering::Relaxed) >= self.max_workers || self.lc.closed() {
                    return false;
                }
                threads.free_indices.pop().unwrap_or_else(|| {
                    threads.next_index += 1;
                    threads.next_index - 1
                })
            }
        };
        self.spawned.fetch_add(1, Ordering::Relaxed);
        let slot = threads.next_slot;
        threads.next_slot += 1;
        let deque = self.queues.new_worker(slot);
        let shared = Arc::clone(self);
        self.alive.fetch_add(1, Ordering::Relaxed);
        match self.spawn_thread(index, move || worker::main(shared, index, slot, deque)) {
            // Events and diagnostics go out after unlocking: a subscriber
            // or a diagnostic hook is user code.
            Ok(h) => {
                threads.handles.push(h);
                drop(threads);
                if replacing.is_some() {
                    trace::worker_replaced("thread", index);
                } else {
                    trace::worker_spawned("thread", index);
                }
                true
            }
            Err(e) => {
                self.alive.fetch_sub(1, Ordering::Relaxed);
                self.spawned.fetch_sub(1, Ordering::Relaxed);
                threads.free_indices.push(index);
                // Nobody left to run what is queued: the pool is broken.
                let others = self.alive.load(Ordering::Relaxed) - usize::from(replacing.is_some());
                drop(threads);
                if others > 0 {
                    // The pool goes on with fewer threads: nobody else hears.
                    diagnostics::report(&Diagnostic::new(
                        DiagnosticKind::WorkerStartFailed,
                        format_args!("cannot start thread pool worker {index}: {e}"),
                    ));
                } else {
                    self.break_pool(format!("cannot start a worker thread: {e}"));
                }
                false
            }
        }
    }

    /// Spawns the OS thread; a panic while spawning (the OS refused the
    /// name, say) is a spawn error like any other.
    fn spawn_thread(
        &self,
        index: usize,
        main: impl FnOnce() + Send + 'static,
    ) -> io::Result<JoinHandle<()>> {
        let mut b = thread::Builder::new().name(format!("{}_{index}", self.prefix));
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let spawned = catch_unwind(AssertUnwindSafe(|| {
            #[cfg(test)]
            self.faults.before_spawn()?;
            b.spawn(main)
        }));
        spawned.unwrap_or_else(|p| {
            let msg = unwind::payload_message(p);
            Err(io::Error::other(format!(
                "spawning the thread panicked: {msg}"
            )))
        })
    }

    /// Breaks the pool: refuses submits, fails every queued future with
    /// `reason`, wakes the workers so they drain and exit.
    pub(crate) fn break_pool(&self, reason: String) {
        self.lc.break_with(self, reason);
    }

    /// A worker died (a panic escaped the worker loop): its jobs were moved
    /// to the injector; start a thread with its index in its place, unless
    /// the pool has nothing left to do. Returns whether the pool is served.
    fn worker_died(self: &Arc<Self>, index: usize) -> bool {
        trace::worker_died("thread", index, &"its thread unwound");
        self.spawned.fetch_sub(1, Ordering::Relaxed);
        if self.lc.drained() && !self.queues.has_work() {
            return true;
        }
        self.spawn_worker(Some(index))
    }

    fn on_worker_thread(&self) -> bool {
        queue::with_local(self.id, |_| ()).is_some()
    }

    /// Called by an exiting worker: it is no longer counted alive. The last
    /// one out of a closed pool sweeps what is left in the queues (revoked
    /// jobs: `lifecycle/mod.rs`, rule 3).
    fn exit_worker(&self) {
        let threads = self.threads.lock();
        let left = self.alive.fetch_sub(1, Ordering::Relaxed) - 1;
        self.exited.notify_all();
        drop(threads);
        if left == 0 && self.lc.drained() {
            self.sweep_closed();
        }
    }

    /// Waits (until `deadline`, if any) for every worker to exit, then
    /// joins them. A call from a worker of this pool cannot wait for
    /// itself: it waits for the others (until the deadline), then reports
    /// its own task as still running.
    ///
    /// Concurrent callers wait side by side, each to its own deadline: the
    /// threads' lock is held only between waits, and the one caller that
    /// takes the handles joins them outside it (`joining`), the others
    /// waiting until it is done, so that `Ok` always means every thread
    /// was joined.
    fn join_workers(&self, deadline: Option<Instant>) -> Result<(), ShutdownTimeout> {
        let me = usize::from(self.on_worker_thread());
        let mut threads = self.threads.lock();
        while self.alive.load(Ordering::Relaxed) > me || threads.joining {
            threads = match deadline {
                None => self.exited.wait(threads),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(self.still_running(&threads));
                    }
                    self.exited.wait_timeout(threads, d - now)
                }
            };
        }
        if me == 1 {
            // Every other worker has exited; this one runs the caller's
            // task (and whatever is queued behind it) and cannot join itself.
            return Err(self.still_running(&threads));
        }
        let handles = mem::take(&mut threads.handles);
        threads.joining = true;
        drop(threads);
        // Ends `joining` however the joins end (a join panics only on an
        // OS error), so no other caller waits for ever.
        struct Joined<'a>(&'a Shared);
        impl Drop for Joined<'_> {
            fn drop(&mut self) {
                self.0.threads.lock().joining = false;
                self.0.exited.notify_all();
            }
        }
        let _joined = Joined(self);
        for h in handles {
            // A worker's panics are contained; one that died anyway was
            // replaced, and the panic hook reported it.
            let _ = h.join();
        }
        Ok(())
    }

    fn still_running(&self, threads: &Threads) -> ShutdownTimeout {
        let stats = self.stats();
        ShutdownTimeout {
            running: stats.running,
            queued: stats.queued,
            workers: stats.workers,
            threads: threads
                .handles
                .iter()
                .filter(|h| cfg!(loom) || !is_finished(h))
                .map(|h| h.thread().name().unwrap_or("<unnamed>").to_owned())
                .collect(),
        }
    }

    fn stats(&self) -> PoolStats {
        let mut t = self.queues.totals();
        // The queue lengths are read one after another, so a batch that a
        // worker steals in between can be counted twice; under `max_queued`
        // the reservations bound the true length.
        if let Some(bound) = &self.bound {
            t.queued = t.queued.min(bound.reserved());
        }
        let workers = self.alive.load(Ordering::Relaxed);
        let running = t.running.min(workers);
        PoolStats {
            workers,
            idle: workers - running,
            sleeping: self.sleep.sleepers(),
            queued: t.queued,
            running,
            completed: t.completed,
            failed: t.failed,
            cancelled: t.cancelled,
            shutdown: self.lc.closed(),
            broken: self.lc.broken(),
        }
    }
}

impl Queued for Shared {
    fn abandon_queued(&self, why: Abandon<'_>) -> usize {
        let (mut cancelled, mut failed) = (0, 0);
        let n = self.queues.drain(|job| {
            self.dequeued();
            // A break fails a job unless its future was cancelled already
            // (by the user, or revoked by its submitter): counted as it ended.
            let failed_now = match lifecycle::contain(|| job.abandon(why)) {
                Ok(ended) => ended && matches!(why, Abandon::Broken(_)),
                Err(msg) => {
                    unwind::report("abandoning a task", &msg);
                    matches!(why, Abandon::Broken(_))
                }
            };
            if failed_now {
                failed += 1;
            } else {
                cancelled += 1;
            }
        });
        self.queues.count_failed_outside(failed);
        self.queues.count_cancelled_outside(cancelled);
        n
    }

    fn wake_all(&self) {
        self.sleep.wake_all();
        if let Some(bound) = &self.bound {
            bound.wake_all();
        }
    }
}

#[cfg(not(loom))]
fn is_finished(h: &JoinHandle<()>) -> bool {
    h.is_finished()
}

#[cfg(loom)]
fn is_finished(_: &JoinHandle<()>) -> bool {
    false
}

/// Up to `n` more items of `iter`; `None` at its end.
fn next_chunk<I: Iterator>(iter: &mut I, n: usize) -> Option<Vec<I::Item>> {
    let first = iter.next()?;
    let mut items = Vec::with_capacity(n.min(1024));
    items.push(first);
    items.extend(iter.by_ref().take(n - 1));
    Some(items)
}

/// Submits one map task: a single item as a plain task, several as a chunk
/// whose items each get their own outcome.
fn submit_slot<A, T, F>(
    shared: &Arc<Shared>,
    f: &Arc<F>,
    mut items: Vec<A>,
    deadline: Option<Instant>,
) -> Result<Slot<T>, SubmitError>
where
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    let route = Route {
        wait: deadline.map_or(Wait::Forever, Wait::Until),
        local: false,
    };
    let f = Arc::clone(f);
    if items.len() == 1 {
        let a = items.pop().expect("one item");
        let (item, future) = WorkItem::new(move || f(a));
        shared.push(Job::new(item), route, || future.cancel())?;
        return Ok(Slot::One(future));
    }
    let len = items.len();
    let run_chunk = move || {
        items
            .into_iter()
            .map(|a| catch_unwind(AssertUnwindSafe(|| f(a))).map_err(TaskError::from_panic))
            .collect::<Vec<_>>()
    };
    let (item, future) = WorkItem::new(run_chunk);
    shared.push(Job::new(item), route, || future.cancel())?;
    Ok(Slot::Chunk { future, len })
}

impl Default for ThreadPoolExecutor {
    /// A pool with Python's default size, `min(32, cpus + 4)` threads.
    fn default() -> Self {
        ThreadPoolExecutor::from_config(Config::python())
    }
}

impl Drop for ThreadPoolExecutor {
    /// `shutdown(true, false)`, as leaving Python's `with` block.
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("name", &self.shared.prefix)
            .field("max_workers", &self.shared.max_workers)
            .field("max_queued", &self.shared.bound.as_ref().map(Bound::max))
            .field("stats", &self.stats())
            .finish()
    }
}

impl Executor for ThreadPoolExecutor {
    #[cfg(feature = "process")]
    fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        ThreadPoolExecutor::submit(self, move || f(arg))
    }

    #[cfg(feature = "process")]
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
        ThreadPoolExecutor::shutdown(self, wait, cancel_futures);
    }
}

#[cfg(test)]
pub(crate) mod tests;

/// Where a task's time goes: the pool's own machinery (submit, queue,
/// worker) with no future, against a future per task and the bare channel
/// floor, medians of 21 interleaved rounds of 100,000 tasks. A measurement,
/// not a test (it asserts only the sums); run it by hand:
/// `cargo test --release -p concurrent-futures-pool --lib cost_split -- --ignored --nocapture`
#[cfg(all(test, not(loom)))]
mod cost_split {
    use super::*;
    use crate::work_item::{Ran, Task};

    /// A job that sends its number back on a channel, with no future.
    struct SendBack(u64, crossbeam_channel::Sender<u64>);

    impl Task for SendBack {
        fn run(self, _: &dyn Fn()) -> Ran {
            self.1.send(self.0).unwrap();
            Ran::Completed
        }
        fn abandon(self, _: Abandon<'_>) -> bool {
            true
        }
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn per_task(n: u64, f: impl FnOnce() -> u64) -> (f64, u64) {
        let t = std::time::Instant::now();
        let s = f();
        (t.elapsed().as_nanos() as f64 / n as f64, s)
    }

    #[test]
    #[ignore = "a measurement; run by hand with --release --nocapture"]
    fn cost_split_pool_future_floor() {
        let n = 100_000u64;
        let ex = ThreadPoolExecutor::new(2).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let (to, from_main) = crossbeam_channel::unbounded::<u64>();
        let (to_main, back) = crossbeam_channel::unbounded::<u64>();
        for _ in 0..2 {
            let (r, t) = (from_main.clone(), to_main.clone());
            std::thread::spawn(move || r.into_iter().for_each(|v| t.send(v).unwrap()));
        }
        let (mut pool, mut fut, mut floor) = (vec![], vec![], vec![]);
        for _ in 0..21 {
            let (p, s1) = per_task(n, || {
                for i in 0..n {
                    ex.shared
                        .push(Job::new(SendBack(i, tx.clone())), Route::SUBMIT, || true)
                        .unwrap();
                }
                (0..n).map(|_| rx.recv().unwrap()).sum()
            });
            let (f, s2) = per_task(n, || {
                let fs: Vec<_> = (0..n).map(|i| ex.submit(move || i).unwrap()).collect();
                fs.iter().map(|f| *f.result().unwrap()).sum()
            });
            let (c, s3) = per_task(n, || {
                (0..n).for_each(|i| to.send(i).unwrap());
                (0..n).map(|_| back.recv().unwrap()).sum()
            });
            assert!(s1 == s2 && s2 == s3);
            pool.push(p);
            fut.push(f);
            floor.push(c);
        }
        println!(
            "ns per task, medians: pool without futures {:.0}, pool with a future per task {:.0}, channel floor {:.0}",
            median(pool),
            median(fut),
            median(floor)
        );
    }
}
