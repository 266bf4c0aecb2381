//! The task lifecycle both executors share: admission (the gate that orders
//! submits against `shutdown`), `cancel_futures`, breaking, and what a
//! broken or shut-down pool owes the futures it accepted.
//!
//! * `gate.rs` — [`Gate`](gate::Gate): who is accepted (the protocol, and
//!   why it needs no read-modify-write per submit, is there).
//! * `bound.rs` — `max_queued`: room for queued tasks (backpressure).
//! * this file — [`Lifecycle`]: the gate plus the broken reason, and the
//!   transitions every executor runs the same way:
//!   [`admit`](Lifecycle::admit) and [`confirm`](Lifecycle::confirm) (a
//!   submit), [`shutdown`](Lifecycle::shutdown) (with or without
//!   `cancel_futures`) and [`break_with`](Lifecycle::break_with). The
//!   executor supplies its queue through [`Queued`].
//!
//! The rules, the same for both pools:
//!
//! 1. A submit is accepted iff the gate was open when it confirmed (the
//!    thread pool, after its push) or when it pushed under the queue's lock
//!    (the process pool); an accepted task is run, or its future is
//!    cancelled (`cancel_futures`) or failed with the broken reason. Never
//!    dropped silently (a `Job` dropped unrun ends its future too:
//!    `work_item.rs`).
//! 2. `shutdown` and a break close the gate, then fence, then look at the
//!    queues: `cancel_futures` cancels everything queued, a break fails it.
//!    Every accepted job is queued by then (`gate.rs`), so a task accepted
//!    before `shutdown(cancel_futures = true)` is either started or
//!    cancelled, and one accepted before a break is started or failed.
//!    Neither waits for a submitter: no call blocks on another's submit.
//! 3. A thread-pool submit that finds the gate closed at its confirm
//!    revokes its job (cancels its future) and is refused, unless a worker
//!    already started the job (then it is accepted). The revoked job stays
//!    queued until someone drops it: a worker that takes it skips it, and
//!    whoever sees the pool closed with no worker left (the last worker out,
//!    or the refused submitter itself) sweeps the queues. So a revoked
//!    job, and what a scoped one borrows, never outlives the pool's work.
//! 4. Closing wakes everything that waits for work ([`Queued::wake_all`]):
//!    workers exit once [`drained`](Lifecycle::drained) holds and their
//!    queues are empty.
//!
//! Executor-specific parts (queues, workers, stats) live beside each
//! executor: `thread/` and `process/`.
//!
//! # Adopting it (an executor)
//!
//! ```text
//! struct MyPool { lc: Lifecycle, queue: ... }
//! impl Queued for MyPool { fn abandon_queued(..); fn wake_all(..) }
//! submit:   self.lc.admit()?;  push the job;  fence(SeqCst);
//!           if self.lc.confirm() fails: revoke the job, or accept it if it started
//!           (or, with a locked queue: lock; self.lc.admit()?; push; unlock)
//! shutdown: self.lc.shutdown(self, cancel_futures);  then join if `wait`
//! a fatal error: self.lc.break_with(self, reason)
//! workers:  exit when self.lc.drained() and the queue is empty;
//!           fail a job taken after self.lc.broken() with broken_reason()
//! ```

pub(crate) mod bound;
pub(crate) mod gate;

use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use self::gate::{Gate, Refused};
use crate::error::SubmitError;
use crate::primitives::{fence, AtomicBool, Ordering};
use crate::work_item::Abandon;

/// The executor's side of the lifecycle: its queue of accepted jobs.
pub(crate) trait Queued {
    /// Takes every queued job out and ends its future without running it
    /// (cancelled, or failed with the reason); returns how many.
    fn abandon_queued(&self, why: Abandon<'_>) -> usize;
    /// Wakes everything that waits for work or for room (sleeping workers,
    /// blocked submitters).
    fn wake_all(&self);
}

/// Admission, shutdown and breaking of one pool.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    gate: Gate,
    /// Read by workers for every job: its own line, written once.
    broken: CachePadded<AtomicBool>,
    reason: OnceLock<String>,
}

