//! The pool's shared state and its slot threads.
//!
//! A *slot* is one long-lived parent thread that owns one worker process at
//! a time: it spawns the process (so the worker's parent-death signal is tied
//! to a thread that outlives it), takes one job from the queue, marks it
//! running (`set_running_or_notify_cancel`) right before sending it, waits
//! for the reply with the task's deadline, completes the future, and loops.
//! When the worker dies, times out or breaks the protocol, the slot reaps
//! it, fails that one job, and starts a new worker. Slots start on demand,
//! up to `max_workers`.
//!
//! An idle slot sleeps on the pool's condvar, but wakes every
//! [`IDLE_CHECK`] to look at its worker (`WorkerProcess::check_idle`), so a
//! worker that dies, hangs up or writes while idle is reaped and counted
//! gone at once; no job fails. See [`Restart`] for when it is replaced.
//!
//! Queued jobs stay `Pending` (cancellable) until a slot takes them; a slot
//! takes a job only when its worker is idle, so a worker holds at most one
//! task. The one exception is `map`'s jobs, whose futures only the `Map`
//! iterator sees: while a worker runs one, the slot sends it the next small
//! `map` job ahead of time (one prefetch), so a worker never waits for a
//! round trip between chunks. Replies come in order, so when a worker dies
//! the oldest unanswered job is the one it was running; the prefetched one
//! never started and goes back to the front of the queue, unless the
//! worker was killed by `kill_workers` / `terminate_workers`: then it fails
//! with the same death, and nothing starts after the call.
//!
//! A slot counts as *ready* (it will look at the queue again without being
//! woken) from the moment it has its reply, before it completes the future,
//! while it spins for [`IDLE_SPIN`] before sleeping, and while it looks at
//! its idle worker (and replaces it, if it died): a caller that submits the
//! next task right after `result()` returns finds it ready, and neither
//! starts a second worker nor pays a wake-up.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use concurrent_futures_core::{trace, TaskError};

use super::job::Job;
use super::protocol::ProtocolError;
use super::worker::{IdleEnd, PidCell, RunOutcome, SpawnConfig, StartError, WorkerProcess};
use crate::error::SubmitError;
use crate::lifecycle::{Lifecycle, Queued};
use crate::primitives::{Condvar, Mutex, MutexGuard};
use crate::work_item::Abandon;
use crate::PoolStats;

/// The options a pool was built with.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) max_tasks_per_child: Option<usize>,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) spawn: SpawnConfig,
}

/// What the rest of the pool sees of a slot.
#[derive(Debug, Default)]
pub(crate) struct SlotInfo {
    id: usize,
    cell: PidCell,
    /// The id of the job its worker runs, 0 when idle.
    running: AtomicU64,
    /// The slot thread is completing, failing or cancelling futures: their
    /// done-callbacks (user code) run on it now, for as long as they take.
    in_callbacks: AtomicBool,
    /// The slot thread is in `join_slots`, called from such a callback.
    joining: AtomicBool,
}

impl SlotInfo {
    /// Runs `f`, which may run done-callbacks, marked [`in_callbacks`]
    /// (`SlotInfo::in_callbacks`) for `kill_workers`, which does not wait
    /// for such a slot once its worker is dead (`Pool::join_slots`).
    fn in_callbacks<R>(&self, f: impl FnOnce() -> R) -> R {
        // Relaxed, and no wake-up: a kill's `join_slots` looks at every
        // slot again at least every `JOIN_POLL`, and nothing else reads it.
        // (Setting it under the pool's lock would cost a lock per task.)
        // Only the slot's own thread writes it: a load and a store, no RMW.
        let outer = self.in_callbacks.load(Ordering::Relaxed);
        self.in_callbacks.store(true, Ordering::Relaxed);
        struct Reset<'a>(&'a AtomicBool, bool);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.store(self.1, Ordering::Relaxed);
            }
        }
        let _reset = Reset(&self.in_callbacks, outer);
        f()
    }
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Job>,
    slots: Vec<Arc<SlotInfo>>,
    /// Slots waiting for a job.
    idle: usize,
    /// Slots not yet waiting for their first job.
    starting: usize,
    /// Slots that will look at the queue without a wake-up (see the module
    /// docs).
    ready: usize,
    /// `kill_workers` / `terminate_workers` was called: no worker starts,
    /// no job is handed back.
    killed: bool,
    /// Each slot thread's handle, with the slot's id.
    handles: Vec<(usize, JoinHandle<()>)>,
    next_slot: usize,
    workers_started: u64,
}

/// The state every handle of one pool shares.
#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) config: Config,
    /// Admission, shutdown and breaking, shared with the thread pool
    /// (`lifecycle/`): a submit is accepted iff it found the gate open under
    /// the queue's lock; slots exit once it is closed and the queue empty.
    lc: Lifecycle,
    state: Mutex<State>,
    /// A job was queued, or the pool shut down or broke.
    work: Condvar,
    /// A slot exited.
    exited: Condvar,
    next_id: AtomicU64,
    /// The queue's length, a hint read without the lock by spinning slots.
    queued: AtomicUsize,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

