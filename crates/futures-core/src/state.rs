//! The future's states and its transitions, as pure functions.
//!
//! | from \ event | `cancel`        | `start` (set_running_or_notify_cancel) | `finish` (set_result / set_exception) |
//! |--------------|-----------------|----------------------------------------|---------------------------------------|
//! | `Pending`    | → `Cancelled`, notify | → `Running`, run the task        | → `Finished`, notify                  |
//! | `Running`    | refused         | error                                  | → `Finished`, notify                  |
//! | `Cancelled`  | no change, true | no change, do not run                  | error                                 |
//! | `Finished`   | refused         | error                                  | error                                 |
//!
//! Python has a fifth, internal state (`CANCELLED_AND_NOTIFIED`) because it
//! wakes waiters only when an executor sees the cancellation. We wake them in
//! `cancel` itself, so the state is not needed.
//!
//! # The state word
//!
//! A future keeps its whole state in one `AtomicUsize` ([`Word`]):
//!
//! | bits  | name            | meaning |
//! |-------|-----------------|---------|
//! | 0..3  | lifecycle       | `PENDING`, `RUNNING`, `COMPLETING` (a `set_*` won and is writing the outcome; shown as running), `CANCELLED`, `FINISHED` |
//! | 3     | `LISTENING`     | someone listens (a sleeper, waiter, waker, callback): the completion must take the listener lock |
//! | 4     | `NOTIFIED`      | the completion is over: listeners notified, callbacks returned |
//! | 5     | `OWNER_WAITING` | an `into_result`/owned `.await` waits for `NOTIFIED` |
//! | 6     | `TASK`          | the executor's reference (a [`Task`](crate::Task)) is alive; it never counts as a handle |
//! | 7     | `SLOT`          | the inline waiter slot is taken: being written, or holding a waiter (see "The inline waiter") |
//! | 8     | `WAITER`        | the inline waiter slot holds a published waiter |
//! | 9     | `BOXED`         | the listeners' box was made at some time (never cleared): without it, freeing the cell need not look at the listeners |
//! | 10..  | handles         | the number of user handles ([`Future`](crate::Future) values) |
//!
//! The cell is freed when the handle count is zero and `TASK` is clear. A
//! completion with no listener is one compare-and-swap that publishes the
//! outcome, sets `NOTIFIED` and, for an executor, drops its reference: no
//! lock, no syscall, no fence. Listeners are added under the listener lock
//! with a `fetch_or(LISTENING)` whose result says whether the future was done
//! already; the completion's swap says whether anyone listened. Both are
//! read-modify-writes of one word, so one is ordered before the other: either
//! the listener sees the future done, or the completion sees `LISTENING` and
//! takes the lock (after the listener released it) to notify it.
//!
//! # The inline waiter
//!
//! The first waiter installed (`wait`, `as_completed`: one per future) sits
//! in a slot of its own beside the state word, and its `WAITER` bit works
//! as `LISTENING` does, except that the completion notifies it without the
//! listener lock:
//!
//! * *Install* (no lock) takes the slot with a compare-and-swap that sets
//!   `SLOT` on a pending future whose slot is free, so it is the slot's one
//!   writer; it writes the slot, then publishes it with `fetch_or(WAITER)`
//!   (`Release`). If that says the future was done already, the completion
//!   did not see `WAITER` (a `SLOT` alone is no waiter): the installer
//!   clears both bits and takes its waiter back. If the slot is taken, the
//!   waiter goes to the list under the lock.
//! * *Completion*: the swap that makes the future done claims the waiter if
//!   it sees `WAITER` (`Acquire`, pairing with the install). It reads the
//!   slot and notifies the waiter, and only then frees the slot (clears
//!   `WAITER` and `SLOT`, `Release`), in the read-modify-write that also
//!   sets `NOTIFIED` (and drops an executor's reference) when nothing else
//!   listens, or under the lock with `LISTENING` when something does. A
//!   done word with `WAITER` set thus means: a notify of the inline waiter
//!   is in progress.
//! * *Removal*, under the lock (which orders removals among themselves, so
//!   no other removal frees the slot, and no install refills it, while this
//!   one reads it), copies a pending future's inline entry out (nobody
//!   writes the slot while `SLOT` is set) and, if it is the waiter being
//!   removed, frees the slot with a compare-and-swap that fails if the
//!   future became done: one of the two swaps comes first, so either the
//!   completion sees `WAITER` or the removal takes it, never both. On a done
//!   future with `WAITER` set the removal waits for the slot to be freed: it
//!   sets `OWNER_WAITING` and sleeps on the condvar, and the completion's
//!   freeing step wakes it (its read-modify-write sees `OWNER_WAITING`, or,
//!   under the lock, the count of sleepers). So when removal returns the
//!   waiter is neither notified nor being notified.
//!
//! The common fan-in install is thus two read-modify-writes and no lock,
//! and its completion (one waiter, nothing else) the claim, the publishing
//! swap, the waiter's notify, and one last read-modify-write: no lock
//! either.

