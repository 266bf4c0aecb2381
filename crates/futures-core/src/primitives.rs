//! The std/loom switch: every lock, condvar, atomic and cell the crate uses
//! comes from here, so the same code runs under `--cfg loom` for model
//! checking.
//!
//! Locks ignore poisoning: a panicking task or callback never runs while one
//! of our locks is held (see `callbacks.rs`), and even if it did, the data
//! under our locks is kept consistent at every await point, so a poisoned
//! lock carries no information we need (tokio's shim does the same).

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

use std::time::Duration;

/// Locks `m`, ignoring poison.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits on `cv`, ignoring poison.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits on `cv` for at most `d`, ignoring poison. Under loom the wait never
/// times out (loom has no clock), so models only use zero timeouts.
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    g: MutexGuard<'a, T>,
    d: Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(g, d) {
        Ok((g, _)) => g,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// Spins, then yields, for a few microseconds until `ready()`; returns
/// whether it became true. Used before blocking when the event waited for is
/// usually imminent (crossbeam's `Backoff` and parking_lot's adaptive spinning
/// do the same). Under loom it only looks once: the models check the blocking
/// path, and loom cannot explore spin loops.
pub(crate) fn backoff(ready: impl Fn() -> bool) -> bool {
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
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(v: T) -> Self {
        Self(std::cell::UnsafeCell::new(v))
    }
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
