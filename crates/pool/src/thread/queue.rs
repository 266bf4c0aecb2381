//! The work-item queues: one [`Injector`] for submits from outside the pool,
//! one deque per worker for submits made by a task running on that worker,
//! and stealing between them.
//!
//! A worker's own deque is FIFO, and so is the injector, but a worker takes
//! a *batch* from the injector into its deque (fewer contended steals), so
//! across workers tasks start roughly, not strictly, in submission order:
//! with two workers, the fourth task may start before the second. Python's
//! single queue starts them in order; matching it would cost a contended
//! steal per task. The deque lives in a thread-local of the worker thread, so a task that
//! submits to its own pool pushes there without touching a shared cache
//! line. Other workers (and `shutdown(cancel_futures = true)`) reach it
//! through its [`Stealer`], published in the worker's [`Slot`] before the
//! thread starts.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;

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
    /// [`Activity`] as a byte. A worker starts `Starting` (Python counts a
    /// thread idle only once it waits for work), is `Idle` once its task's
    /// closure returned (before the future is completed, so that a
    /// submitter that saw the result sees the worker idle) or once it found
    /// no work, and `Running` while it runs a job.
    activity: AtomicU8,
}

/// What a worker is doing, as its slot shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
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
            activity: AtomicU8::new(Activity::Starting as u8),
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
        self.activity.store(activity as u8, Ordering::Release);
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

/// The injector and every worker's slot.
#[derive(Debug)]
pub(crate) struct Queues {
    injector: Injector<Job>,
    slots: Box<[CachePadded<Slot>]>,
    /// Slots whose stealer is published (`Release` after `set`).
    published: AtomicUsize,
    /// Jobs abandoned by `cancel_futures` (cold path, shared).
    cancelled_outside: AtomicU64,
}

impl Queues {
    pub(crate) fn new(max_workers: usize) -> Self {
        Queues {
            injector: Injector::new(),
            slots: (0..max_workers).map(|_| CachePadded::default()).collect(),
            published: AtomicUsize::new(0),
            cancelled_outside: AtomicU64::new(0),
        }
    }

    /// Makes worker `index`'s deque and publishes its stealer. Indices are
    /// handed out in order under the pool's thread lock.
    pub(crate) fn new_worker(&self, index: usize) -> Worker<Job> {
        let w = Worker::new_fifo();
        let _ = self.slots[index].stealer.set(w.stealer());
        self.published.store(index + 1, Ordering::Release);
        w
    }

    pub(crate) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    /// Pushes a job from outside the pool.
    pub(crate) fn inject(&self, job: Job) {
        self.injector.push(job);
    }

    /// The next job for worker `index`: its own deque, then the injector
    /// (taking a batch), then the other workers' deques.
    pub(crate) fn find(&self, index: usize, local: &Worker<Job>) -> Option<Job> {
        if let Some(j) = local.pop() {
            return Some(j);
        }
        loop {
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(j) => return Some(j),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        self.steal_from_others(index)
    }

    fn stealers(&self) -> impl Iterator<Item = &Stealer<Job>> {
        let n = self.published.load(Ordering::Acquire);
        self.slots[..n].iter().filter_map(|s| s.stealer.get())
    }

    fn steal_from_others(&self, index: usize) -> Option<Job> {
        let n = self.published.load(Ordering::Acquire);
        loop {
            let mut retry = false;
            for k in 1..n {
                let Some(s) = self.slots[(index + k) % n].stealer.get() else {
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
        let n = self.published.load(Ordering::Acquire);
        self.slots[..n].iter().any(|s| {
            s.activity
                .compare_exchange(
                    Activity::Idle as u8,
                    Activity::Claimed as u8,
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

    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals {
            queued: self.injector.len() + self.stealers().map(Stealer::len).sum::<usize>(),
            cancelled: self.cancelled_outside.load(Ordering::Relaxed),
            ..Totals::default()
        };
        let n = self.published.load(Ordering::Acquire);
        for s in &self.slots[..n] {
            t.completed += s.completed.load(Ordering::Relaxed);
            t.failed += s.failed.load(Ordering::Relaxed);
            t.cancelled += s.cancelled.load(Ordering::Relaxed);
            t.running += usize::from(s.activity.load(Ordering::Relaxed) == Activity::Running as u8);
        }
        t
    }
}

/// The deque of the worker thread this code runs on, tagged with its pool.
struct Local {
    pool: usize,
    deque: Worker<Job>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Installs `deque` as this thread's own deque for pool `pool`.
pub(crate) fn install_local(pool: usize, deque: Worker<Job>) {
    LOCAL.with(|l| *l.borrow_mut() = Some(Local { pool, deque }));
}

/// Removes this thread's deque (the worker is exiting).
pub(crate) fn remove_local() {
    LOCAL.with(|l| l.borrow_mut().take());
}

/// Runs `f` with this thread's deque, if it belongs to `pool`.
pub(crate) fn with_local<R>(pool: usize, f: impl FnOnce(&Worker<Job>) -> R) -> Option<R> {
    LOCAL
        .try_with(|l| {
            let l = l.try_borrow().ok()?;
            let local = l.as_ref().filter(|l| l.pool == pool)?;
            Some(f(&local.deque))
        })
        .ok()
        .flatten()
}

/// Pushes `job` onto this thread's deque if this is a worker of `pool`;
/// gives it back otherwise.
pub(crate) fn push_local(pool: usize, job: Job) -> Result<(), Job> {
    let mut job = Some(job);
    let pushed = with_local(pool, |d| d.push(job.take().expect("job pushed twice")));
    match (pushed, job) {
        (Some(()), _) => Ok(()),
        (None, Some(j)) => Err(j),
        (None, None) => unreachable!("job taken without a push"),
    }
}
