//! Futures of different result types waited on together: `wait_any` and
//! `as_completed_any` over `&[&dyn Waitable]`, reporting positions.

mod common;

use common::{cancelled, failed, submit, successful, LONG};
use concurrent_futures_core::{Completion, Future, Waitable, Waiter};
use concurrent_futures_wait::{as_completed_any, wait_any, ReturnWhen};
use std::time::Duration;

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let (a, b) = (successful(1u8), successful("b"));
    let r = wait_any(&[&a, &b], None, ReturnWhen::AllCompleted);
    assert_eq!((r.done, r.not_done), (vec![0, 1], vec![]));
}

#[test]
fn wait_any_over_three_types() {
    let _watchdog = common::watchdog("wait_any_over_three_types");
    let n = submit(|| 42u64);
    let s = submit(|| String::from("text"));
    let v = Future::<Vec<u8>>::new();
    let r = wait_any(
        &[&n, &s, &v],
        Some(Duration::from_millis(50)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(r.done, [0, 1]);
    assert_eq!(r.not_done, [2]);
    assert_eq!(*n.result().unwrap(), 42);
    assert_eq!(s.result().unwrap(), "text");
    v.set_result(vec![1]).unwrap();
    let r = wait_any(&[&n, &s, &v], Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!(r.done, [0, 1, 2]);
}

#[test]
fn wait_any_first_exception_and_first_completed() {
    let _watchdog = common::watchdog("wait_any_first_exception_and_first_completed");
    let ok = successful(1i32);
    let bad = failed::<String>();
    let pending = Future::<()>::new();
    let r = wait_any(
        &[&ok, &pending, &bad],
        Some(LONG),
        ReturnWhen::FirstException,
    );
    assert_eq!((r.done, r.not_done), (vec![0, 2], vec![1]));
    let p2 = Future::<u8>::new();
    let r = wait_any(
        &[&pending, &p2],
        Some(Duration::ZERO),
        ReturnWhen::FirstCompleted,
    );
    assert_eq!((r.done, r.not_done), (vec![], vec![0, 1]));
    let c = cancelled::<f64>();
    let r = wait_any(&[&pending, &c], Some(LONG), ReturnWhen::FirstCompleted);
    assert_eq!((r.done, r.not_done), (vec![1], vec![0]));
}

#[test]
fn wait_any_reports_both_positions_of_a_duplicate() {
    let _watchdog = common::watchdog("wait_any_reports_both_positions_of_a_duplicate");
    let a = submit(|| 'a');
    let b = Future::<u32>::new();
    let r = wait_any(
        &[&a, &b, &a],
        Some(Duration::from_millis(30)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!((r.done, r.not_done), (vec![0, 2], vec![1]));
}

#[test]
fn as_completed_any_yields_positions_once() {
    let _watchdog = common::watchdog("as_completed_any_yields_positions_once");
    let a = Future::<i32>::new();
    let b = successful(String::from("b"));
    let c = Future::<Vec<u8>>::new();
    let (a2, c2) = (a.clone(), c.clone());
    let t = std::thread::spawn(move || {
        c2.set_result(vec![]).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        a2.set_result(1).unwrap();
    });
    let order: Vec<usize> = as_completed_any(&[&a, &b, &c, &b], Some(LONG))
        .map(|i| i.expect("all three within the bound"))
        .collect();
    assert_eq!(order[0], 1, "the finished one first");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2], "each future once, at its first position");
    t.join().unwrap();
}

#[test]
fn as_completed_any_timeout_message() {
    let _watchdog = common::watchdog("as_completed_any_timeout_message");
    let (a, b, c) = (
        successful(1u8),
        Future::<String>::new(),
        Future::<()>::new(),
    );
    let items: Vec<_> = as_completed_any(&[&a, &b, &c], Some(Duration::from_millis(20))).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap(), &0);
    assert_eq!(
        items[1].as_ref().unwrap_err().to_string(),
        "timed out: 2 (of 3) futures unfinished"
    );
}

/// A hand-written `Waitable` that breaks its contract: its completion
/// notifies every installed waiter twice.
struct Stutter {
    installed: std::sync::Mutex<Vec<(std::sync::Arc<dyn Waiter>, usize)>>,
    done: std::sync::atomic::AtomicBool,
}

impl Stutter {
    fn complete(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let installed = std::mem::take(&mut *self.installed.lock().unwrap());
        for (w, token) in installed {
            w.notify(token, Completion::Finished);
            w.notify(token, Completion::Finished);
        }
    }
}

impl Waitable for Stutter {
    fn install_waiter(
        &self,
        waiter: &std::sync::Arc<dyn Waiter>,
        token: usize,
    ) -> Option<Completion> {
        let mut installed = self.installed.lock().unwrap();
        if self.done.load(std::sync::atomic::Ordering::SeqCst) {
            return Some(Completion::Finished);
        }
        installed.push((waiter.clone(), token));
        None
    }
    fn remove_waiter(&self, waiter: &std::sync::Arc<dyn Waiter>) {
        self.installed
            .lock()
            .unwrap()
            .retain(|(w, _)| !std::sync::Arc::ptr_eq(w, waiter));
    }
    fn completion(&self) -> Option<Completion> {
        self.done
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(Completion::Finished)
    }
    fn id(&self) -> usize {
        self as *const Self as usize
    }
}

#[test]
fn as_completed_any_survives_a_waitable_that_notifies_twice() {
    let _watchdog = common::watchdog("as_completed_any_survives_a_waitable_that_notifies_twice");
    let stutters: Vec<Stutter> = (0..2)
        .map(|_| Stutter {
            installed: std::sync::Mutex::new(Vec::new()),
            done: std::sync::atomic::AtomicBool::new(false),
        })
        .collect();
    let f = Future::<u8>::new();
    let refs: Vec<&dyn Waitable> = vec![&stutters[0], &f, &stutters[1]];
    let mut it = as_completed_any(&refs, Some(LONG));
    stutters[1].complete();
    f.set_result(1).unwrap();
    stutters[0].complete();
    let mut order: Vec<usize> = it
        .by_ref()
        .map(|i| i.expect("all three within the bound"))
        .collect();
    order.sort_unstable();
    assert_eq!(order, [0, 1, 2], "each once, no repeat, none lost");
    assert!(it.next().is_none());
}
