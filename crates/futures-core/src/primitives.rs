//! The workspace's one std/loom switch and its one poison-free lock.
//!
//! Every lock, condvar, atomic, `Arc`, thread and cell that a protocol of
//! the workspace uses comes from here, so the same code runs under
//! `--cfg loom` for model checking. `futures-core` uses it directly; the
//! other crates of the workspace reach it as
//! `concurrent_futures_core::__private::primitives` (not public API: it may
//! change in any release).
//!
//! [`Mutex`] and [`Condvar`] ignore poisoning: no user code runs while one
//! of our locks is held (callbacks, wakers and drops of user values run after
//! the lock is released), and our own critical sections abort rather than
//! unwind half-way (`unwind::AbortOnUnwind`), so a poisoned lock carries no
//! information we need (tokio's `loom` shim does the same).

// The one place std's lock is allowed: the poison-free wrapper around it.
#![allow(clippy::disallowed_types)]

use std::time::{Duration, Instant};

#[cfg(not(loom))]
pub use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Arc, MutexGuard,
};
#[cfg(not(loom))]
pub use std::thread;

#[cfg(loom)]
pub use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Arc, MutexGuard,
};
#[cfg(loom)]
pub use loom::thread;

#[cfg(not(loom))]
use std::sync::{Condvar as RawCondvar, Mutex as RawMutex};

#[cfg(loom)]
use loom::sync::{Condvar as RawCondvar, Mutex as RawMutex};

/// A mutex whose `lock` ignores poisoning (see the module docs).
pub struct Mutex<T>(RawMutex<T>);

impl<T> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mutex { .. }")
    }
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(RawMutex::new(value))
    }

    /// Locks the mutex, blocking until it is free; a poisoned lock is taken
    /// as if it were not.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the mutex if it is free now.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// The value, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Consumes the mutex, returning its value.
    pub fn into_inner(self) -> T {
        self.0
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A condition variable whose waits ignore poisoning.
pub struct Condvar(RawCondvar);

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl std::fmt::Debug for Condvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condvar { .. }")
    }
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Condvar(RawCondvar::new())
    }

    /// Releases `guard`, sleeps until notified (or spuriously woken), and
    /// locks again.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// As [`wait`](Condvar::wait), for at most `timeout`. Under loom the
    /// wait never times out (loom has no clock), so models use deadlines that
    /// have already passed, which never sleep.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        match self.0.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// Sleeps as `nap` says: until notified, or for at most its time.
    pub fn nap<'a, T>(&self, guard: MutexGuard<'a, T>, nap: Nap) -> MutexGuard<'a, T> {
        match nap {
            Nap::Forever => self.wait(guard),
            Nap::For(d) => self.wait_timeout(guard, d),
        }
    }

    /// Wakes one sleeper.
    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every sleeper.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// How long a waiting thread may sleep: for ever, or for what is left
/// before its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nap {
    /// No deadline: sleep until woken.
    Forever,
    /// Sleep at most this long.
    For(Duration),
}

impl Nap {
    /// The nap allowed before `deadline`, recomputed now; `None` once it has
    /// passed.
    pub fn until(deadline: Option<Instant>) -> Option<Nap> {
        match deadline {
            None => Some(Nap::Forever),
            Some(d) => time_left(d).map(Nap::For),
        }
    }
}

/// The time left until `deadline`, `None` if none is left.
pub fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// The deadline of a wait of `timeout` that starts now; `None` (no
/// deadline) when it does not fit the clock, so `Duration::MAX` means "wait
/// for ever" rather than a panic.
pub fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Spins, then yields, for a few microseconds until `ready()`; returns
/// whether it became true. Used before blocking when the event waited for is
/// usually imminent (crossbeam's `Backoff` and parking_lot's adaptive spinning
/// do the same). Under loom it only looks once: the models check the blocking
/// path, and loom cannot explore spin loops.
pub fn backoff(ready: impl Fn() -> bool) -> bool {
    const SPIN_ROUNDS: u32 = 6;
    const YIELD_ROUNDS: u32 = 4;
    for round in 0..SPIN_ROUNDS + YIELD_ROUNDS {
        if ready() {
            return true;
        }
        if cfg!(loom) {
            return false;
        }
        if round < SPIN_ROUNDS {
            for _ in 0..1u32 << round {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
    ready()
}

/// `UnsafeCell` with loom's closure API, so accesses are tracked under loom.
#[cfg(not(loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A new cell holding `v`.
    pub const fn new(v: T) -> Self {
        Self(std::cell::UnsafeCell::new(v))
    }

    /// Calls `f` with a shared pointer to the value.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a mutable pointer to the value.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub use loom::cell::UnsafeCell;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_still_taken() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock();
            panic!("poison it");
        })
        .join();
        *m.lock() += 1;
        assert_eq!(*m.try_lock().unwrap(), 2);
    }

    #[test]
    fn deadlines_and_naps() {
        assert_eq!(deadline(Duration::MAX), None);
        assert_eq!(Nap::until(None), Some(Nap::Forever));
        assert_eq!(Nap::until(deadline(Duration::ZERO)), None);
        let d = deadline(Duration::from_secs(60));
        assert!(matches!(Nap::until(d), Some(Nap::For(left)) if left <= Duration::from_secs(60)));
    }

    #[test]
    fn timed_wait_returns() {
        let m = Mutex::new(());
        let cv = Condvar::new();
        let g = cv.nap(m.lock(), Nap::For(Duration::from_millis(1)));
        drop(g);
    }
}
