//! Loom models of the thread pool's protocols, driving the real code:
//! `Shared::push` (gate, push, wake, idle claim, spawn), the real worker
//! loop and sleep protocol, `shutdown`, `break_pool` and injected spawn
//! failures. The workers are loom threads (`primitives::thread`), so every
//! atomic of the gate, the lifecycle, the slots and `Sleep` is explored.
//! The queues are crossbeam-deque's, which loom cannot see inside: in these
//! models a push or a steal is one indivisible step (crossbeam's own loom
//! tests check the deque).
//!
//! Each model submits `Probe` jobs, which count whether they ran or were
//! abandoned (cancelled, failed by a break). The property everywhere: an
//! accepted submit is run or abandoned exactly once, a refused one never,
//! and the pool ends with no thread alive. (A worker that dies is not
//! modelled: loom fails a model whose thread panics; `thread/tests.rs`
//! covers the replacement.)

use std::io;
use std::sync::Arc;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::{Route, ThreadPoolExecutor};
use crate::work_item::{Abandon, Job, Ran, Task};

use super::sleep::Sleep;

/// Counts what happened to the probes of one model.
#[derive(Default)]
struct Counts {
    ran: AtomicUsize,
    abandoned: AtomicUsize,
}

/// A job that records its end.
struct Probe(Arc<Counts>);

impl Task for Probe {
    fn run(self, _: &dyn Fn()) -> Ran {
        self.0.ran.fetch_add(1, Ordering::SeqCst);
        Ran::Completed
    }
    fn abandon(self, _: Abandon<'_>) {
        self.0.abandoned.fetch_add(1, Ordering::SeqCst);
    }
}

fn pool(max_workers: usize) -> Arc<ThreadPoolExecutor> {
    Arc::new(ThreadPoolExecutor::new(max_workers).unwrap())
}

/// The real submit path with a probe; returns whether it was accepted.
fn submit(ex: &ThreadPoolExecutor, counts: &Arc<Counts>) -> bool {
    ex.shared
        .push(Job::new(Probe(Arc::clone(counts))), Route::SUBMIT)
        .is_ok()
}

fn ended(c: &Counts) -> usize {
    c.ran.load(Ordering::SeqCst) + c.abandoned.load(Ordering::SeqCst)
}

/// submit ‖ shutdown(wait): the submit is accepted exactly when its job
/// runs; the worker it started is joined (no lost wakeup at shutdown).
#[test]
fn loom_real_submit_vs_shutdown() {
    loom::model(|| {
        let ex = pool(1);
        let counts = Arc::new(Counts::default());
        let (e, c) = (Arc::clone(&ex), Arc::clone(&counts));
        let submitter = thread::spawn(move || submit(&e, &c));
        ex.shutdown(true, false);
        let accepted = submitter.join().unwrap();
        // A submitter accepted before the close may still be inside when
        // shutdown returned from its own wait; the drop waits again.
        ex.shutdown(true, false);
        assert_eq!(counts.ran.load(Ordering::SeqCst), usize::from(accepted));
        assert_eq!(counts.abandoned.load(Ordering::SeqCst), 0);
        assert_eq!(ex.stats().workers, 0);
    });
}

/// Idle claiming: the first job's worker may be running, idle (claimed by
/// the second submit) or asleep; either way both jobs run, at most two
/// threads start, and shutdown joins them.
///
/// Two worker threads, two submits, shutdown: at the CI bound of two
/// preemptions this model takes minutes, so it runs with one (every
/// interleaving with a single preemption; the bound is the budget's, not a
/// claim that one suffices).
#[test]
fn loom_real_idle_claim_then_shutdown() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(b.preemption_bound.map_or(1, |p| p.min(1)));
    b.check(|| {
        let ex = pool(2);
        let counts = Arc::new(Counts::default());
        assert!(submit(&ex, &counts));
        // The second submit finds the first worker starting, running, idle
        // (it claims it) or asleep (it wakes it), or starts a second thread.
        assert!(submit(&ex, &counts));
        ex.shutdown(true, false);
        assert_eq!(counts.ran.load(Ordering::SeqCst), 2);
        assert!(ex.shared.spawned.load(Ordering::SeqCst) <= 2);
        assert_eq!(ex.stats().workers, 0);
    });
}

/// Spawn failure with two submitters (issue 10, item 7): no thread can
/// start, so the pool breaks; whichever submitter is still inside when the
/// break sweeps the queue, every accepted job is failed exactly once.
#[test]
fn loom_real_spawn_failure_with_two_submitters() {
    loom::model(|| {
        let ex = pool(1);
        *ex.shared.faults.spawn.lock() = Some(Box::new(|| Err(io::Error::other("EAGAIN"))));
        let counts = Arc::new(Counts::default());
        let (e, c) = (Arc::clone(&ex), Arc::clone(&counts));
        let first = thread::spawn(move || submit(&e, &c));
        let second = submit(&ex, &counts);
        let first = first.join().unwrap();
        ex.shutdown(true, false);
        let accepted = usize::from(first) + usize::from(second);
        assert!(accepted >= 1, "the first submit always enters an open gate");
        assert_eq!(counts.abandoned.load(Ordering::SeqCst), accepted);
        assert_eq!(counts.ran.load(Ordering::SeqCst), 0);
        assert!(ex.stats().broken);
    });
}

/// A break racing a submit while a worker runs: each accepted job runs or
/// is failed, once; the refused one never ends up anywhere.
#[test]
fn loom_real_break_vs_submit() {
    loom::model(|| {
        let ex = pool(1);
        let counts = Arc::new(Counts::default());
        assert!(submit(&ex, &counts));
        let e = Arc::clone(&ex);
        let breaker = thread::spawn(move || e.shared.break_pool("broken in a model".into()));
        let second = submit(&ex, &counts);
        breaker.join().unwrap();
        ex.shutdown(true, false);
        assert_eq!(ended(&counts), 1 + usize::from(second));
        assert_eq!(ex.stats().workers, 0);
    });
}

/// `cancel_futures` racing a submit: an accepted job is either run or
/// cancelled, never left queued.
#[test]
fn loom_real_submit_vs_cancel_futures() {
    loom::model(|| {
        let ex = pool(1);
        let counts = Arc::new(Counts::default());
        let (e, c) = (Arc::clone(&ex), Arc::clone(&counts));
        let submitter = thread::spawn(move || submit(&e, &c));
        ex.shutdown(false, true);
        let accepted = submitter.join().unwrap();
        ex.shutdown(true, false);
        assert_eq!(ended(&counts), usize::from(accepted));
    });
}

/// The sleep/wake protocol alone: two jobs pushed while a worker goes to
/// sleep; both run (no lost wakeup).
#[test]
fn loom_sleep_no_lost_wakeup() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new());
        let jobs = Arc::new(AtomicUsize::new(0));
        let (s, j) = (sleep.clone(), jobs.clone());
        let take = |j: &AtomicUsize| {
            let mut n = j.load(Ordering::Acquire);
            while n > 0 {
                match j.compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return true,
                    Err(m) => n = m,
                }
            }
            false
        };
        let worker = thread::spawn(move || {
            let mut ran = 0;
            while ran < 2 {
                if take(&j) {
                    ran += 1;
                } else {
                    s.sleep(|| j.load(Ordering::Acquire) > 0);
                }
            }
        });
        for _ in 0..2 {
            jobs.fetch_add(1, Ordering::Release);
            sleep.wake_one();
        }
        // Deadlock (a lost wakeup) makes loom fail the model here.
        worker.join().unwrap();
        assert_eq!(sleep.sleepers(), 0);
    });
}
