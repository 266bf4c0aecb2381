//! `sync::Barrier` against Java's JSR-166 TCK `CyclicBarrierTest`.
//!
//! Ported: the cases whose calls have an equivalent here
//! (`CyclicBarrier(n)` is `Barrier::new(n)`, `await()` is `wait()`,
//! `await(t)` is `wait_timeout(t)`, `getNumberWaiting()` is `n_waiting()`,
//! `isBroken()` is `broken()`, the barrier action is `with_action`).
//! What changed: `BrokenBarrierException` and `TimeoutException` are both
//! `BrokenBarrierError` (Python's semantics: the party whose wait timed out
//! gets the same error as the others); a throwing action is a panicking one.
//! Left out: everything about `Thread.interrupt()` (`testAwait1_Interrupted`,
//! `testResetAfterInterrupt`, ...), since a Rust thread cannot be
//! interrupted. Every wait is bounded.

use concurrent_futures_core::sync::Barrier;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

mod sync_common;
use sync_common::{wait_for, PATIENCE};

const SHORT: Duration = Duration::from_millis(50);

/// Runs `f` on a new thread, joined (and its panic re-raised) by the caller.
fn spawn(f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::spawn(f)
}

fn join(h: thread::JoinHandle<()>) {
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn smoke() {
    let b = Barrier::new(1);
    assert_eq!(b.wait_timeout(PATIENCE), Ok(0));
}

/// `testConstructor1`, `testConstructor2`: zero parties is refused.
#[test]
fn test_constructor() {
    assert!(catch_unwind(|| Barrier::new(0)).is_err());
    assert!(catch_unwind(|| Barrier::with_action(0, || {})).is_err());
}

/// `testGetParties`.
#[test]
fn test_get_parties() {
    assert_eq!(Barrier::new(2).parties(), 2);
    assert_eq!(Barrier::new(2).n_waiting(), 0);
}

/// `testAwait1`: a single-party barrier trips at once, again and again.
#[test]
fn test_await1() {
    let b = Barrier::new(1);
    for _ in 0..3 {
        assert_eq!(b.wait_timeout(PATIENCE), Ok(0));
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    }
}

/// `testAwait2`: two parties, three rounds; the action runs once a round.
#[test]
fn test_await2() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&runs);
    let b = Arc::new(Barrier::with_action(2, move || {
        r.fetch_add(1, Ordering::SeqCst);
    }));
    let b2 = Arc::clone(&b);
    let t = spawn(move || {
        for _ in 0..3 {
            b2.wait_timeout(PATIENCE).expect("the other party");
        }
    });
    for round in 0..3 {
        b.wait_timeout(PATIENCE).expect("the other party");
        assert!(runs.load(Ordering::SeqCst) > round);
    }
    join(t);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(!b.broken());
}

/// `testAwait3_TimeoutException`: a timed wait that nobody joins fails
/// and breaks the barrier.
#[test]
fn test_await3_timeout_exception() {
    let b = Barrier::new(2);
    assert!(b.wait_timeout(SHORT).is_err());
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
}

/// `testAwait4_Timeout_BrokenBarrier`: of three parties, two wait; the
/// first one's timeout breaks the barrier for the second too.
#[test]
fn test_await4_timeout_broken_barrier() {
    let b = Arc::new(Barrier::new(3));
    let b1 = Arc::clone(&b);
    let t1 = spawn(move || assert!(b1.wait_timeout(SHORT).is_err()));
    let b2 = Arc::clone(&b);
    let t2 = spawn(move || assert!(b2.wait_timeout(PATIENCE).is_err()));
    join(t1);
    join(t2);
    assert!(b.broken());
}

/// `testAwait5_Timeout_BrokenBarrier`: a party that comes after the
/// break fails at once, timed or not.
#[test]
fn test_await5_timeout_broken_barrier() {
    let b = Barrier::new(2);
    assert!(b.wait_timeout(SHORT).is_err());
    assert!(
        b.wait_timeout(PATIENCE).is_err(),
        "a broken barrier let a party wait"
    );
    assert!(b.wait().is_err(), "a broken barrier let a party wait");
}

/// `testReset_BrokenBarrier`: a reset breaks the current round for the
/// parties already waiting; afterwards the barrier is not broken.
#[test]
fn test_reset_broken_barrier() {
    let b = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            spawn(move || assert!(b.wait_timeout(PATIENCE).is_err(), "a reset round passed"))
        })
        .collect();
    wait_for("two parties waiting", || b.n_waiting() == 2);
    b.reset();
    for h in handles {
        join(h);
    }
    assert!(!b.broken());
    assert_eq!(b.n_waiting(), 0);
}

