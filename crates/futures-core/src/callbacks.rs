//! Done-callbacks: taken out of the future under its lock, run after the lock
//! is released, in the order they were added, each exactly once. A callback
//! that panics is reported (`diagnostics`) and the others still run (CPython's
//! `_invoke_callbacks` logs and goes on the same way).

use crate::diagnostics::{diagnose, DiagnosticKind};
use crate::future::Future;
use crate::unwind;

/// A callback waiting for its future to complete.
pub(crate) type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send + 'static>;

/// Runs `callbacks` in order for the completed `future`, isolating panics.
/// Must be called with no lock of ours held.
pub(crate) fn run_all<T>(future: &Future<T>, callbacks: Vec<Callback<T>>) {
    for callback in callbacks {
        run_one(future, callback);
    }
}

/// Runs one callback, reporting a panic instead of unwinding.
pub(crate) fn run_one<T>(future: &Future<T>, callback: Callback<T>) {
    if let Err(message) = unwind::catch(|| callback(future)) {
        diagnose(
            DiagnosticKind::CallbackPanicked,
            format_args!("a done-callback of {future:?} panicked: {message}"),
        );
    }
}