/// How long a slot whose worker is idle spins on the queue (yielding the
/// CPU, see `worker.rs`'s `REPLY_SPIN`) before it sleeps on the condvar:
/// sequential `submit` + `result` calls come back within microseconds.
const IDLE_SPIN: Duration = Duration::from_micros(50);

/// How often a slot asleep beside an idle worker wakes to look at it
/// (`WorkerProcess::check_idle`: one `poll`): a worker that dies, hangs up
/// or writes while it holds no task is reaped, and counted gone, within
/// this much, not when the next job comes.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// How many more starts a slot tries after a worker with no initializer died
/// before it was ready, before the death breaks the pool (so one outside
/// kill during a start does not, and a worker that can never start still
/// does, after three tries).
const START_RETRIES: u32 = 2;

/// What an idle slot is to do next (`Pool::next_job`).
#[derive(Debug)]
enum Next {
    /// Run this job.
    Job(Job),
    /// Exit: the pool broke, or shut down and drained.
    Exit,
    /// Nothing came for the look-after time: look at the idle worker, then
    /// ask again.
    Look,
}

/// How long `terminate_workers` waits after `SIGTERM` before it sends
/// `SIGKILL` to the workers still alive.
pub(crate) const TERMINATE_GRACE: Duration = Duration::from_millis(500);

/// How often `kill_workers` looks at a slot that runs done-callbacks, to
/// see whether its worker is dead (no wake-up says so).
const JOIN_POLL: Duration = Duration::from_millis(2);

/// What a slot has told the pool about itself (each undone once).
#[derive(Debug)]
struct Marks {
    starting: bool,
    ready: bool,
}

/// The largest `map` job sent ahead of time: far below a socket's buffer,
/// so sending it while the worker is busy never blocks.
const PREFETCH_MAX: usize = 32 * 1024;

