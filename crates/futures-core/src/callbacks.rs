//! Done-callbacks: taken out of the future under its lock, run after the lock
//! is released, in the order they were added, each exactly once. A callback
//! that panics is reported (`diagnostics`) and the others still run (CPython's
//! `_invoke_callbacks` logs and goes on the same way).
//!
//! While a completion runs a future's callbacks, the thread remembers which
//! future it is: a callback that tries to take that future's value
//! (`into_result`, owned `.await`) would wait for itself, and is told so
//! instead.

use std::cell::Cell;

use crate::cell::Callback;
use crate::diagnostics::DiagnosticKind;
use crate::future::Future;
use crate::unwind;

#[cfg(not(loom))]
std::thread_local! {
    /// The identity of the future whose callbacks this thread runs, or 0.
    static RUNNING_FOR: Cell<usize> = const { Cell::new(0) };
}

#[cfg(loom)]
loom::thread_local! {
    static RUNNING_FOR: Cell<usize> = Cell::new(0);
}

/// Runs `callbacks` in order for the completed `future`, isolating panics.
/// Must be called with no lock of ours held.
pub(crate) fn run_all<T>(future: &Future<T>, callbacks: Vec<Callback<T>>) {
    if callbacks.is_empty() {
        return;
    }
    let id = future.id();
    let outer = RUNNING_FOR.with(|r| r.replace(id));
    for callback in callbacks {
        run_one(future, callback);
    }
    RUNNING_FOR.with(|r| r.set(outer));
}

/// Runs one callback, reporting a panic instead of unwinding.
pub(crate) fn run_one<T>(future: &Future<T>, callback: Callback<T>) {
    if let Err(message) = unwind::catch(|| callback(future)) {
        unwind::report_as(
            DiagnosticKind::CallbackPanicked,
            &format!("a done-callback of {future:?}"),
            &message,
        );
    }
}

/// Whether this thread is running the callbacks of the future `id`.
pub(crate) fn running_for(id: usize) -> bool {
    RUNNING_FOR.with(|r| r.get() == id)
}
