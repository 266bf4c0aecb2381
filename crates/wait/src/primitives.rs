//! The std/loom switch for the waiters' own lock, condvar and flag, so that the
//! same code runs under `--cfg loom` for model checking (as in
//! `futures-core`'s `primitives.rs`).
//!
//! Locks ignore poisoning: nothing that can panic runs while a waiter's lock
//! is held (the critical sections only push a token, count down or flip a
//! flag), so a poisoned lock would carry no information we need.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, Ordering},
    Condvar, Mutex, MutexGuard,
};

use std::time::{Duration, Instant};

/// Locks `m`, ignoring poison.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a waiting thread may sleep: for ever, or for what is left
/// before its deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Nap {
    Forever,
    For(Duration),
}

impl Nap {
    /// The nap allowed before `deadline`; `None` once it has passed.
    pub(crate) fn until(deadline: Option<Instant>) -> Option<Nap> {
        match deadline {
            None => Some(Nap::Forever),
            Some(d) => time_left(d).map(Nap::For),
        }
    }
}

/// Sleeps on `cv` until notified, spuriously woken, or the nap is over,
/// ignoring poison. Under loom a timed wait never times out (loom has no
/// clock), so models only use deadlines that have already passed.
pub(crate) fn sleep<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>, nap: Nap) -> MutexGuard<'a, T> {
    match nap {
        Nap::Forever => cv
            .wait(g)
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Nap::For(d) => match cv.wait_timeout(g, d) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        },
    }
}

/// The time left until `deadline`, `None` if none is left.
pub(crate) fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// The deadline of a wait that starts now: `None` waits for ever (as does a
/// timeout too large to add to the clock).
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}
