//! A port of CPython's `Lib/test/test_concurrent_futures/test_future.py`
//! (class `FutureTests`, every case that has a meaning in Rust), to
//! `Future<T>`.
//!
//! What changed, and why:
//!
//! * Python's module-level fixtures (`PENDING_FUTURE`, `RUNNING_FUTURE`, ...,
//!   made by `create_future` poking `_state`) are built here through the
//!   public executor API (`set_running_or_notify_cancel`, `set_result`,
//!   `set_exception`, `cancel`).
//! * `CANCELLED_AND_NOTIFIED` is not a state of ours: we wake waiters and run
//!   callbacks in `cancel` itself (API.md, "where we differ"). Its fixture is
//!   a cancelled future on which an executor then called
//!   `set_running_or_notify_cancel` (which returns `false`); every assertion
//!   on it is the same as on `CANCELLED_FUTURE`, as in Python.
//! * Exceptions are `TaskError`s: Python's `OSError()` is an error value
//!   (`TaskError::error(io::Error)`), and assertions look at it through
//!   `downcast_ref`. `TimeoutError`/`CancelledError` are `FutureError`
//!   variants. A callback that *raises* is a callback that *panics*: it is
//!   reported on stderr and the other callbacks still run. Python captures
//!   stderr in-process; we re-run this test binary as a child and read its
//!   stderr.
//! * `repr` is `Debug`: `<Future at 0x.. state=finished returned i32>`; an
//!   error prints its kind (`raised error`) instead of a class name.
//! * `InvalidStateError` names the state and the operation instead of
//!   embedding the repr.
//! * `test_result_with_success`/`_with_cancel`/`test_exception_with_success`
//!   sleep 100 ms (not 1 s) before completing from the other thread, and every
//!   wait has a timeout.
//! * Not ported: `test_class_str` (Python class names) and the private
//!   `_get_snapshot`; its concurrent part (four threads reading a finished
//!   future 1000 times each) is `concurrent_reads_of_a_finished_future`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use concurrent_futures_core::{Future, FutureError, FutureState, TaskError};

mod child;
use child::stderr_of_child;

/// Long enough that a correct test never hits it (CPython's `SHORT_TIMEOUT`).
const SHORT_TIMEOUT: Duration = Duration::from_secs(30);

fn os_error() -> TaskError {
    TaskError::error(io::Error::other("OSError"))
}

fn pending_future() -> Future<i32> {
    Future::new()
}

fn running_future() -> Future<i32> {
    let f = Future::new();
    assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    f
}

fn cancelled_future() -> Future<i32> {
    let f = Future::new();
    assert!(f.cancel());
    f
}

fn cancelled_and_notified_future() -> Future<i32> {
    let f = cancelled_future();
    assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    f
}

fn exception_future() -> Future<i32> {
    let f = Future::new();
    f.set_exception(os_error()).unwrap();
    f
}

fn successful_future() -> Future<i32> {
    let f = Future::new();
    f.set_result(42).unwrap();
    f
}

/// Every fixture, with its name for failure messages.
fn all_fixtures() -> [(&'static str, Future<i32>); 6] {
    [
        ("pending", pending_future()),
        ("running", running_future()),
        ("cancelled", cancelled_future()),
        ("cancelled_and_notified", cancelled_and_notified_future()),
        ("exception", exception_future()),
        ("successful", successful_future()),
    ]
}

fn is_os_error(e: &TaskError) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.to_string() == "OSError")
}

#[test]
fn smoke() {
    let f = Future::new();
    f.set_result(1).unwrap();
    assert_eq!(*f.result().unwrap(), 1);
}

#[test]
fn test_done_callback_with_result() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let f = Future::new();
    f.add_done_callback(move |f: &Future<i32>| *s.lock().unwrap() = Some(*f.result().unwrap()));
    f.set_result(5).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(5));
}

#[test]
fn test_done_callback_with_exception() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let f = Future::<i32>::new();
    f.add_done_callback(move |f: &Future<i32>| {
        *s.lock().unwrap() = Some(f.exception().unwrap().map(is_os_error));
    });
    f.set_exception(os_error()).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(Some(true)));
}

