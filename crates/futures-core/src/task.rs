//! The executor-implementer API: a [`Task`] is a closure and its future in
//! one allocation (the cell, see `cell.rs`), and the executor's reference to
//! it. An executor queues the `Task`, gives the [`Future`] to the caller,
//! and later runs, cancels or fails the task; every path ends the future.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::cell::{self, Cell, Header, Outcome, Vtable};
use crate::error::{BoxError, TaskError};
use crate::future::Future;
use crate::state::{Cancel, HANDLE_ONE, PENDING, TASK};
use crate::trace;
use crate::unwind;

/// How a task ended, for an executor's counters.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Ran, Task};
/// let (task, f) = Task::new(|| 1 + 1);
/// assert_eq!(task.run(), Ran::Completed);
/// assert_eq!(f.into_result().unwrap(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ran {
    /// The closure returned a value.
    Completed,
    /// The closure panicked or returned an error.
    Failed,
    /// The future was cancelled (or completed by hand) before the task
    /// started; the closure did not run.
    Cancelled,
}

/// A closure queued in an executor, in the same allocation as its
/// [`Future`]: what a thread pool holds per task.
///
/// Made with [`Task::new`] (or [`Task::new_fallible`]) together with the
/// future; the executor then calls exactly one of [`run`](Task::run),
/// [`cancel`](Task::cancel) or [`fail`](Task::fail). A `Task` dropped
/// without any of them fails its future ("dropped by its executor before it
/// ran"), so no future is left pending for ever. The task's reference never
/// counts as a handle of the future: `into_result` on the caller's handle
/// never waits for it.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Task;
/// use std::sync::mpsc;
///
/// // A one-thread executor.
/// let (tx, rx) = mpsc::channel::<Task>();
/// let worker = std::thread::spawn(move || {
///     for task in rx {
///         task.run();
///     }
/// });
/// let (task, f) = Task::new(|| "hello".len());
/// tx.send(task).unwrap();
/// assert_eq!(f.into_result().unwrap(), 5);
///
/// // A task the executor gives up on: its future still ends.
/// let (task, g) = Task::new(|| 0u8);
/// drop(task);
/// assert!(g.exception().unwrap().unwrap().is_broken());
/// drop(tx);
/// worker.join().unwrap();
/// ```
pub struct Task {
    header: NonNull<Header>,
}

// SAFETY: a `Task` owns the body (`B: Send`, checked by every constructor)
// and a reference to a cell whose shared parts are `Sync` for `T: Send`
// (checked by every constructor); the cell is freed by whichever side drops
// the last reference, through the state word's atomic count.
unsafe impl Send for Task {}

/// What a task's body makes of its closure.
trait Body<T>: Send {
    fn call(self) -> Outcome<T>;
}

struct Plain<F>(F);

struct Fallible<F, E>(F, PhantomData<fn() -> E>);

impl<T, F: FnOnce() -> T + Send> Body<T> for Plain<F> {
    fn call(self) -> Outcome<T> {
        Ok((self.0)())
    }
}

impl<T, E: Into<BoxError>, F: FnOnce() -> Result<T, E> + Send> Body<T> for Fallible<F, E> {
    fn call(self) -> Outcome<T> {
        (self.0)().map_err(TaskError::error)
    }
}

/// The vtable of a cell of `(T, B)`.
struct TaskVtable<T, B>(PhantomData<(T, B)>);

impl<T: Send, B: Body<T>> TaskVtable<T, B> {
    const VTABLE: Vtable = Vtable {
        run: run::<T, B>,
        abandon: abandon::<T, B>,
        dealloc: cell::dealloc::<T, B>,
    };
}