thread_local! {
    /// The pool whose slot this thread is (its address), 0 elsewhere.
    static SLOT_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The `SlotInfo` of that slot (its address), 0 elsewhere.
    static SLOT_INFO: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Whether this slot thread is counted in `State::ready` now (it is
    /// completing a future, perhaps running its done-callbacks).
    static READY_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The stack of a slot thread, which decodes its worker's results. A value
/// nested deeper than rmp's depth limit sees (enum and newtype levels are
/// not counted) is decoded by recursion; the worker encoded it on its 8 MiB
/// main thread, and decoding takes several times the stack per level that
/// encoding does, so with the default 2 MiB a result of 5,000 levels
/// overflowed the slot thread and aborted the parent. Address space only:
/// the pages are touched only as deep as a decode goes.
const SLOT_STACK: usize = 64 << 20;

impl Pool {
    pub(crate) fn new(config: Config) -> Arc<Self> {
        Arc::new(Pool {
            config,
            lc: Lifecycle::new(),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            exited: Condvar::new(),
            next_id: AtomicU64::new(1),
            queued: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// A fresh task id (never 0).
    pub(crate) fn next_id(&self) -> u64 {
        // Relaxed: ids need only be unique, nothing is published with them.
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Refuses new work early (before the argument is encoded) if the pool
    /// is broken or shut down; `submit` decides for good.
    pub(crate) fn check_open(&self) -> Result<(), SubmitError> {
        if self.lc.broken() {
            return Err(SubmitError::broken(self.lc.broken_reason()));
        }
        if self.lc.closed() {
            return Err(SubmitError::Shutdown);
        }
        Ok(())
    }

    /// Queues a job, starting a slot if every slot is busy and there is
    /// room for another.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), SubmitError> {
        let mut st = self.lock();
        // Admission under the queue's lock (`lifecycle/gate.rs`): `shutdown`
        // and breaks close the gate before they lock to sweep or wake.
        if let Err(e) = self.lc.admit() {
            drop(st);
            // Outside the lock: dropping a job ends its future.
            drop(job);
            return Err(e);
        }
        st.queue.push_back(job);
        // Relaxed: a hint for spinning slots, which re-check under the lock.
        self.queued.store(st.queue.len(), Ordering::Relaxed);
        let mut new_slot = None;
        // A done-callback on a ready slot's thread that submits (and may
        // wait) cannot count that slot: it is busy until the callback
        // returns. (A slot whose future had callbacks is not marked ready
        // before it completes, `run_jobs`; this covers one added after that
        // look.)
        let own_ready = READY_HERE.with(std::cell::Cell::get)
            && SLOT_OF.with(std::cell::Cell::get) == Arc::as_ptr(self) as usize;
        let available = (st.idle + st.starting + st.ready).saturating_sub(usize::from(own_ready));
        if st.queue.len() > available && st.slots.len() < self.config.max_workers {
            let info = Arc::new(SlotInfo {
                id: st.next_slot,
                ..SlotInfo::default()
            });
            st.next_slot += 1;
            st.starting += 1;
            st.slots.push(info.clone());
            new_slot = Some(info);
        }
        let wake_idle = st.idle > 0;
        drop(st);
        // Signal after unlocking, so the woken slot does not block at once on
        // the pool's lock; it re-checks the queue under the lock.
        if wake_idle {
            self.work.notify_one();
        }
        if let Some(info) = new_slot {
            self.start_slot(info);
        }
        Ok(())
    }

    fn start_slot(self: &Arc<Self>, info: Arc<SlotInfo>) {
        let pool = self.clone();
        let slot = info.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("cf-process-slot-{}", info.id))
            .stack_size(SLOT_STACK)
            .spawn(move || slot_main(&pool, &slot));
        match spawned {
            Ok(h) => self.lock().handles.push((info.id, h)),
            Err(e) => {
                let none_left = {
                    let mut st = self.lock();
                    st.starting -= 1;
                    st.slots.retain(|s| !Arc::ptr_eq(s, &info));
                    self.exited.notify_all();
                    st.slots.is_empty()
                };
                if none_left {
                    self.break_pool(format!("a worker thread could not be started: {e}"), None);
                }
            }
        }
    }

    /// Whether a slot without a worker should start one.
    fn wants_worker(&self, carrying: bool) -> bool {
        let st = self.lock();
        !self.lc.broken() && !st.killed && (carrying || !self.lc.drained() || !st.queue.is_empty())
    }

    /// Undoes a slot's marks (under the lock).
    fn unmark(st: &mut State, marks: &mut Marks) {
        if std::mem::take(&mut marks.starting) {
            st.starting -= 1;
        }
        if std::mem::take(&mut marks.ready) {
            st.ready -= 1;
            READY_HERE.with(|r| r.set(false));
        }
    }

    /// Marks a slot ready: it will take the next job without a wake-up.
    fn mark_ready(&self, marks: &mut Marks) {
        if !marks.ready {
            self.lock().ready += 1;
            marks.ready = true;
            READY_HERE.with(|r| r.set(true));
        }
    }

    /// The next job for a slot whose worker is idle; [`Next::Exit`] when
    /// the slot should exit (broken, or shut down and drained with an empty
    /// queue). With `look_after`, a slot that slept that long with nothing
    /// to do returns [`Next::Look`] to look at its worker; `spin` says
    /// whether it spins for [`IDLE_SPIN`] first (not again after a look).
    fn next_job(&self, marks: &mut Marks, spin: bool, look_after: Option<Duration>) -> Next {
        let mut st = self.lock();
        Self::unmark(&mut st, marks);
        let mut spun = cfg!(loom) || !spin;
        let mut look_at = None;
        loop {
            if self.lc.broken() {
                return Next::Exit;
            }
            if let Some(job) = st.queue.pop_front() {
                self.queued.store(st.queue.len(), Ordering::Relaxed);
                return Next::Job(job);
            }
            // Closed, checked under the lock submitters push under: no job
            // can be accepted any more.
            if self.lc.drained() {
                return Next::Exit;
            }
            if !spun {
                // Still counted ready while it spins, so a submit now
                // neither starts a slot nor needs to wake this one.
                spun = true;
                st.ready += 1;
                drop(st);
                let until = Instant::now() + IDLE_SPIN;
                while self.queued.load(Ordering::Relaxed) == 0 && Instant::now() < until {
                    std::thread::yield_now();
                }
                st = self.lock();
                st.ready -= 1;
                continue;
            }
            st.idle += 1;
            st = match look_after {
                None => self.work.wait(st),
                Some(every) => {
                    let at = *look_at.get_or_insert_with(|| Instant::now() + every);
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        // Counted ready while it looks (it comes back to
                        // the queue without a wake-up), so a submit now
                        // starts no other slot; undone by the next call.
                        st.idle -= 1;
                        st.ready += 1;
                        marks.ready = true;
                        return Next::Look;
                    }
                    self.work.wait_timeout(st, left)
                }
            };
            st.idle -= 1;
        }
    }

    /// A `map` job small enough to send ahead while the worker is busy, if
    /// one is at the front of the queue.
    fn try_prefetch(&self) -> Option<Job> {
        if self.lc.broken() {
            return None;
        }
        let mut st = self.lock();
        let front = st.queue.front()?;
        if front.prefetch && front.frame.len() <= PREFETCH_MAX {
            let job = st.queue.pop_front();
            self.queued.store(st.queue.len(), Ordering::Relaxed);
            job
        } else {
            None
        }
    }

    /// Fails a job and counts it.
    fn fail(&self, job: Job, e: TaskError) {
        // Relaxed: statistics only.
        self.failed.fetch_add(1, Ordering::Relaxed);
        job.sink.fail(e);
    }

    /// Cancels a job that never started and counts it.
    fn cancel(&self, job: Job) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
        job.sink.cancel();
    }

    /// Puts jobs a dead worker never reached back at the front of the queue
    /// (in order); fails them with `death` if the workers were killed
    /// (`kill_workers`), or as broken if the pool broke.
    fn requeue_front(&self, jobs: Vec<Job>, death: &TaskError) {
        if jobs.is_empty() {
            return;
        }
        let mut st = self.lock();
        let error = if st.killed {
            Some(death.clone())
        } else {
            self.lc
                .broken()
                .then(|| TaskError::broken(self.lc.broken_reason()))
        };
        if let Some(error) = error {
            drop(st);
            for job in jobs {
                self.fail(job, error.clone());
            }
            return;
        }
        for job in jobs.into_iter().rev() {
            st.queue.push_front(job);
        }
        self.queued.store(st.queue.len(), Ordering::Relaxed);
        self.work.notify_all();
    }

    /// Breaks the pool (Python's `BrokenProcessPool`, `Lifecycle::break_with`):
    /// queued jobs and `carried` fail, later submits are refused. After
    /// `shutdown` the pool is only drained (its queued jobs fail with the
    /// reason), not marked broken.
    fn break_pool(&self, reason: String, carried: Option<Job>) {
        if self.lc.closed() && !self.lc.broken() {
            self.abandon_queued(Abandon::Broken(&reason));
            self.wake_all();
        } else {
            self.lc.break_with(self, reason.clone());
        }
        if let Some(job) = carried {
            self.fail(job, TaskError::broken(reason));
        }
    }

    fn slot_exited(&self, info: &Arc<SlotInfo>, marks: &mut Marks) {
        let mut st = self.lock();
        Self::unmark(&mut st, marks);
        st.slots.retain(|s| !Arc::ptr_eq(s, info));
        self.exited.notify_all();
    }

    /// Python's `shutdown(wait, cancel_futures)` (`Lifecycle::shutdown`:
    /// with `cancel_futures`, every job accepted before it is started or
    /// cancelled).
    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.lc.shutdown(self, cancel_futures);
        if wait {
            self.join_slots(None, false);
        }
    }

    /// Waits until every slot has exited, or until `deadline`: whether
    /// they all did. Called from a done-callback on a slot thread (a
    /// `shutdown` or `kill_workers` there), it cannot wait for that slot,
    /// nor for another slot whose callback waits here too (each would wait
    /// for the other for ever): it waits for the rest. With `killed`
    /// (`kill_workers`, `terminate_workers`), it does not wait for a slot
    /// whose worker is dead while its thread runs done-callbacks: that
    /// waits for user code, not for a worker (the slot reaps the worker
    /// when the callbacks return). The threads of the slots that exited
    /// are joined; the others, by a later call.
    fn join_slots(&self, deadline: Option<Instant>, killed: bool) -> bool {
        let own = (SLOT_OF.with(std::cell::Cell::get) == self as *const Pool as usize)
            .then(|| SLOT_INFO.with(std::cell::Cell::get));
        let mut st = self.lock();
        let me = own.and_then(|own| {
            st.slots
                .iter()
                .find(|s| Arc::as_ptr(s) as usize == own)
                .cloned()
        });
        // Marked (and unmarked, however this returns) under the lock, so
        // another joiner sees it at its next look.
        struct Joining<'a>(&'a Pool, Option<Arc<SlotInfo>>);
        impl Drop for Joining<'_> {
            fn drop(&mut self) {
                if let Some(me) = &self.1 {
                    let _st = self.0.lock();
                    me.joining.store(false, Ordering::Relaxed);
                    self.0.exited.notify_all();
                }
            }
        }
        if let Some(me) = &me {
            me.joining.store(true, Ordering::Relaxed);
            self.exited.notify_all();
        }
        let _joining = Joining(self, me.clone());
        loop {
            let waits_for = |s: &Arc<SlotInfo>| {
                if me.as_ref().is_some_and(|me| Arc::ptr_eq(me, s)) {
                    return false;
                }
                if s.joining.load(Ordering::Relaxed) {
                    return false;
                }
                !(killed && s.in_callbacks.load(Ordering::Relaxed) && s.cell.exited())
            };
            if !st.slots.iter().any(waits_for) {
                let (gone, alive): (Vec<_>, Vec<_>) = std::mem::take(&mut st.handles)
                    .into_iter()
                    .partition(|(id, _)| st.slots.iter().all(|s| s.id != *id));
                st.handles = alive;
                drop(st);
                for (_, h) in gone {
                    if h.thread().id() != std::thread::current().id() {
                        let _ = h.join();
                    }
                }
                return true;
            }
            // A kill looks again every `JOIN_POLL`: a slot that enters its
            // callbacks, or whose worker dies while it runs them, wakes
            // nobody.
            let now = Instant::now();
            let until = match (deadline, killed) {
                (Some(d), true) => Some(d.min(now + JOIN_POLL)),
                (Some(d), false) => Some(d),
                (None, true) => Some(now + JOIN_POLL),
                (None, false) => None,
            };
            st = match until {
                None => self.exited.wait(st),
                Some(u) => {
                    if deadline.is_some_and(|d| now >= d) {
                        return false;
                    }
                    self.exited
                        .wait_timeout(st, u.saturating_duration_since(now))
                }
            };
        }
    }

    /// Python 3.14's `terminate_workers` (`SIGTERM`, then `SIGKILL` after
    /// [`TERMINATE_GRACE`]) / `kill_workers` (`SIGKILL`): refuses new tasks,
    /// cancels the queued ones, signals every worker (also one still
    /// starting), and waits until they are reaped. Nothing starts after
    /// the call: jobs sent ahead to a killed worker fail with its death.
    pub(crate) fn signal_workers(&self, sig: libc::c_int) {
        self.lock().killed = true;
        // Cancels (or, for jobs handed back already, fails) everything
        // queued: every accepted submitter has pushed (under the lock).
        self.lc.shutdown(self, true);
        let signal_all = |sig| {
            let slots = self.lock().slots.clone();
            for s in &slots {
                s.cell.signal(sig, true);
            }
        };
        signal_all(sig);
        let grace = Some(Instant::now() + TERMINATE_GRACE);
        if sig != libc::SIGKILL && !self.join_slots(grace, true) {
            signal_all(libc::SIGKILL);
        }
        self.join_slots(None, true);
    }

    /// The `max_workers` the pool was built with.
    pub(crate) fn max_workers(&self) -> usize {
        self.config.max_workers
    }

    /// A snapshot of the counters (see [`PoolStats`]).
    pub(crate) fn stats(&self) -> PoolStats {
        let st = self.lock();
        let mut s = PoolStats::default();
        s.workers = st.slots.iter().filter(|s| s.cell.get().is_some()).count();
        // Relaxed: a snapshot.
        s.running = st
            .slots
            .iter()
            .filter(|s| s.running.load(Ordering::Relaxed) != 0)
            .count();
        s.idle = st.idle + st.ready;
        s.sleeping = st.idle;
        s.queued = st.queue.len();
        s.completed = self.completed.load(Ordering::Relaxed);
        s.failed = self.failed.load(Ordering::Relaxed);
        s.cancelled = self.cancelled.load(Ordering::Relaxed);
        s.shutdown = self.lc.closed();
        s.broken = self.lc.broken();
        s
    }

    /// A one-line picture of the pool, for `Debug` and test watchdogs.
    pub(crate) fn describe(&self) -> String {
        let st = self.lock();
        let mut out = format!(
            "ProcessPoolExecutor {{ max_workers: {}, queued: {}, idle: {}, starting: {}, shutdown: {}, broken: {:?}, workers_started: {}, slots: [",
            self.config.max_workers,
            st.queue.len(),
            st.idle,
            st.starting,
            self.lc.closed(),
            self.lc.broken().then(|| self.lc.broken_reason()),
            st.workers_started,
        );
        for (i, s) in st.slots.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let pid = s
                .cell
                .get()
                .map_or_else(|| "-".to_owned(), |p| p.to_string());
            // Relaxed: a diagnostic snapshot.
            let job = s.running.load(Ordering::Relaxed);
            let _ = write!(out, "{sep}#{} pid {pid} running {job}", s.id);
        }
        out.push_str("] }");
        out
    }

    fn note_started(&self) {
        self.lock().workers_started += 1;
    }
}