#[test]
fn test_done_callback_with_cancel() {
    let was_cancelled = Arc::new(Mutex::new(None));
    let w = was_cancelled.clone();
    let f = Future::<i32>::new();
    f.add_done_callback(move |f: &Future<i32>| *w.lock().unwrap() = Some(f.cancelled()));
    assert!(f.cancel());
    assert_eq!(*was_cancelled.lock().unwrap(), Some(true));
}

/// In the child process: one panicking callback, then one that must still run.
fn done_callback_raises_child() {
    let raising_was_called = Arc::new(AtomicBool::new(false));
    let fn_was_called = Arc::new(AtomicBool::new(false));
    let (r, c) = (raising_was_called.clone(), fn_was_called.clone());
    let f = Future::new();
    f.add_done_callback(move |_: &Future<i32>| {
        r.store(true, SeqCst);
        panic!("doh!");
    });
    f.add_done_callback(move |_: &Future<i32>| c.store(true, SeqCst));
    f.set_result(5).unwrap();
    assert!(raising_was_called.load(SeqCst));
    assert!(fn_was_called.load(SeqCst));
    assert_eq!(*f.result().unwrap(), 5);
}

/// In the child process: a future already done runs the callback at once.
fn done_callback_raises_already_succeeded_child() {
    let f = Future::new();
    f.set_result(5).unwrap();
    f.add_done_callback(|_: &Future<i32>| panic!("doh!"));
    assert_eq!(*f.result().unwrap(), 5);
}

#[test]
fn test_done_callback_raises() {
    if let Some(stderr) = stderr_of_child("test_done_callback_raises", done_callback_raises_child) {
        assert!(
            stderr.contains("done-callback of <Future at 0x"),
            "{stderr}"
        );
        assert!(stderr.contains("panicked: doh!"), "{stderr}");
    }
}

#[test]
fn test_done_callback_already_successful() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let f = Future::new();
    f.set_result(5).unwrap();
    f.add_done_callback(move |f: &Future<i32>| *s.lock().unwrap() = Some(*f.result().unwrap()));
    assert_eq!(*seen.lock().unwrap(), Some(5));
}

#[test]
fn test_done_callback_already_failed() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let f = Future::<i32>::new();
    f.set_exception(os_error()).unwrap();
    f.add_done_callback(move |f: &Future<i32>| {
        *s.lock().unwrap() = Some(f.exception().unwrap().map(is_os_error));
    });
    assert_eq!(*seen.lock().unwrap(), Some(Some(true)));
}

#[test]
fn test_done_callback_already_cancelled() {
    let was_cancelled = Arc::new(Mutex::new(None));
    let w = was_cancelled.clone();
    let f = Future::<i32>::new();
    assert!(f.cancel());
    f.add_done_callback(move |f: &Future<i32>| *w.lock().unwrap() = Some(f.cancelled()));
    assert_eq!(*was_cancelled.lock().unwrap(), Some(true));
}

#[test]
fn test_done_callback_raises_already_succeeded() {
    if let Some(stderr) = stderr_of_child(
        "test_done_callback_raises_already_succeeded",
        done_callback_raises_already_succeeded_child,
    ) {
        assert!(
            stderr.contains("done-callback of <Future at 0x"),
            "{stderr}"
        );
        assert!(stderr.contains("doh!"), "{stderr}");
    }
}

/// Whether `repr` is `<Future at 0x[0-9a-f]+ {rest}>`.
fn repr_matches(repr: &str, rest: &str) -> bool {
    let Some(tail) = repr.strip_prefix("<Future at 0x") else {
        return false;
    };
    let hex_len = tail.chars().take_while(char::is_ascii_hexdigit).count();
    hex_len > 0
        && tail[..hex_len].chars().all(|c| !c.is_ascii_uppercase())
        && tail[hex_len..] == format!(" {rest}>")
}

#[test]
fn test_repr() {
    let cases = [
        (pending_future(), "state=pending"),
        (running_future(), "state=running"),
        (cancelled_future(), "state=cancelled"),
        (cancelled_and_notified_future(), "state=cancelled"),
        (exception_future(), "state=finished raised error"),
        (successful_future(), "state=finished returned i32"),
    ];
    for (f, rest) in cases {
        let repr = format!("{f:?}");
        assert!(
            repr_matches(&repr, rest),
            "{repr:?} is not <Future at 0x.. {rest}>"
        );
    }
}

