//! The std/loom switch: the locks, condvars and atomics of the protocols
//! (`lifecycle/gate.rs`'s gate, `thread/sleep.rs`) come from here, so the same code
//! is model-checked under `--cfg loom`.
//!
//! Locks ignore poisoning: no user code runs while one of our locks is held,
//! so a poisoned lock carries no information we need (tokio's shim does the
//! same).

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `m`, ignoring poison.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits on `cv`, ignoring poison.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