use std::fmt;

use crate::error::InvalidStateError;

/// The state of a [`Future`](crate::Future), as Python's `_state`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureState};
///
/// let f = Future::<i32>::new();
/// assert_eq!(f.state(), FutureState::Pending);
/// f.set_result(1).unwrap();
/// assert_eq!(f.state(), FutureState::Finished);
/// assert!(f.state().is_done());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FutureState {
    /// Not started yet; can still be cancelled.
    Pending,
    /// Taken by a worker and running; can no longer be cancelled.
    Running,
    /// Cancelled before it ran. Terminal.
    Cancelled,
    /// Ran to the end, with a value or an error. Terminal.
    Finished,
}

impl FutureState {
    /// Whether the state is terminal (`Cancelled` or `Finished`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::FutureState;
    /// assert!(FutureState::Cancelled.is_done());
    /// assert!(!FutureState::Running.is_done());
    /// ```
    #[must_use]
    pub fn is_done(self) -> bool {
        matches!(self, FutureState::Cancelled | FutureState::Finished)
    }

    /// The lower-case name Python's repr uses (`"pending"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::FutureState;
    /// assert_eq!(FutureState::Finished.name(), "finished");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FutureState::Pending => "pending",
            FutureState::Running => "running",
            FutureState::Cancelled => "cancelled",
            FutureState::Finished => "finished",
        }
    }
}

impl fmt::Display for FutureState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `cancel` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a fresh cancellation must wake waiters and run callbacks"]
pub(crate) enum Cancel {
    /// Was pending, now cancelled: notify everyone.
    Now,
    /// Was already cancelled: nothing to do, report success.
    Already,
    /// Running or finished: cannot be cancelled.
    Refused,
}

pub(crate) fn cancel(s: FutureState) -> Cancel {
    match s {
        FutureState::Pending => Cancel::Now,
        FutureState::Cancelled => Cancel::Already,
        FutureState::Running | FutureState::Finished => Cancel::Refused,
    }
}

/// What `set_running_or_notify_cancel` tells the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the executor must run the task only on `Run`"]
pub(crate) enum Start {
    /// Was pending, now running: run the task.
    Run,
    /// Was cancelled: do not run it.
    Skip,
}

pub(crate) fn start(s: FutureState) -> Result<Start, InvalidStateError> {
    match s {
        FutureState::Pending => Ok(Start::Run),
        FutureState::Cancelled => Ok(Start::Skip),
        FutureState::Running | FutureState::Finished => {
            Err(InvalidStateError::new(s, "set_running_or_notify_cancel"))
        }
    }
}

/// Lifecycle: not started.
pub(crate) const PENDING: usize = 0;
/// Lifecycle: a worker runs the task.
pub(crate) const RUNNING: usize = 1;
/// Lifecycle: a `set_*` won the race and writes the outcome.
pub(crate) const COMPLETING: usize = 2;
/// Lifecycle: cancelled (terminal).
pub(crate) const CANCELLED: usize = 3;
/// Lifecycle: finished with an outcome (terminal).
pub(crate) const FINISHED: usize = 4;
const LIFECYCLE: usize = 0b111;
/// Someone listens: a completion must lock the listener list.
pub(crate) const LISTENING: usize = 1 << 3;
/// The completion is over (listeners notified, callbacks returned).
pub(crate) const NOTIFIED: usize = 1 << 4;
/// An owner waits for `NOTIFIED`.
pub(crate) const OWNER_WAITING: usize = 1 << 5;
/// The executor's reference is alive.
pub(crate) const TASK: usize = 1 << 6;
/// The inline waiter slot is taken (module docs, "The inline waiter").
pub(crate) const SLOT: usize = 1 << 7;
/// The inline waiter slot holds a published waiter.
pub(crate) const WAITER: usize = 1 << 8;
/// The listeners' box was made (sticky; `cell.rs`, `dealloc`).
pub(crate) const BOXED: usize = 1 << 9;
/// One user handle.
pub(crate) const HANDLE_ONE: usize = 1 << 10;
/// Handle counts past this abort (as `Arc`'s overflow check does).
pub(crate) const MAX_HANDLES: usize = usize::MAX >> 11;

/// A snapshot of a future's state word (module docs, "The state word").
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) usize);

impl Word {
    pub(crate) fn lifecycle(self) -> usize {
        self.0 & LIFECYCLE
    }

    /// The public state (a `COMPLETING` future shows as running).
    pub(crate) fn state(self) -> FutureState {
        match self.lifecycle() {
            PENDING => FutureState::Pending,
            RUNNING | COMPLETING => FutureState::Running,
            CANCELLED => FutureState::Cancelled,
            _ => FutureState::Finished,
        }
    }

    pub(crate) fn is_done(self) -> bool {
        self.lifecycle() >= CANCELLED
    }

    pub(crate) fn is_cancelled(self) -> bool {
        self.lifecycle() == CANCELLED
    }

