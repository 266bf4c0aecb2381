//! A port of the thread-pool parts of CPython's
//! `Lib/test/test_concurrent_futures/test_shutdown.py`
//! (`ExecutorShutdownTest`, `ThreadPoolShutdownTest`).
//!
//! What changed: joining `executor._threads` becomes `stats().workers == 0`
//! after a waiting shutdown, or thread handles the tasks report; `time.sleep`
//! tasks become latches or short sleeps; subprocess/interpreter-exit cases are
//! left out. Added: shutdown from inside a task, concurrent shutdowns, and
//! `Drop` as `shutdown(true, false)`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{wait_until, Latch, T};
use concurrent_futures_pool::{SubmitError, ThreadPoolExecutor};

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn test_run_after_shutdown() {
    let _watchdog = common::watchdog("test_run_after_shutdown");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    ex.shutdown(true, false);
    let e = ex.submit(|| 2u32.pow(3)).unwrap_err();
    assert_eq!(e, SubmitError::Shutdown);
    assert_eq!(e.to_string(), "cannot schedule new futures after shutdown");
}

#[test]
fn test_hang_issue12364() {
    let _watchdog = common::watchdog("test_hang_issue12364");
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let fs: Vec<_> = (0..50)
        .map(|_| {
            ex.submit(|| thread::sleep(Duration::from_millis(2)))
                .unwrap()
        })
        .collect();
    ex.shutdown(true, false);
    for f in fs {
        f.result_timeout(T).unwrap();
    }
}

fn cancel_futures(wait: bool) {
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let release = Latch::new();
    let fs: Vec<_> = (0..50)
        .map(|_| {
            let r = release.clone();
            ex.submit(move || r.wait()).unwrap()
        })
        .collect();
    wait_until("five running tasks", || ex.stats().running == 5);
    // Open the latch from another thread once shutdown has cancelled the
    // queue (all 45 queued futures), so that a waiting shutdown can finish.
    // Waiting for the cancellations, not for a delay, keeps a slow machine
    // from letting the running five finish and more tasks start first.
    let opener = {
        let r = release.clone();
        let all = fs.clone();
        thread::spawn(move || {
            let deadline = std::time::Instant::now() + T;
            while all.iter().filter(|f| f.cancelled()).count() < 45
                && std::time::Instant::now() < deadline
            {
                thread::sleep(Duration::from_millis(1));
            }
            r.open();
        })
    };
    ex.shutdown(wait, true);
    let cancelled = fs.iter().filter(|f| f.cancelled()).count();
    // Python asserts at least 35 of 50 (at most 15 started); here exactly
    // the five running ones started.
    assert_eq!(cancelled, 45);
    for f in fs.iter().filter(|f| !f.cancelled()) {
        f.result_timeout(T).unwrap();
    }
    opener.join().unwrap();
    if !wait {
        wait_until("workers to exit", || ex.stats().workers == 0);
    }
    assert_eq!(ex.stats().workers, 0);
    assert_eq!(ex.stats().cancelled, 45);
    assert_eq!(ex.stats().completed, 5);
}

#[test]
fn test_cancel_futures() {
    let _watchdog = common::watchdog("test_cancel_futures");
    cancel_futures(true);
}

#[test]
fn test_cancel_futures_wait_false() {
    let _watchdog = common::watchdog("test_cancel_futures_wait_false");
    cancel_futures(false);
}

#[test]
fn test_shutdown_keeps_accepted_tasks() {
    let _watchdog = common::watchdog("test_shutdown_keeps_accepted_tasks");
    // cancel_futures=false: every queued task still runs.
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let r = ran.clone();
        let _ = ex
            .submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    ex.shutdown(false, false);
    wait_until("queued tasks to run", || ran.load(Ordering::SeqCst) == 100);
    wait_until("workers to exit", || ex.stats().workers == 0);
}

