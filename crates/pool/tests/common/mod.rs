//! Helpers shared by the integration tests: one timeout for every wait, and
//! polling with a deadline.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The bound of every wait in these tests; a hang fails after it.
pub(crate) const T: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds; panics with `what` after [`T`].
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A gate tasks block on until the test opens it (Python's
/// `threading.Event` / `Semaphore(0)` in the CPython tests), with a bound.
#[derive(Clone, Default)]
pub(crate) struct Latch(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Latch {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    /// Blocks until opened; panics after [`T`] so a forgotten `open` fails.
    pub(crate) fn wait(&self) {
        let g = self.0 .0.lock().unwrap();
        let (g, _) = self.0 .1.wait_timeout_while(g, T, |open| !*open).unwrap();
        assert!(*g, "latch never opened");
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
