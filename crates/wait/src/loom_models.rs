//! Loom models: installing each kind of waiter races a completion and a
//! cancel (three threads: the waiting one and two completers). Loom runs
//! every interleaving of the futures' locks, the waiter's lock and condvar;
//! a lost wakeup shows up as a deadlock, a waiter left behind as a live
//! weak reference once every thread is joined.
//!
//! Futures hold plain pointers to the waiter (`install_waiter_unowned`),
//! which the wait frees when it returns: each model also checks that no
//! notify reaches a waiter after that (`waiter::Canary`), which would touch
//! freed memory outside loom. The step it rests on is that removal takes the
//! lock of every future whose notify was not seen, even of a future already
//! done (its notify may not have run yet): skip it in `waiter::uninstall`
//! and `loom_wait_timeout_vs_result_and_cancel` fails. The queue's steps
//! and the models that fail without each are listed in `README.md`,
//! "Freeing the waiter".
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release -p
//! concurrent-futures-wait --lib -- loom_` (see `ci/loom.sh`).

use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use concurrent_futures_core::{Completion, Future, TaskError, Waitable, Waiter};
use loom::thread;

use crate::wait::{block_on, Dyn};
use crate::waiter::{AllCompleted, Canary, FirstCompleted, FirstException};
use crate::{as_completed, as_completed_any, wait, wait_any, ReturnWhen};

/// A future that remembers (weakly) every waiter installed on it. Install
/// and remove run only on the waiting thread, so the std mutex here is
/// never contended and needs no modelling.
struct Spy {
    future: Future<u8>,
    installed: StdMutex<Vec<Weak<dyn Waiter>>>,
}

impl Spy {
    fn new() -> Self {
        Spy {
            future: Future::new(),
            installed: StdMutex::new(Vec::new()),
        }
    }

    /// After every thread is joined (and late completions are done).
    fn assert_released(&self) {
        Canary::bury();
        let installed = self.installed.lock().unwrap();
        assert!(
            installed.iter().all(|w| w.strong_count() == 0),
            "a waiter outlived its wait"
        );
    }
}

impl Waitable for Spy {
    fn install_waiter(&self, waiter: &Arc<dyn Waiter>, token: usize) -> Option<Completion> {
        self.installed.lock().unwrap().push(Arc::downgrade(waiter));
        self.future.install_waiter(waiter, token)
    }
    #[allow(unsafe_code)]
    unsafe fn install_waiter_unowned(
        &self,
        waiter: &Arc<dyn Waiter>,
        token: usize,
    ) -> Option<Completion> {
        self.installed.lock().unwrap().push(Arc::downgrade(waiter));
        // SAFETY: the caller's contract, passed on.
        unsafe { self.future.install_waiter_unowned(waiter, token) }
    }
    fn remove_waiter(&self, waiter: &Arc<dyn Waiter>) {
        self.future.remove_waiter(waiter);
    }
    fn completion(&self) -> Option<Completion> {
        self.future.completion()
    }
    fn id(&self) -> usize {
        Waitable::id(&self.future)
    }
}

/// Completes `a` with `how` and cancels `b`, each on its own thread.
fn race(a: &Future<u8>, how: Completion, b: &Future<u8>) -> [thread::JoinHandle<()>; 2] {
    let (a, b) = (a.clone(), b.clone());
    [
        thread::spawn(move || match how {
            Completion::Failed => a.set_exception(TaskError::panic("x")).unwrap(),
            _ => a.set_result(1).unwrap(),
        }),
        thread::spawn(move || {
            b.cancel();
        }),
    ]
}

fn join(ts: [thread::JoinHandle<()>; 2]) {
    for t in ts {
        t.join().unwrap();
    }
}

/// `loom::model(f)`, then frees the waiters the iteration released.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(move || {
        f();
        Canary::bury();
    });
}

/// Completes a future nobody else completes, after the wait returned: a
/// waiter left installed on it would be notified after its release.
fn complete_late(s: &Spy) {
    s.future.set_result(0).unwrap();
}

#[test]
fn loom_all_completed_vs_result_and_cancel() {
    model(|| {
        let (a, b) = (Future::new(), Future::new());
        let ts = race(&a, Completion::Finished, &b);
        let r = wait([&a, &b], None, ReturnWhen::AllCompleted);
        assert_eq!(r.done.len(), 2);
        join(ts);
    });
}