#[test]
fn test_cancel() {
    let f1 = pending_future();
    let f2 = running_future();
    let f3 = cancelled_future();
    let f4 = cancelled_and_notified_future();
    let f5 = exception_future();
    let f6 = successful_future();

    assert!(f1.cancel());
    assert_eq!(f1.state(), FutureState::Cancelled);

    assert!(!f2.cancel());
    assert_eq!(f2.state(), FutureState::Running);

    assert!(f3.cancel());
    assert_eq!(f3.state(), FutureState::Cancelled);

    assert!(f4.cancel());
    assert_eq!(f4.state(), FutureState::Cancelled);

    assert!(!f5.cancel());
    assert_eq!(f5.state(), FutureState::Finished);

    assert!(!f6.cancel());
    assert_eq!(f6.state(), FutureState::Finished);
}

#[test]
fn test_cancelled() {
    let expected = [false, false, true, true, false, false];
    for ((name, f), want) in all_fixtures().into_iter().zip(expected) {
        assert_eq!(f.cancelled(), want, "{name}");
    }
}

#[test]
fn test_done() {
    let expected = [false, false, true, true, true, true];
    for ((name, f), want) in all_fixtures().into_iter().zip(expected) {
        assert_eq!(f.done(), want, "{name}");
    }
}

#[test]
fn test_running() {
    let expected = [false, true, false, false, false, false];
    for ((name, f), want) in all_fixtures().into_iter().zip(expected) {
        assert_eq!(f.running(), want, "{name}");
    }
}

#[test]
fn test_result_with_timeout() {
    let zero = Duration::ZERO;
    assert!(pending_future()
        .result_timeout(zero)
        .unwrap_err()
        .is_timeout());
    assert!(running_future()
        .result_timeout(zero)
        .unwrap_err()
        .is_timeout());
    assert!(cancelled_future()
        .result_timeout(zero)
        .unwrap_err()
        .is_cancelled());
    assert!(cancelled_and_notified_future()
        .result_timeout(zero)
        .unwrap_err()
        .is_cancelled());
    let e = exception_future().result_timeout(zero).unwrap_err();
    assert!(is_os_error(e.task_error().expect("failed")), "{e}");
    assert_eq!(*successful_future().result_timeout(zero).unwrap(), 42);
}

#[test]
fn test_result_with_success() {
    let f1 = pending_future();
    let g = f1.clone();
    let t = thread::spawn(move || {
        // Wait until the main thread is (probably) waiting for the result.
        thread::sleep(Duration::from_millis(100));
        g.set_result(42).unwrap();
    });
    assert_eq!(*f1.result_timeout(SHORT_TIMEOUT).unwrap(), 42);
    t.join().unwrap();
}

#[test]
fn test_result_with_cancel() {
    let f1 = pending_future();
    let g = f1.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        assert!(g.cancel());
    });
    let err = f1.result_timeout(SHORT_TIMEOUT).unwrap_err();
    assert!(matches!(err, FutureError::Cancelled), "{err}");
    t.join().unwrap();
}

#[test]
fn test_exception_with_timeout() {
    let zero = Duration::ZERO;
    assert!(pending_future()
        .exception_timeout(zero)
        .unwrap_err()
        .is_timeout());
    assert!(running_future()
        .exception_timeout(zero)
        .unwrap_err()
        .is_timeout());
    assert!(cancelled_future()
        .exception_timeout(zero)
        .unwrap_err()
        .is_cancelled());
    assert!(cancelled_and_notified_future()
        .exception_timeout(zero)
        .unwrap_err()
        .is_cancelled());
    let f = exception_future();
    assert!(is_os_error(
        f.exception_timeout(zero).unwrap().expect("an error")
    ));
    assert!(successful_future()
        .exception_timeout(zero)
        .unwrap()
        .is_none());
}

#[test]
fn test_exception_with_success() {
    let f1 = pending_future();
    let g = f1.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        g.set_exception(os_error()).unwrap();
    });
    let e = f1.exception_timeout(SHORT_TIMEOUT).unwrap();
    assert!(is_os_error(e.expect("an error")));
    t.join().unwrap();
}

