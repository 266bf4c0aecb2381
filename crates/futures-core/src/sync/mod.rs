//! The synchronization primitives of Python's `threading` that `std` lacks,
//! with Python's names and semantics: [`Event`], [`Semaphore`],
//! [`BoundedSemaphore`], [`Barrier`] and [`Timer`].
//!
//! Each primitive is one mutex and one condition variable (Python's
//! `Condition`), taken through the crate's std/loom switch, so the same code
//! is model-checked under `--cfg loom`. Locks ignore poisoning and no user
//! code ever runs under them, so a panic anywhere never wedges a waiter.
//!
//! Every timed wait computes one deadline and loops over spurious wakeups
//! with the time left recomputed; a timeout too large to represent
//! (`Duration::MAX`) waits without a deadline, and `Duration::ZERO` never
//! sleeps.
//!
//! | Python                                        | Here                                           |
//! |-----------------------------------------------|------------------------------------------------|
//! | `threading.Event()`                           | [`Event::new`]                                 |
//! | `threading.Semaphore(n)`                      | [`Semaphore::new`]                             |
//! | `threading.BoundedSemaphore(n)`               | [`BoundedSemaphore::new`]                      |
//! | `acquire(blocking=False)`                     | `try_acquire()`                                |
//! | `acquire(timeout=t)`                          | `acquire_timeout(t)`                           |
//! | `release(n)`                                  | `release_n(n)`                                 |
//! | `with sem:`                                   | `acquire_guard()` (released on drop)           |
//! | `ValueError` from a bounded `release`         | [`ReleaseError`]                               |
//! | `threading.Barrier(parties)`                  | [`Barrier::new`]                               |
//! | `threading.Barrier(parties, action, timeout)` | [`Barrier::with_action`], [`Barrier::builder`] |
//! | `threading.BrokenBarrierError`                | [`BrokenBarrierError`]                         |
//! | `threading.Timer(interval, f).start()`        | [`Timer::start`]                               |
//!
//! # Examples
//!
//! ```
//! use concurrent_futures::sync::{Barrier, Event, Semaphore};
//! use std::time::Duration;
//!
//! let ready = Event::new();
//! let slots = Semaphore::new(2);
//! let barrier = Barrier::new(3);
//! std::thread::scope(|s| {
//!     for _ in 0..3 {
//!         s.spawn(|| {
//!             assert!(ready.wait_timeout(Duration::from_secs(10)));
//!             drop(slots.acquire_guard()); // at most two inside at a time
//!             barrier.wait_timeout(Duration::from_secs(10)).unwrap();
//!         });
//!     }
//!     ready.set();
//! });
//! assert_eq!(slots.value(), 2);
//! ```

mod barrier;
mod event;
mod semaphore;
mod timer;

pub use barrier::{Barrier, BarrierBuilder, BrokenBarrierError};
pub use event::Event;
pub use semaphore::{BoundedSemaphore, ReleaseError, Semaphore, SemaphoreGuard};
pub use timer::Timer;

/// The deadline `timeout` from now; `None` (no deadline) when it overflows
/// `Instant`, so `Duration::MAX` means "wait forever" rather than a panic.
fn deadline(timeout: std::time::Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(timeout)
}

/// What a deadline loop should do next: sleep for the time left (or without
/// limit), or give up because the deadline has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sleep {
    /// Sleep until woken (no deadline).
    Forever,
    /// Sleep at most this long.
    For(std::time::Duration),
    /// The deadline has passed.
    TimedOut,
}

impl Sleep {
    /// The time left until `deadline`, recomputed now.
    fn until(deadline: Option<std::time::Instant>) -> Sleep {
        match deadline {
            None => Sleep::Forever,
            Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => Sleep::For(left),
                _ => Sleep::TimedOut,
            },
        }
    }
}

/// Sleeps on `cond` as `sleep` says; `sleep` must not be `TimedOut`.
fn sleep_on<'a, T>(
    cond: &crate::primitives::Condvar,
    guard: crate::primitives::MutexGuard<'a, T>,
    sleep: Sleep,
) -> crate::primitives::MutexGuard<'a, T> {
    match sleep {
        Sleep::For(left) => cond.wait_timeout(guard, left),
        Sleep::Forever | Sleep::TimedOut => cond.wait(guard),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn huge_timeouts_have_no_deadline() {
        assert_eq!(deadline(Duration::MAX), None);
        assert_eq!(Sleep::until(None), Sleep::Forever);
    }

    #[test]
    fn zero_and_past_deadlines_time_out() {
        assert_eq!(Sleep::until(deadline(Duration::ZERO)), Sleep::TimedOut);
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(Sleep::until(Some(past)), Sleep::TimedOut);
    }

    #[test]
    fn future_deadlines_leave_time() {
        let d = deadline(Duration::from_secs(60));
        assert!(matches!(Sleep::until(d), Sleep::For(left) if left <= Duration::from_secs(60)));
    }
}

// Every primitive, guard and error can be shared between threads: checked
// at compile time.
const _: () = {
    const fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<Event>();
    assert_send_sync::<Semaphore>();
    assert_send_sync::<BoundedSemaphore>();
    assert_send_sync::<SemaphoreGuard<'_>>();
    assert_send_sync::<Barrier>();
    assert_send_sync::<BarrierBuilder>();
    assert_send_sync::<Timer>();
    assert_send_sync::<BrokenBarrierError>();
    assert_send_sync::<ReleaseError>();
};

#[cfg(all(test, loom))]
mod loom_models;
