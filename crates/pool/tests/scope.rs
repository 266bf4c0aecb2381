//! `ThreadPoolExecutor::scope`: tasks borrow from the caller's stack, and
//! every task is done when `scope` returns, even if the closure panics.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{Latch, T};
use concurrent_futures_pool::ThreadPoolExecutor;

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let v = [1, 2, 3];
    let n = ex.scope(|s| s.submit(|| v.len()).unwrap().into_result().unwrap());
    assert_eq!(n, 3);
}

#[test]
fn tasks_mutate_borrowed_data() {
    let _watchdog = common::watchdog("tasks_mutate_borrowed_data");
    let ex = ThreadPoolExecutor::new(4).unwrap();
    let mut chunks = vec![vec![1u64; 1000]; 8];
    ex.scope(|s| {
        for c in chunks.iter_mut() {
            let _ = s
                .submit(move || c.iter_mut().for_each(|x| *x *= 2))
                .unwrap();
        }
    });
    assert!(chunks.iter().flatten().all(|&x| x == 2));
}

#[test]
fn every_task_done_when_scope_returns() {
    let _watchdog = common::watchdog("every_task_done_when_scope_returns");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let done = AtomicUsize::new(0);
    ex.scope(|s| {
        for _ in 0..20 {
            let _ = s
                .submit(|| {
                    thread::sleep(Duration::from_millis(1));
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 20);
}

#[test]
fn closure_panic_waits_for_tasks_then_propagates() {
    let _watchdog = common::watchdog("closure_panic_waits_for_tasks_then_propagates");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let done = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        ex.scope(|s| {
            let _ = s
                .submit(|| {
                    thread::sleep(Duration::from_millis(30));
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            panic!("scope body failed");
        })
    }));
    assert!(r.is_err());
    assert_eq!(done.load(Ordering::SeqCst), 1);
}

#[test]
fn task_panic_stays_in_its_future() {
    let _watchdog = common::watchdog("task_panic_stays_in_its_future");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let msg = ex.scope(|s| {
        let f = s.submit(|| -> u8 { panic!("inner") }).unwrap();
        f.exception_timeout(T)
            .unwrap()
            .unwrap()
            .panic_message()
            .unwrap()
            .to_owned()
    });
    assert_eq!(msg, "inner");
}

#[test]
fn cancelled_scoped_tasks_count_as_done() {
    let _watchdog = common::watchdog("cancelled_scoped_tasks_count_as_done");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let release = Latch::new();
    let ran = AtomicUsize::new(0);
    ex.scope(|s| {
        let r = release.clone();
        let _ = s.submit(move || r.wait()).unwrap();
        let f = s
            .submit(|| {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert!(f.cancel());
        release.open();
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn scope_on_a_shut_down_pool_refuses() {
    let _watchdog = common::watchdog("scope_on_a_shut_down_pool_refuses");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    ex.shutdown(true, false);
    let v = [1];
    let e = ex.scope(|s| s.submit(|| v[0]).unwrap_err());
    assert!(e.is_shutdown());
}

/// A scope opened by a task of a one-worker pool: its tasks sit on that
/// worker's own deque, and no other worker exists to run them; the waiting
/// scope runs them itself (it waited for ever before).
#[test]
fn a_scope_in_a_task_of_a_one_worker_pool_runs_its_own_tasks() {
    let _watchdog = common::watchdog("a_scope_in_a_task_of_a_one_worker_pool_runs_its_own_tasks");
    let ex = std::sync::Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let inner = std::sync::Arc::clone(&ex);
    let f = ex
        .submit(move || {
            let data = [1u64, 2, 3, 4];
            let sum = AtomicUsize::new(0);
            inner.scope(|s| {
                for x in &data {
                    let sum = &sum;
                    let _ = s
                        .submit(move || sum.fetch_add(*x as usize, Ordering::SeqCst))
                        .unwrap();
                }
            });
            sum.into_inner()
        })
        .unwrap();
    assert_eq!(
        *f.result_timeout(T)
            .expect("the scope in the task returned (it ran its own tasks)"),
        10
    );
    // The worker counts a task after it completes its future, so the
    // counters are exact only once the pool has shut down (seen in CI: the
    // outer task's count was still pending when `result` returned).
    ex.shutdown(true, false);
    let s = ex.stats();
    assert_eq!((s.completed, s.queued), (5, 0), "{s:?}");
}

/// Two workers, each in a scope opened by a task, each scope's tasks on its
/// own worker's deque: neither worker is free to steal, so each runs its
/// own (both waited for ever before).
#[test]
fn two_workers_each_in_a_scope_both_return() {
    let _watchdog = common::watchdog("two_workers_each_in_a_scope_both_return");
    let ex = std::sync::Arc::new(ThreadPoolExecutor::new(2).unwrap());
    let both = std::sync::Arc::new(std::sync::Barrier::new(2));
    let fs: Vec<_> = (0..2)
        .map(|i| {
            let (inner, both) = (std::sync::Arc::clone(&ex), std::sync::Arc::clone(&both));
            ex.submit(move || {
                inner.scope(|s| {
                    both.wait();
                    let _ = s.submit(move || i * 10).unwrap();
                    5 + i
                })
            })
            .unwrap()
        })
        .collect();
    for (i, f) in fs.iter().enumerate() {
        assert_eq!(
            *f.result_timeout(T)
                .unwrap_or_else(|e| panic!("scope {i} did not return: {e}")),
            5 + i
        );
    }
}
