//! A queued task: a [`WorkItem`] is `futures-core`'s [`Task`](CoreTask), the
//! closure and its future in one allocation (the task cell), and the pool's
//! reference to it; the future handed to the caller points at the same cell.
//!
//! `submit` makes one [`WorkItem`] and queues it as a [`Job`]. A job keeps a
//! small item (up to two words: a work item is one, a scoped one two) inline
//! in the queue slot itself, so the task cell is the only allocation of a
//! task; a bigger item is boxed. A worker calls [`Task::run`]: the closure's
//! value goes straight into the future (a future cancelled before it started
//! is skipped; a panic becomes the future's `TaskError`). A job that will
//! never run (`cancel_futures`, a broken pool) is
//! [`abandon`](Task::abandon)ed: its future is cancelled or failed. A job
//! dropped without either (a refused submit, a queue dropped with jobs in
//! it) fails its future too ("dropped by its executor before it ran"), so
//! every accepted future ends in a terminal state. After `run` completes the
//! future, nothing of the item is touched again.

use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr;

use concurrent_futures_core::{
    trace, BoxError, Future, Ran as CoreRan, Task as CoreTask, TaskError,
};

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
pub(crate) trait Task: Send + Sized {
    /// Runs the task (unless its future was cancelled) and completes its
    /// future; `returned` is called after the closure returned a value and
    /// before the future is completed.
    fn run(self, returned: &dyn Fn()) -> Ran;
    /// Ends the task's future without running it; returns whether this
    /// ended it (`false`: it was cancelled already, by its user or by a
    /// revoking submitter), which is how the pool counts it.
    fn abandon(self, why: Abandon<'_>) -> bool;
}

/// Words of inline storage in a [`Job`].
const INLINE_WORDS: usize = 2;
type Storage = MaybeUninit<[usize; INLINE_WORDS]>;

/// A type-erased [`Task`]: what the queues hold. Either the task itself,
/// stored inline, or a `Box` of it, stored inline; `vtable` knows which.
pub(crate) struct Job {
    vtable: &'static VTable,
    data: Storage,
}

/// The operations of one task type in one storage mode. Each takes a
/// pointer to `Job::data`; `run` and `abandon` move the task out, `drop`
/// drops it in place. Exactly one of the three is called per job.
struct VTable {
    run: unsafe fn(*mut Storage, &dyn Fn()) -> Ran,
    abandon: unsafe fn(*mut Storage, Abandon<'_>) -> bool,
    drop: unsafe fn(*mut Storage),
}

/// Whether `I` fits the inline storage.
const fn fits<I>() -> bool {
    mem::size_of::<I>() <= mem::size_of::<Storage>()
        && mem::align_of::<I>() <= mem::align_of::<Storage>()
}

/// Moves the task out of `data`, where it is stored as `S`.
///
/// # Safety
///
/// `data` holds a live `S` that nothing else reads or drops afterwards.
unsafe fn take<S>(data: *mut Storage) -> S {
    // SAFETY: the caller's contract; `Storage` is aligned for `S` (`fits`
    // was checked for inline items; a `Box` is one word).
    unsafe { ptr::read(data.cast::<S>()) }
}

unsafe fn run_inline<I: Task>(data: *mut Storage, returned: &dyn Fn()) -> Ran {
    // SAFETY: called once, by `Job::run`, on a job made by `Job::erase::<I>`
    // in inline mode; the job is forgotten after, so not dropped again.
    unsafe { take::<I>(data) }.run(returned)
}

unsafe fn abandon_inline<I: Task>(data: *mut Storage, why: Abandon<'_>) -> bool {
    // SAFETY: as `run_inline`.
    unsafe { take::<I>(data) }.abandon(why)
}

unsafe fn drop_inline<I: Task>(data: *mut Storage) {
    // SAFETY: called once, by `Job::drop`, on a live inline `I`.
    unsafe { ptr::drop_in_place(data.cast::<I>()) }
}

unsafe fn run_boxed<I: Task>(data: *mut Storage, returned: &dyn Fn()) -> Ran {
    // SAFETY: as `run_inline`, for a job made in boxed mode.
    (*unsafe { take::<Box<I>>(data) }).run(returned)
}

unsafe fn abandon_boxed<I: Task>(data: *mut Storage, why: Abandon<'_>) -> bool {
    // SAFETY: as `run_boxed`.
    (*unsafe { take::<Box<I>>(data) }).abandon(why)
}

unsafe fn drop_boxed<I: Task>(data: *mut Storage) {
    // SAFETY: called once, by `Job::drop`, on a live `Box<I>`.
    unsafe { ptr::drop_in_place(data.cast::<Box<I>>()) }
}

impl Job {
    /// Erases `item` into a job.
    pub(crate) fn new<I: Task + 'static>(item: I) -> Job {
        // SAFETY: `I: 'static` borrows nothing that could go away.
        unsafe { Job::erase(item) }
    }

