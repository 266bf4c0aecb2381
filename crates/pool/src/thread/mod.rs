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
//! Submit, in order: enter the shutdown gate (`lifecycle/gate.rs`), box one
//! [`WorkItem`] (closure + future handle), push it (onto the current
//! worker's own deque when a task of this pool submits, else the injector),
//! wake one sleeping worker if any sleeps, else start a thread if no worker
//! is idle and fewer than `max_workers` run, leave the gate.

mod builder;
#[cfg(all(test, loom))]
mod loom_models;
mod queue;
mod scope;
mod sleep;
mod stats;
mod worker;

use std::fmt;
use std::mem;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};

use std::panic::{catch_unwind, AssertUnwindSafe};

use concurrent_futures_core::diagnostics::{self, Diagnostic, DiagnosticKind};
use concurrent_futures_core::{trace, BoxError, Future, TaskError};
#[cfg(feature = "process")]
use serde::{de::DeserializeOwned, Serialize};

use self::queue::Queues;
use self::sleep::Sleep;
use crate::error::SubmitError;
use crate::executor::Executor;
use crate::lifecycle::gate::{Gate, Left, Refused};
use crate::map::{Map, MapOptions, Slot};
use crate::work_item::{Abandon, Fallible, Job, Plain, WorkItem};

pub(crate) use builder::Initializer;
pub use builder::ThreadPoolBuilder;
pub use scope::Scope;
pub use stats::PoolStats;

/// Numbers pools for their default thread names, as Python's class counter.
static POOL_COUNTER: AtomicUsize = AtomicUsize::new(0);

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
/// use concurrent_futures_pool::ThreadPoolExecutor;
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
/// let ex = concurrent_futures_pool::ThreadPoolExecutor::new(1).unwrap();
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
    gate: Gate,
    /// Workers started and not yet exited.
    alive: AtomicUsize,
    /// Threads started so far (fast check before taking `threads`).
    started: AtomicUsize,
    max_workers: usize,
    prefix: String,
    initializer: Option<Initializer>,
    threads: Mutex<Threads>,
    /// Held while joining, so that concurrent `shutdown(wait = true)` calls
    /// all return only after the threads are gone.
    join_lock: Mutex<()>,
    broken_reason: OnceLock<String>,
}

