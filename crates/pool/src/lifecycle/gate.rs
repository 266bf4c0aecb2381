//! The shutdown lock: how `submit` and `shutdown` exclude each other without
//! a lock on every submit.
//!
//! Python takes `_shutdown_lock` in every `submit` and in `shutdown`, so a
//! task is either accepted before shutdown begins (and then runs, or is
//! cancelled by `cancel_futures`) or refused. [`Gate`] keeps that promise
//! with one atomic word: two flag bits (`SHUTDOWN`, `BROKEN`) and, above
//! them, the number of submitters inside the gate.
//!
//! * A submitter *enters* with one `fetch_add`; if a flag was set, it leaves
//!   at once and the task is refused. Otherwise it is accepted: it pushes the
//!   job, then *leaves* with a `fetch_sub`.
//! * `close` sets a flag with `fetch_or`. Every submitter that entered before
//!   it is accepted; every one after it is refused (the word is totally
//!   ordered by its read-modify-writes).
//! * The gate is *drained* when a flag is set and no submitter is inside:
//!   from then on no job can be pushed, so a worker that sees the gate
//!   drained and then finds the queues empty may exit. Each push happens
//!   before its submitter's `leave` (program order + `SeqCst`), so a worker
//!   that loads the word drained sees every accepted job in the queues.
//! * The submitter whose `leave` drains the gate is told so and must wake
//!   every sleeping worker, which may have gone to sleep while it was inside.
//!
//! Everything is `SeqCst`: the word also takes part in the sleep protocol
//! (`thread/README.md`), where workers check it after announcing that they
//! sleep.

use crate::primitives::{AtomicUsize, Ordering};

const SHUTDOWN: usize = 1;
const BROKEN: usize = 2;
const FLAGS: usize = SHUTDOWN | BROKEN;
const ONE: usize = 4;

/// Why the gate refused a submitter, and whether its passing through
/// drained the gate (then it must wake every worker, as after `leave`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) why: Refused,
    pub(crate) left: Left,
}

/// What closed the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `shutdown` began.
    Shutdown,
    /// The pool is broken.
    Broken,
}

/// What a submitter must do after leaving the gate.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Left {
    /// Nothing more.
    Open,
    /// It was the last one out of a closed gate: wake every worker.
    Drained,
}

/// The admission word shared by submitters and `shutdown`.
#[derive(Debug)]
pub(crate) struct Gate {
    state: AtomicUsize,
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate {
            state: AtomicUsize::new(0),
        }
    }

    /// Enters the gate; on `Ok` the caller must push its job and then call
    /// [`leave`](Gate::leave).
    ///
    /// # Errors
    ///
    /// The gate is closed. The refused submitter was counted inside for a
    /// moment (a worker may have seen it and gone to sleep), so the refusal
    /// carries what its leaving did: on [`Left::Drained`] it must wake every
    /// worker.
    pub(crate) fn enter(&self) -> Result<(), Refusal> {
        let prev = self.state.fetch_add(ONE, Ordering::SeqCst);
        if prev & FLAGS == 0 {
            return Ok(());
        }
        let left = self.leave();
        let why = if prev & BROKEN != 0 {
            Refused::Broken
        } else {
            Refused::Shutdown
        };
        Err(Refusal { why, left })
    }

    /// Leaves the gate after pushing.
    pub(crate) fn leave(&self) -> Left {
        let prev = self.state.fetch_sub(ONE, Ordering::SeqCst);
        if prev & FLAGS != 0 && prev >> 2 == 1 {
            Left::Drained
        } else {
            Left::Open
        }
    }

    /// Sets `SHUTDOWN` (or `BROKEN` too); returns whether the gate is already
    /// drained (no submitter inside).
    pub(crate) fn close(&self, broken: bool) -> bool {
        let bits = if broken { SHUTDOWN | BROKEN } else { SHUTDOWN };
        let prev = self.state.fetch_or(bits, Ordering::SeqCst);
        prev >> 2 == 0
    }

    /// Whether no job can be pushed any more.
    pub(crate) fn drained(&self) -> bool {
        let s = self.state.load(Ordering::SeqCst);
        s & FLAGS != 0 && s >> 2 == 0
    }

    /// Whether `shutdown` began or the pool broke.
    pub(crate) fn closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & FLAGS != 0
    }

    /// Whether the pool is broken.
    pub(crate) fn broken(&self) -> bool {
        self.state.load(Ordering::Relaxed) & BROKEN != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn enter_leave_close() {
        let g = Gate::new();
        assert!(g.enter().is_ok());
        assert!(!g.close(false));
        assert!(!g.drained());
        let r = g.enter().unwrap_err();
        assert_eq!((r.why, r.left), (Refused::Shutdown, Left::Open));
        assert_eq!(g.leave(), Left::Drained);
        assert!(g.drained());
        g.close(true);
        let r = g.enter().unwrap_err();
        assert_eq!((r.why, r.left), (Refused::Broken, Left::Drained));
        assert!(g.drained());
    }

    #[test]
    fn open_gate_is_never_drained() {
        let g = Gate::new();
        assert!(g.enter().is_ok());
        assert_eq!(g.leave(), Left::Open);
        assert!(!g.drained() && !g.closed());
    }
}
