//! `Future<T>` driven by `Future::run`, against Java's JSR-166 TCK
//! `FutureTaskTest`.
//!
//! `new FutureTask(callable)` then `run()` is `Future::new()` then
//! `f.run(task)`; `get()` is `result()`, `get(t)` is `result_timeout(t)`,
//! `ExecutionException` is `FutureError::Failed`, `done()` is a
//! done-callback. What changed, on purpose: Python's semantics rule where
//! Java's differ: `cancel()` of a running task returns false and the task
//! completes (Java returns true and drops the result); cancelling a
//! cancelled future returns true (Java: false); a second `set` is an
//! `InvalidStateError` (Java ignores it). Left out: interruption
//! (`cancel(true)` interrupting, `testGet_Interrupted`), `runAndReset`
//! (protected), null arguments. Every wait is bounded.

use concurrent_futures_core::{Future, FutureState, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(50);

#[test]
fn smoke() {
    let f = Future::new();
    assert!(f.run(|| 1));
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
}

/// `testIsDone`.
#[test]
fn test_is_done() {
    let f = Future::new();
    assert!(!f.done());
    assert!(f.run(|| ()));
    assert!(f.done());
    assert!(!f.cancelled());
}

/// `testRunTwice` (the TCK's "run after completion is a no-op"): the task
/// of a second `run` never runs and the first value stays.
#[test]
fn test_run_twice() {
    let f = Future::new();
    let calls = AtomicUsize::new(0);
    assert!(f.run(|| calls.fetch_add(1, Ordering::SeqCst) + 10));
    assert!(!f.run(|| calls.fetch_add(1, Ordering::SeqCst) + 20));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(*f.result_timeout(LONG).unwrap(), 10);
}

/// `testSet`, `testSetException`, and a set after another.
#[test]
fn test_set_and_set_exception() {
    let f = Future::new();
    f.set_result(1).unwrap();
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
    assert!(f.set_result(2).is_err());
    assert!(f.set_exception(TaskError::panic("late")).is_err());
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
    let g = Future::<i32>::new();
    g.set_exception(TaskError::panic("nfe")).unwrap();
    let e = g.result_timeout(LONG).unwrap_err();
    assert_eq!(e.task_error().unwrap().panic_message(), Some("nfe"));
    assert!(g.set_result(3).is_err());
}

/// `testRunAfterSet`: a future completed by hand does not run its task.
#[test]
fn test_run_after_set() {
    let f = Future::new();
    f.set_result(1).unwrap();
    assert!(!f.run(|| panic!("ran after set")));
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
}

/// `testCancelBeforeRun`, `testCancelBeforeRun2`: the task never runs.
#[test]
fn test_cancel_before_run() {
    let f = Future::<i32>::new();
    assert!(f.cancel());
    assert!(!f.run(|| panic!("a cancelled task ran")));
    assert!(f.cancelled());
    assert!(f.done());
    assert!(f.result_timeout(LONG).unwrap_err().is_cancelled());
    assert!(f.exception_timeout(LONG).unwrap_err().is_cancelled());
    assert!(f.cancel(), "cancelling a cancelled future (Python: true)");
    assert!(f.set_result(1).is_err());
}

/// `testCancelAfterRun`.
#[test]
fn test_cancel_after_run() {
    let f = Future::new();
    assert!(f.run(|| 1));
    assert!(!f.cancel());
    assert!(!f.cancelled());
    assert_eq!(f.state(), FutureState::Finished);
    assert_eq!(*f.result_timeout(LONG).unwrap(), 1);
}

/// `testCancelNoInterrupt` with Python's semantics: a running task cannot
/// be cancelled; it completes and its value is kept.
#[test]
fn test_cancel_while_running() {
    let f = Future::new();
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let runner = {
        let f = f.clone();
        thread::spawn(move || {
            f.run(move || {
                started_tx.send(()).unwrap();
                go_rx
                    .recv_timeout(LONG)
                    .expect("the test to let the task end");
                7
            })
        })
    };
    started_rx.recv_timeout(LONG).expect("the task to start");
    assert!(f.running());
    assert!(!f.cancel());
    assert!(!f.cancelled());
    go_tx.send(()).unwrap();
    assert!(runner.join().unwrap());
    assert_eq!(*f.result_timeout(LONG).unwrap(), 7);
}

/// `testGet`, `testTimedGet`: threads blocked in `get` get the value once
/// the task ran.
#[test]
fn test_get_and_timed_get() {
    let f = Future::new();
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            let f = f.clone();
            thread::spawn(move || {
                if i == 0 {
                    f.result().copied()
                } else {
                    f.result_timeout(LONG).copied()
                }
            })
        })
        .collect();
    thread::sleep(SHORT);
    assert!(f.run(|| 42));
    for w in waiters {
        assert_eq!(w.join().unwrap().unwrap(), 42);
    }
}

