//! The std/loom switch: the locks, condvars and atomics of the protocols
//! (`lifecycle/gate.rs`'s gate, `thread/sleep.rs`) come from here, so the same code
//! is model-checked under `--cfg loom`.
//!
//! Locks ignore poisoning: no user code runs while one of our locks is held,
//! so a poisoned lock carries no information we need (tokio's shim does the
//! same).

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

/// Locks `m`, ignoring poison.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits on `cv` for at most `d`, ignoring poison.
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    g: MutexGuard<'a, T>,
    d: std::time::Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(g, d) {
        Ok((g, _)) => g,
        Err(p) => p.into_inner().0,
    }
}

/// Waits on `cv`, ignoring poison.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
