//! What the library cannot hand back to a caller: a done-callback, a waiter,
//! a waker or a `Timer`'s function that panicked, a `Drop` of a value nobody
//! reads that panicked, a worker that could not start.
//!
//! Each such event is one [`Diagnostic`]. Where it goes:
//!
//! 1. to the hook set with [`set_hook`], if there is one;
//! 2. otherwise, with the `tracing` feature and a `tracing` subscriber
//!    that takes it, to an `ERROR` event with target `concurrent_futures`
//!    (field `kind`);
//! 3. otherwise to stderr, one line starting with `concurrent-futures:`
//!    (CPython's `_invoke_callbacks` logs the same way).
//!
//! The hook runs in the thread where the event happened (often a pool
//! worker), with none of the library's locks held; a hook that panics is
//! reported on stderr and never unwinds into the library.
//!
//! # Examples
//!
//! Count diagnostics instead of printing them (a test harness, or a service
//! that sends them to its own log):
//!
//! ```
//! use concurrent_futures::diagnostics::{self, DiagnosticKind};
//! use concurrent_futures::Future;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! let panics = Arc::new(AtomicUsize::new(0));
//! let seen = Arc::clone(&panics);
//! diagnostics::set_hook(move |d| {
//!     if d.kind() == DiagnosticKind::CallbackPanicked {
//!         seen.fetch_add(1, Ordering::Relaxed);
//!     }
//! });
//!
//! let f = Future::new();
//! f.add_done_callback(|_: &Future<u8>| panic!("a bug in a callback"));
//! f.set_result(1).unwrap(); // the callback's panic goes to the hook
//! assert_eq!(panics.load(Ordering::Relaxed), 1);
//!
//! let _ = diagnostics::take_hook(); // back to the default
//! ```

// The process-wide hook is a std `RwLock`: read-mostly, set by the user,
// outside every protocol loom checks.
#![allow(clippy::disallowed_types)]

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::unwind;

/// What a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A done-callback panicked; the other callbacks still ran.
    CallbackPanicked,
    /// A [`Waiter`](crate::Waiter)'s `notify` panicked; the other waiters
    /// were still notified.
    WaiterPanicked,
    /// A [`Timer`](crate::sync::Timer)'s function panicked (its
    /// [`join`](crate::sync::Timer::join) also returns the panic).
    TimerPanicked,
    /// An executor could not start (or replace) a worker thread or
    /// process; the tasks run on the other workers, or, with none left,
    /// fail with the reason.
    WorkerStartFailed,
    /// Other user code panicked where no caller hears of it: a waker, the
    /// `Drop` of a value nobody reads (a result, a cancelled task's
    /// closure).
    Panicked,
}

impl DiagnosticKind {
    /// A short lower-case name (`"callback panicked"`), as the `kind` field
    /// of the `tracing` event carries it.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::diagnostics::DiagnosticKind;
    /// assert_eq!(DiagnosticKind::TimerPanicked.as_str(), "timer panicked");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallbackPanicked => "callback panicked",
            Self::WaiterPanicked => "waiter panicked",
            Self::TimerPanicked => "timer panicked",
            Self::WorkerStartFailed => "worker start failed",
            Self::Panicked => "panicked",
        }
    }
}

/// One event of the library that no caller receives. `Display` is the
/// message, lower case, without the `concurrent-futures:` prefix.
///
/// # Examples
///
/// ```
/// use concurrent_futures::diagnostics::{Diagnostic, DiagnosticKind};
/// let d = Diagnostic::new(DiagnosticKind::WorkerStartFailed, format_args!("no threads left"));
/// assert_eq!(d.to_string(), "no threads left");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Diagnostic<'a> {
    kind: DiagnosticKind,
    message: fmt::Arguments<'a>,
}

impl<'a> Diagnostic<'a> {
    /// A diagnostic of `kind` saying `message`; executors built on this
    /// crate [`report`] their own with it.
    #[must_use]
    pub fn new(kind: DiagnosticKind, message: fmt::Arguments<'a>) -> Self {
        Diagnostic { kind, message }
    }

    /// What happened.
    #[must_use]
    pub fn kind(&self) -> DiagnosticKind {
        self.kind
    }
}

impl fmt::Display for Diagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.message, f)
    }
}

type Hook = Arc<dyn Fn(&Diagnostic<'_>) + Send + Sync + 'static>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Sends every later diagnostic of the process to `hook` instead of
/// `tracing` or stderr, replacing any hook set before (as
/// `std::panic::set_hook` does).
///
/// # Examples
///
/// ```
/// concurrent_futures::diagnostics::set_hook(|d| eprintln!("[my-service] {d}"));
/// # let _ = concurrent_futures::diagnostics::take_hook();
/// ```
pub fn set_hook(hook: impl Fn(&Diagnostic<'_>) + Send + Sync + 'static) {
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(hook));
}

/// Removes the hook set by [`set_hook`] and returns it (or, if none was
/// set, the default: `tracing` or stderr), so it can be restored or
/// wrapped.
///
/// # Examples
///
/// ```
/// use concurrent_futures::diagnostics;
/// let previous = diagnostics::take_hook();
/// diagnostics::set_hook(move |d| {
///     // ... count it, then hand it on
///     previous(d);
/// });
/// # let _ = diagnostics::take_hook();
/// ```
#[must_use = "the hook is dropped unless it is kept or set again"]
pub fn take_hook() -> Box<dyn Fn(&Diagnostic<'_>) + Send + Sync + 'static> {
    match HOOK.write().unwrap_or_else(PoisonError::into_inner).take() {
        Some(hook) => Box::new(move |d: &Diagnostic<'_>| hook(d)),
        None => Box::new(default_hook),
    }
}

/// Reports `diagnostic` to the hook, `tracing` or stderr (see the
/// [module docs](self)). Must be called with no lock held that the hook
/// might need.
///
/// # Examples
///
/// ```
/// use concurrent_futures::diagnostics::{self, Diagnostic, DiagnosticKind};
/// let why = "out of file descriptors";
/// diagnostics::report(&Diagnostic::new(
///     DiagnosticKind::WorkerStartFailed,
///     format_args!("my executor could not start a worker: {why}"),
/// ));
/// ```
pub fn report(diagnostic: &Diagnostic<'_>) {
    // Clone the hook out, so it runs with no lock held (and may set another).
    let hook = HOOK.read().unwrap_or_else(PoisonError::into_inner).clone();
    let Some(hook) = hook else {
        return default_hook(diagnostic);
    };
    if let Err(message) = unwind::catch(|| hook(diagnostic)) {
        eprintln!("concurrent-futures: {diagnostic} (and the diagnostic hook panicked: {message})");
    }
}

/// `tracing` when a subscriber takes the event (and the feature is on),
/// else stderr.
fn default_hook(d: &Diagnostic<'_>) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(target: "concurrent_futures", tracing::Level::ERROR) {
        tracing::error!(target: "concurrent_futures", kind = d.kind.as_str(), "{}", d.message);
        return;
    }
    eprintln!("concurrent-futures: {d}");
}

/// Shorthand inside the crate: `diagnose(kind, format_args!(..))`.
pub(crate) fn diagnose(kind: DiagnosticKind, message: fmt::Arguments<'_>) {
    report(&Diagnostic::new(kind, message));
}
