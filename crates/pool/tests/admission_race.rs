//! Submits racing `shutdown` (issue 9, item 5): the admission gate takes no
//! lock and no read-modify-write, so a submit that overlaps `shutdown` may
//! push its task after the pool closed; it must then revoke the task and be
//! refused, or be accepted because a worker started it. These tests run that
//! race many times, with random timing, and check what users rely on:
//!
//! * every accepted task runs (plain `shutdown`) or is run or cancelled
//!   (`cancel_futures`), and `shutdown(wait = true)` returns only after every
//!   accepted task is done;
//! * a refused task never runs, and its closure is dropped by the time the
//!   pool's threads are gone (for a scope: before `scope` returns, since
//!   the closure borrows the caller's stack);
//! * `stats()` counts what was accepted, one for one.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::T;
use concurrent_futures_pool::ThreadPoolExecutor;
use rand::Rng;

/// Counts the drops of a closure's capture.
struct Dropped<'a>(&'a AtomicUsize);

impl Drop for Dropped<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn rounds() -> usize {
    if cfg!(debug_assertions) {
        200
    } else {
        2000
    }
}

/// Spins for a random few microseconds (so that the race lands anywhere).
fn jitter(rng: &mut impl Rng) {
    let until = std::time::Instant::now() + Duration::from_micros(rng.gen_range(0..40));
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Four submitters, each submitting until it is refused, race one
/// `shutdown(wait, cancel_futures)`; afterwards the futures and the counters
/// agree, and no closure is left undropped.
fn race(max_workers: usize, cancel_futures: bool) {
    const CAP: usize = 20_000;
    let ex = Arc::new(ThreadPoolExecutor::new(max_workers).unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(5));
    let submitters: Vec<_> = (0..4)
        .map(|_| {
            let (ex, ran, dropped, start) =
                (ex.clone(), ran.clone(), dropped.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut accepted = Vec::new();
                let mut tried = 0;
                while tried < CAP {
                    tried += 1;
                    let (ran, guard) = (ran.clone(), Counted(dropped.clone()));
                    match ex.submit(move || {
                        let _guard = guard;
                        ran.fetch_add(1, Ordering::SeqCst);
                    }) {
                        Ok(f) => accepted.push(f),
                        Err(e) => {
                            assert!(e.is_shutdown(), "{e}");
                            break;
                        }
                    }
                }
                (accepted, tried)
            })
        })
        .collect();
    start.wait();
    jitter(&mut rand::thread_rng());
    ex.shutdown(true, cancel_futures);
    // Returned: every task accepted before this is done (run or cancelled).
    let mut accepted = Vec::new();
    let mut tried = 0;
    for s in submitters {
        let (a, t) = s.join().unwrap();
        accepted.extend(a);
        tried += t;
    }
    // A submit accepted after shutdown returned was racing it; it ran (or
    // was cancelled) on a worker this second shutdown joins.
    ex.shutdown(true, false);
    let mut completed = 0;
    let mut cancelled = 0;
    for f in &accepted {
        match f.exception_timeout(T) {
            Ok(None) => completed += 1,
            Ok(Some(e)) => panic!("a task failed: {e}"),
            Err(e) => {
                assert!(e.is_cancelled(), "not terminal: {e}");
                assert!(cancel_futures, "cancelled without cancel_futures");
                cancelled += 1;
            }
        }
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        completed,
        "only accepted tasks run"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        tried,
        "every closure is dropped once the pool's threads are gone (refused ones too)"
    );
    let s = ex.stats();
    assert_eq!(
        (s.completed, s.cancelled, s.failed, s.queued, s.workers),
        (completed as u64, cancelled as u64, 0, 0, 0),
        "{s:?}"
    );
}

/// An owned counter for closures that must be `'static`.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn submits_racing_shutdown_one_worker() {
    let _watchdog = common::watchdog("submits_racing_shutdown_one_worker");
    for _ in 0..rounds() / 4 {
        race(1, false);
    }
}

#[test]
fn submits_racing_shutdown_four_workers() {
    let _watchdog = common::watchdog("submits_racing_shutdown_four_workers");
    for _ in 0..rounds() / 4 {
        race(4, false);
    }
}

#[test]
fn submits_racing_shutdown_cancel_futures() {
    let _watchdog = common::watchdog("submits_racing_shutdown_cancel_futures");
    for _ in 0..rounds() / 4 {
        race(2, true);
    }
}

/// A scope submitting from the caller's thread while another thread shuts
/// the pool down: `scope` returns (no task is left queued with nobody to
/// drop it), and by then every closure, which borrows the caller's stack,
/// was dropped.
#[test]
fn scoped_submits_racing_shutdown_drop_every_closure_before_scope_returns() {
    let _watchdog =
        common::watchdog("scoped_submits_racing_shutdown_drop_every_closure_before_scope_returns");
    let mut rng = rand::thread_rng();
    for _ in 0..rounds() / 4 {
        let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let dropped = AtomicUsize::new(0);
        let ran = AtomicUsize::new(0);
        let closer = {
            let ex = ex.clone();
            let (delay, wait) = (rng.gen_range(0..60), rng.gen_bool(0.5));
            thread::spawn(move || {
                thread::sleep(Duration::from_micros(delay));
                ex.shutdown(wait, false);
            })
        };
        let n = 40;
        let accepted = ex.scope(|s| {
            let mut accepted = 0;
            for _ in 0..n {
                let guard = Dropped(&dropped);
                let ran = &ran;
                if s.submit(move || {
                    let _guard = guard;
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .is_ok()
                {
                    accepted += 1;
                }
            }
            accepted
        });
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            n,
            "a closure outlived its scope"
        );
        assert_eq!(ran.load(Ordering::SeqCst), accepted, "accepted ⇔ ran");
        closer.join().unwrap();
    }
}