    /// Erases `item`, which may borrow data of a shorter lifetime.
    ///
    /// # Safety
    ///
    /// The job must be run, abandoned or dropped before anything `I`
    /// borrows goes away (`scope.rs` waits for that).
    pub(crate) unsafe fn erase<I: Task>(item: I) -> Job {
        let mut data = Storage::uninit();
        let vtable: &'static VTable = if fits::<I>() {
            // SAFETY: `fits` says `data` is large and aligned enough for `I`.
            unsafe { ptr::write(data.as_mut_ptr().cast::<I>(), item) };
            const {
                &VTable {
                    run: run_inline::<I>,
                    abandon: abandon_inline::<I>,
                    drop: drop_inline::<I>,
                }
            }
        } else {
            // SAFETY: a `Box` is one word, word-aligned.
            unsafe { ptr::write(data.as_mut_ptr().cast::<Box<I>>(), Box::new(item)) };
            const {
                &VTable {
                    run: run_boxed::<I>,
                    abandon: abandon_boxed::<I>,
                    drop: drop_boxed::<I>,
                }
            }
        };
        Job { vtable, data }
    }

    /// Runs the task; see [`Task::run`].
    pub(crate) fn run(self, returned: &dyn Fn()) -> Ran {
        let mut job = ManuallyDrop::new(self);
        // SAFETY: `data` holds the live task `vtable` was made for; the job
        // is wrapped in `ManuallyDrop`, so it is moved out exactly once.
        unsafe { (job.vtable.run)(&mut job.data, returned) }
    }

    /// Ends the task's future without running it; see [`Task::abandon`].
    pub(crate) fn abandon(self, why: Abandon<'_>) -> bool {
        let mut job = ManuallyDrop::new(self);
        // SAFETY: as in `run`.
        unsafe { (job.vtable.abandon)(&mut job.data, why) }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: a job not run or abandoned still holds its live task.
        unsafe { (self.vtable.drop)(&mut self.data) }
    }
}

// SAFETY: a job holds one `I: Task`, and `Task: Send`; the vtable is a
// shared `&'static` of function pointers.
unsafe impl Send for Job {}

/// A closure and its future, in one task cell; the pool's reference to it.
pub(crate) struct WorkItem {
    task: CoreTask,
}

impl WorkItem {
    /// The item that runs `f` (`submit`), and its future.
    pub(crate) fn new<F, T>(f: F) -> (Self, Future<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, future) = CoreTask::new(f);
        trace::submitted("thread", &future);
        (WorkItem { task }, future)
    }

    /// The item that runs a fallible `f` (`submit_fallible`): `Err(e)`
    /// becomes the future's exception.
    pub(crate) fn fallible<F, T, E>(f: F) -> (Self, Future<T>)
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let (task, future) = CoreTask::new_fallible(f);
        trace::submitted("thread", &future);
        (WorkItem { task }, future)
    }

    /// [`WorkItem::new`] for a closure that borrows (scoped tasks).
    ///
    /// # Safety
    ///
    /// As `concurrent_futures_core::Task::new_unchecked`: the item is run,
    /// abandoned or dropped, and every handle of the future is gone, before
    /// anything `F` or `T` borrows goes away (`scope.rs` waits for that).
    pub(crate) unsafe fn scoped<F, T>(f: F) -> (Self, Future<T>)
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        // SAFETY: the caller's contract is `new_unchecked`'s.
        let (task, future) = unsafe { CoreTask::new_unchecked(f) };
        trace::submitted("thread", &future);
        (WorkItem { task }, future)
    }

    /// [`Task::run`] on an unboxed item (for wrappers such as scoped jobs).
    pub(crate) fn run_now(self, returned: &dyn Fn()) -> Ran {
        match self.task.run_with(returned) {
            CoreRan::Completed => Ran::Completed,
            CoreRan::Cancelled => Ran::Cancelled,
            _ => Ran::Failed,
        }
    }

    /// [`Task::abandon`] on an unboxed item.
    pub(crate) fn abandon_now(self, why: Abandon<'_>) -> bool {
        match why {
            Abandon::Cancel => self.task.cancel(),
            // Refused quietly if the user cancelled it meanwhile.
            Abandon::Broken(reason) => self.task.fail(TaskError::broken(reason)),
        }
    }
}

