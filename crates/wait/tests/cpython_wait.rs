//! A port of CPython's `Lib/test/test_concurrent_futures/test_wait.py`
//! (CPython main, 2024), with our own code and our own names.
//!
//! Changes from the source:
//! * Executors: tasks run on a thread each (`common::submit`); the crate
//!   must work with futures from any executor, and the pools are tested in
//!   their own crate. The process-pool variants are the same cases.
//! * A cancelled future counts as done at once. CPython keeps a future in
//!   state `CANCELLED` (not yet seen by an executor) out of `done`, which is
//!   why its `wait` can hang (gh-92001); here `CANCELLED_FUTURE` and
//!   `CANCELLED_AND_NOTIFIED_FUTURE` are one state, and the cases that put
//!   `CANCELLED_FUTURE` in `not_done` expect it in `done`. Where that changes
//!   the outcome, the case is also run without the cancelled future, as
//!   CPython's assertions are written.
//! * `threading.Event` is a channel gate whose `wait` gives up after 20 s,
//!   and every `wait` here has a timeout, so a hang fails instead of
//!   blocking the suite.
//! * `test_pending_calls_race` (bpo-14406) cannot shorten a switch
//!   interval; it runs 100 futures released together, many times.

mod common;

use common::{cancelled, failed, gate, submit, submit_fallible, successful, LONG};
use concurrent_futures_core::Future;
use concurrent_futures_wait::{wait, DoneAndNotDone, FutureSet, ReturnWhen};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn set<T>(fs: &[&Future<T>]) -> FutureSet<T> {
    fs.iter().map(|f| (*f).clone()).collect()
}

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let f = submit(|| 6 * 7);
    let r = wait([&f], Some(LONG), ReturnWhen::AllCompleted);
    assert!(r.done.contains(&f) && r.not_done.is_empty());
}

