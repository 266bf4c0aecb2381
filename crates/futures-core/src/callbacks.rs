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
use std::mem;

/// The done-callbacks a future holds, in the order they were added. The
/// first is kept without a `Vec`: most futures that have a callback have one
/// (a fan-in's, an `.await`'s executor), and its `Vec` was one of three
/// allocations per future of the callback fan-in (`benches/wait.rs`). The
/// same 24 bytes as a `Vec`, so the listeners' box keeps its heap chunk.
#[derive(Default)]
pub(crate) enum Callbacks<T> {
    /// None yet, or all taken.
    #[default]
    Empty,
    /// One callback.
    One(Callback<T>),
    /// Two or more, in the order added.
    Many(Vec<Callback<T>>),
}

impl<T> Callbacks<T> {
    /// Whether there is none.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Callbacks::Empty => true,
            Callbacks::One(_) => false,
            Callbacks::Many(v) => v.is_empty(),
        }
    }

    /// Adds `callback` behind the others.
    pub(crate) fn push(&mut self, callback: Callback<T>) {
        *self = match mem::take(self) {
            Callbacks::Empty => Callbacks::One(callback),
            Callbacks::One(first) => Callbacks::Many(vec![first, callback]),
            Callbacks::Many(mut v) => {
                v.push(callback);
                Callbacks::Many(v)
            }
        };
    }
}

impl<T> Extend<Callback<T>> for Callbacks<T> {
    fn extend<I: IntoIterator<Item = Callback<T>>>(&mut self, callbacks: I) {
        callbacks.into_iter().for_each(|c| self.push(c));
    }
}

/// Runs `callbacks` in order for the completed `future`, isolating panics.
/// Must be called with no lock of ours held.
pub(crate) fn run_all<T>(future: &Future<T>, callbacks: Callbacks<T>) {
    if callbacks.is_empty() {
        return;
    }
    let _inside = reentry::enter(future.id());
    match callbacks {
        Callbacks::Empty => {}
        Callbacks::One(callback) => run_one(future, callback),
        Callbacks::Many(v) => v.into_iter().for_each(|c| run_one(future, c)),
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn callbacks_keep_their_order_one_or_many_and_fit_a_vec() {
        assert_eq!(
            mem::size_of::<Callbacks<u64>>(),
            mem::size_of::<Vec<Callback<u64>>>()
        );
        for n in 0..4 {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let mut cbs = Callbacks::<u64>::default();
            assert!(cbs.is_empty());
            for i in 0..n {
                let s = Arc::clone(&seen);
                cbs.push(Box::new(move |_: &Future<u64>| s.lock().unwrap().push(i)));
            }
            assert_eq!(cbs.is_empty(), n == 0);
            let f = Future::new();
            f.set_result(1).unwrap();
            run_all(&f, mem::take(&mut cbs));
            assert!(cbs.is_empty());
            assert_eq!(*seen.lock().unwrap(), (0..n).collect::<Vec<_>>());
        }
    }
}