/// `testGet_Cancelled`, `testTimedGet_Cancelled`: a cancel wakes the
/// blocked readers with `Cancelled`.
#[test]
fn test_get_cancelled() {
    let f = Future::<i32>::new();
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            let f = f.clone();
            thread::spawn(move || {
                if i == 0 {
                    f.result().copied()
                } else {
                    f.result_timeout(LONG).copied()
                }
            })
        })
        .collect();
    thread::sleep(SHORT);
    assert!(f.cancel());
    for w in waiters {
        assert!(w.join().unwrap().unwrap_err().is_cancelled());
    }
}

/// `testGet_ExecutionException`, `testTimedGet_ExecutionException`: a task
/// that throws fails its future with the message; every read sees it.
#[test]
fn test_get_execution_exception() {
    let f = Future::<i32>::new();
    assert!(f.run(|| panic!("arithmetic")));
    for _ in 0..2 {
        let e = f.result().unwrap_err();
        assert_eq!(e.task_error().unwrap().panic_message(), Some("arithmetic"));
        let e = f.result_timeout(LONG).unwrap_err();
        assert_eq!(e.task_error().unwrap().panic_message(), Some("arithmetic"));
    }
    assert!(!f.cancelled());
    assert!(f.done());
    let g = Future::<u32>::new();
    assert!(g.run_fallible(|| "x".parse::<u32>()));
    assert!(g.result().unwrap_err().task_error().unwrap().is_error());
}

/// `testTimedGet_TimeoutException`: an unfinished future times out, after
/// at least the time given, zero included.
#[test]
fn test_timed_get_timeout_exception() {
    let f = Future::<i32>::new();
    let start = Instant::now();
    assert!(f.result_timeout(SHORT).unwrap_err().is_timeout());
    assert!(start.elapsed() >= SHORT);
    assert!(f.result_timeout(Duration::ZERO).unwrap_err().is_timeout());
    assert!(f
        .exception_timeout(Duration::ZERO)
        .unwrap_err()
        .is_timeout());
    assert!(f.set_running_or_notify_cancel().unwrap());
    assert!(f.result_timeout(Duration::ZERO).unwrap_err().is_timeout());
}

/// `testDone` (the TCK's `done()` hook, here a done-callback): called
/// exactly once, on a normal end, on a failure and on a cancel.
#[test]
fn test_done_hook_called_once() {
    let run = |end: &dyn Fn(&Future<i32>)| {
        let f = Future::<i32>::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        f.add_done_callback(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        end(&f);
        let _ = f.cancel();
        let _ = f.set_result(0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    };
    run(&|f| {
        f.run(|| 1);
    });
    run(&|f| {
        f.run(|| panic!("boom"));
    });
    run(&|f| {
        f.cancel();
    });
}

/// `testToString`: the state shows in `Debug`.
#[test]
fn test_to_string() {
    let f = Future::<i32>::new();
    assert!(format!("{f:?}").contains("pending"), "{f:?}");
    f.run(|| 1);
    assert!(format!("{f:?}").contains("finished"), "{f:?}");
    let g = Future::<i32>::new();
    g.cancel();
    assert!(format!("{g:?}").contains("cancelled"), "{g:?}");
}
