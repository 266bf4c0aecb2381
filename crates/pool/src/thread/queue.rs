//! The work-item queues: one [`Injector`] that every `submit` pushes to
//! (from outside the pool or from one of its tasks), one deque per worker,
//! and stealing between them.
//!
//! # The order tasks start in
//!
//! `submit` is FIFO across the pool, as Python's single queue: a task
//! submitted from inside a task goes behind everything submitted before it,
//! from anywhere. A worker takes a *batch* from the injector into its own
//! deque (fewer contended steals), so with several workers tasks start
//! roughly, not strictly, in submission order (with two workers the fourth
//! may start before the second); with one worker the order is exact.
//!
//! A worker's own deque is also the fast path of [`Scope`](super::Scope)
//! submits made on a worker (`push_local`): no shared cache line. Those may
//! run before older outside work, so while its deque may hold such jobs a
//! worker looks at the injector first every [`GLOBAL_INTERVAL`] jobs
//! (tokio's scheduler does the same): outside work starts after at most
//! that many local jobs, whatever tasks submit. Otherwise the deque holds
//! only a batch taken from the injector, older than anything left there, so
//! it comes first and one worker starts tasks exactly in submission order.
//!
//! Other workers (and `shutdown(cancel_futures = true)`) reach a deque
//! through its [`Stealer`], published in the worker's [`Slot`] before the
//! thread starts. Slots are allocated lazily, in segments that double in
//! size, so `max_workers(usize::MAX)` costs nothing until threads start.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

#[cfg(not(loom))]
use crossbeam_deque::Injector;
use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
#[cfg(loom)]
use model::Injector;

use crate::primitives::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::work_item::{Job, Ran};

/// One worker's published parts: its stealer and its counters. Padded so
/// that a worker's counter updates never share a line with another's.
#[derive(Debug)]
pub(crate) struct Slot {
    stealer: OnceLock<Stealer<Job>>,
    /// Written by the owning worker only (load + store, no RMW).
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    /// [`Activity`] as a word. A worker starts `Starting` (Python counts a
    /// thread idle only once it waits for work), is `Running` from taking a
    /// job until its `run` returned (done-callbacks included), and `Idle`
    /// after that or once it found no work.
    activity: AtomicU32,
}

/// What a worker is doing, as its slot shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Activity {
    /// Free for a job: Python's idle semaphore holds a token for it.
    Idle = 0,
    /// A new thread that has not looked for work yet.
    Starting = 1,
    /// Running a job.
    Running = 2,
    /// Idle, but already promised to one submitted job: its token is taken,
    /// so the next submit of a burst starts a thread instead of queueing
    /// behind this worker.
    Claimed = 3,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            stealer: OnceLock::new(),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            activity: AtomicU32::new(Activity::Starting as u32),
        }
    }
}

impl Slot {
    /// Counts one job's end (owner only).
    pub(crate) fn count(&self, ran: Ran) {
        let c = match ran {
            Ran::Completed => &self.completed,
            Ran::Failed => &self.failed,
            Ran::Cancelled => &self.cancelled,
        };
        // Single writer: a plain load + store is enough; readers (`stats`)
        // want a snapshot, not a synchronization point.
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Owner only; a plain store on the worker's own line. `Release`
    /// pairs with `claim_idle`'s `Acquire`.
    pub(crate) fn set(&self, activity: Activity) {
        self.activity.store(activity as u32, Ordering::Release);
    }
}

/// Totals over every worker (for `stats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    pub(crate) running: usize,
    pub(crate) queued: usize,
}

/// How many jobs a worker takes from its own deque before it looks at the
/// injector first (tokio's `global_queue_interval`).
pub(crate) const GLOBAL_INTERVAL: u32 = 61;

/// Segments of slots: segment `k` holds `4 << k` slots, allocated when the
/// first of them is needed.
const SEGMENTS: usize = 48;

