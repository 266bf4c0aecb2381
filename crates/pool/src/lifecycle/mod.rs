//! The task lifecycle both executors share: admission (the gate that orders
//! submits against `shutdown`), `cancel_futures`, breaking, and what a
//! broken or shut-down pool owes the futures it accepted.
//!
//! * `gate.rs` — [`Gate`](gate::Gate): who is accepted, and when no accepted
//!   submitter is still pushing (the gate is *drained*).
//! * `bound.rs` — `max_queued`: room for queued tasks (backpressure).
//! * this file — [`Lifecycle`]: the gate plus the broken reason, and the
//!   three transitions every executor runs the same way:
//!   [`admit`](Lifecycle::admit) (a submit), [`shutdown`](Lifecycle::shutdown)
//!   (with or without `cancel_futures`) and [`break_with`](Lifecycle::break_with).
//!   The executor supplies its queue through [`Queued`].
//!
//! The rules, the same for both pools:
//!
//! 1. A submit is accepted iff it entered the gate before `shutdown` or a
//!    break closed it; an accepted task is run, or its future is cancelled
//!    (`cancel_futures`) or failed with the broken reason. Never dropped
//!    silently (a `Job` dropped unrun ends its future too: `work_item.rs`).
//! 2. `cancel_futures` waits until the gate is drained (every accepted
//!    submitter pushed), then cancels everything queued: a task accepted
//!    before `shutdown(cancel_futures = true)` is either started or
//!    cancelled.
//! 3. Breaking refuses new submits, fails everything queued, and whoever
//!    drains the broken gate (the last accepted submitter out) fails
//!    whatever was pushed after the first sweep. So a submitter still inside
//!    the gate when a spawn failure breaks the pool cannot leave its job in a
//!    queue no worker will ever read (issue 10, item 7).
//! 4. Draining wakes everything that waits for work ([`Queued::wake_all`]):
//!    workers may then exit once their queues are empty.
//!
//! Executor-specific parts (queues, workers, stats) live beside each
//! executor: `thread/` and `process/`.
//!
//! # Adopting it (an executor)
//!
//! ```text
//! struct MyPool { lc: Lifecycle, queue: ... }
//! impl Queued for MyPool { fn abandon_queued(..); fn wake_all(..) }
//! submit:   let _pass = self.lc.admit(self)?;  push the job;  (pass drops: leave)
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
use crate::primitives::{AtomicBool, Ordering};
use crate::work_item::Abandon;

/// The executor's side of the lifecycle: its queue of accepted jobs.
pub(crate) trait Queued {
    /// Takes every queued job out and ends its future without running it
    /// (cancelled, or failed with the reason); returns how many.
    fn abandon_queued(&self, why: Abandon<'_>) -> usize;
    /// Wakes everything that waits for work or for the gate to drain
    /// (sleeping workers, blocked submitters).
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

/// An accepted submitter inside the gate; dropping it leaves (also when a
/// panic unwinds through the submit), and the last one out of a closed gate
/// runs the drained reaction.
#[must_use = "dropping the pass leaves the gate"]
pub(crate) struct Pass<'a, Q: Queued + ?Sized> {
    lc: &'a Lifecycle,
    queued: &'a Q,
}

impl<Q: Queued + ?Sized> Drop for Pass<'_, Q> {
    fn drop(&mut self) {
        if self.lc.gate.leave() {
            self.lc.on_drained(self.queued);
        }
    }
}

impl<Q: Queued + ?Sized> std::fmt::Debug for Pass<'_, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pass")
    }
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

    /// Admits one submit: the caller pushes its job while it holds the pass.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] or [`SubmitError::Broken`] once the gate is
    /// closed.
    #[inline]
    pub(crate) fn admit<'a, Q: Queued + ?Sized>(
        &'a self,
        queued: &'a Q,
    ) -> Result<Pass<'a, Q>, SubmitError> {
        match self.gate.enter() {
            Ok(()) => Ok(Pass { lc: self, queued }),
            Err((why, drained)) => {
                if drained {
                    self.on_drained(queued);
                }
                Err(match why {
                    Refused::Shutdown => SubmitError::Shutdown,
                    Refused::Broken => SubmitError::broken(self.broken_reason()),
                })
            }
        }
    }

    /// Begins `shutdown`: refuses later submits; with `cancel_futures`,
    /// waits for the accepted submitters to push, then cancels everything
    /// queued (returns how many). Wakes everyone either way.
    pub(crate) fn shutdown<Q: Queued + ?Sized>(&self, queued: &Q, cancel_futures: bool) -> usize {
        if self.gate.close(false) {
            self.on_drained(queued);
        }
        let mut cancelled = 0;
        if cancel_futures {
            self.gate.wait_drained();
            cancelled = queued.abandon_queued(Abandon::Cancel);
        }
        queued.wake_all();
        cancelled
    }

    /// Breaks the pool (the first reason wins): refuses later submits, fails
    /// everything queued, wakes everyone. Safe to call from inside the gate
    /// (a submitter whose thread spawn failed): the last submitter out fails
    /// what was pushed after this sweep. Returns how many it failed.
    pub(crate) fn break_with<Q: Queued + ?Sized>(&self, queued: &Q, reason: String) -> usize {
        let _ = self.reason.set(reason);
        self.broken.store(true, Ordering::SeqCst);
        let drained = self.gate.close(true);
        let n = queued.abandon_queued(Abandon::Broken(self.broken_reason()));
        if drained {
            self.on_drained(queued);
        } else {
            queued.wake_all();
        }
        n
    }

    /// The gate just drained: no job can be pushed any more.
    fn on_drained<Q: Queued + ?Sized>(&self, queued: &Q) {
        if self.broken() {
            queued.abandon_queued(Abandon::Broken(self.broken_reason()));
        }
        queued.wake_all();
    }

    /// Whether no job can be pushed any more (workers may exit once their
    /// queues are empty).
    pub(crate) fn drained(&self) -> bool {
        self.gate.drained()
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

    /// Waits until every accepted submitter has pushed.
    pub(crate) fn wait_drained(&self) {
        self.gate.wait_drained();
    }

    /// Submitters inside the gate now (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn inside(&self) -> usize {
        self.gate.inside()
    }
}

/// Runs pool code that calls user code (a job's `run`, `abandon` or drop,
/// an initializer): a panic becomes its message, and the payload is dropped
/// inside a catch too (futures-core's `unwind::catch`), so nothing unwinds
/// into the worker loop.
pub(crate) use concurrent_futures_core::__private::unwind::catch as contain;
