//! A worker thread's life: run the initializer, then take jobs until the
//! gate is drained and the queues are empty, spinning a little and then
//! sleeping when there is nothing to do (`README.md`).

use std::sync::Arc;

use crossbeam_deque::Worker;
use crossbeam_utils::Backoff;

use super::queue::{self, Activity, Slot};
use super::Shared;
use crate::work_item::{Abandon, Job, Ran};

/// The body of worker thread `index`.
pub(super) fn main(shared: Arc<Shared>, index: usize, deque: Worker<Job>) {
    queue::install_local(shared.id, deque);
    let _exit = Exit(&shared);
    if let Some(init) = &shared.initializer {
        if let Err(msg) = init.run() {
            shared.break_pool(format!(
                "a thread initializer failed, the thread pool is not usable anymore: {msg}"
            ));
        }
    }
    let slot = shared.queues.slot(index);
    while let Some(job) = next_job(&shared, index, slot) {
        execute(&shared, slot, job);
    }
}

/// Marks the worker gone on every way out.
struct Exit<'a>(&'a Shared);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        queue::remove_local();
        self.0
            .alive
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn find(shared: &Shared, index: usize) -> Option<Job> {
    queue::with_local(shared.id, |d| shared.queues.find(index, d)).flatten()
}

/// The next job, or `None` when the worker must exit.
fn next_job(shared: &Shared, index: usize, slot: &Slot) -> Option<Job> {
    if let Some(j) = find(shared, index) {
        return Some(j);
    }
    // Idle: `submit` reuses this worker before starting a thread (Python's
    // idle semaphore). Already so after a task; not for a new thread.
    slot.set(Activity::Idle);
    idle(shared, index, slot)
}

/// Spins, then sleeps, until a job comes or the pool is done.
fn idle(shared: &Shared, index: usize, slot: &Slot) -> Option<Job> {
    let backoff = Backoff::new();
    loop {
        if let Some(j) = find(shared, index) {
            return Some(j);
        }
        if !backoff.is_completed() {
            backoff.snooze();
            continue;
        }
        // Drained first, then the queues: every accepted job was pushed
        // before the gate drained (lifecycle/gate.rs).
        if shared.gate.drained() && !shared.queues.has_work() {
            return None;
        }
        // A claim whose job another worker took has lapsed: give the token
        // back before sleeping.
        slot.set(Activity::Idle);
        shared
            .sleep
            .sleep(|| shared.queues.has_work() || shared.gate.drained());
        backoff.reset();
    }
}

fn execute(shared: &Shared, slot: &Slot, job: Job) {
    if shared.gate.broken() {
        job.abandon(Abandon::Broken(shared.broken_reason()));
        slot.count(Ran::Failed);
        return;
    }
    slot.set(Activity::Running);
    let ran = job.run(&|| slot.set(Activity::Idle));
    slot.set(Activity::Idle);
    slot.count(ran);
}
