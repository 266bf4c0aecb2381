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

use std::fmt;

use crate::error::InvalidStateError;

/// The state of a [`Future`](crate::Future), as Python's `_state`.
///
/// # Examples
///
/// ```
/// use concurrent_futures_core::{Future, FutureState};
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
    /// use concurrent_futures_core::FutureState;
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
    /// use concurrent_futures_core::FutureState;
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

/// Whether a value or an error may be stored now.
pub(crate) fn finish(s: FutureState, operation: &'static str) -> Result<(), InvalidStateError> {
    match s {
        FutureState::Pending | FutureState::Running => Ok(()),
        FutureState::Cancelled | FutureState::Finished => Err(InvalidStateError::new(s, operation)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FutureState::*;

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
    fn finish_table() {
        assert!(finish(Pending, "set_result").is_ok());
        assert!(finish(Running, "set_result").is_ok());
        let e = finish(Cancelled, "set_result").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid state: cannot set_result on a cancelled future"
        );
        assert!(finish(Finished, "set_exception").is_err());
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
