//! Done-callbacks: taken out of the future under its lock, run after the lock
//! is released, in the order they were added, each exactly once. A callback
//! that panics is reported (`diagnostics`) and the others still run (CPython's
//! `_invoke_callbacks` logs and goes on the same way). One added while a
//! completion runs them is queued behind them and run by that completion
//! (the `DRAINING` bit of the boxed listeners, `cell.rs`), so the order holds across the completion too.
//!
//! While a completion runs a future's callbacks, the thread is inside that
//! future's code (`reentry`): a callback that tries to take the future's
//! value (`into_result`, owned `.await`) would wait for itself, and is told
//! so instead.

use crate::cell::Callback;
use crate::diagnostics::DiagnosticKind;
use crate::future::Future;
use crate::reentry;
use crate::unwind;

/// Runs `callbacks` in order for the completed `future`, isolating panics.
/// Must be called with no lock of ours held.
pub(crate) fn run_all<T>(future: &Future<T>, callbacks: Vec<Callback<T>>) {
    if callbacks.is_empty() {
        return;
    }
    let _inside = reentry::enter(future.id());
    for callback in callbacks {
        run_one(future, callback);
    }
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