/// The segment and offset of slot `i`.
fn locate(i: usize) -> (usize, usize) {
    let j = i / 4 + 1;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize;
    (k, i - 4 * ((1 << k) - 1))
}

/// The injector and every worker's slot.
#[derive(Debug)]
pub(crate) struct Queues {
    injector: Injector<Job>,
    segments: [OnceLock<Box<[CachePadded<Slot>]>>; SEGMENTS],
    /// Slots whose stealer is published (`Release` after `set`).
    published: AtomicUsize,
    /// Jobs abandoned by `cancel_futures` (cold path, shared).
    cancelled_outside: AtomicU64,
    /// Jobs failed by a break without running (cold path, shared).
    failed_outside: AtomicU64,
    /// Jobs revoked by a submit that was then refused (cold path, shared):
    /// each is counted cancelled once more where it ends (skipped by a
    /// worker, or swept), and `totals` takes them out again, so that the
    /// counters show only what was accepted.
    revoked: AtomicU64,
}

impl Queues {
    pub(crate) fn new() -> Self {
        Queues {
            injector: Injector::new(),
            segments: std::array::from_fn(|_| OnceLock::new()),
            published: AtomicUsize::new(0),
            cancelled_outside: AtomicU64::new(0),
            failed_outside: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
        }
    }

    /// Makes slot `id`'s deque and publishes its stealer. Ids are handed out
    /// in order, one per thread started, under the pool's thread lock.
    pub(crate) fn new_worker(&self, id: usize) -> Worker<Job> {
        let (k, off) = locate(id);
        let seg = self.segments[k]
            .get_or_init(|| (0..4usize << k).map(|_| CachePadded::default()).collect());
        let w = Worker::new_fifo();
        let _ = seg[off].stealer.set(w.stealer());
        self.published.store(id + 1, Ordering::Release);
        w
    }

    /// Slot `id` (published).
    pub(crate) fn slot(&self, id: usize) -> &Slot {
        let (k, off) = locate(id);
        &self.segments[k].get().expect("slot published")[off]
    }

    /// Every published slot.
    fn slots(&self) -> impl Iterator<Item = &Slot> {
        let n = self.published.load(Ordering::Acquire);
        (0..n).map(|i| self.slot(i))
    }

    /// Jobs in the injector now, exactly (loom models' assertions).
    #[cfg(all(test, loom))]
    pub(crate) fn injected_exact(&self) -> usize {
        self.injector.len_exact()
    }

    /// Pushes a job from outside the pool.
    pub(crate) fn inject(&self, job: Job) {
        self.injector.push(job);
    }

    /// The next job for the worker of slot `id`: its own deque, then the
    /// injector (taking a batch), then the other workers' deques; the
    /// injector first when `tick` is a multiple of [`GLOBAL_INTERVAL`] and
    /// the deque may hold scoped jobs pushed on this worker (`scoped`).
    /// Without those, the deque holds only jobs taken from the injector
    /// earlier, which come first: with one worker, tasks start exactly in
    /// submission order.
    #[inline(always)]
    pub(crate) fn find(
        &self,
        id: usize,
        local: &Worker<Job>,
        scoped: &Cell<bool>,
        tick: u32,
    ) -> Option<Job> {
        if tick % GLOBAL_INTERVAL == 0 && scoped.get() {
            if let Some(j) = self.take_injected(local) {
                return Some(j);
            }
        }
        if let Some(j) = local.pop() {
            return Some(j);
        }
        // Empty: whatever was pushed on it is gone.
        scoped.set(false);
        if let Some(j) = self.take_injected(local) {
            return Some(j);
        }
        self.steal_from_others(id)
    }