impl Queued for Pool {
    fn abandon_queued(&self, why: Abandon<'_>) -> usize {
        let jobs: Vec<Job> = {
            let mut st = self.lock();
            let jobs = match why {
                // Jobs already marked running (handed back by a dead
                // worker) cannot be cancelled: they stay queued and run,
                // unless the workers were killed.
                Abandon::Cancel if !st.killed => {
                    let (keep, cancel): (VecDeque<Job>, VecDeque<Job>) =
                        st.queue.drain(..).partition(|j| j.started);
                    st.queue = keep;
                    cancel.into_iter().collect()
                }
                _ => st.queue.drain(..).collect(),
            };
            self.queued.store(st.queue.len(), Ordering::Relaxed);
            jobs
        };
        let n = jobs.len();
        // Outside the lock: completing a future runs its callbacks.
        for job in jobs {
            match why {
                Abandon::Cancel if job.started => self.fail(
                    job,
                    TaskError::broken("the pool's workers were killed before the task ran again"),
                ),
                Abandon::Cancel => self.cancel(job),
                Abandon::Broken(reason) => self.fail(job, TaskError::broken(reason)),
            }
        }
        n
    }

    fn wake_all(&self) {
        // Under the lock, so a slot between its check and its wait cannot
        // miss it.
        let _st = self.lock();
        self.work.notify_all();
    }
}

