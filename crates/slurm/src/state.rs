//! Slurm's job states and what each means for a future.

use std::fmt;

/// A Slurm job state, as `squeue %T`, `scontrol` and `sacct` print it.
///
/// See [`SlurmState::phase`] for what each means for the task's future.
///
/// # Examples
///
/// ```
/// use concurrent_futures::slurm::{Phase, SlurmState};
/// assert_eq!(SlurmState::parse("PENDING"), SlurmState::Pending);
/// assert_eq!(SlurmState::parse("CANCELLED+").phase(), Phase::Ended);
/// assert_eq!(SlurmState::parse("PREEMPTED").phase(), Phase::Running);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SlurmState {
    /// Waiting for resources, a dependency, a hold.
    Pending,
    /// Nodes are booting for it.
    Configuring,
    /// Requeued (after preemption or a node failure); will run again.
    Requeued,
    /// Requeued and held.
    RequeueHold,
    /// Running.
    Running,
    /// Finishing (epilogue, or processes still ending).
    Completing,
    /// Suspended by an operator or a preemption.
    Suspended,
    /// Preempted (and, per the cluster's policy, requeued or cancelled next).
    Preempted,
    /// Staging out, signaling, stopped, resizing: still holding its allocation.
    Other(String),
    /// Ended with exit code 0.
    Completed,
    /// Ended with a non-zero exit code or signal (also a failed launch).
    Failed,
    /// Ran past its `--time`.
    Timeout,
    /// Its node failed.
    NodeFail,
    /// Killed for using more memory than allowed.
    OutOfMemory,
    /// Cancelled (`scancel`), by us or by someone else.
    Cancelled,
    /// Its nodes failed to boot.
    BootFail,
    /// Missed its `--deadline`.
    Deadline,
    /// Ended, and Slurm no longer reports in which state.
    Unknown,
}

/// What a [`SlurmState`] means for the future of the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The task has not started: its future is `Pending` and cancellable.
    Pending,
    /// The task is (or was, and may again be) running: the future is `Running`.
    Running,
    /// The job is over: its result file decides (a result wins over any
    /// state); without one the future fails with `TaskError::ClusterJob`.
    Ended,
}

impl SlurmState {
    /// Parses a state name; `sacct`'s `CANCELLED by 0` and the `+` of
    /// truncated names are accepted. An unknown name is [`SlurmState::Other`].
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::slurm::SlurmState;
    /// assert_eq!(SlurmState::parse("OUT_OF_MEMORY"), SlurmState::OutOfMemory);
    /// assert_eq!(SlurmState::parse("CANCELLED by 1000"), SlurmState::Cancelled);
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> SlurmState {
        let word = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('+');
        match word {
            "PENDING" | "PD" => SlurmState::Pending,
            "CONFIGURING" | "CF" => SlurmState::Configuring,
            "REQUEUED" | "RQ" | "REQUEUE_FED" => SlurmState::Requeued,
            "REQUEUE_HOLD" => SlurmState::RequeueHold,
            "RUNNING" | "R" => SlurmState::Running,
            "COMPLETING" | "CG" => SlurmState::Completing,
            "SUSPENDED" | "S" => SlurmState::Suspended,
            "PREEMPTED" | "PR" => SlurmState::Preempted,
            "COMPLETED" | "CD" => SlurmState::Completed,
            "FAILED" | "F" => SlurmState::Failed,
            "TIMEOUT" | "TO" => SlurmState::Timeout,
            "NODE_FAIL" | "NF" => SlurmState::NodeFail,
            "OUT_OF_MEMORY" | "OOM" => SlurmState::OutOfMemory,
            "CANCELLED" | "CA" => SlurmState::Cancelled,
            "BOOT_FAIL" | "BF" => SlurmState::BootFail,
            "DEADLINE" | "DL" => SlurmState::Deadline,
            "" => SlurmState::Unknown,
            other => SlurmState::Other(other.to_owned()),
        }
    }

