//! A queued task: the closure and its future in one allocation.
//!
//! `submit` boxes one [`WorkItem`] (the closure and a handle of the future)
//! and queues it as a [`Job`]. A worker calls [`Task::run`]: the closure's
//! value goes straight into the future through `Future::run` (or
//! `run_fallible`), which skips a future cancelled before it started and
//! turns a panic into the future's `TaskError`. A job that will never run
//! (`cancel_futures`, a broken pool) is [`abandon`](Task::abandon)ed: its
//! future is cancelled or failed, so that every accepted future ends in a
//! terminal state. After `run` completes the future, the item is dropped and
//! nothing of it is touched again.

use std::marker::PhantomData;

use concurrent_futures_core::{BoxError, Future, TaskError};

/// How a job ended, for the pool's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    /// The task returned a value.
    Completed,
    /// The task panicked or returned an error.
    Failed,
    /// The future was cancelled before the task started; it did not run.
    Cancelled,
}

/// Why a job is dropped without running.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Abandon<'a> {
    /// `shutdown(cancel_futures = true)`: cancel its future.
    Cancel,
    /// The pool broke: fail its future with this reason.
    Broken(&'a str),
}

/// A queued unit of work.
pub(crate) trait Task: Send {
    /// Runs the task (unless its future was cancelled) and completes its
    /// future; `returned` is called after the closure returned a value and
    /// before the future is completed.
    fn run(self: Box<Self>, returned: &dyn Fn()) -> Ran;
    /// Ends the task's future without running it.
    fn abandon(self: Box<Self>, why: Abandon<'_>);
}

/// What the queues hold.
pub(crate) type Job = Box<dyn Task>;

/// How a closure's outcome goes into its future.
pub(crate) trait Body<T>: Send {
    /// Runs `self` as `future`'s task, calling `returned` between the
    /// closure's return and the future's completion.
    fn run_in(self, future: &Future<T>, returned: &dyn Fn()) -> Ran;
}

/// A closure returning the value (`submit`).
pub(crate) struct Plain<F>(pub(crate) F);

/// A closure returning `Result<T, E>` (`submit_fallible`).
pub(crate) struct Fallible<F, E>(pub(crate) F, pub(crate) PhantomData<fn() -> E>);

impl<F: FnOnce() -> T + Send, T> Body<T> for Plain<F> {
    fn run_in(self, future: &Future<T>, returned: &dyn Fn()) -> Ran {
        let mut ok = false;
        let ran = future.run(|| {
            let v = (self.0)();
            returned();
            ok = true;
            v
        });
        outcome(ran, ok)
    }
}

impl<F, T, E> Body<T> for Fallible<F, E>
where
    F: FnOnce() -> Result<T, E> + Send,
    E: Into<BoxError>,
{
    fn run_in(self, future: &Future<T>, returned: &dyn Fn()) -> Ran {
        let mut ok = false;
        let ran = future.run_fallible(|| {
            let r = (self.0)();
            returned();
            ok = r.is_ok();
            r
        });
        outcome(ran, ok)
    }
}

fn outcome(ran: bool, ok: bool) -> Ran {
    match (ran, ok) {
        (false, _) => Ran::Cancelled,
        (true, true) => Ran::Completed,
        (true, false) => Ran::Failed,
    }
}

/// A closure and the future it completes.
pub(crate) struct WorkItem<B, T> {
    future: Future<T>,
    body: B,
}

impl<B, T> WorkItem<B, T> {
    pub(crate) fn new(body: B, future: Future<T>) -> Self {
        WorkItem { future, body }
    }
}

impl<B: Body<T>, T: Send> WorkItem<B, T> {
    /// [`Task::run`] on an unboxed item (for wrappers such as scoped jobs).
    pub(crate) fn run_now(self, returned: &dyn Fn()) -> Ran {
        let WorkItem { future, body } = self;
        body.run_in(&future, returned)
    }

    /// [`Task::abandon`] on an unboxed item.
    pub(crate) fn abandon_now(self, why: Abandon<'_>) {
        match why {
            Abandon::Cancel => {
                self.future.cancel();
            }
            Abandon::Broken(reason) => {
                // Refused if the user cancelled it meanwhile: it is terminal.
                let _ = self.future.set_exception(TaskError::broken(reason));
            }
        }
    }
}

impl<B: Body<T>, T: Send> Task for WorkItem<B, T> {
    fn run(self: Box<Self>, returned: &dyn Fn()) -> Ran {
        (*self).run_now(returned)
    }

    fn abandon(self: Box<Self>, why: Abandon<'_>) {
        (*self).abandon_now(why);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn job<F: FnOnce() -> i32 + Send + 'static>(f: F) -> (Job, Future<i32>) {
        let fut = Future::new();
        (Box::new(WorkItem::new(Plain(f), fut.clone())), fut)
    }

    #[test]
    fn run_completes_the_future() {
        let (j, f) = job(|| 7);
        assert_eq!(j.run(&|| {}), Ran::Completed);
        assert_eq!(f.into_result().unwrap(), 7);
    }

    #[test]
    fn panic_fails_cancel_skips() {
        let (j, f) = job(|| panic!("no"));
        assert_eq!(j.run(&|| {}), Ran::Failed);
        assert_eq!(f.exception().unwrap().unwrap().panic_message(), Some("no"));
        let (j, f) = job(|| unreachable!("cancelled task ran"));
        assert!(f.cancel());
        assert_eq!(j.run(&|| {}), Ran::Cancelled);
    }

    #[test]
    fn fallible_error_fails() {
        let fut = Future::<u8>::new();
        let j: Job = Box::new(WorkItem::new(
            Fallible(|| "x".parse::<u8>(), PhantomData),
            fut.clone(),
        ));
        assert_eq!(j.run(&|| {}), Ran::Failed);
        assert!(fut.exception().unwrap().unwrap().is_error());
    }

    #[test]
    fn abandon_cancels_or_breaks() {
        let (j, f) = job(|| 1);
        j.abandon(Abandon::Cancel);
        assert!(f.cancelled());
        let (j, f) = job(|| 1);
        j.abandon(Abandon::Broken("init failed"));
        let e = f.exception().unwrap().unwrap();
        assert!(e.is_broken() && e.to_string().contains("init failed"));
    }
}