#[test]
fn test_20369_duplicates_collapse() {
    let _watchdog = common::watchdog("test_20369_duplicates_collapse");
    let future = submit(|| 2);
    let r = wait(
        &[future.clone(), future.clone()],
        Some(LONG),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(r.done, set(&[&future]));
    assert!(r.not_done.is_empty());
}

#[test]
fn test_first_completed() {
    let _watchdog = common::watchdog("test_first_completed");
    let (event, released) = gate();
    let future1 = submit(|| 21 * 2);
    let future2 = submit(move || {
        released.wait();
        0
    });
    // As CPython writes it, without the cancelled future.
    let r = wait(
        &[future1.clone(), future2.clone()],
        Some(LONG),
        ReturnWhen::FirstCompleted,
    );
    assert_eq!(r.done, set(&[&future1]));
    assert_eq!(r.not_done, set(&[&future2]));
    // With it: the cancelled future is done already, so wait returns at once.
    let c = cancelled();
    let f2 = future2.clone();
    let r = wait(&[c.clone(), f2], Some(LONG), ReturnWhen::FirstCompleted);
    assert!(r.done.contains(&c));
    assert!(r.not_done.contains(&future2));
    event.set();
    future2.result_timeout(LONG).unwrap();
}

#[test]
fn test_first_completed_some_already_completed() {
    let _watchdog = common::watchdog("test_first_completed_some_already_completed");
    let (event, released) = gate();
    let future1 = submit(move || released.wait());
    let c = cancelled();
    let s = successful(());
    let r = wait(
        &[c.clone(), s.clone(), future1.clone()],
        Some(LONG),
        ReturnWhen::FirstCompleted,
    );
    assert_eq!(r.done, set(&[&c, &s]));
    assert_eq!(r.not_done, set(&[&future1]));
    event.set();
    future1.result_timeout(LONG).unwrap();
}

#[test]
fn test_first_exception() {
    let _watchdog = common::watchdog("test_first_exception");
    let (event1, released1) = gate();
    let (event2, released2) = gate();
    let future1 = submit(|| 2 * 21);
    let future2 = submit_fallible(move || {
        released1.wait();
        Err::<i32, _>("this is an exception")
    });
    let future3 = submit(move || {
        released2.wait();
        0
    });
    // Ensure that future1 is completed before future2 finishes.
    let f1 = future1.clone();
    let t = std::thread::spawn(move || {
        f1.result_timeout(LONG).unwrap();
        event1.set();
    });
    let r = wait(
        &[future1.clone(), future2.clone(), future3.clone()],
        Some(LONG),
        ReturnWhen::FirstException,
    );
    assert_eq!(r.done, set(&[&future1, &future2]));
    assert_eq!(r.not_done, set(&[&future3]));
    t.join().unwrap();
    event2.set();
    future3.result_timeout(LONG).unwrap();
}

#[test]
fn test_first_exception_some_already_complete() {
    let _watchdog = common::watchdog("test_first_exception_some_already_complete");
    let (event, released) = gate();
    let future1 = submit_fallible(|| 21i32.checked_div(0).ok_or("division by zero"));
    let future2 = submit(move || {
        released.wait();
        0
    });
    let s = successful(1);
    let c = cancelled();
    let c_notified = cancelled();
    let r = wait(
        &[
            s.clone(),
            c.clone(),
            c_notified.clone(),
            future1.clone(),
            future2.clone(),
        ],
        Some(LONG),
        ReturnWhen::FirstException,
    );
    // CPython leaves CANCELLED_FUTURE in `pending`; here it is done.
    assert_eq!(r.done, set(&[&s, &c, &c_notified, &future1]));
    assert_eq!(r.not_done, set(&[&future2]));
    event.set();
    future2.result_timeout(LONG).unwrap();
}

#[test]
fn test_first_exception_one_already_failed() {
    let _watchdog = common::watchdog("test_first_exception_one_already_failed");
    let (event, released) = gate();
    let future1 = submit(move || {
        released.wait();
        0
    });
    let e = failed();
    let r = wait(
        &[e.clone(), future1.clone()],
        Some(LONG),
        ReturnWhen::FirstException,
    );
    assert_eq!(r.done, set(&[&e]));
    assert_eq!(r.not_done, set(&[&future1]));
    event.set();
    future1.result_timeout(LONG).unwrap();
}

#[test]
fn test_all_completed() {
    let _watchdog = common::watchdog("test_all_completed");
    let future1 = submit_fallible(|| 2i32.checked_div(0).ok_or("division by zero"));
    let future2 = submit(|| 2 * 21);
    let (s, c, e) = (successful(0), cancelled(), failed());
    let all = [&s, &c, &e, &future1, &future2];
    let r = wait(all, Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!(r.done, set(&all));
    assert!(r.not_done.is_empty());
}

#[test]
fn test_timeout() {
    let _watchdog = common::watchdog("test_timeout");
    let short_timeout = Duration::from_millis(50);
    let (event, released) = gate();
    let future = submit(move || {
        released.wait();
        0
    });
    let (c, e, s) = (cancelled(), failed(), successful(1));
    let start = Instant::now();
    let r = wait(
        [&c, &e, &s, &future],
        Some(short_timeout),
        ReturnWhen::AllCompleted,
    );
    assert!(start.elapsed() >= short_timeout);
    assert_eq!(r.done, set(&[&c, &e, &s]));
    assert_eq!(r.not_done, set(&[&future]));
    event.set();
    future.result_timeout(LONG).unwrap();
}

#[test]
fn test_pending_calls_race() {
    let _watchdog = common::watchdog("test_pending_calls_race");
    // bpo-14406: many futures completing together while `wait` installs.
    for _ in 0..20 {
        let event = common::Event::default();
        let fs: Vec<Future<()>> = (0..100)
            .map(|_| {
                let e = event.clone();
                submit(move || e.wait())
            })
            .collect();
        event.set();
        let DoneAndNotDone { done, not_done } = wait(&fs, Some(LONG), ReturnWhen::AllCompleted);
        assert_eq!(done.len(), 100, "not all 100 done within {LONG:?}");
        assert!(not_done.is_empty());
    }
}

// Cases beyond CPython's file: the rules of the issue and API.md.

#[test]
fn empty_input_returns_at_once() {
    let _watchdog = common::watchdog("empty_input_returns_at_once");
    for rw in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let r = wait(&Vec::<Future<u8>>::new(), None, rw);
        assert!(r.done.is_empty() && r.not_done.is_empty());
    }
}

#[test]
fn zero_timeout_only_looks() {
    let _watchdog = common::watchdog("zero_timeout_only_looks");
    let (p, s) = (Future::<u8>::new(), successful(1));
    for rw in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let start = Instant::now();
        let r = wait([&p, &s], Some(Duration::ZERO), rw);
        assert!(start.elapsed() < LONG);
        assert_eq!(r.done, set(&[&s]));
        assert_eq!(r.not_done, set(&[&p]));
    }
}

