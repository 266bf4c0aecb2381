//! Helpers shared by the integration tests: futures in each state, a
//! thread-per-task "executor", and a gate standing in for `threading.Event`.
#![allow(dead_code, unreachable_pub, missing_docs)]

use concurrent_futures_core::{Future, TaskError};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// The bound on every wait in these tests: a hang fails after this long.
pub const LONG: Duration = Duration::from_secs(20);

/// A future that finished with `value` (CPython's `SUCCESSFUL_FUTURE`).
pub fn successful<T>(value: T) -> Future<T> {
    let f = Future::new();
    f.set_result(value).unwrap();
    f
}

/// A future that failed (CPython's `EXCEPTION_FUTURE`, an `OSError`).
pub fn failed<T>() -> Future<T> {
    let f = Future::new();
    let e = std::io::Error::other("os error");
    f.set_exception(TaskError::error(e)).unwrap();
    f
}

/// A cancelled future (CPython's `CANCELLED_FUTURE` and
/// `CANCELLED_AND_NOTIFIED_FUTURE` are one state here).
pub fn cancelled<T>() -> Future<T> {
    let f = Future::new();
    assert!(f.cancel());
    f
}

/// A future marked running (CPython's `RUNNING_FUTURE`).
pub fn running<T>() -> Future<T> {
    let f = Future::new();
    assert!(f.set_running_or_notify_cancel().unwrap());
    f
}

/// Runs `task` on a thread of its own: a minimal executor (its reference to
/// the future, a `Task`, is not a handle, as in the real pools).
pub fn submit<T: Send + 'static>(task: impl FnOnce() -> T + Send + 'static) -> Future<T> {
    let (task, f) = concurrent_futures_core::Task::new(task);
    thread::spawn(move || task.run());
    f
}

/// Runs a fallible `task` on a thread of its own (`submit_fallible`).
pub fn submit_fallible<T: Send + 'static, E>(
    task: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Future<T>
where
    E: Into<concurrent_futures_core::BoxError> + 'static,
{
    let (task, f) = concurrent_futures_core::Task::new_fallible(task);
    thread::spawn(move || task.run());
    f
}

/// `threading.Event` for tests: `wait` blocks until `set` (or the gate is
/// dropped), and at most [`LONG`].
pub struct Gate(mpsc::Sender<()>);

/// The waiting side of a [`Gate`].
pub struct GateWait(mpsc::Receiver<()>);

pub fn gate() -> (Gate, GateWait) {
    let (tx, rx) = mpsc::channel();
    (Gate(tx), GateWait(rx))
}

impl Gate {
    pub fn set(self) {}
}

impl GateWait {
    /// Blocks until the gate is set; panics (failing the task) after [`LONG`].
    pub fn wait(self) {
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.0.recv_timeout(LONG) {
            panic!("gate not set within {LONG:?}");
        }
    }
}

/// `threading.Event` with many waiters; `wait` gives up after [`LONG`].
#[derive(Clone, Default)]
pub struct Event(Arc<(Mutex<bool>, Condvar)>);

impl Event {
    pub fn set(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    /// Blocks until set; panics (failing the task) after [`LONG`].
    pub fn wait(&self) {
        let g = self.0 .0.lock().unwrap();
        let (g, _) = self.0 .1.wait_timeout_while(g, LONG, |set| !*set).unwrap();
        assert!(*g, "event not set within {LONG:?}");
    }
}

/// How long one test may run before its [`watchdog`] aborts the binary.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(180);

/// A guard for one test: if the test is still running after [`WATCHDOG`],
/// prints which test hung and aborts the whole binary, so a wait without its
/// own bound (a bare `result()` on a pool's future, say) fails fast and says
/// where instead of hanging CI. Dropping the guard at the end of the test
/// stops it.
pub(crate) fn watchdog(test: &'static str) -> Watchdog {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
            eprintln!("test {test} still running after {WATCHDOG:?}: aborting (something it waited for never came)");
            std::process::abort();
        }
    });
    Watchdog(tx)
}

/// Stops its watchdog when dropped (see [`watchdog`]).
pub(crate) struct Watchdog(#[allow(dead_code)] std::sync::mpsc::Sender<()>);