    fn take_injected(&self, local: &Worker<Job>) -> Option<Job> {
        loop {
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(j) => return Some(j),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    /// Moves what is left in a dying worker's deque to the injector.
    pub(crate) fn rescue(&self, local: &Worker<Job>) {
        while let Some(j) = local.pop() {
            self.injector.push(j);
        }
    }

    fn stealers(&self) -> impl Iterator<Item = &Stealer<Job>> {
        self.slots().filter_map(|s| s.stealer.get())
    }

    fn steal_from_others(&self, id: usize) -> Option<Job> {
        let n = self.published.load(Ordering::Acquire);
        loop {
            let mut retry = false;
            for k in 1..n {
                let Some(s) = self.slot((id + k) % n).stealer.get() else {
                    continue;
                };
                match s.steal() {
                    Steal::Success(j) => return Some(j),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Takes an idle worker's token (Python's `_idle_semaphore.acquire(0)`):
    /// marks one `Idle` worker `Claimed` and returns whether there was one.
    /// Then `submit` starts no thread. A burst of submits claims each idle
    /// worker once, so it starts threads for the rest, as Python does.
    pub(crate) fn claim_idle(&self) -> bool {
        self.slots().any(|s| {
            s.activity
                .compare_exchange(
                    Activity::Idle as u32,
                    Activity::Claimed as u32,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        })
    }

    /// Whether any queue holds a job (the sleep protocol's check).
    pub(crate) fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers().any(|s| !s.is_empty())
    }

    /// Takes every queued job out (for `cancel_futures` and a broken pool).
    pub(crate) fn drain(&self, mut each: impl FnMut(Job)) -> usize {
        let mut n = 0;
        loop {
            match self.injector.steal() {
                Steal::Success(j) => {
                    each(j);
                    n += 1;
                }
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        for s in self.stealers() {
            loop {
                match s.steal() {
                    Steal::Success(j) => {
                        each(j);
                        n += 1;
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        n
    }

    pub(crate) fn count_cancelled_outside(&self, n: usize) {
        self.cancelled_outside
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_failed_outside(&self, n: usize) {
        self.failed_outside.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_revoked(&self) {
        self.revoked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals {
            queued: self.injector.len() + self.stealers().map(Stealer::len).sum::<usize>(),
            cancelled: self.cancelled_outside.load(Ordering::Relaxed),
            failed: self.failed_outside.load(Ordering::Relaxed),
            ..Totals::default()
        };
        for s in self.slots() {
            t.completed += s.completed.load(Ordering::Relaxed);
            t.failed += s.failed.load(Ordering::Relaxed);
            t.cancelled += s.cancelled.load(Ordering::Relaxed);
            t.running +=
                usize::from(s.activity.load(Ordering::Relaxed) == Activity::Running as u32);
        }
        // A revoked job is counted when it ends, which may come after this
        // read of `revoked`: saturate (exact once the pool is quiet).
        t.cancelled = t
            .cancelled
            .saturating_sub(self.revoked.load(Ordering::Relaxed));
        t
    }
}

/// The deque of the worker thread this code runs on, tagged with its pool.
struct Local {
    pool: usize,
    /// The worker's index (`ThreadPoolExecutor::current_thread_index`).
    index: usize,
    /// The worker's slot (its counters: `Queues::slot`).
    slot: usize,
    deque: Worker<Job>,
    /// `push_local` pushed onto the deque since it was last found empty.
    scoped: Cell<bool>,
}

#[cfg(not(loom))]
thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

// Loom runs its threads as coroutines on one OS thread: a `std`
// thread-local would be shared by all of them.
#[cfg(loom)]
loom::thread_local! {
    static LOCAL: RefCell<Option<Local>> = RefCell::new(None);
}

/// Installs `deque` as this thread's own deque for pool `pool`.
pub(crate) fn install_local(pool: usize, index: usize, slot: usize, deque: Worker<Job>) {
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(Local {
            pool,
            index,
            slot,
            deque,
            scoped: Cell::new(false),
        })
    });
}

/// The index of the worker this code runs on, in its own pool.
pub(crate) fn local_index() -> Option<usize> {
    LOCAL
        .try_with(|l| l.try_borrow().ok()?.as_ref().map(|l| l.index))
        .ok()
        .flatten()
}

/// The slot of the worker of `pool` this code runs on, if it is one.
pub(crate) fn local_slot(pool: usize) -> Option<usize> {
    LOCAL
        .try_with(|l| {
            let l = l.try_borrow().ok()?;
            l.as_ref().filter(|l| l.pool == pool).map(|l| l.slot)
        })
        .ok()
        .flatten()
}

/// Removes this thread's deque, giving it back (the worker is exiting).
pub(crate) fn take_local() -> Option<Worker<Job>> {
    LOCAL
        .try_with(|l| l.borrow_mut().take().map(|l| l.deque))
        .ok()
        .flatten()
}

/// Runs `f` with this thread's deque, if it belongs to `pool`.
pub(crate) fn with_local<R>(pool: usize, f: impl FnOnce(&Worker<Job>) -> R) -> Option<R> {
    with_local_flagged(pool, |d, _| f(d))
}

/// [`with_local`], with the deque's `scoped` flag (see [`Queues::find`]).
pub(crate) fn with_local_flagged<R>(
    pool: usize,
    f: impl FnOnce(&Worker<Job>, &Cell<bool>) -> R,
) -> Option<R> {
    LOCAL
        .try_with(|l| {
            let l = l.try_borrow().ok()?;
            let local = l.as_ref().filter(|l| l.pool == pool)?;
            Some(f(&local.deque, &local.scoped))
        })
        .ok()
        .flatten()
}

/// Pushes `job` onto this thread's deque if this is a worker of `pool`;
/// gives it back otherwise (scoped submits only: see the module docs).
pub(crate) fn push_local(pool: usize, job: Job) -> Result<(), Job> {
    let mut job = Some(job);
    let pushed = with_local_flagged(pool, |d, scoped| {
        scoped.set(true);
        d.push(job.take().expect("job pushed twice"));
    });
    match (pushed, job) {
        (Some(()), _) => Ok(()),
        (None, Some(j)) => Err(j),
        (None, None) => unreachable!("job taken without a push"),
    }
}

/// The injector as loom sees it (`--cfg loom` only). Loom cannot see inside
/// crossbeam-deque, so with the real injector a push would be visible to
/// every thread at once, and a missing fence between a submitter's push and
/// its confirm (or a worker's `drained` and its last look) could never fail
/// a model. Here the jobs sit under a loom lock, and emptiness is read from
/// a `Relaxed` length outside it, as a stale read of crossbeam's indices
/// would be: only the protocol's fences make a push visible to `is_empty`
/// and to a steal (which reads the length first, as crossbeam's reads its
/// indices). A steal takes one job (batches are a speed matter, not a
/// protocol one).
#[cfg(loom)]
mod model {
    use std::collections::VecDeque;

    use crossbeam_deque::{Steal, Worker};

    use crate::primitives::{AtomicUsize, Mutex, Ordering};

    pub(crate) struct Injector<T> {
        jobs: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> std::fmt::Debug for Injector<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Injector { .. }")
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector {
                jobs: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }

        pub(crate) fn push(&self, job: T) {
            let mut jobs = self.jobs.lock();
            jobs.push_back(job);
            self.len.store(jobs.len(), Ordering::Relaxed);
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            // As crossbeam's steal, which reads the indices first: a stale
            // read says empty.
            if self.is_empty() {
                return Steal::Empty;
            }
            let mut jobs = self.jobs.lock();
            let job = jobs.pop_front();
            self.len.store(jobs.len(), Ordering::Relaxed);
            job.map_or(Steal::Empty, Steal::Success)
        }

        pub(crate) fn steal_batch_and_pop(&self, _: &Worker<T>) -> Steal<T> {
            self.steal()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.len.load(Ordering::Relaxed) == 0
        }

        pub(crate) fn len(&self) -> usize {
            self.len.load(Ordering::Relaxed)
        }

        /// The length read under the lock (models' assertions only).
        pub(crate) fn len_exact(&self) -> usize {
            self.jobs.lock().len()
        }
    }
}
