//! `sync::Semaphore` against Java's JSR-166 TCK `SemaphoreTest`.
//!
//! `acquire()`/`tryAcquire()`/`tryAcquire(t)`/`release()`/`release(n)`/
//! `availablePermits()` are `acquire`/`try_acquire`/`acquire_timeout`/
//! `release`/`release_n`/`value`. Left out: interruption, fairness, queue
//! inspection (`hasQueuedThreads`, `getQueueLength`), `drainPermits`,
//! `reducePermits`, negative permits and serialization, which have no
//! equivalent. Every wait is bounded.

use concurrent_futures_core::sync::Semaphore;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(50);

#[test]
fn smoke() {
    let s = Semaphore::new(1);
    assert!(s.try_acquire());
}

/// `testConstructor` with 0 permits, `testAvailablePermits`.
#[test]
fn test_constructor_and_available_permits() {
    let s = Semaphore::new(0);
    assert_eq!(s.value(), 0);
    assert!(!s.try_acquire());
    s.release();
    assert_eq!(s.value(), 1);
    assert!(s.try_acquire());
    assert_eq!(s.value(), 0);
}

/// `testTryAcquireInSameThread`.
#[test]
fn test_try_acquire_in_same_thread() {
    let s = Semaphore::new(2);
    assert_eq!(s.value(), 2);
    assert!(s.try_acquire());
    assert_eq!(s.value(), 1);
    assert!(s.try_acquire());
    assert_eq!(s.value(), 0);
    assert!(!s.try_acquire());
    assert_eq!(s.value(), 0);
}

/// `testAcquireReleaseInSameThread`, `testTimedAcquireReleaseInSameThread`.
#[test]
fn test_acquire_release_in_same_thread() {
    let s = Semaphore::new(1);
    for _ in 0..5 {
        s.acquire();
        assert_eq!(s.value(), 0);
        s.release();
        assert!(s.acquire_timeout(LONG));
        s.release();
        assert_eq!(s.value(), 1);
    }
}

/// `testAcquireReleaseInDifferentThreads`,
/// `testTimedAcquireReleaseInDifferentThreads`: a blocked acquirer passes
/// once another thread releases.
#[test]
fn test_acquire_release_in_different_threads() {
    let s = Arc::new(Semaphore::new(0));
    let s2 = Arc::clone(&s);
    let t = thread::spawn(move || {
        s2.acquire();
        assert!(s2.acquire_timeout(LONG), "the second release never came");
    });
    thread::sleep(SHORT);
    s.release();
    s.release();
    t.join().unwrap();
    assert_eq!(s.value(), 0);
}

/// `testReleaseAcquireDifferentThreads`: permits released first are
/// there for another thread later.
#[test]
fn test_release_acquire_different_threads() {
    let s = Arc::new(Semaphore::new(0));
    for _ in 0..3 {
        s.release();
    }
    let s2 = Arc::clone(&s);
    thread::spawn(move || {
        for _ in 0..3 {
            assert!(s2.acquire_timeout(LONG));
        }
        assert!(!s2.try_acquire());
    })
    .join()
    .unwrap();
}

/// `testTimedAcquire_timeout` (the TCK's `tryAcquire(t)` timing out): it
/// fails after at least the time given and takes nothing.
#[test]
fn test_timed_acquire_timeout() {
    let s = Semaphore::new(0);
    let start = Instant::now();
    assert!(!s.acquire_timeout(SHORT));
    assert!(start.elapsed() >= SHORT);
    assert!(!s.acquire_timeout(Duration::ZERO));
    assert_eq!(s.value(), 0);
}

/// `testAcquireReleaseNInDifferentThreads` with `release(n)`: one release
/// of n wakes n blocked acquirers.
#[test]
fn test_release_n_wakes_n() {
    let s = Arc::new(Semaphore::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || s.acquire_timeout(LONG))
        })
        .collect();
    thread::sleep(SHORT);
    s.release_n(3);
    for w in waiters {
        assert!(w.join().unwrap(), "release_n(3) left a waiter blocked");
    }
    assert_eq!(s.value(), 0);
}

/// `testToString`: the permits show in `Debug`.
#[test]
fn test_to_string() {
    let s = Semaphore::new(2);
    assert!(format!("{s:?}").contains('2'), "{s:?}");
    s.acquire();
    assert!(format!("{s:?}").contains('1'), "{s:?}");
}