#[test]
fn loom_first_completed_vs_result_and_cancel() {
    model(|| {
        let (a, b, never) = (Spy::new(), Spy::new(), Spy::new());
        let ts = race(&a.future, Completion::Finished, &b.future);
        let r = wait_any(&[&a, &b, &never], None, ReturnWhen::FirstCompleted);
        assert!(!r.done.is_empty() && r.not_done.contains(&2));
        join(ts);
        complete_late(&never);
        for s in [&a, &b, &never] {
            s.assert_released();
        }
    });
}

#[test]
fn loom_first_exception_vs_failure_and_cancel() {
    model(|| {
        let (a, b, never) = (Spy::new(), Spy::new(), Spy::new());
        let ts = race(&a.future, Completion::Failed, &b.future);
        let r = wait_any(&[&b, &never, &a], None, ReturnWhen::FirstException);
        assert!(r.done.contains(&2), "stops only at the failure");
        assert!(r.not_done.contains(&1));
        join(ts);
        complete_late(&never);
        for s in [&a, &b, &never] {
            s.assert_released();
        }
    });
}

#[test]
fn loom_as_completed_vs_result_and_cancel() {
    model(|| {
        let (a, b) = (Future::new(), Future::new());
        let ts = race(&a, Completion::Finished, &b);
        let got: Vec<Future<u8>> = as_completed([&a, &b, &a], None)
            .map(|f| f.unwrap())
            .collect();
        assert_eq!(got.len(), 2);
        assert!(got[0] != got[1]);
        join(ts);
    });
}

#[test]
fn loom_as_completed_timeout_vs_result_and_cancel() {
    // A deadline of 1 ns has passed by the first `next`: the iterator
    // installs, finds the time up, and must leave no waiter behind.
    model(|| {
        let (a, b) = (Spy::new(), Spy::new());
        let ts = race(&a.future, Completion::Finished, &b.future);
        let mut oks = 0;
        for item in as_completed_any(&[&a, &b], Some(Duration::from_nanos(1))) {
            match item {
                Ok(_) => oks += 1,
                Err(e) => assert!(matches!(e, concurrent_futures_core::FutureError::Timeout(t)
                    if t.unfinished() == 2 - oks)),
            }
        }
        join(ts);
        a.assert_released();
        b.assert_released();
    });
}

#[test]
fn loom_wait_timeout_vs_result_and_cancel() {
    // Each rule, installed and then timing out at once, while the futures
    // complete: the removal races the completions.
    fn each<R: crate::waiter::StopRule>(rule: impl Fn() -> R + Sync + Send + 'static) {
        model(move || {
            let (a, b) = (Spy::new(), Spy::new());
            let ts = race(&a.future, Completion::Failed, &b.future);
            block_on(&[Dyn(&a), Dyn(&b)], rule(), Some(Instant::now()));
            join(ts);
            a.assert_released();
            b.assert_released();
        });
    }
    each(|| AllCompleted::new(2));
    each(|| FirstCompleted);
    each(|| FirstException::new(2));
}

#[test]
fn loom_as_completed_dropped_early_vs_result_and_cancel() {
    // The iterator is dropped after its first future, while the other may be
    // completing: its notify must be over, or never come, before the queue
    // is freed.
    model(|| {
        let (a, b) = (Spy::new(), Spy::new());
        let ts = race(&a.future, Completion::Finished, &b.future);
        let mut it = as_completed_any(&[&a, &b], None);
        assert!(it.next().unwrap().is_ok());
        drop(it);
        join(ts);
        a.assert_released();
        b.assert_released();
    });
}

#[test]
fn loom_wait_all_timeout_vs_result_and_cancel() {
    // `wait(.., ALL_COMPLETED)`'s one pass, timing out at once while the
    // futures complete: each is reported by its state at the end, and no
    // notify comes after the wait let go of its waiter.
    model(|| {
        let (a, b, never) = (Future::new(), Future::new(), Future::new());
        let ts = race(&a, Completion::Finished, &b);
        let fs = [&a, &b, &never];
        let r = wait(fs, Some(Duration::from_nanos(1)), ReturnWhen::AllCompleted);
        assert!(r.not_done.contains(&never));
        join(ts);
        // A waiter left on `never` would be notified after its release.
        never.set_result(0).unwrap();
    });
}

#[test]
fn loom_first_exception_failure_vs_last_completion() {
    // Every future completes, one of them failing: the failure's notify
    // (which takes the signal's lock) races the last countdown (which says
    // that every notify is over, so the waiter is freed without a removal
    // pass). The failure must count down only under the lock.
    model(|| {
        let (a, b) = (Spy::new(), Spy::new());
        let ts = race(&a.future, Completion::Failed, &b.future);
        assert!(block_on(&[Dyn(&a), Dyn(&b)], FirstException::new(2), None));
        join(ts);
        a.assert_released();
        b.assert_released();
    });
}