/// `testReset_NoBrokenBarrier`: a reset with nobody waiting leaves the
/// barrier usable for a full round.
#[test]
fn test_reset_no_broken_barrier() {
    let b = Arc::new(Barrier::new(3));
    b.reset();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            spawn(move || {
                b.wait_timeout(PATIENCE).expect("the round after a reset");
            })
        })
        .collect();
    wait_for("two parties waiting", || b.n_waiting() == 2);
    b.wait_timeout(PATIENCE).expect("the round after a reset");
    for h in handles {
        join(h);
    }
    assert!(!b.broken());
}

/// `testReset_Leakage`: many resets with a party waiting each time leave
/// nothing behind (no waiter counted twice, no stale break).
#[test]
fn test_reset_leakage() {
    let b = Arc::new(Barrier::new(2));
    for i in 0..50 {
        let b1 = Arc::clone(&b);
        let t = spawn(move || assert!(b1.wait_timeout(PATIENCE).is_err(), "round {i}"));
        wait_for("a party waiting", || b.n_waiting() == 1);
        b.reset();
        join(t);
        assert!(!b.broken(), "round {i}");
        assert_eq!(b.n_waiting(), 0, "round {i}");
    }
}

/// `testResetWithoutBreakage`: resets between complete rounds never break
/// the barrier.
#[test]
fn test_reset_without_breakage() {
    let b = Arc::new(Barrier::new(3));
    for i in 0..3 {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&b);
                spawn(move || {
                    b.wait_timeout(PATIENCE).expect("a full round");
                })
            })
            .collect();
        b.wait_timeout(PATIENCE).expect("a full round");
        for h in handles {
            join(h);
        }
        assert!(!b.broken(), "round {i}");
        assert_eq!(b.n_waiting(), 0, "round {i}");
        b.reset();
    }
}

/// `testResetAfterTimeout`: a barrier broken by a timeout is usable again
/// after a reset.
#[test]
fn test_reset_after_timeout() {
    let b = Arc::new(Barrier::new(3));
    for i in 0..3 {
        let b1 = Arc::clone(&b);
        let t1 = spawn(move || assert!(b1.wait_timeout(SHORT).is_err()));
        let b2 = Arc::clone(&b);
        let t2 = spawn(move || assert!(b2.wait_timeout(PATIENCE).is_err()));
        join(t1);
        join(t2);
        assert!(b.broken(), "round {i}");
        assert_eq!(b.n_waiting(), 0, "round {i}");
        b.reset();
        assert!(!b.broken(), "round {i}");
        assert_eq!(b.n_waiting(), 0, "round {i}");
    }
}

/// `testResetAfterCommandException`: a barrier broken by a failing action
/// is usable again after a reset.
#[test]
fn test_reset_after_command_exception() {
    let fail = Arc::new(AtomicUsize::new(1));
    let f = Arc::clone(&fail);
    let b = Arc::new(Barrier::with_action(3, move || {
        if f.load(Ordering::SeqCst) == 1 {
            panic!("the action fails");
        }
    }));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| b.wait_timeout(PATIENCE)));
                assert!(
                    !matches!(r, Ok(Ok(_))),
                    "a round whose action failed passed"
                );
            })
        })
        .collect();
    wait_for("two parties waiting", || b.n_waiting() == 2);
    let r = catch_unwind(AssertUnwindSafe(|| b.wait_timeout(PATIENCE)));
    assert!(
        !matches!(r, Ok(Ok(_))),
        "a round whose action failed passed"
    );
    for h in handles {
        join(h);
    }
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
    b.reset();
    assert!(!b.broken());
    fail.store(0, Ordering::SeqCst);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            spawn(move || {
                b.wait_timeout(PATIENCE).expect("the round after a reset");
            })
        })
        .collect();
    b.wait_timeout(PATIENCE).expect("the round after a reset");
    for h in handles {
        join(h);
    }
    assert!(!b.broken());
}

/// `testAwaitReturnsIndex` (the TCK's arrival index check): the parties of
/// one round get distinct indices `0..parties`.
#[test]
fn test_await_returns_arrival_index() {
    let b = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&b);
            thread::spawn(move || b.wait_timeout(PATIENCE).expect("a full round"))
        })
        .collect();
    let mut got: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
}
