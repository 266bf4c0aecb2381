//! The admission gate: how `submit` and `shutdown` exclude each other
//! without a lock on every submit.
//!
//! Python takes `_shutdown_lock` in every `submit` and in `shutdown`, so a
//! task is either accepted before shutdown begins (and then runs, or is
//! cancelled by `cancel_futures`) or refused. [`Gate`] keeps that promise
//! with one atomic word: two flag bits (`SHUTDOWN`, `BROKEN`) and, above
//! them, the number of submitters inside the gate.
//!
//! * A submitter *enters* with one `fetch_add`; if a flag was set, it leaves
//!   at once and the task is refused. Otherwise it pushes the job, then
//!   *leaves* with a `fetch_sub` (`lifecycle::Pass` leaves on drop, so a
//!   panic unwinding through `submit` leaves too).
//! * [`close`](Gate::close) sets a flag with `fetch_or`. Every submitter
//!   that entered before it is accepted; every one after it is refused (the
//!   word is totally ordered by its read-modify-writes).
//! * The gate is *drained* when a flag is set and no submitter is inside:
//!   from then on no job can be pushed. Whoever makes it so (the last
//!   submitter out of a closed gate, or `close` on an empty gate) stores the
//!   separate `drained` flag and runs the executor's `on_drained` reaction
//!   (wake every worker; on a broken pool, also fail what is queued). Every
//!   push happens before its submitter's `leave`; the leaves form one
//!   release sequence on the word, so the drainer's `fetch_sub` (or
//!   `fetch_or`) sees every accepted push, and so does anyone who loads
//!   `drained == true` (`Release` store / `Acquire` load).
//!
//! The hot path (an accepted submit) touches only the word, which sits on
//! its own cache line: workers never read it. They read `drained` (and the
//! pool's broken flag) only, both written once, so a worker's check never
//! moves the submitters' line between cores (`PERF.md`: that sharing cost
//! 19 of the gate's 31 ns per task).

use crossbeam_utils::CachePadded;

use crate::primitives::{AtomicBool, AtomicUsize, Ordering};

const SHUTDOWN: usize = 1;
const BROKEN: usize = 2;
const FLAGS: usize = SHUTDOWN | BROKEN;
const ONE: usize = 4;

/// What closed the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `shutdown` began.
    Shutdown,
    /// The pool is broken.
    Broken,
}

/// The admission word shared by submitters and `shutdown`.
#[derive(Debug)]
pub(crate) struct Gate {
    /// Flags and the count of submitters inside (submitters only).
    word: CachePadded<AtomicUsize>,
    /// Set once, when the gate is closed and empty (read by workers).
    drained: CachePadded<AtomicBool>,
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate {
            word: CachePadded::new(AtomicUsize::new(0)),
            drained: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// Enters the gate. On `Ok` the caller pushes its job and then calls
    /// [`leave`](Gate::leave) (`lifecycle::Pass` does, also when a panic
    /// unwinds through the submit).
    ///
    /// # Errors
    ///
    /// The gate is closed: what closed it, and whether this refused
    /// submitter, inside for a moment, drained the gate on its way out (then
    /// the caller runs the drained reaction).
    #[inline]
    pub(crate) fn enter(&self) -> Result<(), (Refused, bool)> {
        let prev = self.word.fetch_add(ONE, Ordering::SeqCst);
        if prev & FLAGS == 0 {
            return Ok(());
        }
        let drained = self.leave();
        let why = if prev & BROKEN != 0 {
            Refused::Broken
        } else {
            Refused::Shutdown
        };
        Err((why, drained))
    }

    /// Leaves after pushing; returns whether this drained the gate.
    #[inline]
    pub(crate) fn leave(&self) -> bool {
        let prev = self.word.fetch_sub(ONE, Ordering::SeqCst);
        // A refused submitter passing through a drained gate does not drain
        // it again (the swap is off the accepted path).
        prev & FLAGS != 0 && prev >> 2 == 1 && !self.drained.swap(true, Ordering::SeqCst)
    }

    /// Sets `SHUTDOWN` (and `BROKEN` if `broken`); returns whether this
    /// drained the gate (it was open and empty). The caller then runs its
    /// `on_drained` reaction itself.
    pub(crate) fn close(&self, broken: bool) -> bool {
        let bits = if broken { SHUTDOWN | BROKEN } else { SHUTDOWN };
        let prev = self.word.fetch_or(bits, Ordering::SeqCst);
        if prev >> 2 == 0 && prev & FLAGS == 0 {
            self.drained.store(true, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    /// Whether no job can be pushed any more.
    pub(crate) fn drained(&self) -> bool {
        self.drained.load(Ordering::SeqCst)
    }

    /// Whether `shutdown` began or the pool broke.
    pub(crate) fn closed(&self) -> bool {
        self.word.load(Ordering::SeqCst) & FLAGS != 0
    }

    /// Submitters inside now (tests of the gate's users).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn inside(&self) -> usize {
        self.word.load(Ordering::SeqCst) >> 2
    }

    /// Waits (yielding) until the gate is drained. Submitters inside run no
    /// user code and hold no lock a waiter holds, so this is short.
    pub(crate) fn wait_drained(&self) {
        while !self.drained() {
            crate::primitives::thread::yield_now();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn enter_leave_close() {
        let g = Gate::new();
        g.enter().unwrap();
        assert!(!g.close(false));
        assert!(!g.drained() && g.closed());
        assert_eq!(g.enter().unwrap_err(), (Refused::Shutdown, false));
        assert!(g.leave(), "the last one out drains");
        assert!(g.drained());
        assert!(!g.close(true), "drained once");
        assert_eq!(g.enter().unwrap_err(), (Refused::Broken, false));
    }

    #[test]
    fn open_gate_is_never_drained() {
        let g = Gate::new();
        g.enter().unwrap();
        assert!(!g.leave());
        assert!(!g.drained() && !g.closed());
        assert!(g.close(false), "an empty gate drains at close");
        assert!(g.drained());
    }
}