#[test]
fn huge_timeout_is_no_timeout() {
    let _watchdog = common::watchdog("huge_timeout_is_no_timeout");
    let f = submit(|| 1);
    let r = wait([&f], Some(Duration::MAX), ReturnWhen::AllCompleted);
    assert_eq!(r.done, set(&[&f]));
}

#[test]
fn first_exception_without_failures_is_all_completed() {
    let _watchdog = common::watchdog("first_exception_without_failures_is_all_completed");
    let fs: Vec<Future<u64>> = (0..8)
        .map(|i| {
            submit(move || {
                std::thread::sleep(Duration::from_millis(i * 3));
                i
            })
        })
        .collect();
    let c = cancelled();
    let mut all: Vec<&Future<u64>> = fs.iter().collect();
    all.push(&c);
    let r = wait(all, Some(LONG), ReturnWhen::FirstException);
    assert_eq!(
        r.done.len(),
        9,
        "all done: a cancelled future is no failure"
    );
    assert!(r.not_done.is_empty());
}

#[test]
fn first_exception_counts_panics_errors_and_broken_executors() {
    let _watchdog = common::watchdog("first_exception_counts_panics_errors_and_broken_executors");
    use concurrent_futures_core::TaskError;
    let broken = Future::<i32>::new();
    let b = broken.clone();
    let kinds: Vec<Future<i32>> = vec![
        submit(|| panic!("task panicked on purpose")),
        submit_fallible(|| "x".parse::<i32>()),
        broken,
    ];
    std::thread::spawn(move || b.set_exception(TaskError::broken("pool gone")).unwrap());
    for failing in &kinds {
        let (event, released) = gate();
        let slow = submit(move || {
            released.wait();
            0
        });
        let r = wait([failing, &slow], Some(LONG), ReturnWhen::FirstException);
        assert!(r.done.contains(failing), "{failing:?} should stop the wait");
        assert!(r.not_done.contains(&slow));
        event.set();
        slow.result_timeout(LONG).unwrap();
    }
}

#[test]
fn cancel_wakes_a_waiting_wait() {
    let _watchdog = common::watchdog("cancel_wakes_a_waiting_wait");
    // CPython: a future cancelled while `wait` sleeps stays undone until an
    // executor sees it (gh-92001). Here the cancel itself wakes the wait.
    let f = Future::<()>::new();
    let g = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        assert!(g.cancel());
    });
    let r = wait([&f], Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!(
        r.done,
        set(&[&f]),
        "cancel did not wake wait within {LONG:?}"
    );
    t.join().unwrap();
}

#[test]
fn accepts_map_keys_and_sets() {
    let _watchdog = common::watchdog("accepts_map_keys_and_sets");
    let a = successful(1);
    let b = successful(2);
    let map: std::collections::HashMap<Future<i32>, &str> =
        [(a.clone(), "a"), (b.clone(), "b")].into_iter().collect();
    let r = wait(map.keys(), None, ReturnWhen::AllCompleted);
    assert_eq!(r.done, set(&[&a, &b]));
    let hs: HashSet<Future<i32>> = [a.clone()].into_iter().collect();
    let r = wait(&hs, None, ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 1);
    let v = [a.clone(), b.clone()];
    let r = wait(&v[..1], None, ReturnWhen::AllCompleted);
    assert_eq!(r.done, set(&[&a]));
}
