//! A queued task: the closure and its future in one allocation.
//!
//! `submit` makes one [`WorkItem`] (the closure and a handle of the future)
//! and queues it as a [`Job`]. A job keeps a small item (up to four words:
//! the future handle and a closure capturing up to three words) inline, in
//! the queue slot itself, so the future's shared state is the only
//! allocation of a task; a bigger item is boxed. (The first profile of the
//! benchmark spent about 40% of its time in `malloc`/`free` of boxed items
//! freed on another thread than the one that allocated them.) A worker calls [`Task::run`]: the closure's
//! value goes straight into the future through `Future::run` (or
//! `run_fallible`), which skips a future cancelled before it started and
//! turns a panic into the future's `TaskError`. A job that will never run
//! (`cancel_futures`, a broken pool) is [`abandon`](Task::abandon)ed: its
//! future is cancelled or failed, so that every accepted future ends in a
//! terminal state. After `run` completes the future, the item is dropped and
//! nothing of it is touched again.

use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr;

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
pub(crate) trait Task: Send + Sized {
    /// Runs the task (unless its future was cancelled) and completes its
    /// future; `returned` is called after the closure returned a value and
    /// before the future is completed.
    fn run(self, returned: &dyn Fn()) -> Ran;
    /// Ends the task's future without running it.
    fn abandon(self, why: Abandon<'_>);
}

/// Words of inline storage in a [`Job`].
const INLINE_WORDS: usize = 4;
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
    abandon: unsafe fn(*mut Storage, Abandon<'_>),
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

unsafe fn abandon_inline<I: Task>(data: *mut Storage, why: Abandon<'_>) {
    // SAFETY: as `run_inline`.
    unsafe { take::<I>(data) }.abandon(why);
}

unsafe fn drop_inline<I: Task>(data: *mut Storage) {
    // SAFETY: called once, by `Job::drop`, on a live inline `I`.
    unsafe { ptr::drop_in_place(data.cast::<I>()) }
}

unsafe fn run_boxed<I: Task>(data: *mut Storage, returned: &dyn Fn()) -> Ran {
    // SAFETY: as `run_inline`, for a job made in boxed mode.
    (*unsafe { take::<Box<I>>(data) }).run(returned)
}

unsafe fn abandon_boxed<I: Task>(data: *mut Storage, why: Abandon<'_>) {
    // SAFETY: as `run_boxed`.
    (*unsafe { take::<Box<I>>(data) }).abandon(why);
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
    pub(crate) fn abandon(self, why: Abandon<'_>) {
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
        let _span = concurrent_futures_core::trace::task_span("thread", &future);
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
    fn run(self, returned: &dyn Fn()) -> Ran {
        self.run_now(returned)
    }

    fn abandon(self, why: Abandon<'_>) {
        self.abandon_now(why);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn job<F: FnOnce() -> i32 + Send + 'static>(f: F) -> (Job, Future<i32>) {
        let fut = Future::new();
        (Job::new(WorkItem::new(Plain(f), fut.clone())), fut)
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
        let j = Job::new(WorkItem::new(
            Fallible(|| "x".parse::<u8>(), PhantomData),
            fut.clone(),
        ));
        assert_eq!(j.run(&|| {}), Ran::Failed);
        assert!(fut.exception().unwrap().unwrap().is_error());
    }

    #[test]
    fn big_items_are_boxed_small_ones_inline_and_drops_run_once() {
        use std::sync::Arc;
        assert!(fits::<WorkItem<Plain<fn() -> i32>, i32>>());
        let big = [7u64; 16];
        assert!(!fits::<WorkItem<Plain<[u64; 16]>, u64>>());
        let (j, f) = job(move || big.iter().sum::<u64>() as i32);
        assert_eq!(j.run(&|| {}), Ran::Completed);
        assert_eq!(f.into_result().unwrap(), 112);
        // Dropped without running: the captured value is freed once and the
        // future handle released.
        for size in [0usize, 64] {
            let token = Arc::new(vec![0u8; size]);
            let t = token.clone();
            let pad = [0u64; 8];
            let fut = Future::<usize>::new();
            let j = if size == 0 {
                Job::new(WorkItem::new(Plain(move || t.len()), fut.clone()))
            } else {
                Job::new(WorkItem::new(
                    Plain(move || t.len() + pad.len()),
                    fut.clone(),
                ))
            };
            assert_eq!(Arc::strong_count(&token), 2);
            drop(j);
            assert_eq!(Arc::strong_count(&token), 1);
            assert!(
                fut.try_into_result().is_err(),
                "never completed: still pending"
            );
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
