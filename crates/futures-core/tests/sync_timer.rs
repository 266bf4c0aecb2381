//! `sync::Timer`: Python's `threading.Timer`, started, with a `cancel()`
//! that says whether it stopped the function.
//!
//! CPython's `Lib/test/test_threading.py` `TimerTests` only checks its
//! mutable default arguments (not portable); these tests follow the
//! `threading` documentation instead: the function runs once, after the
//! interval, on its own thread, unless cancelled first. Only lower bounds of
//! time are checked (no speed assertions).

use concurrent_futures_core::sync::{Event, Timer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

mod sync_common;
use sync_common::PATIENCE;

/// Joins `t` with a bound, failing with a message if it never finishes.
fn join(t: &Timer) -> Result<bool, concurrent_futures_core::TaskError> {
    t.join_timeout(PATIENCE)
        .unwrap_or_else(|| panic!("{t:?} did not finish"))
}

#[test]
fn smoke() {
    let (tx, rx) = mpsc::channel();
    let timer = Timer::start(Duration::from_millis(10), move || tx.send(7).unwrap());
    assert_eq!(rx.recv_timeout(PATIENCE), Ok(7), "the timer never fired");
    assert!(matches!(join(&timer), Ok(true)));
    assert!(timer.is_finished());
}

#[test]
fn runs_once_after_the_interval_on_its_own_thread() {
    let interval = Duration::from_millis(50);
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    let timer = Timer::start(interval, move || {
        tx.send((t0.elapsed(), thread::current().id())).unwrap();
    });
    let (elapsed, id) = rx.recv_timeout(PATIENCE).expect("the timer never fired");
    assert!(
        elapsed >= interval,
        "fired after {elapsed:?} < {interval:?}"
    );
    assert_ne!(id, thread::current().id());
    assert!(matches!(join(&timer), Ok(true)));
    // The sender was dropped with the function: it ran exactly once.
    assert!(rx.recv_timeout(Duration::from_millis(10)).is_err());
}

#[test]
fn cancel_before_it_fires() {
    let ran = Arc::new(AtomicUsize::new(0));
    let timer = {
        let ran = ran.clone();
        Timer::start(Duration::from_millis(1000), move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
    };
    assert!(timer.cancel(), "a waiting timer could not be cancelled");
    assert!(!timer.cancel(), "cancelled twice");
    assert!(matches!(join(&timer), Ok(false)));
    // Past the interval: still nothing ran.
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled timer ran");
}

#[test]
fn cancel_after_it_fired() {
    let timer = Timer::start(Duration::ZERO, || {});
    assert!(matches!(join(&timer), Ok(true)));
    assert!(!timer.cancel());
    assert!(
        matches!(join(&timer), Ok(true)),
        "cancel changed a finished timer"
    );
}

#[test]
fn cancel_while_it_runs() {
    let (running, release) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let timer = {
        let (running, release) = (running.clone(), release.clone());
        Timer::start(Duration::ZERO, move || {
            running.set();
            assert!(release.wait_timeout(PATIENCE));
        })
    };
    assert!(running.wait_timeout(PATIENCE), "the timer never fired");
    assert!(!timer.cancel(), "cancelled a running function");
    assert!(!timer.is_finished());
    assert!(timer.join_timeout(Duration::ZERO).is_none());
    release.set();
    assert!(matches!(join(&timer), Ok(true)));
}

#[test]
fn cancel_from_another_thread_and_from_a_clone() {
    let timer = Timer::start(Duration::from_secs(3600), || panic!("must not run"));
    let other = timer.clone();
    let canceller = thread::spawn(move || other.cancel());
    assert!(canceller.join().unwrap());
    assert!(!timer.cancel());
    assert!(matches!(join(&timer), Ok(false)));
}

#[test]
fn cancel_from_inside_the_function() {
    let slot: Arc<std::sync::Mutex<Option<Timer>>> = Arc::default();
    let (tx, rx) = mpsc::channel();
    let timer = {
        let slot = slot.clone();
        Timer::start(Duration::from_millis(20), move || {
            let me = slot
                .lock()
                .unwrap()
                .clone()
                .expect("the handle was stored first");
            tx.send(me.cancel()).unwrap();
        })
    };
    *slot.lock().unwrap() = Some(timer.clone());
    assert_eq!(rx.recv_timeout(PATIENCE), Ok(false));
    assert!(matches!(join(&timer), Ok(true)));
    slot.lock().unwrap().take();
}

#[test]
fn zero_interval_fires_at_once() {
    let timer = Timer::start(Duration::ZERO, || {});
    assert!(matches!(join(&timer), Ok(true)));
}

#[test]
fn huge_interval_does_not_panic_and_never_fires() {
    let timer = Timer::start(Duration::MAX, || panic!("must not run"));
    thread::sleep(Duration::from_millis(20));
    assert!(!timer.is_finished());
    assert!(timer.cancel());
    assert!(matches!(join(&timer), Ok(false)));
    assert_eq!(timer.interval(), Duration::MAX);
}

#[test]
fn a_panic_is_data_and_poisons_nothing() {
    let timer = Timer::start(Duration::ZERO, || panic!("timer boom"));
    let err = join(&timer).unwrap_err();
    assert_eq!(err.panic_message(), Some("timer boom"));
    // Still usable from every side.
    assert!(timer.is_finished());
    assert!(!timer.cancel());
    assert_eq!(
        join(&timer).unwrap_err().panic_message(),
        Some("timer boom")
    );
    assert_eq!(format!("{timer:?}"), "<Timer interval=0ns panicked>");
    let next = Timer::start(Duration::ZERO, || {});
    assert!(matches!(join(&next), Ok(true)));
}

#[test]
fn the_function_is_dropped_when_cancelled() {
    let captured = Arc::new(());
    let timer = {
        let captured = captured.clone();
        Timer::start(Duration::from_secs(3600), move || drop(captured))
    };
    assert_eq!(Arc::strong_count(&captured), 2);
    assert!(timer.cancel());
    assert!(matches!(join(&timer), Ok(false)));
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "join returned before the function was dropped"
    );
}

#[test]
fn dropping_the_handle_does_not_cancel() {
    let (tx, rx) = mpsc::channel();
    drop(Timer::start(Duration::from_millis(10), move || {
        tx.send(()).unwrap()
    }));
    assert_eq!(
        rx.recv_timeout(PATIENCE),
        Ok(()),
        "a dropped timer did not fire"
    );
}

#[test]
fn many_timers_race_their_cancels() {
    // Each cancel either stops its timer (it never runs) or comes too late
    // (it runs exactly once): never both, never neither.
    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    let timers: Vec<Timer> = (0..64)
        .map(|i| {
            let ran = ran.clone();
            Timer::start(Duration::from_micros(i as u64 * 50), move || {
                ran[i].fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(1));
    let stopped: Vec<bool> = timers.iter().map(Timer::cancel).collect();
    for (i, t) in timers.iter().enumerate() {
        let outcome = join(t).unwrap();
        assert_eq!(outcome, !stopped[i], "timer {i}");
        assert_eq!(
            ran[i].load(Ordering::SeqCst),
            usize::from(outcome),
            "timer {i}"
        );
    }
}