/// What a slot thread owns. Dropping it (also when the thread unwinds
/// from a bug) closes and reaps the worker and unregisters the slot, so
/// `shutdown` never waits for a slot that is gone.
struct Slot<'a> {
    pool: &'a Pool,
    info: &'a Arc<SlotInfo>,
    worker: Option<WorkerProcess>,
    marks: Marks,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.close(&self.info.cell);
        }
        self.pool.slot_exited(self.info, &mut self.marks);
    }
}

/// When a slot without a worker starts the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    /// At once: the first worker, or the replacement of one that died
    /// running a task or retired. A start that fails breaks the pool.
    Now,
    /// At once, replacing a worker that died idle after it had run a task.
    /// That death lost no task, so a start that fails breaks nothing: the
    /// slot waits for a job ([`Restart::OnDemand`]), which tries again.
    AfterIdleDeath,
    /// Only when a job comes: the last worker died idle before it ran any
    /// task (its initializer may have left something that ends it), so it
    /// is not restarted in a loop.
    OnDemand,
}

impl Slot<'_> {
    /// Looks at the slot's idle worker. One that ended, hung up or wrote
    /// out of turn is reaped, reported and let go, and the answer says when
    /// to start the next.
    fn check_idle(&mut self) -> Option<Restart> {
        let pid = self.info.cell.get().unwrap_or(0) as usize; // for the trace
        let w = self.worker.as_mut()?;
        let end: IdleEnd = w.check_idle(&self.info.cell)?;
        let used = w.tasks_done > 0;
        self.worker = None;
        trace::worker_died("process", pid, &end);
        Some(if used {
            Restart::AfterIdleDeath
        } else {
            Restart::OnDemand
        })
    }
}

