//! Loom models of the pool's two protocols: the shutdown gate (submit racing
//! shutdown) and the sleep/wake protocol (no lost wakeup). The queues are
//! stand-ins (a counter of jobs, written with the orderings crossbeam-deque
//! gives: `Release` push, `Acquire` check), so the models check that the
//! fences in `Sleep` and the gate's `SeqCst` word carry the proof, not the
//! queue.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::sleep::Sleep;
use crate::lifecycle::gate::{Gate, Left};

/// A queue of indistinguishable jobs.
#[derive(Default)]
struct Jobs {
    queued: AtomicUsize,
}

impl Jobs {
    fn push(&self) {
        self.queued.fetch_add(1, Ordering::Release);
    }
    fn has_work(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
    }
    fn take(&self) -> bool {
        let mut n = self.queued.load(Ordering::Acquire);
        while n > 0 {
            match self
                .queued
                .compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(m) => n = m,
            }
        }
        false
    }
}

struct Pool {
    jobs: Jobs,
    gate: Gate,
    sleep: Sleep,
    ran: AtomicUsize,
}

impl Pool {
    fn new() -> Arc<Self> {
        Arc::new(Pool {
            jobs: Jobs::default(),
            gate: Gate::new(),
            sleep: Sleep::new(),
            ran: AtomicUsize::new(0),
        })
    }

    /// The pool's submit path.
    fn submit(&self) -> bool {
        if let Err(r) = self.gate.enter() {
            if r.left == Left::Drained {
                self.sleep.wake_all();
            }
            return false;
        }
        self.jobs.push();
        self.sleep.wake_one();
        if self.gate.leave() == Left::Drained {
            self.sleep.wake_all();
        }
        true
    }

    /// The worker loop without spinning: run jobs, sleep, exit when the
    /// gate is drained and nothing is queued.
    fn work(&self) {
        loop {
            if self.jobs.take() {
                self.ran.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            if self.gate.drained() && !self.jobs.has_work() {
                return;
            }
            self.sleep
                .sleep(|| self.jobs.has_work() || self.gate.drained());
        }
    }

    fn shutdown(&self) {
        self.gate.close(false);
        self.sleep.wake_all();
    }
}

/// Submit racing shutdown, with a sleeping worker: a submit is accepted
/// exactly when its job runs (nothing accepted is lost, nothing refused
/// runs), and the worker always exits (no lost wakeup at shutdown).
#[test]
fn loom_submit_vs_shutdown() {
    loom::model(|| {
        let pool = Pool::new();
        let p = pool.clone();
        let submitter = thread::spawn(move || p.submit());
        let p = pool.clone();
        let worker = thread::spawn(move || p.work());
        pool.shutdown();
        let accepted = submitter.join().unwrap();
        worker.join().unwrap();
        assert_eq!(pool.ran.load(Ordering::SeqCst), usize::from(accepted));
        assert!(!pool.jobs.has_work());
    });
}

/// A refused submit still counts inside the gate for a moment: a worker
/// that saw it and slept must be woken when it leaves.
#[test]
fn loom_refused_submit_wakes_a_draining_worker() {
    loom::model(|| {
        let pool = Pool::new();
        pool.gate.close(false);
        let p = pool.clone();
        let worker = thread::spawn(move || p.work());
        assert!(!pool.submit());
        worker.join().unwrap();
        assert_eq!(pool.ran.load(Ordering::SeqCst), 0);
    });
}

/// The sleep/wake protocol: two jobs pushed while a worker goes to sleep;
/// both run (no lost wakeup) before shutdown.
#[test]
fn loom_sleep_no_lost_wakeup() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new());
        let jobs = Arc::new(Jobs::default());
        let (s, j) = (sleep.clone(), jobs.clone());
        let worker = thread::spawn(move || {
            let mut ran = 0;
            while ran < 2 {
                if j.take() {
                    ran += 1;
                } else {
                    s.sleep(|| j.has_work());
                }
            }
        });
        for _ in 0..2 {
            jobs.push();
            sleep.wake_one();
        }
        // Deadlock (a lost wakeup) makes loom fail the model here.
        worker.join().unwrap();
        assert_eq!(sleep.sleepers(), 0);
    });
}

/// Two sleepers, one job: exactly one token is handed out per job, and the
/// job's worker is woken (the other is woken by shutdown's `wake_all`).
#[test]
fn loom_wake_one_per_job() {
    loom::model(|| {
        let pool = Pool::new();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let p = pool.clone();
                thread::spawn(move || p.work())
            })
            .collect();
        assert!(pool.submit());
        pool.shutdown();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(pool.ran.load(Ordering::SeqCst), 1);
    });
}