#[derive(Default)]
struct Threads {
    /// Slot indices handed out (a failed spawn uses one up).
    next_index: usize,
    handles: Vec<JoinHandle<()>>,
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
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::new(2).unwrap();
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
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .build()
    ///     .unwrap();
    /// # drop(ex);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    pub(crate) fn from_parts(
        max_workers: usize,
        prefix: Option<String>,
        initializer: Option<Initializer>,
    ) -> Self {
        let id = POOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        ThreadPoolExecutor {
            shared: Arc::new(Shared {
                id,
                queues: Queues::new(max_workers),
                sleep: Sleep::new(),
                gate: Gate::new(),
                alive: AtomicUsize::new(0),
                started: AtomicUsize::new(0),
                max_workers,
                // An empty prefix means the default, as Python's `prefix or ...`.
                prefix: prefix
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| format!("ThreadPoolExecutor-{id}")),
                initializer,
                threads: Mutex::new(Threads::default()),
                join_lock: Mutex::new(()),
                broken_reason: OnceLock::new(),
            }),
        }
    }

    /// The most threads this pool starts.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::new(7).unwrap();
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
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] once `shutdown` began,
    /// [`SubmitError::Broken`] if an initializer failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_pool::ThreadPoolExecutor;
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
        let future = Future::new();
        trace::submitted("thread", &future);
        self.shared
            .push(Job::new(WorkItem::new(Plain(f), future.clone())))?;
        Ok(future)
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
    /// use concurrent_futures_pool::ThreadPoolExecutor;
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
        let future = Future::new();
        trace::submitted("thread", &future);
        let body = Fallible(f, std::marker::PhantomData);
        self.shared
            .push(Job::new(WorkItem::new(body, future.clone())))?;
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
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::new(2).unwrap();
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
    /// use concurrent_futures_pool::{MapOptions, ThreadPoolExecutor};
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
            let slots = std::iter::from_fn(|| next_chunk(&mut iter, chunk))
                .map(|items| submit_slot(&self.shared, &f, items));
            return Map::submitted(slots, options);
        }
        // The source keeps only a weak link: a map outliving its pool
        // reports the pool as shut down instead of keeping it alive.
        let pool = Arc::downgrade(&self.shared);
        let source = Box::new(move || {
            let items = next_chunk(&mut iter, chunk)?;
            Some(match pool.upgrade() {
                Some(shared) => submit_slot(&shared, &f, items),
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
    /// use concurrent_futures_pool::ThreadPoolExecutor;
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
        self.shared.shutdown(wait, cancel_futures);
    }

    /// A snapshot of the pool's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::new(2).unwrap();
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
    pub(crate) fn push(self: &Arc<Self>, job: Job) -> Result<(), SubmitError> {
        if let Err(refusal) = self.gate.enter() {
            if refusal.left == Left::Drained {
                self.sleep.wake_all();
            }
            return Err(self.refused(refusal.why));
        }
        if let Err(job) = queue::push_local(self.id, job) {
            self.queues.inject(job);
        }
        // Python's rule: a submit takes an idle worker's token, or else
        // starts a thread. Once every thread started, the idle scan is
        // skipped: the hot path is a fence and one load.
        self.sleep.wake_one();
        if self.started.load(Ordering::Relaxed) < self.max_workers && !self.queues.claim_idle() {
            self.spawn_worker();
        }
        if self.gate.leave() == Left::Drained {
            self.sleep.wake_all();
        }
        Ok(())
    }

    fn refused(&self, why: Refused) -> SubmitError {
        match why {
            Refused::Shutdown => SubmitError::Shutdown,
            Refused::Broken => SubmitError::broken(self.broken_reason()),
        }
    }

    pub(crate) fn broken_reason(&self) -> &str {
        self.broken_reason
            .get()
            .map_or("the thread pool is broken", String::as_str)
    }

    /// Starts one more worker thread, unless `max_workers` already started.
    fn spawn_worker(self: &Arc<Self>) {
        let mut threads = lock(&self.threads);
        let index = threads.next_index;
        if index >= self.max_workers {
            return;
        }
        threads.next_index += 1;
        let deque = self.queues.new_worker(index);
        let shared = Arc::clone(self);
        self.alive.fetch_add(1, Ordering::Relaxed);
        let spawned = thread::Builder::new()
            .name(format!("{}_{index}", self.prefix))
            .spawn(move || worker::main(shared, index, deque));
        self.started.store(index + 1, Ordering::Relaxed);
        // The event and the diagnostic go out after unlocking: a
        // subscriber or a diagnostic hook is user code.
        match spawned {
            Ok(h) => {
                threads.handles.push(h);
                drop(threads);
                trace::worker_spawned("thread", index);
            }
            Err(e) => {
                self.alive.fetch_sub(1, Ordering::Relaxed);
                let none_running = threads.handles.is_empty();
                drop(threads);
                diagnostics::report(&Diagnostic::new(
                    DiagnosticKind::WorkerStartFailed,
                    format_args!("cannot start thread pool worker {index}: {e}"),
                ));
                if none_running {
                    self.break_pool(format!("cannot start a worker thread: {e}"));
                }
            }
        }
    }

    /// Breaks the pool: refuses submits, fails every queued future with
    /// `reason`, wakes the workers so they drain and exit.
    pub(crate) fn break_pool(&self, reason: String) {
        let _ = self.broken_reason.set(reason);
        self.gate.close(true);
        let why = Abandon::Broken(self.broken_reason());
        self.queues.drain(|job| job.abandon(why));
        self.sleep.wake_all();
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.gate.close(false);
        if cancel_futures {
            // Submitters accepted before the close push soon; wait for them
            // so that their jobs are cancelled too (Python's shutdown lock).
            self.wait_gate();
            let n = self.queues.drain(|job| job.abandon(Abandon::Cancel));
            self.queues.count_cancelled_outside(n);
        }
        self.sleep.wake_all();
        if wait && !self.on_worker_thread() {
            self.wait_gate();
            self.join_workers();
        }
    }

    /// Waits until no accepted submitter is still pushing (they hold no
    /// lock and run no user code inside the gate, so this is short).
    fn wait_gate(&self) {
        while !self.gate.drained() {
            thread::yield_now();
        }
    }

    fn on_worker_thread(&self) -> bool {
        queue::with_local(self.id, |_| ()).is_some()
    }

    fn join_workers(&self) {
        let _serial = lock(&self.join_lock);
        let handles = mem::take(&mut lock(&self.threads).handles);
        for h in handles {
            // A worker never unwinds (tasks run under catch_unwind); if it
            // did, its panic was already reported by the panic hook.
            let _ = h.join();
        }
    }

    fn stats(&self) -> PoolStats {
        let t = self.queues.totals();
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
            shutdown: self.gate.closed(),
            broken: self.gate.broken(),
        }
    }
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
) -> Result<Slot<T>, SubmitError>
where
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    let f = Arc::clone(f);
    if items.len() == 1 {
        let a = items.pop().expect("one item");
        let future = Future::new();
        trace::submitted("thread", &future);
        shared.push(Job::new(WorkItem::new(Plain(move || f(a)), future.clone())))?;
        return Ok(Slot::One(future));
    }
    let len = items.len();
    let run_chunk = move || {
        items
            .into_iter()
            .map(|a| catch_unwind(AssertUnwindSafe(|| f(a))).map_err(TaskError::from_panic))
            .collect::<Vec<_>>()
    };
    let future = Future::new();
    trace::submitted("thread", &future);
    shared.push(Job::new(WorkItem::new(Plain(run_chunk), future.clone())))?;
    Ok(Slot::Chunk { future, len })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Default for ThreadPoolExecutor {
    /// A pool with Python's default size, `min(32, cpus + 4)` threads.
    fn default() -> Self {
        ThreadPoolExecutor::from_parts(builder::default_max_workers(), None, None)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn pool_is_send_sync() {
        assert_send_sync::<ThreadPoolExecutor>();
        fn assert_send<X: Send>() {}
        assert_send::<Map<i32>>();
    }
}

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
        fn abandon(self, _: Abandon<'_>) {}
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
                    ex.shared.push(Job::new(SendBack(i, tx.clone()))).unwrap();
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