/// The life of one slot thread: see the module docs.
fn slot_main(pool: &Arc<Pool>, info: &Arc<SlotInfo>) {
    SLOT_OF.with(|s| s.set(Arc::as_ptr(pool) as usize));
    SLOT_INFO.with(|s| s.set(Arc::as_ptr(info) as usize));
    let mut slot = Slot {
        pool,
        info,
        worker: None,
        marks: Marks {
            starting: true,
            ready: false,
        },
    };
    let mut carried: Option<Job> = None;
    let mut had_worker = false; // a later start replaces a dead or retired one
    let mut restart = Restart::Now;
    let mut spin = true; // not again after a look at an idle worker
    let mut deaths_in_start = 0; // in a row, of workers with no initializer
    loop {
        if slot.worker.is_none() && (carried.is_some() || restart != Restart::OnDemand) {
            if !pool.wants_worker(carried.is_some()) {
                if let Some(job) = carried.take() {
                    let why = if pool.lock().killed {
                        "the pool's workers were killed before the task started"
                    } else {
                        "the pool broke before the task started"
                    };
                    info.in_callbacks(|| pool.fail(job, TaskError::broken(why)));
                }
                break;
            }
            match WorkerProcess::spawn(&pool.config.spawn, &info.cell) {
                Ok(w) => {
                    pool.note_started();
                    deaths_in_start = 0;
                    slot.worker = Some(w);
                    restart = Restart::Now;
                    let pid = info.cell.get().unwrap_or(0) as usize;
                    if std::mem::replace(&mut had_worker, true) {
                        trace::worker_replaced("process", pid);
                    } else {
                        trace::worker_spawned("process", pid);
                    }
                }
                // A worker with no initializer runs no user code before it
                // is ready: its death there came from outside (a kill, the
                // OOM killer), and a new start is tried, as after a death
                // while idle. Deaths that repeat break the pool, as do an
                // initializer that fails or dies (Python's rule) and a start
                // that fails otherwise.
                Err(StartError::Died(_))
                    if pool.config.spawn.init.is_none() && deaths_in_start < START_RETRIES =>
                {
                    deaths_in_start += 1;
                }
                Err(_) if carried.is_none() && restart == Restart::AfterIdleDeath => {
                    // Nothing is lost: the next job tries again, and breaks
                    // the pool if that start fails too.
                    restart = Restart::OnDemand;
                }
                Err(e) => {
                    // Every future hears of it: the pool breaks.
                    info.in_callbacks(|| pool.break_pool(e.to_string(), carried.take()));
                    break;
                }
            }
        }
        let job = match carried.take() {
            Some(job) => job,
            None => {
                let look = slot.worker.is_some().then_some(IDLE_CHECK);
                match pool.next_job(&mut slot.marks, spin, look) {
                    Next::Job(job) => job,
                    Next::Exit => break,
                    Next::Look => {
                        spin = false;
                        if let Some(r) = slot.check_idle() {
                            restart = r;
                        }
                        continue;
                    }
                }
            }
        };
        spin = true;
        if slot.worker.is_none() {
            carried = Some(job);
            continue;
        }
        if let Some(r) = slot.check_idle() {
            // It ended or spoke out of turn while idle: the job never
            // reached it, and goes to its replacement.
            restart = r;
            carried = Some(job);
            continue;
        }
        run_jobs(pool, info, &mut slot.worker, &mut slot.marks, job);
    }
}