#[test]
fn test_threads_terminate() {
    let _watchdog = common::watchdog("test_threads_terminate");
    let ex = ThreadPoolExecutor::new(3).unwrap();
    let release = Latch::new();
    for _ in 0..3 {
        let r = release.clone();
        let _ = ex.submit(move || r.wait()).unwrap();
    }
    wait_until("three workers", || ex.stats().running == 3);
    assert_eq!(ex.stats().workers, 3);
    release.open();
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn test_context_manager_shutdown() {
    let _watchdog = common::watchdog("test_context_manager_shutdown");
    // `with ThreadPoolExecutor(5) as e:` is a scope ending in drop.
    let (tx, rx) = mpsc::channel();
    {
        let ex = ThreadPoolExecutor::new(5).unwrap();
        let got: Vec<i32> = ex
            .map(|x: i32| x.abs(), -5..5)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
        // A task still queued at drop runs before drop returns.
        let tx = tx.clone();
        let _ = ex
            .submit(move || {
                thread::sleep(Duration::from_millis(20));
                tx.send(()).unwrap();
            })
            .unwrap();
    }
    rx.try_recv()
        .expect("drop returned before the accepted task ran");
}

#[test]
fn test_del_shutdown() {
    let _watchdog = common::watchdog("test_del_shutdown");
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let m = ex.map(|x: i32| x.abs(), -5..5).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let _ = ex
        .submit(move || {
            thread::sleep(Duration::from_millis(10));
            c.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    drop(ex);
    assert_eq!(counter.load(Ordering::SeqCst), 1);
    assert_eq!(m.count(), 10);
}

#[test]
fn test_shutdown_no_wait() {
    let _watchdog = common::watchdog("test_shutdown_no_wait");
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let fs: Vec<_> = (0..10).map(|i| ex.submit(move || i * 2).unwrap()).collect();
    ex.shutdown(false, false);
    for (i, f) in fs.into_iter().enumerate() {
        assert_eq!(*f.result_timeout(T).unwrap(), i * 2);
    }
    wait_until("workers to exit", || ex.stats().workers == 0);
}

#[test]
fn test_shutdown_is_idempotent() {
    let _watchdog = common::watchdog("test_shutdown_is_idempotent");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let _ = ex.submit(|| ()).unwrap();
    ex.shutdown(false, false);
    ex.shutdown(true, true);
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn test_shutdown_from_inside_a_task() {
    let _watchdog = common::watchdog("test_shutdown_from_inside_a_task");
    let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
    let inner = ex.clone();
    let f = ex
        .submit(move || {
            inner.shutdown(true, false);
            inner.submit(|| ()).unwrap_err()
        })
        .unwrap();
    assert!(f.into_result().unwrap().is_shutdown());
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn test_last_handle_dropped_inside_a_task() {
    let _watchdog = common::watchdog("test_last_handle_dropped_inside_a_task");
    // Drop runs shutdown(true, false) on a worker thread: it must not join
    // itself.
    let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let (tx, rx) = mpsc::channel();
    let inner = ex.clone();
    let release = Latch::new();
    let r = release.clone();
    let _ = ex
        .submit(move || {
            r.wait();
            drop(inner);
            tx.send(()).unwrap();
        })
        .unwrap();
    drop(ex);
    release.open();
    rx.recv_timeout(T).expect("the task never finished");
}

#[test]
fn test_concurrent_shutdowns_all_wait() {
    let _watchdog = common::watchdog("test_concurrent_shutdowns_all_wait");
    let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        let d = done.clone();
        let _ = ex
            .submit(move || {
                thread::sleep(Duration::from_millis(20));
                d.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let ex = ex.clone();
            let d = done.clone();
            thread::spawn(move || {
                ex.shutdown(true, false);
                d.load(Ordering::SeqCst)
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 4);
    }
}

#[test]
fn test_submit_racing_shutdown_loses_nothing() {
    let _watchdog = common::watchdog("test_submit_racing_shutdown_loses_nothing");
    for _ in 0..50 {
        let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let ex = ex.clone();
                thread::spawn(move || {
                    let mut accepted = Vec::new();
                    for i in 0..200 {
                        match ex.submit(move || i) {
                            Ok(f) => accepted.push(f),
                            Err(e) => {
                                assert!(e.is_shutdown());
                                break;
                            }
                        }
                    }
                    accepted
                })
            })
            .collect();
        thread::yield_now();
        ex.shutdown(true, false);
        for s in submitters {
            for f in s.join().unwrap() {
                // Accepted before shutdown: it ran, shutdown(wait) saw to it.
                assert!(f.done(), "an accepted task was not run by shutdown(wait)");
                f.result_timeout(T).unwrap();
            }
        }
    }
}

/// `test_hang_gh94440`: a future submitted and cancelled at once, right
/// before `shutdown(wait=true)`, does not make the shutdown hang. CPython's
/// `signal.alarm(5)` is a thread that runs the shutdown and a bounded
/// wait for it.
#[test]
fn test_hang_gh94440() {
    let _watchdog = common::watchdog("test_hang_gh94440");
    for _ in 0..50 {
        let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
        ex.submit(|| 0).unwrap().result_timeout(T).unwrap();
        let _ = ex.submit(|| 0).unwrap().cancel();
        let (tx, rx) = mpsc::channel();
        let ex2 = Arc::clone(&ex);
        let t = thread::spawn(move || {
            ex2.shutdown(true, false);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("timed out waiting for shutdown after a cancelled submit");
        t.join().unwrap();
    }
}
