//! Done-callbacks: taken out of the future under its lock, run after the lock
//! is released, in the order they were added, each exactly once. A callback
//! that panics is reported (`diagnostics`) and the others still run (CPython's
//! `_invoke_callbacks` logs and goes on the same way).
//!
//! While a completion runs a future's callbacks, the thread remembers which
//! future it is: a callback that tries to take that future's value
//! (`into_result`, owned `.await`) would wait for itself, and is told so
//! instead. It remembers every future whose callbacks are running on it,
//! outermost first: a callback of A that completes B runs B's callbacks
//! inside A's, and one of those taking A's value would wait for itself too.
//!
//! A completion may run while the thread exits, from another thread-local's
//! destructor (an executor's queue of `Task`s or `Completer`s dropped then),
//! after this list is gone. The callbacks still run, unrecorded: a panic
//! from the missing thread-local would abort the process.

use std::cell::RefCell;

use crate::cell::Callback;
use crate::diagnostics::DiagnosticKind;
use crate::future::Future;
use crate::unwind;

#[cfg(not(loom))]
std::thread_local! {
    /// The identities of the futures whose callbacks this thread runs,
    /// outermost first.
    static RUNNING_FOR: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

#[cfg(loom)]
loom::thread_local! {
    static RUNNING_FOR: RefCell<Vec<usize>> = RefCell::new(Vec::new());
}

/// Pops the future pushed by `run_all` however its callbacks end.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        // Alive: it was when `run_all` pushed, and is not destroyed while
        // another destructor of this thread runs.
        let _ = RUNNING_FOR.try_with(|r| r.borrow_mut().pop());
    }
}

/// Runs `callbacks` in order for the completed `future`, isolating panics.
/// Must be called with no lock of ours held.
pub(crate) fn run_all<T>(future: &Future<T>, callbacks: Vec<Callback<T>>) {
    if callbacks.is_empty() {
        return;
    }
    let recorded = RUNNING_FOR
        .try_with(|r| r.borrow_mut().push(future.id()))
        .is_ok();
    let _running = recorded.then_some(Running);
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

/// Whether this thread is running the callbacks of the future `id`, at
/// any depth (`false` once the thread's list is gone, as it exits).
pub(crate) fn running_for(id: usize) -> bool {
    RUNNING_FOR
        .try_with(|r| r.borrow().contains(&id))
        .unwrap_or(false)
}
