//! `ThreadPoolExecutor` against Java's JSR-166 TCK `ThreadPoolExecutorTest`.
//!
//! `execute`/`submit` are `submit`; `getActiveCount`, `getPoolSize`,
//! `getQueue().size()`, `getCompletedTaskCount` are `stats()`'s `running`,
//! `workers`, `queued`, `completed`; `getMaximumPoolSize` is
//! `max_workers()`; `shutdownNow` is `shutdown(false, true)` (queued tasks
//! are cancelled; a running task is not interrupted); `remove`/`purge` is
//! cancelling the future; `awaitTermination` is `shutdown(true, ..)`;
//! `RejectedExecutionException` is `SubmitError::Shutdown`, or
//! `SubmitError::Full` from `try_submit` on a bounded queue (the
//! saturation policy). Left out: core versus maximum sizes, keep-alive,
//! thread factories, interruption, `beforeExecute`/`afterExecute` hooks,
//! `finalize`. Every wait is bounded.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{wait_until, Latch, T};
use concurrent_futures_pool::{SubmitError, ThreadPoolExecutor};

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    assert_eq!(*ex.submit(|| 3).unwrap().result_timeout(T).unwrap(), 3);
}

/// `testConstructor*`, `testCorePoolSizeIllegalArgumentException`.
#[test]
fn test_constructor() {
    let _watchdog = common::watchdog("test_constructor");
    assert!(ThreadPoolExecutor::new(0).is_err());
    assert!(ThreadPoolExecutor::builder()
        .max_workers(0)
        .build()
        .is_err());
}

/// `testGetMaximumPoolSize`, `testGetPoolSize`: no thread before the
/// first task, one after it.
#[test]
fn test_get_pool_size() {
    let _watchdog = common::watchdog("test_get_pool_size");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    assert_eq!(ex.max_workers(), 2);
    assert_eq!(ex.stats().workers, 0);
    ex.submit(|| ()).unwrap().result_timeout(T).unwrap();
    assert_eq!(ex.stats().workers, 1);
}

/// `testGetActiveCount`, `testGetCompletedTaskCount`, `testGetTaskCount`.
#[test]
fn test_get_active_and_completed_count() {
    let _watchdog = common::watchdog("test_get_active_and_completed_count");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let release = Latch::new();
    let r = release.clone();
    let f = ex.submit(move || r.wait()).unwrap();
    wait_until("the task to run", || f.running());
    assert_eq!(ex.stats().running, 1);
    assert_eq!(ex.stats().completed, 0);
    release.open();
    f.result_timeout(T).unwrap();
    wait_until("the completed count", || ex.stats().completed == 1);
    assert_eq!(ex.stats().running, 0);
}

/// `testGetQueue`, `testRemove`, `testPurge`: with the one worker busy,
/// the rest wait in the queue; those cancelled there never run.
#[test]
fn test_get_queue_and_remove() {
    let _watchdog = common::watchdog("test_get_queue_and_remove");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let release = Latch::new();
    let r = release.clone();
    let busy = ex.submit(move || r.wait()).unwrap();
    wait_until("the task to run", || busy.running());
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let ran = Arc::clone(&ran);
            ex.submit(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap()
        })
        .collect();
    assert_eq!(ex.stats().queued, 3);
    assert!(queued[1].cancel());
    assert!(queued[2].cancel());
    release.open();
    for f in &queued {
        let _ = f.result_timeout(T);
    }
    ex.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(ex.stats().queued, 0);
    assert!(queued[0].result_timeout(T).is_ok());
}

/// `testShutdownNow`: queued tasks are cancelled, the running one ends
/// normally, and nothing new is accepted.
#[test]
fn test_shutdown_now() {
    let _watchdog = common::watchdog("test_shutdown_now");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let release = Latch::new();
    let r = release.clone();
    let busy = ex.submit(move || r.wait()).unwrap();
    wait_until("the task to run", || busy.running());
    let queued: Vec<_> = (0..5).map(|i| ex.submit(move || i).unwrap()).collect();
    ex.shutdown(false, true);
    assert!(queued.iter().all(|f| f.cancelled()), "{queued:?}");
    assert!(ex.submit(|| 0).unwrap_err().is_shutdown());
    release.open();
    busy.result_timeout(T).unwrap();
}

/// `testIsShutdown`, `testIsTerminating`, `testIsTerminated`,
/// `testAwaitTermination`.
#[test]
fn test_is_shutdown_terminating_terminated() {
    let _watchdog = common::watchdog("test_is_shutdown_terminating_terminated");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    assert!(!ex.stats().shutdown);
    let release = Latch::new();
    let r = release.clone();
    let busy = ex.submit(move || r.wait()).unwrap();
    wait_until("the task to run", || busy.running());
    ex.shutdown(false, false);
    let s = ex.stats();
    assert!(s.shutdown, "{s:?}");
    assert_eq!(
        s.workers, 1,
        "terminating: the running task keeps its thread"
    );
    release.open();
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0, "terminated");
    busy.result_timeout(T).unwrap();
}

/// `testExecuteAfterShutdown`, `testRejectedExecutionExceptionOnShutdown`.
#[test]
fn test_execute_after_shutdown() {
    let _watchdog = common::watchdog("test_execute_after_shutdown");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    ex.shutdown(true, false);
    assert!(matches!(ex.submit(|| 1), Err(SubmitError::Shutdown)));
    assert!(ex
        .submit_fallible(|| Ok::<_, std::io::Error>(1))
        .unwrap_err()
        .is_shutdown());
}

/// `testSaturatedExecute` with a bounded queue: `try_submit` is refused
/// when the queue is full, and the pool serves on.
#[test]
fn test_saturated_execute() {
    let _watchdog = common::watchdog("test_saturated_execute");
    let ex = ThreadPoolExecutor::builder()
        .max_workers(1)
        .max_queued(2)
        .build()
        .unwrap();
    let release = Latch::new();
    let r = release.clone();
    let busy = ex.submit(move || r.wait()).unwrap();
    wait_until("the task to run", || busy.running());
    let a = ex.try_submit(|| 1).unwrap();
    let b = ex.try_submit(|| 2).unwrap();
    assert!(ex.try_submit(|| 3).unwrap_err().is_full());
    release.open();
    assert_eq!(*a.result_timeout(T).unwrap(), 1);
    assert_eq!(*b.result_timeout(T).unwrap(), 2);
    assert_eq!(*ex.try_submit(|| 4).unwrap().result_timeout(T).unwrap(), 4);
}

/// `testSubmitEE`: a task that throws fails its future; the pool goes on.
#[test]
fn test_submit_ee() {
    let _watchdog = common::watchdog("test_submit_ee");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let f = ex.submit(|| -> u8 { panic!("npe") }).unwrap();
    let e = f.result_timeout(T).unwrap_err();
    assert_eq!(e.task_error().unwrap().panic_message(), Some("npe"));
    assert_eq!(*ex.submit(|| 5).unwrap().result_timeout(T).unwrap(), 5);
    wait_until("the failed count", || ex.stats().failed == 1);
}

/// `testInvokeAll`: every task's result, in submission order.
#[test]
fn test_invoke_all() {
    let _watchdog = common::watchdog("test_invoke_all");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let fs: Vec<_> = (0..10).map(|i| ex.submit(move || i * i).unwrap()).collect();
    let got: Vec<i32> = fs.iter().map(|f| *f.result_timeout(T).unwrap()).collect();
    assert_eq!(got, (0..10).map(|i| i * i).collect::<Vec<_>>());
}
