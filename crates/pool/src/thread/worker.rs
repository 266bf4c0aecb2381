//! A worker thread's life: run the initializer, then take jobs until the
//! gate is closed and the queues are empty, spinning a little and then
//! sleeping when there is nothing to do (`README.md`).
//!
//! Every call into user code (a job's `run` or `abandon`, the initializer)
//! is contained (`lifecycle::contain`), so a panic never unwinds the loop. A
//! worker is `Running` from taking a job until `run` returns, done-callbacks
//! included (Python releases its idle semaphore only after them): a callback
//! that submits to the pool and waits gets a new thread, not this one. If
//! the thread dies anyway (a bug of ours), its queued jobs go back to the
//! injector and a thread with its index replaces it.

use std::cell::Cell;
use std::sync::Arc;

use concurrent_futures_core::diagnostics::{self, Diagnostic, DiagnosticKind};
use crossbeam_deque::Worker;
use crossbeam_utils::Backoff;

use super::queue::{self, Activity, Slot};
use super::Shared;
use crate::lifecycle;
use crate::work_item::{Abandon, Job, Ran};

/// The body of the worker with index `index` and slot `id`.
pub(super) fn main(shared: Arc<Shared>, index: usize, id: usize, deque: Worker<Job>) {
    queue::install_local(shared.id, index, id, deque);
    let _exit = Exit {
        shared: &shared,
        index,
    };
    if let Some(init) = &shared.initializer {
        if let Err(msg) = init.run(index) {
            shared.break_pool(format!(
                "a thread initializer failed, the thread pool is not usable anymore: {msg}"
            ));
        }
    }
    let slot = shared.queues.slot(id);
    // The deque is looked up once, not per job: the thread-local lookup,
    // its borrow and the pool check were 18 of the worker's 299
    // instructions per task (callgrind, `submit_loop`, one worker). The
    // borrow is shared, so the tasks run here still reach the deque
    // (`push_local`, `help`); only `install_local` and `take_local` borrow
    // it mutably, before and after.
    let ran = queue::with_local_flagged(shared.id, |deque, scoped| {
        let local = Local { deque, scoped };
        let mut tick = 0u32;
        while let Some(job) = next_job(&shared, id, slot, local, tick) {
            tick = tick.wrapping_add(1);
            execute(&shared, slot, job, true);
            #[cfg(test)]
            shared.faults.after_job();
        }
    });
    debug_assert!(ran.is_some(), "the deque was installed above");
}

/// This worker's own deque and its `scoped` flag (`Queues::find`).
#[derive(Clone, Copy)]
struct Local<'a> {
    deque: &'a Worker<Job>,
    scoped: &'a Cell<bool>,
}

/// Marks the worker gone on every way out, and replaces it if it died.
struct Exit<'a> {
    shared: &'a Arc<Shared>,
    index: usize,
}

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        let local = queue::take_local();
        if std::thread::panicking() {
            if let Some(deque) = &local {
                self.shared.queues.rescue(deque);
            }
            drop(local);
            // Still counted alive: a failed replacement then sees whether
            // any other worker is left.
            let replaced =
                lifecycle::contain(|| self.shared.worker_died(self.index)).unwrap_or(false);
            if !replaced {
                diagnostics::report(&Diagnostic::new(
                    DiagnosticKind::WorkerStartFailed,
                    format_args!("worker {} died and was not replaced", self.index),
                ));
            }
        } else {
            drop(local);
        }
        self.shared.exit_worker();
    }
}

#[inline(always)]
fn find(shared: &Shared, id: usize, local: Local<'_>, tick: u32) -> Option<Job> {
    shared.queues.find(id, local.deque, local.scoped, tick)
}

/// The next job, or `None` when the worker must exit. Inlined into the
/// loop, with `find` and `Queues::find`: as calls they cost 54 of the
/// worker's 281 instructions per task (callgrind, `submit_loop`), most of
/// it moving the job through return slots.
#[inline(always)]
fn next_job(shared: &Shared, id: usize, slot: &Slot, local: Local<'_>, tick: u32) -> Option<Job> {
    if let Some(j) = find(shared, id, local, tick) {
        return Some(j);
    }
    // Idle: `submit` reuses this worker before starting a thread (Python's
    // idle semaphore). Already so after a task; not for a new thread.
    slot.set(Activity::Idle);
    idle(shared, id, slot, local, tick)
}