    pub(crate) fn has(self, flag: usize) -> bool {
        self.0 & flag != 0
    }

    /// The number of user handles.
    pub(crate) fn handles(self) -> usize {
        self.0 / HANDLE_ONE
    }

    /// Whether anyone must hear of the completion: a listener under the
    /// lock (`LISTENING`) or the inline waiter (`WAITER`).
    pub(crate) fn listened(self) -> bool {
        self.has(LISTENING | WAITER)
    }

    /// Whether nothing references the cell any more (free it).
    pub(crate) fn unreferenced(self) -> bool {
        self.handles() == 0 && !self.has(TASK)
    }

    /// The word with lifecycle `to`.
    pub(crate) fn with_lifecycle(self, to: usize) -> Word {
        Word((self.0 & !LIFECYCLE) | to)
    }

    /// The word after a completion to the terminal `to`: with no listener
    /// (nor inline waiter) the completion is over at once (`NOTIFIED`), and
    /// an executor that completes (`release_task`) drops its reference in
    /// the same swap.
    pub(crate) fn completed(self, to: usize, release_task: bool) -> Word {
        debug_assert!(to == CANCELLED || to == FINISHED);
        let mut w = self.with_lifecycle(to);
        if !self.listened() {
            w.0 |= NOTIFIED;
            if release_task {
                w.0 &= !TASK;
            }
        }
        w
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Word({} lifecycle={} listening={} notified={} owner_waiting={} task={} waiter={} boxed={} handles={})",
            self.state(),
            self.lifecycle(),
            self.has(LISTENING),
            self.has(NOTIFIED),
            self.has(OWNER_WAITING),
            self.has(TASK),
            self.has(WAITER),
            self.has(BOXED),
            self.handles()
        )
    }
}

/// What a `set_*` may do in lifecycle `s`: claim the right to write the
/// outcome (`PENDING`/`RUNNING` → `COMPLETING`), or refuse.
pub(crate) fn claim(w: Word, operation: &'static str) -> Result<Word, InvalidStateError> {
    match w.lifecycle() {
        PENDING | RUNNING => Ok(w.with_lifecycle(COMPLETING)),
        // Another `set_*` is writing: to this caller the future is finished.
        COMPLETING => Err(InvalidStateError::new(FutureState::Finished, operation)),
        _ => Err(InvalidStateError::new(w.state(), operation)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FutureState::*;

    #[test]
    fn word_fields() {
        let w = Word(PENDING | TASK | (2 * HANDLE_ONE));
        assert_eq!(w.handles(), 2);
        assert!(!w.unreferenced() && !w.is_done());
        let c = w.completed(FINISHED, true);
        assert!(c.is_done() && c.has(NOTIFIED) && !c.has(TASK));
        assert_eq!(c.state(), Finished);
        let l = Word(RUNNING | TASK | LISTENING | HANDLE_ONE).completed(FINISHED, true);
        assert!(!l.has(NOTIFIED) && l.has(TASK), "listeners: notified later");
        let i = Word(RUNNING | TASK | WAITER | HANDLE_ONE).completed(FINISHED, true);
        assert!(
            !i.has(NOTIFIED) && i.has(TASK) && i.has(WAITER),
            "inline waiter: later"
        );
        assert_eq!(Word(COMPLETING).state(), Running);
        assert!(Word(TASK).completed(CANCELLED, true).unreferenced());
    }

    #[test]
    fn claim_table() {
        assert_eq!(
            claim(Word(PENDING), "set_result").unwrap().lifecycle(),
            COMPLETING
        );
        assert_eq!(
            claim(Word(RUNNING), "set_result").unwrap().lifecycle(),
            COMPLETING
        );
        assert_eq!(claim(Word(COMPLETING), "x").unwrap_err().state(), Finished);
        assert_eq!(claim(Word(CANCELLED), "x").unwrap_err().state(), Cancelled);
        assert_eq!(claim(Word(FINISHED), "x").unwrap_err().state(), Finished);
    }

    #[test]
    fn cancel_table() {
        assert_eq!(cancel(Pending), Cancel::Now);
        assert_eq!(cancel(Cancelled), Cancel::Already);
        assert_eq!(cancel(Running), Cancel::Refused);
        assert_eq!(cancel(Finished), Cancel::Refused);
    }

    #[test]
    fn start_table() {
        assert_eq!(start(Pending), Ok(Start::Run));
        assert_eq!(start(Cancelled), Ok(Start::Skip));
        assert_eq!(start(Running).unwrap_err().state(), Running);
        assert_eq!(start(Finished).unwrap_err().state(), Finished);
    }

    #[test]
    fn done_and_names() {
        assert!(!Pending.is_done() && !Running.is_done());
        assert!(Cancelled.is_done() && Finished.is_done());
        let names: Vec<_> = [Pending, Running, Cancelled, Finished]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["pending", "running", "cancelled", "finished"]);
    }
}