/// What a pool says when it broke without a more precise reason.
const BROKEN: &str = "the pool is broken";

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Lifecycle {
            gate: Gate::new(),
            broken: CachePadded::new(AtomicBool::new(false)),
            reason: OnceLock::new(),
        }
    }

    fn refused(&self, why: Refused) -> SubmitError {
        match why {
            Refused::Shutdown => SubmitError::Shutdown,
            Refused::Broken => SubmitError::broken(self.broken_reason()),
        }
    }

    /// The check before a push (one load of a line written at most twice).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] or [`SubmitError::Broken`] once the gate is
    /// closed.
    #[inline]
    pub(crate) fn admit(&self) -> Result<(), SubmitError> {
        self.gate.check().map_err(|why| self.refused(why))
    }

    /// The check after the push and a `SeqCst` fence: `Ok` means the submit
    /// is accepted (`gate.rs`).
    ///
    /// # Errors
    ///
    /// The gate closed while the submit ran: the caller revokes its job.
    #[inline]
    pub(crate) fn confirm(&self) -> Result<(), SubmitError> {
        self.gate.confirm().map_err(|why| self.refused(why))
    }

    /// Begins `shutdown`: refuses later submits; with `cancel_futures`,
    /// cancels everything queued (the executor counts them). Wakes everyone
    /// either way. Waits for nobody.
    pub(crate) fn shutdown<Q: Queued + ?Sized>(&self, queued: &Q, cancel_futures: bool) {
        self.gate.close(false);
        // Pairs with the fence between a submitter's push and its confirm.
        fence(Ordering::SeqCst);
        if cancel_futures {
            queued.abandon_queued(Abandon::Cancel);
        }
        queued.wake_all();
    }

    /// Breaks the pool (the first reason wins): refuses later submits, fails
    /// everything queued, wakes everyone. Safe to call from inside a submit
    /// (a submitter whose thread spawn failed: its own job is then failed
    /// here, and its confirm, which follows, finds it no longer revocable).
    pub(crate) fn break_with<Q: Queued + ?Sized>(&self, queued: &Q, reason: String) {
        let _ = self.reason.set(reason);
        self.broken.store(true, Ordering::SeqCst);
        self.gate.close(true);
        fence(Ordering::SeqCst);
        queued.abandon_queued(Abandon::Broken(self.broken_reason()));
        queued.wake_all();
    }

    /// Whether the gate is closed, so that no job can be accepted any more.
    /// When it returns `true` it has issued a `SeqCst` fence: every read of
    /// the queues after it sees every accepted job (`gate.rs`), so a worker
    /// may exit once they are empty.
    pub(crate) fn drained(&self) -> bool {
        let closed = self.gate.closed();
        if closed {
            fence(Ordering::SeqCst);
        }
        closed
    }

    /// Whether `shutdown` began or the pool broke.
    pub(crate) fn closed(&self) -> bool {
        self.gate.closed()
    }

    /// Whether the pool is broken (cheap: a line written once).
    pub(crate) fn broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Why the pool broke.
    pub(crate) fn broken_reason(&self) -> &str {
        self.reason.get().map_or(BROKEN, String::as_str)
    }

    /// How a closed pool ends a job it will not run: failed with the reason
    /// if broken, cancelled after `shutdown`.
    pub(crate) fn abandon_reason(&self) -> Abandon<'_> {
        if self.broken() {
            Abandon::Broken(self.broken_reason())
        } else {
            Abandon::Cancel
        }
    }
}

/// Runs pool code that calls user code (a job's `run`, `abandon` or drop,
/// an initializer): a panic becomes its message, and the payload is dropped
/// inside a catch too (futures-core's `unwind::catch`), so nothing unwinds
/// into the worker loop.
pub(crate) use concurrent_futures_core::__private::unwind::catch as contain;
