//! Idle workers are reused before threads start (Python's idle semaphore), but
//! a burst of submits claims each idle worker only once and starts threads
//! for the rest, so tasks that must run together do.

mod common;

use concurrent_futures_core::sync::Barrier;
use concurrent_futures_pool::ThreadPoolExecutor;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn smoke() {
    let ex = ThreadPoolExecutor::new(2).unwrap();
    assert_eq!(*ex.submit(|| 5).unwrap().result_timeout(LIMIT).unwrap(), 5);
}

/// Python's idle semaphore: a submit that finds a worker waiting for work
/// hands it the task and starts no thread. Each round first waits until the
/// one worker is asleep: a worker still finishing its last task, or a thread
/// still starting, is not idle yet (in Python neither), so a submit made then
/// may start a thread, and an unpaced loop has no fixed bound on the threads
/// it starts (it once started three under TSan's slow thread starts).
#[test]
fn sequential_submits_reuse_one_idle_worker() {
    let ex = ThreadPoolExecutor::new(8).unwrap();
    for i in 0..20 {
        assert_eq!(
            *ex.submit(move || i).unwrap().result_timeout(LIMIT).unwrap(),
            i
        );
        common::wait_until("the worker to fall asleep", || {
            let s = ex.stats();
            s.sleeping == s.workers
        });
    }
    let started = ex.stats().workers;
    assert_eq!(
        started, 1,
        "20 submit-and-wait calls, each made with the worker asleep, started {started} threads"
    );
}

#[test]
fn a_burst_on_a_warm_pool_runs_in_parallel() {
    for round in 0..20 {
        let ex = ThreadPoolExecutor::new(4).unwrap();
        ex.submit(|| ()).unwrap().result_timeout(LIMIT).unwrap();
        // All four must be inside `wait_timeout` at once to pass the barrier:
        // queued behind one worker they would time out and break it.
        let barrier = Arc::new(Barrier::new(4));
        let futures: Vec<_> = (0..4)
            .map(|_| {
                let b = Arc::clone(&barrier);
                ex.submit(move || b.wait_timeout(LIMIT)).unwrap()
            })
            .collect();
        for f in &futures {
            let passed = f.result_timeout(LIMIT * 2).expect("the task returned");
            assert!(
                passed.is_ok(),
                "round {round}: the burst did not run in parallel ({:?})",
                ex.stats()
            );
        }
    }
}
