//! Helpers shared by the `sync_*` tests: bounded waits and CPython's
//! `Bunch` of threads (from `Lib/test/lock_tests.py`).

#![allow(dead_code)] // each test file uses a subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long any test waits for something that should happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Python's `_wait()`: a short sleep letting other threads run.
pub(crate) fn short_wait() {
    thread::sleep(Duration::from_millis(10));
}

/// Polls `done` until it holds; fails after `PATIENCE`, naming `what`.
pub(crate) fn wait_for(what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// CPython's `Bunch`: `n` threads running `f`.
pub(crate) struct Bunch {
    started: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
    handles: Vec<JoinHandle<()>>,
}

impl Bunch {
    pub(crate) fn new(n: usize, f: impl Fn() + Send + Sync + 'static) -> Bunch {
        let f = Arc::new(f);
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let handles = (0..n)
            .map(|_| {
                let (f, started, finished) = (f.clone(), started.clone(), finished.clone());
                thread::spawn(move || {
                    struct Finish(Arc<AtomicUsize>);
                    impl Drop for Finish {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _finish = Finish(finished);
                    started.fetch_add(1, Ordering::SeqCst);
                    f();
                })
            })
            .collect();
        Bunch {
            started,
            finished,
            handles,
        }
    }

    pub(crate) fn wait_for_started(&self) {
        let n = self.handles.len();
        wait_for("the bunch to start", || {
            self.started.load(Ordering::SeqCst) == n
        });
    }

    pub(crate) fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// Waits for every thread, then re-raises the first panic among them.
    pub(crate) fn wait_for_finished(self) {
        let n = self.handles.len();
        wait_for("the bunch to finish", || self.finished() == n);
        for h in self.handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}
