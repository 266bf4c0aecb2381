//! Panic containment, in the spirit of rayon-core's `unwind.rs`.
//!
//! * User code (tasks, done-callbacks, wakers, `Timer` functions, drops of
//!   user values) runs under [`catch`]: a panic becomes data, its message,
//!   and never unwinds through the library.
//! * A panic payload is user data too: its `Drop` may panic. [`catch`] and
//!   [`payload_message`] drop payloads under a catch of their own, so such a
//!   payload cannot escape either ([`drop_contained`]).
//! * The library's own critical sections (where unwinding half-way would
//!   leave a state word or a list inconsistent) run under [`AbortOnUnwind`]:
//!   a panic there is a bug of ours, and aborting is better than a future
//!   that hangs for ever.
//!
//! The workspace's other crates reach these as
//! `concurrent_futures_core::__private::unwind` (not public API).

use std::any::Any;

use crate::diagnostics::{self, Diagnostic, DiagnosticKind};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a panic payload (what `catch_unwind` returns), as `std`'s
/// default hook prints it: the `&str` or `String` the panic carried, or
/// `"<non-string panic payload>"`. For executors that catch panics
/// themselves (the process pool's workers do).
///
/// # Examples
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("bad input {}", 7)).unwrap_err();
/// assert_eq!(concurrent_futures::panic_message(payload.as_ref()), "bad input 7");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// The message of `payload`, which is then dropped under a catch: a payload
/// whose `Drop` panics does not escape.
pub fn payload_message(payload: Box<dyn Any + Send>) -> String {
    let message = panic_message(payload.as_ref());
    drop_contained(payload);
    message
}

/// Runs `f`, turning a panic into its message; the payload is dropped inside
/// a catch (see [`payload_message`]).
///
/// # Errors
///
/// The panic's message if `f` panicked.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(payload_message)
}

/// Runs `f`; a panic is reported on stderr as `what` panicked, and
/// contained. For user code whose failure has nowhere else to go (a
/// done-callback, a waker, the drop of a result nobody reads).
pub fn catch_and_report(what: &str, f: impl FnOnce()) {
    if let Err(message) = catch(f) {
        report(what, &message);
    }
}

/// Reports a contained panic of `what` as a [`diagnostics`](crate::diagnostics)
/// event of kind `Panicked` (by default a line on stderr).
pub fn report(what: &str, message: &str) {
    report_as(DiagnosticKind::Panicked, what, message);
}

/// [`report`] with a more specific kind (a done-callback, a waiter).
pub fn report_as(kind: DiagnosticKind, what: &str, message: &str) {
    diagnostics::report(&Diagnostic::new(
        kind,
        format_args!("{what} panicked: {message}"),
    ));
}

/// Drops `value`, containing any panic its `Drop` raises, and the panic of
/// that panic's payload's `Drop`, and so on. After a few rounds a payload
/// that keeps panicking is leaked rather than dropped: a leak is better than
/// unwinding into the library. Returns whether the drop panicked.
pub fn drop_contained<T>(value: T) -> bool {
    /// Payloads whose drop panicked, dropped in turn before giving up.
    const ROUNDS: usize = 8;
    let mut next = match catch_unwind(AssertUnwindSafe(move || drop(value))) {
        Ok(()) => return false,
        Err(payload) => payload,
    };
    for _ in 0..ROUNDS {
        match catch_unwind(AssertUnwindSafe(move || drop(next))) {
            Ok(()) => return true,
            Err(payload) => next = payload,
        }
    }
    std::mem::forget(next);
    true
}

/// Drops `value` like [`drop_contained`], reporting a panic of its `Drop` on
/// stderr as `what`'s.
pub fn drop_reporting<T>(what: &str, value: T) {
    if drop_contained(value) {
        report(what, "its drop panicked");
    }
}

/// Aborts the process if dropped while its thread unwinds: guards a critical
/// section of the library that must not be left half-done (rayon-core's
/// `AbortIfPanic`). Disarm it with [`disarm`](AbortOnUnwind::disarm) (or let
/// it drop normally) at the end of the section.
///
/// Created while the thread is already unwinding (in a `Drop` run by a
/// panic), it guards nothing: the abort fires only for a panic that started
/// inside the section.
#[derive(Debug)]
#[must_use = "the guard protects the section until it is dropped"]
pub struct AbortOnUnwind {
    what: &'static str,
    armed: bool,
}

impl AbortOnUnwind {
    /// Guards the section named `what` (named in the abort message).
    pub fn new(what: &'static str) -> Self {
        AbortOnUnwind {
            what,
            armed: !std::thread::panicking(),
        }
    }

    /// Ends the section without aborting.
    pub fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if self.armed && std::thread::panicking() {
            eprintln!(
                "concurrent-futures: a panic unwound through {}, which must not be left \
                 half-done; aborting",
                self.what
            );
            std::process::abort();
        }
    }
}

/// Runs the library's critical section `f`, aborting if it unwinds.
pub fn abort_on_unwind<R>(what: &'static str, f: impl FnOnce() -> R) -> R {
    let guard = AbortOnUnwind::new(what);
    let r = f();
    guard.disarm();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_payloads() {
        assert_eq!(catch(|| panic!("static")).unwrap_err(), "static");
        assert_eq!(catch(|| panic!("{}", 42)).unwrap_err(), "42");
        assert_eq!(
            catch(|| std::panic::panic_any(7u8)).unwrap_err(),
            "<non-string panic payload>"
        );
        assert_eq!(catch(|| 5).unwrap(), 5);
    }

    /// A panic payload whose own `Drop` panics, `depth` times over.
    struct PanicsOnDrop(usize);

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            if self.0 > 0 {
                std::panic::panic_any(PanicsOnDrop(self.0 - 1));
            }
        }
    }

    #[test]
    fn a_payload_whose_drop_panics_is_contained() {
        let r = catch(|| std::panic::panic_any(PanicsOnDrop(3)));
        assert_eq!(r.unwrap_err(), "<non-string panic payload>");
        // Deeper than the rounds: leaked (on purpose; Miri's leak check
        // would report it), still contained.
        if !cfg!(miri) {
            assert!(drop_contained(PanicsOnDrop(100)));
        }
        assert!(!drop_contained(PanicsOnDrop(0)));
    }

    #[test]
    fn abort_guard_is_inert_when_disarmed_or_made_while_unwinding() {
        assert_eq!(abort_on_unwind("a test section", || 3), 3);
        struct MakesGuardOnDrop;
        impl Drop for MakesGuardOnDrop {
            fn drop(&mut self) {
                let _g = AbortOnUnwind::new("a drop during unwinding");
            }
        }
        let r = catch(|| {
            let _d = MakesGuardOnDrop;
            panic!("unwinding");
        });
        assert_eq!(r.unwrap_err(), "unwinding");
    }
}
