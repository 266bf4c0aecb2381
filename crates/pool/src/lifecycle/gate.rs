//! The admission gate: how `submit` and `shutdown` exclude each other with
//! no read-modify-write on a submit.
//!
//! Python takes `_shutdown_lock` in every `submit` and in `shutdown`, so a
//! task is either accepted before shutdown begins (and then runs, or is
//! cancelled by `cancel_futures`) or refused. [`Gate`] keeps that promise
//! with one word, two flag bits (`SHUTDOWN`, `BROKEN`), written at most
//! twice in a pool's life and read by every submit. It sits on its own
//! cache line, so the reads stay in each core's cache.
//!
//! # The thread pool: push, fence, confirm
//!
//! A submit [`check`](Gate::check)s the word (refused at once if closed),
//! pushes its job, issues a `SeqCst` fence, and then
//! [`confirm`](Gate::confirm)s: it loads the word again. Shutdown and a
//! break [`close`](Gate::close) the word, issue a fence, and only then read
//! the queues (to cancel or fail what is queued); a worker that sees the
//! word closed issues a fence before its last look at the queues (the
//! lifecycle's `drained`). It is the store-buffering (Dekker) pattern on
//! both sides: of two `SeqCst` fences one comes first, so either the
//! submitter's confirm sees the close, or the closer's (or worker's) look
//! at the queues after its fence sees the job.
//!
//! * Confirmed open: the submit is accepted, and every later look at the
//!   queues by a closer or an exiting worker sees its job. Nothing accepted
//!   is lost.
//! * Closed at confirm: the close happened while this submit ran (its check
//!   saw the gate open), so either answer is linearizable. The submitter
//!   tries to *revoke* its job (cancel its future). If a worker already
//!   started it, the submit is accepted after all. If the revoke succeeds,
//!   the submit is refused, and the revoked job still sits in a queue until
//!   a worker or the sweep described in `lifecycle/mod.rs` drops it.
//!
//! The hot path is one load before the push and one after the fence, which
//! the submit needs anyway for the sleep protocol (`thread/README.md`).
//!
//! # The process pool: under the queue's lock
//!
//! The process pool takes its queue's lock on every submit anyway, so it
//! checks the word under that lock. A closer closes the word before it
//! takes the lock to sweep or wake, so a submitter that locks later sees it
//! closed (the lock orders them), and one that locked earlier has pushed.

use crossbeam_utils::CachePadded;

use crate::primitives::{AtomicUsize, Ordering};

const SHUTDOWN: usize = 1;
const BROKEN: usize = 2;

/// What closed the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `shutdown` began.
    Shutdown,
    /// The pool is broken.
    Broken,
}

/// The admission word shared by submitters, `shutdown` and breaks.
#[derive(Debug)]
pub(crate) struct Gate {
    word: CachePadded<AtomicUsize>,
}

/// The refusal a word's value means, if any.
#[inline]
fn refusal(word: usize) -> Result<(), Refused> {
    if word == 0 {
        Ok(())
    } else if word & BROKEN != 0 {
        Err(Refused::Broken)
    } else {
        Err(Refused::Shutdown)
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Gate {
            word: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// The check before a push (or, in the process pool, the decision,
    /// taken under the queue's lock).
    ///
    /// # Errors
    ///
    /// What closed the gate.
    #[inline]
    pub(crate) fn check(&self) -> Result<(), Refused> {
        refusal(self.word.load(Ordering::Acquire))
    }

    /// The check after a push and a `SeqCst` fence: `Ok` means accepted.
    ///
    /// # Errors
    ///
    /// What closed the gate while the submit ran (the caller revokes).
    #[inline]
    pub(crate) fn confirm(&self) -> Result<(), Refused> {
        refusal(self.word.load(Ordering::SeqCst))
    }

    /// Closes the gate (and marks it broken if `broken`). The caller issues
    /// a `SeqCst` fence before it looks at the queues.
    pub(crate) fn close(&self, broken: bool) {
        let bits = if broken { SHUTDOWN | BROKEN } else { SHUTDOWN };
        self.word.fetch_or(bits, Ordering::SeqCst);
    }

    /// Whether `shutdown` began or the pool broke.
    pub(crate) fn closed(&self) -> bool {
        self.word.load(Ordering::SeqCst) != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn open_shutdown_broken() {
        let g = Gate::new();
        assert_eq!(
            (g.check(), g.confirm(), g.closed()),
            (Ok(()), Ok(()), false)
        );
        g.close(false);
        assert_eq!(g.check(), Err(Refused::Shutdown));
        assert_eq!(g.confirm(), Err(Refused::Shutdown));
        assert!(g.closed());
        g.close(true);
        assert_eq!(
            g.check(),
            Err(Refused::Broken),
            "a break after shutdown says broken"
        );
    }

    #[test]
    fn broken_first() {
        let g = Gate::new();
        g.close(true);
        assert_eq!(g.confirm(), Err(Refused::Broken));
        g.close(false);
        assert_eq!(g.check(), Err(Refused::Broken), "broken stays broken");
    }
}