    /// The state table (see `docs/cluster.md`).
    ///
    /// | Slurm state | future |
    /// |---|---|
    /// | PENDING, CONFIGURING, REQUEUED, REQUEUE_HOLD | `Pending` (cancellable) |
    /// | RUNNING, COMPLETING, SUSPENDED, PREEMPTED, STAGE_OUT, SIGNALING, STOPPED, RESIZING | `Running` |
    /// | COMPLETED with a result | `Finished` (or the task's panic) |
    /// | COMPLETED without one, FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, CANCELLED after start | failed: `TaskError::ClusterJob` |
    /// | CANCELLED before start | `Cancelled` |
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::slurm::{Phase, SlurmState};
    /// assert_eq!(SlurmState::Requeued.phase(), Phase::Pending);
    /// assert_eq!(SlurmState::Completing.phase(), Phase::Running);
    /// assert_eq!(SlurmState::NodeFail.phase(), Phase::Ended);
    /// ```
    #[must_use]
    pub fn phase(&self) -> Phase {
        match self {
            SlurmState::Pending
            | SlurmState::Configuring
            | SlurmState::Requeued
            | SlurmState::RequeueHold => Phase::Pending,
            SlurmState::Running
            | SlurmState::Completing
            | SlurmState::Suspended
            | SlurmState::Preempted
            | SlurmState::Other(_) => Phase::Running,
            SlurmState::Completed
            | SlurmState::Failed
            | SlurmState::Timeout
            | SlurmState::NodeFail
            | SlurmState::OutOfMemory
            | SlurmState::Cancelled
            | SlurmState::BootFail
            | SlurmState::Deadline
            | SlurmState::Unknown => Phase::Ended,
        }
    }

    /// The state's name as Slurm prints it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::slurm::SlurmState::NodeFail.name(), "NODE_FAIL");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            SlurmState::Pending => "PENDING",
            SlurmState::Configuring => "CONFIGURING",
            SlurmState::Requeued => "REQUEUED",
            SlurmState::RequeueHold => "REQUEUE_HOLD",
            SlurmState::Running => "RUNNING",
            SlurmState::Completing => "COMPLETING",
            SlurmState::Suspended => "SUSPENDED",
            SlurmState::Preempted => "PREEMPTED",
            SlurmState::Other(s) => s,
            SlurmState::Completed => "COMPLETED",
            SlurmState::Failed => "FAILED",
            SlurmState::Timeout => "TIMEOUT",
            SlurmState::NodeFail => "NODE_FAIL",
            SlurmState::OutOfMemory => "OUT_OF_MEMORY",
            SlurmState::Cancelled => "CANCELLED",
            SlurmState::BootFail => "BOOT_FAIL",
            SlurmState::Deadline => "DEADLINE",
            SlurmState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for SlurmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state Slurm 22.05 prints, with its phase.
    #[test]
    fn the_state_table() {
        let table = [
            ("PENDING", Phase::Pending),
            ("CONFIGURING", Phase::Pending),
            ("REQUEUED", Phase::Pending),
            ("REQUEUE_FED", Phase::Pending),
            ("REQUEUE_HOLD", Phase::Pending),
            ("RUNNING", Phase::Running),
            ("COMPLETING", Phase::Running),
            ("SUSPENDED", Phase::Running),
            ("PREEMPTED", Phase::Running),
            ("STAGE_OUT", Phase::Running),
            ("SIGNALING", Phase::Running),
            ("STOPPED", Phase::Running),
            ("RESIZING", Phase::Running),
            ("COMPLETED", Phase::Ended),
            ("FAILED", Phase::Ended),
            ("TIMEOUT", Phase::Ended),
            ("NODE_FAIL", Phase::Ended),
            ("OUT_OF_MEMORY", Phase::Ended),
            ("CANCELLED", Phase::Ended),
            ("CANCELLED by 0", Phase::Ended),
            ("BOOT_FAIL", Phase::Ended),
            ("DEADLINE", Phase::Ended),
        ];
        for (name, phase) in table {
            assert_eq!(SlurmState::parse(name).phase(), phase, "{name}");
        }
        for s in ["PENDING", "RUNNING", "COMPLETED", "NODE_FAIL", "STAGE_OUT"] {
            assert_eq!(SlurmState::parse(s).name(), s);
        }
    }
}
