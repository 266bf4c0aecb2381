//! `sync::Event`: Python's `threading.Event`, tested after CPython.
//!
//! Ported from CPython's `Lib/test/lock_tests.py`, class `EventTests`
//! (`test_is_set`, `test_notify`, `test_timeout`, `test_set_and_clear`).
//! What changed: `Bunch` (in `sync_common`) bounds its waits, and its
//! threads' panics fail the test; timeouts are shorter; only the lower
//! bound of a timed wait is checked (never an upper one: no speed
//! assertions); `wait()` returns `()` instead of `True`.
//! `test_reset_internal_locks` and `test_repr`'s address are CPython
//! internals, not ported. Added: `Duration::ZERO` and `Duration::MAX`, an
//! already-set event, many set/clear rounds.

use concurrent_futures_core::sync::Event;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod sync_common;
use sync_common::{short_wait, Bunch, PATIENCE};

#[test]
fn smoke() {
    let e = Arc::new(Event::new());
    let setter = {
        let e = Arc::clone(&e);
        thread::spawn(move || e.set())
    };
    assert!(e.wait_timeout(PATIENCE), "the event was never set");
    assert!(e.is_set());
    setter.join().unwrap();
}

#[test]
fn is_set() {
    let e = Event::new();
    assert!(!e.is_set());
    e.set();
    assert!(e.is_set());
    e.set();
    assert!(e.is_set());
    e.clear();
    assert!(!e.is_set());
    e.clear();
    assert!(!e.is_set());
}

/// `_check_notify`: every thread is released by one `set()`, and waits
/// again without blocking while it stays set.
fn check_notify(e: &Arc<Event>) {
    const N: usize = 5;
    let results = Arc::new(Mutex::new((0, 0)));
    let bunch = {
        let (e, results) = (Arc::clone(e), Arc::clone(&results));
        Bunch::new(N, move || {
            assert!(e.wait_timeout(PATIENCE), "first wait timed out");
            results.lock().unwrap().0 += 1;
            assert!(e.wait_timeout(PATIENCE), "second wait timed out");
            results.lock().unwrap().1 += 1;
        })
    };
    bunch.wait_for_started();
    short_wait();
    assert_eq!(
        *results.lock().unwrap(),
        (0, 0),
        "a waiter passed an unset event"
    );
    e.set();
    bunch.wait_for_finished();
    assert_eq!(*results.lock().unwrap(), (N, N));
}

#[test]
fn notify() {
    let e = Arc::new(Event::new());
    check_notify(&e);
    // Another time, after an explicit clear().
    e.set();
    e.clear();
    check_notify(&e);
}

/// Per waiter: the zero-timeout poll, the timed wait, how long it took.
type Waits = Arc<Mutex<Vec<(bool, bool, Duration)>>>;

#[test]
fn timeout() {
    const N: usize = 5;
    const T: Duration = Duration::from_millis(100);
    let e = Arc::new(Event::new());
    let results = Arc::new(Mutex::new(Vec::new()));
    let run = |e: &Arc<Event>, results: &Waits| {
        let (e, results) = (Arc::clone(e), Arc::clone(results));
        Bunch::new(N, move || {
            let polled = e.wait_timeout(Duration::ZERO);
            let t0 = Instant::now();
            let waited = e.wait_timeout(T);
            results.lock().unwrap().push((polled, waited, t0.elapsed()));
        })
        .wait_for_finished();
    };
    run(&e, &results);
    for &(polled, waited, dt) in results.lock().unwrap().iter() {
        assert!(!polled && !waited);
        assert!(dt >= T, "a timed wait returned after {dt:?} < {T:?}");
    }
    // The event is set.
    results.lock().unwrap().clear();
    e.set();
    run(&e, &results);
    for &(polled, waited, _) in results.lock().unwrap().iter() {
        assert!(polled && waited);
    }
    assert_eq!(results.lock().unwrap().len(), N);
}

/// CPython issue #13502: `wait()` returns true even when the event is
/// cleared before the waiting thread wakes up. (Timing-based, as in CPython;
/// the crate's unit test `set_then_clear_releases_every_sleeper` checks the
/// same without timing.)
#[test]
fn set_and_clear() {
    const N: usize = 5;
    let e = Arc::new(Event::new());
    let results = Arc::new(Mutex::new(Vec::new()));
    let bunch = {
        let (e, results) = (Arc::clone(&e), Arc::clone(&results));
        Bunch::new(N, move || {
            let r = e.wait_timeout(PATIENCE);
            results.lock().unwrap().push(r);
        })
    };
    bunch.wait_for_started();
    // A head start for the waiters to block; the in-crate unit test checks the
    // same case without timing.
    thread::sleep(Duration::from_millis(500));
    e.set();
    e.clear();
    bunch.wait_for_finished();
    assert_eq!(*results.lock().unwrap(), [true; N]);
}

#[test]
fn zero_timeout_polls() {
    let e = Event::new();
    assert!(!e.wait_timeout(Duration::ZERO));
    e.set();
    assert!(e.wait_timeout(Duration::ZERO));
    e.clear();
    assert!(!e.wait_timeout(Duration::ZERO));
}

#[test]
fn huge_timeout_does_not_panic() {
    let e = Arc::new(Event::new());
    // Not set yet: Duration::MAX waits without a deadline until set.
    let setter = {
        let e = Arc::clone(&e);
        thread::spawn(move || {
            short_wait();
            e.set();
        })
    };
    assert!(e.wait_timeout(Duration::MAX));
    setter.join().unwrap();
    // Already set: returns at once.
    assert!(e.wait_timeout(Duration::MAX));
}

#[test]
fn already_set_wait_returns() {
    let e = Event::new();
    e.set();
    e.wait();
    assert!(e.wait_timeout(Duration::from_secs(3600)));
}

#[test]
fn waiters_across_many_set_clear_rounds() {
    const ROUNDS: usize = 200;
    let go = Arc::new(Event::new());
    let back = Arc::new(Event::new());
    let echo = {
        let (go, back) = (Arc::clone(&go), Arc::clone(&back));
        thread::spawn(move || {
            for _ in 0..ROUNDS {
                assert!(go.wait_timeout(PATIENCE), "ping lost");
                go.clear();
                back.set();
            }
        })
    };
    for round in 0..ROUNDS {
        go.set();
        assert!(back.wait_timeout(PATIENCE), "pong lost in round {round}");
        back.clear();
    }
    echo.join().unwrap();
}

#[test]
fn default_and_debug() {
    let e = Event::default();
    assert!(!e.is_set());
    assert_eq!(format!("{e:?}"), "<Event: unset>");
}