/// Spins, then sleeps, until a job comes or the pool is done.
fn idle(shared: &Shared, id: usize, slot: &Slot, local: Local<'_>, tick: u32) -> Option<Job> {
    let backoff = Backoff::new();
    // Whether this worker has slept once in this idle spell (see below).
    let mut slept = false;
    loop {
        if let Some(j) = find(shared, id, local, tick) {
            return Some(j);
        }
        // Spinning is a speed matter; under loom it would only multiply the
        // interleavings of the same protocol.
        if !cfg!(loom) && !backoff.is_completed() {
            backoff.snooze();
            continue;
        }
        // Drained first, then the queues: once `drained` fenced, the queues
        // show every accepted job (lifecycle/gate.rs).
        if shared.lc.drained() && !shared.queues.has_work() {
            return None;
        }
        // A claim whose job another worker took has lapsed: give the token
        // back before sleeping, but only after a sleep in which no job came.
        // A submit claims before it pushes, so a claim seen before its push
        // is still good: given back then, the next submit of a burst could
        // claim this worker a second time instead of starting a thread (the
        // burst then ran on one thread too few: `tests/idle_reuse.rs`, under
        // TSan's slowness). Kept until then, the claimed worker sleeps, and
        // that submit's push finds it or wakes it.
        if slept {
            slot.set(Activity::Idle);
        }
        shared
            .sleep
            .sleep(|| shared.queues.has_work() || shared.lc.drained());
        slept = true;
        backoff.reset();
    }
}

/// Runs jobs from this worker's own deque while `waiting()` holds, if this
/// thread is a worker of `shared`'s pool: a `scope` opened by one of its
/// tasks waits so for the jobs it pushed there (`Route::local`), which no
/// other worker may be free to steal (with one worker, none ever is). Stops
/// when the deque is empty: what is left of the scope's jobs was stolen and
/// runs elsewhere. The worker stays `Running` (it still runs the task that
/// opened the scope), so `submit` never counts it idle meanwhile.
pub(super) fn help(shared: &Shared, waiting: impl Fn() -> bool) {
    let Some(id) = queue::local_slot(shared.id) else {
        return;
    };
    let slot = shared.queues.slot(id);
    while waiting() {
        let Some(job) = queue::with_local(shared.id, Worker::pop).flatten() else {
            return;
        };
        execute(shared, slot, job, false);
    }
}

/// Runs (or, on a broken pool, fails) one job and counts how it ended;
/// `mark`: the worker shows `Running` while it runs (not when it helps a
/// scope: it is `Running` already). Inlined: a call from the worker loop
/// cost 24 instructions per task (callgrind, `submit_loop`).
#[inline(always)]
fn execute(shared: &Shared, slot: &Slot, job: Job, mark: bool) {
    shared.dequeued();
    if shared.lc.broken() {
        let why = Abandon::Broken(shared.broken_reason());
        // Failed, unless its future was cancelled already (then it stays so).
        let ran = match lifecycle::contain(|| job.abandon(why)) {
            Ok(false) => Ran::Cancelled,
            Ok(true) => Ran::Failed,
            Err(msg) => {
                eprintln!("concurrent-futures: a panic while failing a task was contained: {msg}");
                Ran::Failed
            }
        };
        slot.count(ran);
        return;
    }
    if mark {
        slot.set(Activity::Running);
    }
    // Busy until `run` returns: the closure, the future's completion, its
    // done-callbacks and the drop of the closure and of our handle.
    let ran = lifecycle::contain(|| job.run(&|| {})).unwrap_or_else(|msg| {
        eprintln!(
            "concurrent-futures: a panic escaped a task on a worker and was contained: {msg}"
        );
        Ran::Failed
    });
    if mark {
        slot.set(Activity::Idle);
    }
    slot.count(ran);
}