#[test]
fn test_multiple_set_result() {
    let f = pending_future();
    f.set_result(1).unwrap();
    let err = f.set_result(2).unwrap_err();
    assert_eq!(err.state(), FutureState::Finished);
    assert_eq!(err.operation(), "set_result");
    assert_eq!(
        err.to_string(),
        "invalid state: cannot set_result on a finished future"
    );
    assert!(f.done());
    assert_eq!(*f.result().unwrap(), 1);
}

#[test]
fn test_multiple_set_exception() {
    let f = pending_future();
    f.set_exception(TaskError::error(io::Error::other("ValueError")))
        .unwrap();
    let err = f.set_exception(TaskError::panic("Exception")).unwrap_err();
    assert_eq!(err.state(), FutureState::Finished);
    assert_eq!(err.operation(), "set_exception");
    let kept = f.exception().unwrap().expect("the first error");
    assert_eq!(
        kept.downcast_ref::<io::Error>().unwrap().to_string(),
        "ValueError"
    );
}

/// The concurrent half of `test_get_snapshot`: four threads read a finished
/// future 1000 times each and all see the same outcome.
#[test]
fn concurrent_reads_of_a_finished_future() {
    let f = Future::new();
    f.set_result(100).unwrap();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    assert!(f.done() && !f.cancelled());
                    assert_eq!(*f.result_timeout(Duration::ZERO).unwrap(), 100);
                    assert!(f.exception_timeout(Duration::ZERO).unwrap().is_none());
                }
            });
        }
    });
}

/// The sequential half of `test_get_snapshot`: `(done, cancelled, result,
/// exception)` of pending, successful, failed and cancelled futures.
#[test]
fn snapshot_of_each_state() {
    type Snapshot = (bool, bool, Option<i32>, Option<String>);
    fn snapshot(f: &Future<i32>) -> Snapshot {
        (
            f.done(),
            f.cancelled(),
            f.result_timeout(Duration::ZERO).ok().copied(),
            f.exception_timeout(Duration::ZERO)
                .ok()
                .flatten()
                .map(|e| e.to_string()),
        )
    }
    assert_eq!(snapshot(&pending_future()), (false, false, None, None));
    assert_eq!(
        snapshot(&successful_future()),
        (true, false, Some(42), None)
    );
    let failed = Future::new();
    failed
        .set_exception(TaskError::error(io::Error::other("test error")))
        .unwrap();
    assert_eq!(
        snapshot(&failed),
        (
            true,
            false,
            None,
            Some("task failed: test error".to_owned())
        )
    );
    assert_eq!(snapshot(&cancelled_future()), (true, true, None, None));
}

/// Not in CPython (it cannot happen there): a set after cancel is refused
/// and leaves the future cancelled; a set on a running future finishes it.
#[test]
fn set_after_cancel_and_while_running() {
    let f = cancelled_future();
    let err = f.set_result(1).unwrap_err();
    assert_eq!(err.state(), FutureState::Cancelled);
    assert!(f.set_exception(os_error()).is_err());
    assert!(f.cancelled());
    let r = running_future();
    r.set_result(2).unwrap();
    assert_eq!(*r.result().unwrap(), 2);
    assert!(r.set_running_or_notify_cancel().is_err());
}

/// Where we differ from Python: `cancel()` itself wakes every thread blocked
/// on the future (Python waits for an executor to see the cancellation).
#[test]
fn cancel_wakes_every_blocked_reader_at_once() {
    let f = pending_future();
    let blocked = Arc::new(std::sync::Barrier::new(5));
    let readers: Vec<_> = (0..4)
        .map(|k| {
            let (g, b) = (f.clone(), blocked.clone());
            thread::spawn(move || {
                b.wait();
                let err = if k % 2 == 0 {
                    g.result_timeout(SHORT_TIMEOUT).unwrap_err()
                } else {
                    g.exception_timeout(SHORT_TIMEOUT).unwrap_err()
                };
                // A timeout here would mean the cancel did not wake us.
                assert!(err.is_cancelled(), "{err}");
            })
        })
        .collect();
    blocked.wait();
    thread::sleep(Duration::from_millis(50));
    assert!(f.cancel());
    for r in readers {
        r.join().unwrap();
    }
    // No executor ever calls set_running_or_notify_cancel here.
    assert_eq!(f.state(), FutureState::Cancelled);
}