impl Task for WorkItem {
    fn run(self, returned: &dyn Fn()) -> Ran {
        self.run_now(returned)
    }

    fn abandon(self, why: Abandon<'_>) -> bool {
        self.abandon_now(why)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn job<F: FnOnce() -> i32 + Send + 'static>(f: F) -> (Job, Future<i32>) {
        let (item, fut) = WorkItem::new(f);
        (Job::new(item), fut)
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
        let (item, fut) = WorkItem::fallible(|| "x".parse::<u8>());
        let j = Job::new(item);
        assert_eq!(j.run(&|| {}), Ran::Failed);
        assert!(fut.exception().unwrap().unwrap().is_error());
    }

    /// A job item bigger than the inline words, for the boxed path.
    struct Big {
        item: WorkItem,
        _pad: [u64; 8],
    }

    impl Task for Big {
        fn run(self, returned: &dyn Fn()) -> Ran {
            self.item.run_now(returned)
        }

        fn abandon(self, why: Abandon<'_>) -> bool {
            self.item.abandon_now(why)
        }
    }

    #[test]
    fn work_items_are_inline_big_items_boxed_and_drops_run_once() {
        use std::sync::Arc;
        assert!(fits::<WorkItem>());
        assert_eq!(mem::size_of::<WorkItem>(), mem::size_of::<usize>());
        assert!(!fits::<Big>());
        let (item, f) = WorkItem::new(|| 112);
        let j = Job::new(Big { item, _pad: [0; 8] });
        assert_eq!(j.run(&|| {}), Ran::Completed);
        assert_eq!(f.into_result().unwrap(), 112);
        // Dropped without running: the captured value is freed once, and the
        // future ends (failed, never pending).
        for boxed in [false, true] {
            let token = Arc::new(0u8);
            let t = token.clone();
            let (item, fut) = WorkItem::new(move || *t as usize);
            let j = if boxed {
                Job::new(Big { item, _pad: [0; 8] })
            } else {
                Job::new(item)
            };
            assert_eq!(Arc::strong_count(&token), 2);
            drop(j);
            assert_eq!(Arc::strong_count(&token), 1);
            let e = fut
                .exception_timeout(std::time::Duration::ZERO)
                .unwrap()
                .unwrap();
            assert!(e.is_broken() && e.to_string().contains("dropped"), "{e}");
        }
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

/// Loom models of a queued job (the real `Job` around the real core
/// `Task`): a worker runs it while the caller cancels and takes the value,
/// or the queue drops it while the caller waits.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::thread;

    #[test]
    fn loom_job_run_vs_cancel_and_into_result() {
        loom::model(|| {
            let (item, f) = WorkItem::new(|| 7u32);
            let job = Job::new(item);
            let canceller = f.clone();
            let worker = thread::spawn(move || job.run(&|| {}));
            let cancelled = canceller.cancel();
            drop(canceller);
            let ran = worker.join().unwrap();
            match f.into_result() {
                Ok(v) => {
                    assert_eq!((v, ran), (7, Ran::Completed));
                    assert!(!cancelled);
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    assert!(cancelled && ran == Ran::Cancelled);
                }
            }
        });
    }

    #[test]
    fn loom_job_dropped_by_the_queue_vs_result() {
        loom::model(|| {
            let (item, f) = WorkItem::new(|| 1u8);
            let job = Job::new(item);
            let queue = thread::spawn(move || drop(job));
            let e = f.result().unwrap_err();
            assert!(e.task_error().is_some_and(TaskError::is_broken), "{e}");
            queue.join().unwrap();
        });
    }
}
