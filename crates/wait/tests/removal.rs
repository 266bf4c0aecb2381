//! Waiters are removed from every future on every return path: stop,
//! timeout, drop of the iterator, a panic in the caller's loop, and a panic
//! inside `wait` itself (a `Waitable` that panics while installing).
//!
//! A spy `Waitable` records a weak reference to each waiter installed on
//! it; once nothing holds a waiter any more (no future's list, no iterator),
//! every weak reference is dead.

mod common;

use common::{successful, LONG};
use concurrent_futures_core::{Completion, Future, Waitable, Waiter};
use concurrent_futures_wait::{as_completed_any, wait_any, ReturnWhen};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

struct Spy {
    future: Future<u32>,
    installed: Mutex<Vec<Weak<dyn Waiter>>>,
    /// Panic when asked to install (a faulty user `Waitable`).
    panics: bool,
}

impl Spy {
    fn new(future: Future<u32>) -> Self {
        Spy {
            future,
            installed: Mutex::new(Vec::new()),
            panics: false,
        }
    }

    fn installs(&self) -> usize {
        self.installed.lock().unwrap().len()
    }

    fn waiters_alive(&self) -> usize {
        let installed = self.installed.lock().unwrap();
        installed.iter().filter(|w| w.strong_count() > 0).count()
    }
}

impl Waitable for Spy {
    fn install_waiter(&self, waiter: &Arc<dyn Waiter>, token: usize) -> Option<Completion> {
        assert!(!self.panics, "install refused on purpose");
        self.installed.lock().unwrap().push(Arc::downgrade(waiter));
        self.future.install_waiter(waiter, token)
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

fn spies(n: usize) -> Vec<Spy> {
    (0..n).map(|_| Spy::new(Future::new())).collect()
}

fn refs(spies: &[Spy]) -> Vec<&dyn Waitable> {
    spies.iter().map(|s| s as &dyn Waitable).collect()
}

fn assert_released(spies: &[Spy], when: &str) {
    for (i, s) in spies.iter().enumerate() {
        assert_eq!(
            s.waiters_alive(),
            0,
            "{when}: future {i} still holds a waiter"
        );
    }
}

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let s = spies(2);
    let _ = wait_any(
        &refs(&s),
        Some(Duration::from_millis(5)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(s[0].installs(), 1);
    assert_released(&s, "after a timeout");
}

#[test]
fn wait_removes_after_timeout_and_after_stop() {
    let _watchdog = common::watchdog("wait_removes_after_timeout_and_after_stop");
    for rw in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let s = spies(4);
        let r = wait_any(&refs(&s), Some(Duration::from_millis(10)), rw);
        assert_eq!(r.not_done.len(), 4);
        assert_released(&s, "after a timeout");

        let s = spies(4);
        let f = s[2].future.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            f.set_exception(concurrent_futures_core::TaskError::panic("x"))
                .unwrap();
        });
        // ALL_COMPLETED would wait for the three that never complete.
        let bound = match rw {
            ReturnWhen::AllCompleted => Duration::from_millis(50),
            _ => LONG,
        };
        let r = wait_any(&refs(&s), Some(bound), rw);
        t.join().unwrap();
        if rw != ReturnWhen::AllCompleted {
            assert_eq!(r.done, [2], "{rw:?} stops at the failure");
        }
        assert_released(&s, "after a stop");
    }
}

#[test]
fn zero_timeout_installs_nothing() {
    let _watchdog = common::watchdog("zero_timeout_installs_nothing");
    let s = spies(3);
    let _ = wait_any(&refs(&s), Some(Duration::ZERO), ReturnWhen::AllCompleted);
    let _ = as_completed_any(&refs(&s), Some(Duration::ZERO)).count();
    assert!(s.iter().all(|s| s.installs() == 0));
}

#[test]
fn already_satisfied_installs_nothing() {
    let _watchdog = common::watchdog("already_satisfied_installs_nothing");
    let mut s = spies(3);
    s.push(Spy::new(successful(1)));
    let _ = wait_any(&refs(&s), None, ReturnWhen::FirstCompleted);
    assert!(s.iter().all(|s| s.installs() == 0));
}

#[test]
fn as_completed_removes_on_timeout_before_drop() {
    let _watchdog = common::watchdog("as_completed_removes_on_timeout_before_drop");
    let s = spies(3);
    s[1].future.set_result(1).unwrap();
    let r = refs(&s);
    let mut it = as_completed_any(&r, Some(Duration::from_millis(10)));
    assert_eq!(it.next().unwrap().unwrap(), 1);
    assert!(it.next().unwrap().unwrap_err().is_timeout());
    // The iterator keeps two handles of its queue (as itself and as
    // `Arc<dyn Waiter>`), no future a third.
    for (i, s) in s.iter().enumerate() {
        let installed = s.installed.lock().unwrap();
        assert!(
            installed.iter().all(|w| w.strong_count() <= 2),
            "future {i} still holds the waiter after the timeout"
        );
    }
    assert!(it.next().is_none());
    drop(it);
    assert_released(&s, "after drop");
}

#[test]
fn as_completed_removes_when_dropped_early() {
    let _watchdog = common::watchdog("as_completed_removes_when_dropped_early");
    let s = spies(5);
    s[3].future.set_result(3).unwrap();
    let r = refs(&s);
    let mut it = as_completed_any(&r, None);
    assert_eq!(it.next().unwrap().unwrap(), 3);
    assert_eq!(s[0].installs(), 1);
    drop(it);
    assert_released(&s, "after drop");
}

#[test]
fn as_completed_removes_when_the_loop_panics() {
    let _watchdog = common::watchdog("as_completed_removes_when_the_loop_panics");
    let s = spies(4);
    s[0].future.set_result(0).unwrap();
    let r = refs(&s);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        for i in as_completed_any(&r, None) {
            assert!(i.is_err(), "the caller's loop fails at {i:?}");
        }
    }));
    assert!(caught.is_err());
    assert_released(&s, "after the caller panicked");
}

#[test]
fn wait_removes_when_install_panics() {
    let _watchdog = common::watchdog("wait_removes_when_install_panics");
    let mut s = spies(4);
    s[2].panics = true;
    let r = refs(&s);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        wait_any(&r, None, ReturnWhen::AllCompleted)
    }));
    assert!(caught.is_err());
    assert_eq!(s[1].installs(), 1);
    assert_released(&s, "after install panicked");
    let caught = catch_unwind(AssertUnwindSafe(|| as_completed_any(&r, None).count()));
    assert!(caught.is_err());
    assert_released(&s, "after install panicked in as_completed");
}

#[test]
fn completed_futures_drop_the_waiter_themselves() {
    let _watchdog = common::watchdog("completed_futures_drop_the_waiter_themselves");
    let s = spies(3);
    let futures: Vec<_> = s.iter().map(|s| s.future.clone()).collect();
    let t = std::thread::spawn(move || {
        for (i, f) in futures.into_iter().enumerate() {
            std::thread::sleep(Duration::from_millis(3));
            f.set_result(i as u32).unwrap();
        }
    });
    let r = refs(&s);
    let n = as_completed_any(&r, Some(LONG))
        .filter(Result::is_ok)
        .count();
    assert_eq!(n, 3);
    t.join().unwrap();
    assert_released(&s, "after every future completed");
}