impl Task {
    /// A task that runs `f`, and the future of its value. A panic in `f`
    /// becomes the future's [`TaskError::Panicked`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (task, f) = concurrent_futures::Task::new(|| 6 * 7);
    /// task.run();
    /// assert_eq!(*f.result().unwrap(), 42);
    /// ```
    pub fn new<F, T>(f: F) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `'static` closure and value borrow nothing.
        unsafe { Task::new_unchecked(f) }
    }

    /// A task whose closure returns a `Result`: `Err(e)` becomes the
    /// future's [`TaskError::Error`] (Python's exception).
    ///
    /// # Examples
    ///
    /// ```
    /// let (task, f) = concurrent_futures::Task::new_fallible(|| "x".parse::<u8>());
    /// task.run();
    /// assert!(f.exception().unwrap().unwrap().is_error());
    /// ```
    pub fn new_fallible<F, T, E>(f: F) -> (Task, Future<T>)
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        // SAFETY: as in `new`.
        unsafe { Task::new_fallible_unchecked(f) }
    }

    /// [`Task::new`] for a closure (and value) that may borrow data of a
    /// shorter lifetime, for scoped executors.
    ///
    /// # Safety
    ///
    /// The task must be run, cancelled, failed or dropped before anything
    /// `F` or `T` borrows goes away, and every handle of the future must be
    /// gone by then too (its type, `Future<T>`, holds the borrow for the
    /// handles; the scope must wait for the task). This is the contract of
    /// `std::thread::scope`'s spawn, kept by the executor.
    ///
    /// # Examples
    ///
    /// ```
    /// let data = vec![1, 2, 3];
    /// // SAFETY: the task runs (and drops its closure) right here, before
    /// // `data` goes away.
    /// let (task, f) = unsafe { concurrent_futures::Task::new_unchecked(|| data.len()) };
    /// task.run();
    /// assert_eq!(f.into_result().unwrap(), 3);
    /// ```
    pub unsafe fn new_unchecked<F, T>(f: F) -> (Task, Future<T>)
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        Task::with_body(Plain(f))
    }

    /// [`Task::new_fallible`] for a closure that may borrow.
    ///
    /// # Safety
    ///
    /// As [`Task::new_unchecked`].
    pub unsafe fn new_fallible_unchecked<F, T, E>(f: F) -> (Task, Future<T>)
    where
        F: FnOnce() -> Result<T, E> + Send,
        T: Send,
        E: Into<BoxError>,
    {
        Task::with_body(Fallible(f, PhantomData))
    }

    fn with_body<T: Send, B: Body<T>>(body: B) -> (Task, Future<T>) {
        let vtable: &'static Vtable = const { &TaskVtable::<T, B>::VTABLE };
        let header = cell::allocate::<T, B>(body, PENDING | TASK | HANDLE_ONE, vtable);
        // SAFETY: a fresh cell of `T` with one handle counted for the future
        // and the task reference for the task.
        let future = unsafe { Future::from_header(header) };
        (Task { header }, future)
    }

    /// Runs the closure, unless the future was cancelled first, and
    /// completes the future with its value (a panic becomes
    /// [`TaskError::Panicked`]). Callbacks added to the future run here,
    /// after it is done.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Ran, Task};
    /// let (task, f) = Task::new(|| -> u8 { panic!("no") });
    /// assert_eq!(task.run(), Ran::Failed);
    /// assert_eq!(f.exception().unwrap().unwrap().panic_message(), Some("no"));
    /// ```
    pub fn run(self) -> Ran {
        self.run_with(&|| {})
    }

    /// [`run`](Task::run), calling `returned` after the closure returned
    /// (without panicking) and before the future is completed: an executor
    /// marks the worker idle there, so a caller woken by the completion sees
    /// it idle.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// let seen = Cell::new(false);
    /// let (task, f) = concurrent_futures::Task::new(|| 1);
    /// task.run_with(&|| seen.set(true));
    /// assert!(seen.get() && f.done());
    /// ```
    pub fn run_with(self, returned: &dyn Fn()) -> Ran {
        let task = ManuallyDrop::new(self);
        // SAFETY: the vtable was made for this cell, and the task is consumed
        // here (`ManuallyDrop`), so its body is moved out once.
        unsafe { (task.header.as_ref().vtable.run)(task.header, returned) }
    }

    /// Ends the future as cancelled without running the closure (Python's
    /// `shutdown(cancel_futures=True)`). The closure's captures are dropped
    /// here; a panic in their `Drop` is reported, not raised. Returns
    /// whether this call cancelled the future (`false`: it was cancelled
    /// already), so an executor can count how its tasks ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let (task, f) = concurrent_futures::Task::new(|| 1);
    /// assert!(task.cancel());
    /// assert!(f.cancelled());
    ///
    /// let (task, f) = concurrent_futures::Task::new(|| 1);
    /// f.cancel();
    /// assert!(!task.cancel(), "cancelled by the user first");
    /// ```
    pub fn cancel(self) -> bool {
        self.abandon(None)
    }

    /// Ends the future with `error` without running the closure (a broken
    /// executor). Refused quietly if the future was cancelled meanwhile;
    /// returns whether this call ended it.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Task, TaskError};
    /// let (task, f) = Task::new(|| 1);
    /// assert!(task.fail(TaskError::broken("initializer failed")));
    /// assert!(f.exception().unwrap().unwrap().is_broken());
    /// ```
    pub fn fail(self, error: TaskError) -> bool {
        self.abandon(Some(error))
    }

    fn abandon(self, error: Option<TaskError>) -> bool {
        let task = ManuallyDrop::new(self);
        // SAFETY: as in `run_with`.
        unsafe { (task.header.as_ref().vtable.abandon)(task.header, error) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let header = self.header;
        // SAFETY: as in `run_with`; `self` is not used after.
        unsafe {
            (header.as_ref().vtable.abandon)(
                header,
                Some(TaskError::broken(
                    "the task was dropped by its executor before it ran",
                )),
            );
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("cell", &self.header)
            .finish_non_exhaustive()
    }
}

/// The cell's `Future<T>` view, borrowed from the task reference (it is
/// never dropped, so it never touches the handle count).
///
/// # Safety
///
/// `header` is a live cell of `T` whose task reference the caller owns.
unsafe fn borrowed<T>(header: NonNull<Header>) -> ManuallyDrop<Future<T>> {
    // SAFETY: the caller's contract.
    ManuallyDrop::new(unsafe { Future::from_header(header) })
}

/// The body, moved out of its slot.
///
/// # Safety
///
/// `header` is a cell of `(T, B)` whose task reference the caller owns and
/// whose body has not been moved out yet.
unsafe fn take_body<T, B>(header: NonNull<Header>) -> B {
    // SAFETY: the caller's contract: a live cell of `(T, B)` whose body is
    // initialized and read only by the task's owner, once.
    unsafe {
        let cell = Cell::<T, B>::from_header(header);
        (*cell.as_ref().body.get()).assume_init_read()
    }
}

/// `Vtable::run` for `(T, B)`.
///
/// # Safety
///
/// As `take_body`; the task reference is consumed.
unsafe fn run<T: Send, B: Body<T>>(header: NonNull<Header>, returned: &dyn Fn()) -> Ran {
    // SAFETY: the caller's contract.
    let body = unsafe { take_body::<T, B>(header) };
    // SAFETY: the caller owns the task reference until `finish_task` below.
    let future = unsafe { borrowed::<T>(header) };
    let claimed = match future.set_running_or_notify_cancel() {
        Ok(run) => run,
        // A user's own `set_running_or_notify_cancel` marked it running
        // first: only this task can complete it, so the closure runs (not
        // running it left the future running for ever). Done means a
        // user's `set_*` completed it: nothing to run.
        Err(_) => !future.done(),
    };
    if !claimed {
        unwind::drop_reporting("the closure of a cancelled task", body);
        future.release_task();
        return Ran::Cancelled;
    }
    let mut returned_ok = false;
    let span = trace::task_span(&*future);
    let outcome = unwind::catch(|| {
        let outcome = body.call();
        returned();
        returned_ok = outcome.is_ok();
        outcome
    })
    .unwrap_or_else(|message| Err(TaskError::panic(message)));
    drop(span);
    // Refused only if a user's `set_*` completed the running future first.
    let _ = future.complete_as_task(outcome);
    if returned_ok {
        Ran::Completed
    } else {
        Ran::Failed
    }
}

/// `Vtable::abandon` for `(T, B)`.
///
/// # Safety
///
/// As `run`.
unsafe fn abandon<T: Send, B: Body<T>>(header: NonNull<Header>, error: Option<TaskError>) -> bool {
    // SAFETY: the caller's contract.
    let body = unsafe { take_body::<T, B>(header) };
    unwind::drop_reporting("the closure of a task that never ran", body);
    // SAFETY: the caller owns the task reference.
    let future = unsafe { borrowed::<T>(header) };
    match error {
        None => {
            let ended = future.cancel_now() == Cancel::Now;
            future.release_task();
            ended
        }
        // Refused if the user cancelled it meanwhile: it is terminal.
        Some(e) => future.complete_as_task(Err(e)).is_ok(),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn every_way_a_task_ends_frees_closure_value_and_cell_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        // Run, value taken.
        let (d, c) = (drops.clone(), Counted(drops.clone()));
        let (task, f) = Task::new(move || {
            drop(c);
            Counted(d)
        });
        assert_eq!(task.run(), Ran::Completed);
        drop(f.into_result().unwrap());
        assert_eq!(drops.load(SeqCst), 2);
        // Cancelled by hand, then run: the closure is dropped unrun.
        let c = Counted(drops.clone());
        let (task, f) = Task::new(move || drop(c));
        assert!(f.cancel());
        assert_eq!(task.run(), Ran::Cancelled);
        assert_eq!(drops.load(SeqCst), 3);
        // Cancelled and failed by the executor, dropped unrun.
        for end in 0..3 {
            let c = Counted(drops.clone());
            let (task, f) = Task::new(move || drop(c));
            match end {
                0 => assert!(task.cancel()),
                1 => assert!(task.fail(TaskError::broken("gone"))),
                _ => drop(task),
            }
            assert!(f.done());
            assert_eq!(f.cancelled(), end == 0);
        }
        assert_eq!(drops.load(SeqCst), 6);
        // The future dropped first, the task run later on another thread:
        // the worker frees the cell and the value.
        let d = drops.clone();
        let (task, f) = Task::new(move || Counted(d));
        drop(f);
        std::thread::spawn(move || task.run()).join().unwrap();
        assert_eq!(drops.load(SeqCst), 7);
    }

    #[test]
    fn callbacks_and_waiting_threads_with_a_task() {
        let (task, f) = Task::new(|| String::from("v"));
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        f.add_done_callback(move |f| {
            assert_eq!(f.result_timeout(Duration::ZERO).unwrap(), "v");
            s.fetch_add(1, SeqCst);
        });
        let reader = f.clone();
        let t = std::thread::spawn(move || reader.result().unwrap().len());
        let runner = std::thread::spawn(move || task.run());
        assert_eq!(t.join().unwrap(), 1);
        assert_eq!(runner.join().unwrap(), Ran::Completed);
        assert_eq!(seen.load(SeqCst), 1);
        assert_eq!(f.into_result().unwrap(), "v");
    }

    #[test]
    fn panicking_closure_and_panicking_value_drop_are_contained() {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("drop of the value");
            }
        }
        let (task, f) = Task::new(|| -> u8 { panic!("in the task") });
        assert_eq!(task.run(), Ran::Failed);
        assert_eq!(
            f.exception().unwrap().unwrap().panic_message(),
            Some("in the task")
        );
        let (task, f) = Task::new(|| PanicsOnDrop);
        drop(f);
        // The worker frees the cell: the value's panicking drop is contained.
        assert_eq!(task.run(), Ran::Completed);
        let p = PanicsOnDrop;
        let (task, f) = Task::new(move || drop(p));
        drop(task); // the closure's capture panics on drop: contained
        assert!(f.exception().unwrap().unwrap().is_broken());
    }

    #[test]
    fn a_callback_taking_its_own_future_is_refused_not_deadlocked() {
        let (task, f) = Task::new(|| 5u8);
        let (tx, rx) = std::sync::mpsc::channel();
        f.add_done_callback(move |f| {
            let _ = tx.send(f.clone().into_result());
        });
        drop(f);
        task.run();
        let err = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("own done-callback"), "{err}");
    }

    /// A closure capture and a value aligned past what the free lists serve
    /// (16), and ones bigger than a recycled cell (512 bytes): the cell's
    /// body-first layout puts the header at the right offset for each, and
    /// the value comes out intact (Miri runs this too: `ci/miri.sh`).
    #[test]
    fn over_aligned_and_large_cells_keep_body_and_value_intact() {
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(align(64))]
        struct Wide(u64);
        let capture = Wide(7);
        let (task, f) = Task::new(move || Wide(capture.0 * 6));
        assert_eq!(task.run(), Ran::Completed);
        assert_eq!(f.into_result().unwrap(), Wide(42));

        let big = [3u8; 2048];
        let (task, f) = Task::new(move || big.iter().map(|&b| u64::from(b)).sum::<u64>());
        let g = f.clone();
        assert_eq!(task.run(), Ran::Completed);
        assert_eq!(*g.result().unwrap(), 6144);
        drop(g);
        assert_eq!(f.into_result().unwrap(), 6144);

        let (task, f) = Task::new(|| [9u64; 80]);
        task.run();
        assert_eq!(f.into_result().unwrap(), [9u64; 80]);

        let (task, f) = Task::new(|| ());
        task.run();
        f.into_result().unwrap();
    }

    /// The last handle's drop frees the cell without a decrement only when
    /// the task's reference is gone too: a handle dropped before the task
    /// runs leaves the cell to the task, which still runs and frees it.
    #[test]
    fn a_handle_dropped_before_the_task_runs_leaves_the_cell_to_the_task() {
        let drops = Arc::new(AtomicUsize::new(0));
        let value = Counted(drops.clone());
        let (task, f) = Task::new(move || value);
        drop(f);
        assert_eq!(task.run(), Ran::Completed);
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the value is dropped with the cell, once"
        );
    }
}
