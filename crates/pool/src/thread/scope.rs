//! Scoped tasks: [`ThreadPoolExecutor::scope`] lets tasks borrow from the
//! caller's stack, as `std::thread::scope` lets threads.
//!
//! Each scoped job carries a [`Done`] token; the scope counts tokens alive
//! and `scope` returns only when the count is zero. A token is the *last*
//! field of its job, so it is dropped after the closure and the job's handle
//! of the future, whichever way the job ends (run, cancelled by
//! `cancel_futures`, failed by a broken pool, refused at submit, or revoked
//! and swept: `lifecycle/mod.rs`, rule 3). That is what makes the lifetime
//! erasure in [`Scope::submit`] sound.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::primitives::{Condvar, Mutex, MutexGuard};

use concurrent_futures_core::Future;

use crate::error::SubmitError;
use crate::lifecycle::bound::Wait;
use crate::thread::{Route, ThreadPoolExecutor};
use crate::work_item::{Abandon, Job, Ran, Task, WorkItem};

/// A scope's count of jobs alive.
struct ScopeState {
    alive: Mutex<usize>,
    all_done: Condvar,
}

impl ScopeState {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.alive.lock()
    }

    /// Waits until every job of the scope is done; on a worker of `pool`,
    /// first runs what that worker's own deque holds (its scoped jobs).
    fn wait_all(&self, pool: &ThreadPoolExecutor) {
        super::worker::help(pool.shared(), || *self.lock() > 0);
        let mut alive = self.lock();
        while *alive > 0 {
            alive = self.all_done.wait(alive);
        }
    }
}

/// One scoped job alive; dropping it may let the scope return.
struct Done(Arc<ScopeState>);

impl Drop for Done {
    fn drop(&mut self) {
        let mut alive = self.0.lock();
        *alive -= 1;
        if *alive == 0 {
            self.0.all_done.notify_all();
        }
    }
}

/// A work item and its token, in this field order: the item is dropped
/// first.
struct Scoped<I> {
    item: I,
    done: Done,
}

impl Task for Scoped<WorkItem> {
    fn run(self, returned: &dyn Fn()) -> Ran {
        let Scoped { item, done } = self;
        let ran = item.run_now(returned);
        drop(done);
        ran
    }

    fn abandon(self, why: Abandon<'_>) -> bool {
        let Scoped { item, done } = self;
        let ended = item.abandon_now(why);
        drop(done);
        ended
    }
}

/// Submits tasks that may borrow anything that outlives the scope; made by
/// [`ThreadPoolExecutor::scope`].
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let ex = ThreadPoolExecutor::new(2).unwrap();
/// let data = vec![1u64, 2, 3, 4];
/// let total = ex.scope(|s| {
///     let (a, b) = data.split_at(2);
///     let fa = s.submit(|| a.iter().sum::<u64>()).unwrap();
///     let fb = s.submit(|| b.iter().sum::<u64>()).unwrap();
///     fa.into_result().unwrap() + fb.into_result().unwrap()
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'env ThreadPoolExecutor,
    state: Arc<ScopeState>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Schedules `f`, which may borrow from outside the scope, on the pool.
    ///
    /// # Errors
    ///
    /// As [`ThreadPoolExecutor::submit`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::new(2).unwrap();
    /// let mut counts = [0usize; 2];
    /// ex.scope(|s| {
    ///     for (i, c) in counts.iter_mut().enumerate() {
    ///         s.submit(move || *c = i + 1).unwrap();
    ///     }
    /// });
    /// assert_eq!(counts, [1, 2]); // every task is done when scope returns
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        *self.state.lock() += 1;
        // SAFETY: as for `Job::erase` below: the job, and with it the task's
        // reference to the cell, is gone before `scope` returns; the future's
        // handles are bounded by `T: 'scope`.
        let (item, future) = unsafe { WorkItem::scoped(f) };
        let scoped = Scoped {
            item,
            done: Done(Arc::clone(&self.state)),
        };
        // SAFETY: the job may borrow data of lifetime 'scope. `scope` does
        // not return (nor unwind) before `ScopeState::wait_all` saw every
        // `Done` token dropped, and a job's token is dropped only after the
        // rest of the job (field order of `Scoped`; explicit `drop(done)`
        // after `run_now`/`abandon_now` consumed the item). Every job is run,
        // abandoned, or dropped at a refused submit; a job revoked because
        // the pool closed during its submit is skipped by a worker or swept
        // once none is left (lifecycle/mod.rs, rule 3). So no access to
        // 'scope data happens after 'scope ends, which is `Job::erase`'s
        // contract. This is the argument of `std::thread::scope` and
        // rayon's `Scope::spawn`.
        let job = unsafe { Job::erase(scoped) };
        self.pool.shared().push(
            job,
            Route {
                wait: Wait::Forever,
                local: true,
            },
            || future.cancel(),
        )?;
        Ok(future)
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("tasks_alive", &*self.state.lock())
            .finish()
    }
}

impl ThreadPoolExecutor {
    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's
    /// stack; returns `f`'s value once every task submitted through the
    /// scope is done (run, or cancelled by `shutdown(_, true)`), even if `f`
    /// panics (the panic then continues after the wait). A task's own panic
    /// stays in its future.
    ///
    /// Called from a task of the same pool, `scope` runs the scope's tasks
    /// still queued on that worker itself while it waits (as rayon's scope
    /// does), so it returns even with no other worker free. The closure `f`
    /// itself gets no such help: a task of a one-worker pool that blocks in
    /// `f` on a scoped task's future (`into_result`, `result`) waits for
    /// ever, as a task that waits on its own pool's futures would.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let ex = ThreadPoolExecutor::new(4).unwrap();
    /// let words = ["alpha", "beta", "gamma"];
    /// let lens = ex.scope(|s| {
    ///     let fs: Vec<_> = words.iter().map(|w| s.submit(move || w.len()).unwrap()).collect();
    ///     fs.into_iter().map(|f| f.into_result().unwrap()).collect::<Vec<_>>()
    /// });
    /// assert_eq!(lens, [5, 4, 5]);
    /// ```
    pub fn scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            pool: self,
            state: Arc::new(ScopeState {
                alive: Mutex::new(0),
                all_done: Condvar::new(),
            }),
            scope: PhantomData,
            env: PhantomData,
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
        scope.state.wait_all(self);
        match result {
            Ok(r) => r,
            Err(panic) => resume_unwind(panic),
        }
    }
}