/// Runs `first` on the slot's worker, and the `map` jobs prefetched while
/// it runs, completing each future in turn. Returns when nothing is in
/// flight; `worker` is `None` then if the worker died, timed out, broke the
/// protocol (all reaped) or was retired after `max_tasks_per_child`.
fn run_jobs(
    pool: &Pool,
    info: &SlotInfo,
    worker: &mut Option<WorkerProcess>,
    marks: &mut Marks,
    mut first: Job,
) {
    let Some(w) = worker.as_mut() else { return };
    let pid = info.cell.get().unwrap_or(0) as usize; // for the trace event
    if !first.start() {
        // Relaxed: statistics only.
        pool.cancelled.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let max_frame = pool.config.spawn.max_frame;
    let per_child = pool.config.max_tasks_per_child;
    // The head is never handed back (it fails with its worker), so its
    // frame, perhaps large, is freed once sent.
    let frame = std::mem::take(&mut first.frame);
    let mut head_start = Instant::now();
    let deadline = first.time_limit.and_then(|d| head_start.checked_add(d));
    let mut inflight = VecDeque::from([first]);
    let mut send_failed = w.send(&frame, deadline).err();
    drop(frame);
    loop {
        let Some(head) = inflight.front() else { return };
        // Relaxed: a diagnostic snapshot (`describe`, `stats`).
        info.running.store(head.id, Ordering::Relaxed);
        let room = per_child.is_none_or(|n| w.tasks_done + inflight.len() < n);
        if send_failed.is_none() && inflight.len() == 1 && head.prefetch && room {
            if let Some(mut next) = pool.try_prefetch() {
                if next.start() {
                    // The frame stays with the job: if the worker dies
                    // before reaching it, it goes back to the queue whole.
                    // A failed send shows up as the head's missing reply.
                    // At most 32 KiB and the only frame ahead: it fits in
                    // the socket's buffer, so this never waits.
                    let _ = w.send(&next.frame, None);
                    inflight.push_back(next);
                } else {
                    // Cancelled while queued (its `Map` was dropped):
                    // counted as a cancelled head is. Relaxed: statistics.
                    pool.cancelled.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let head = inflight.front().expect("checked above");
        let outcome = match &send_failed {
            None => {
                let deadline = head.time_limit.and_then(|d| head_start.checked_add(d));
                w.receive(head.id, deadline, max_frame, &info.cell)
            }
            Some(e) => w.after_failed_send(e, &info.cell),
        };
        send_failed = None;
        let head = inflight.pop_front().expect("checked above");
        let error = match outcome {
            RunOutcome::Reply(reply) => {
                info.running.store(0, Ordering::Relaxed);
                let retire = inflight.is_empty() && per_child.is_some_and(|n| w.tasks_done >= n);
                if inflight.is_empty() && !retire && !head.sink.has_done_callbacks() {
                    // Ready before the caller can see the result, so its
                    // next submit finds this worker (CPython's
                    // test_idle_process_reuse_one). Not when done-callbacks
                    // will run here first: for as long as they take, a
                    // submit from any thread must count this slot busy and
                    // start another (a callback waiting for a task another
                    // thread submits deadlocked the pool).
                    pool.mark_ready(marks);
                }
                let ok = info.in_callbacks(|| head.complete(reply));
                let counter = if ok { &pool.completed } else { &pool.failed };
                counter.fetch_add(1, Ordering::Relaxed);
                head_start = Instant::now();
                if retire {
                    if let Some(w) = worker.take() {
                        w.close(&info.cell);
                    }
                    return;
                }
                continue;
            }
            RunOutcome::Died(pid, cause) => TaskError::WorkerDied { pid, cause },
            RunOutcome::TimedOut(pid) => TaskError::TimeLimit {
                limit: head.time_limit.unwrap_or_default(),
                pid,
            },
            RunOutcome::Protocol(pid, msg) => TaskError::error(ProtocolError::new(pid, msg)),
        };
        info.running.store(0, Ordering::Relaxed);
        // The worker is gone (reaped). The head was what it was running;
        // the rest never started on it.
        *worker = None;
        trace::worker_died("process", pid, &error);
        let death = error.clone();
        info.in_callbacks(|| {
            pool.fail(head, error);
            pool.requeue_front(inflight.drain(..).collect(), &death);
        });
        return;
    }
}

/// Loom models of the queue protocol (no processes: `max_workers` is 0, so
/// no slot thread starts, and the model's threads play the slot).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use concurrent_futures_core::{Completer, Future};

    use crate::process::job::One;

    fn pool() -> Arc<Pool> {
        Pool::new(Config {
            max_workers: 0,
            max_tasks_per_child: None,
            task_timeout: None,
            spawn: SpawnConfig {
                max_frame: 1024,
                init: None,
                init_arg: Arc::from(&[][..]),
                launcher: Default::default(),
            },
        })
    }

    fn job(pool: &Pool) -> (Job, Future<u8>) {
        let (completer, f) = Completer::new();
        let job = Job {
            id: pool.next_id(),
            frame: Vec::new(),
            time_limit: None,
            sink: Box::new(One(completer)),
            prefetch: false,
            started: false,
        };
        (job, f)
    }

    /// A thread that submits one job: whether it was accepted, and its future.
    fn spawn_submitter(p: &Arc<Pool>) -> loom::thread::JoinHandle<(bool, Future<u8>)> {
        let p = p.clone();
        loom::thread::spawn(move || {
            let (j, f) = job(&p);
            let ok = p.submit(j).is_ok();
            (ok, f)
        })
    }

    /// A slot that takes jobs until the pool says stop: how many it took.
    fn spawn_draining_slot(p: &Arc<Pool>) -> loom::thread::JoinHandle<usize> {
        let p = p.clone();
        loom::thread::spawn(move || {
            let mut marks = Marks {
                starting: false,
                ready: false,
            };
            let mut got = 0;
            while let Next::Job(j) = p.next_job(&mut marks, true, None) {
                got += 1;
                drop(j);
            }
            got
        })
    }

    /// submit ‖ an idle slot ‖ shutdown: a job that was accepted is taken
    /// by the slot (no wake-up lost, nothing stranded); a refused one is not.
    #[test]
    fn loom_submit_idle_slot_shutdown() {
        loom::model(|| {
            let p = pool();
            let submitter = spawn_submitter(&p);
            let slot = spawn_draining_slot(&p);
            p.shutdown(false, false);
            let (ok, _f) = submitter.join().unwrap();
            let got = slot.join().unwrap();
            assert_eq!(got, usize::from(ok));
            assert!(p.lock().queue.is_empty());
        });
    }

    /// submit ‖ a slot going idle: the slot's wait always ends with the job
    /// (a lost wake-up would leave it waiting forever, which loom reports).
    #[test]
    fn loom_submit_wakes_an_idle_slot() {
        loom::model(|| {
            let p = pool();
            let p2 = p.clone();
            let slot = loom::thread::spawn(move || {
                let mut marks = Marks {
                    starting: false,
                    ready: false,
                };
                matches!(p2.next_job(&mut marks, true, None), Next::Job(_))
            });
            let (j, _f) = job(&p);
            p.submit(j).unwrap();
            assert!(slot.join().unwrap());
        });
    }

    /// submit ‖ shutdown(cancel_futures) ‖ a slot draining the queue: the
    /// job is taken, cancelled, or refused, never left pending.
    #[test]
    fn loom_submit_cancel_shutdown() {
        loom::model(|| {
            let p = pool();
            let submitter = spawn_submitter(&p);
            let slot = spawn_draining_slot(&p);
            p.shutdown(false, true);
            let (ok, f) = submitter.join().unwrap();
            let got = slot.join().unwrap();
            if ok {
                assert!(got == 1 || f.cancelled(), "accepted job lost");
            } else {
                assert_eq!(got, 0);
            }
            assert!(p.lock().queue.is_empty());
        });
    }

    /// submit ‖ the pool breaking: an accepted job is failed by the break,
    /// a refused one says `Broken`; none is left pending.
    #[test]
    fn loom_submit_vs_break() {
        loom::model(|| {
            let p = pool();
            let p1 = p.clone();
            let submitter = loom::thread::spawn(move || {
                let (j, f) = job(&p1);
                let r = p1.submit(j);
                (r, f)
            });
            p.break_pool("initializer failed".into(), None);
            let (r, f) = submitter.join().unwrap();
            match r {
                Ok(()) => {
                    assert!(f.done());
                    assert!(f.exception().unwrap().unwrap().is_broken());
                }
                Err(e) => assert!(e.is_broken()),
            }
            assert!(p.lock().queue.is_empty());
        });
    }

    /// submit ‖ `kill_workers`: an accepted job is cancelled (nothing starts
    /// after the call), a refused one says `Shutdown`; the queue ends empty.
    #[test]
    fn loom_submit_vs_kill_workers() {
        loom::model(|| {
            let p = pool();
            let submitter = spawn_submitter(&p);
            p.signal_workers(libc::SIGKILL);
            let (ok, f) = submitter.join().unwrap();
            if ok {
                assert!(f.cancelled(), "an accepted job outlived kill_workers");
            }
            assert!(p.lock().queue.is_empty());
            assert!(p.lock().killed);
        });
    }

    /// A slot marked ready (it has a reply and completes its future) ‖
    /// submit: the slot takes the job without being counted idle, and the
    /// counts come back to zero.
    #[test]
    fn loom_ready_slot_takes_the_next_submit() {
        loom::model(|| {
            let p = pool();
            let mut marks = Marks {
                starting: false,
                ready: false,
            };
            p.mark_ready(&mut marks);
            let p2 = p.clone();
            let slot = loom::thread::spawn(move || {
                let got = matches!(p2.next_job(&mut marks, true, None), Next::Job(_));
                (got, marks.ready)
            });
            let (j, _f) = job(&p);
            p.submit(j).unwrap();
            let (got, still_marked) = slot.join().unwrap();
            assert!(got && !still_marked);
            let st = p.lock();
            assert_eq!((st.ready, st.idle), (0, 0));
        });
    }
}
