//! `Future<T>`: a result that will exist.
//!
//! # Layout
//!
//! Every handle points at one `Inner`: a mutex + condvar (Python's per-future
//! `Condition`) guarding the state, the callbacks and the waiters, and beside
//! the lock a write-once `outcome` slot. The slot is what lets `result()`
//! return `&T` without `T: Clone` and without holding the lock:
//!
//! * it is written once, under the lock, while the state is not yet done;
//! * `done` is then stored with `Release`, still under the lock;
//! * readers read it only after seeing the state done (under the lock, or
//!   through `done` with `Acquire`), so the write happens-before every read;
//! * it is taken out (`into_result`) only by the last handle, after every
//!   other handle was dropped: `handles` counts handles (not `Arc`s), and its
//!   `Release` decrements pair with the owner's `Acquire` load, so every read
//!   through another handle happens-before the take.
//!
//! # Owning the value
//!
//! `into_result` waits until the future is done *and* its handle is the last
//! one. The executor's own handle is dropped right after it completes the
//! future, so that wait is short; `Drop` wakes an owner that waits for it.
//! The owner sets `owner_waiting` and then reads `handles`; a dropper
//! decrements `handles` and then reads `owner_waiting`; a `SeqCst` fence sits
//! between the two steps on each side (Dekker's pattern), so either the owner
//! sees the count at one, or the dropper sees the flag and takes the lock to
//! wake it. Fences rather than `SeqCst` accesses, because loom checks fences
//! but treats `SeqCst` accesses as `AcqRel` (and so reports a lost wakeup
//! that cannot happen).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem;
use std::sync::Arc as StdArc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::callbacks::{self, Callback};
use crate::diagnostics::{diagnose, DiagnosticKind};
use crate::error::{BoxError, FutureError, InvalidStateError, TaskError};
use crate::primitives::{
    self, fence, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, UnsafeCell,
};
use crate::state::{self, Cancel, FutureState, Start};
use crate::trace;
use crate::unwind;
use crate::waiter::{self, Completion, Waitable, Waiter};

/// Waits with a timeout shorter than this never spin before sleeping.
const SPIN_MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The outcome stored in a finished future.
type Outcome<T> = Result<T, TaskError>;

/// A result that will exist: Python's `concurrent.futures.Future`.
///
/// A cheap [`Clone`] handle; all clones are the same future (`Eq` and `Hash`
/// go by identity, so futures can key a `HashMap`). Executors return one from
/// `submit`; code that writes its own executor makes one with
/// [`Future::new`] and completes it with [`Future::set_result`] or
/// [`Future::set_exception`].
///
/// # Examples
///
/// ```
/// use concurrent_futures_core::Future;
/// use std::thread;
///
/// let f = Future::new();
/// let g = f.clone();
/// let t = thread::spawn(move || {
///     assert!(g.set_running_or_notify_cancel().unwrap());
///     g.set_result(6 * 7).unwrap();
/// });
/// assert_eq!(*f.result().unwrap(), 42);
/// t.join().unwrap();
/// assert_eq!(f.into_result().unwrap(), 42);
/// ```
#[must_use = "a future does nothing unless its result is read; dropping it does not cancel the task"]
pub struct Future<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    shared: Mutex<Shared<T>>,
    cond: Condvar,
    /// Write-once slot; see the module docs for the rules.
    outcome: UnsafeCell<Option<Outcome<T>>>,
    /// Mirrors `shared.state.is_done()`; stored with `Release` after `outcome`.
    done: AtomicBool,
    /// Number of live `Future` handles.
    handles: AtomicUsize,
    /// An `into_result` (or `.await`) waits for the other handles to go.
    owner_waiting: AtomicBool,
}

struct Shared<T> {
    state: FutureState,
    /// Threads blocked on `cond`: notify only when there are some.
    sleepers: usize,
    callbacks: Vec<Callback<T>>,
    waiters: Vec<(StdArc<dyn Waiter>, usize)>,
    /// Woken when the other handles are gone (`.await` of the owner).
    owner_waker: Option<Waker>,
}

// SAFETY: `Inner` is shared between threads. Everything but `outcome` is
// `Sync` on its own. `outcome` is written only under the lock before `done`
// is set, and taken only by the unique last handle (module docs, "Layout"), so
// there is never a write concurrent with any access. Shared reads hand out
// `&T` only through `result`, which requires `T: Sync`; other reads look at
// the error side (`TaskError: Sync`) or the discriminant. `T` itself moves
// between threads (taken or dropped elsewhere), hence `T: Send`.
unsafe impl<T: Send> Sync for Inner<T> {}

impl<T> Future<T> {
    /// A new pending future, for code that writes its own executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::{Future, FutureState};
    /// let f = Future::<String>::new();
    /// assert_eq!(f.state(), FutureState::Pending);
    /// ```
    pub fn new() -> Self {
        Future {
            inner: Arc::new(Inner {
                shared: Mutex::new(Shared {
                    state: FutureState::Pending,
                    sleepers: 0,
                    callbacks: Vec::new(),
                    waiters: Vec::new(),
                    owner_waker: None,
                }),
                cond: Condvar::new(),
                outcome: UnsafeCell::new(None),
                done: AtomicBool::new(false),
                handles: AtomicUsize::new(1),
                owner_waiting: AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared<T>> {
        self.inner.shared.lock()
    }

    /// The current state.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::{Future, FutureState};
    /// let f = Future::<()>::new();
    /// f.cancel();
    /// assert_eq!(f.state(), FutureState::Cancelled);
    /// ```
    pub fn state(&self) -> FutureState {
        self.lock().state
    }

    /// Whether the future was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::<()>::new();
    /// assert!(!f.cancelled());
    /// f.cancel();
    /// assert!(f.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.state() == FutureState::Cancelled
    }

    /// Whether the task is running now.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::<()>::new();
    /// f.set_running_or_notify_cancel().unwrap();
    /// assert!(f.running());
    /// ```
    pub fn running(&self) -> bool {
        self.state() == FutureState::Running
    }

    /// Whether the future is done: finished (with a value or an error) or
    /// cancelled. Never blocks, takes no lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// assert!(!f.done());
    /// f.set_result(1).unwrap();
    /// assert!(f.done());
    /// ```
    pub fn done(&self) -> bool {
        self.inner.done.load(Ordering::Acquire)
    }

    /// Cancels the future if it has not started: returns `true` if it is now
    /// cancelled (or already was), `false` if it is running or finished.
    ///
    /// Unlike Python, a cancelled future is done at once: every thread blocked
    /// in `result`, `wait` or `as_completed` on it wakes now, and its
    /// callbacks run now, in this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::Future;
    /// let f = Future::<i32>::new();
    /// assert!(f.cancel());
    /// assert!(f.cancel()); // still cancelled
    /// assert!(f.result().unwrap_err().is_cancelled());
    ///
    /// let g = Future::new();
    /// g.set_result(1).unwrap();
    /// assert!(!g.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        let mut g = self.lock();
        match state::cancel(g.state) {
            Cancel::Refused => false,
            Cancel::Already => true,
            Cancel::Now => {
                g.state = FutureState::Cancelled;
                self.complete(g, Completion::Cancelled);
                true
            }
        }
    }

    /// Marks the future running, or reports that it was cancelled: `Ok(true)`
    /// means run the task, `Ok(false)` means it was cancelled and must not
    /// run. Called by executors just before they run a task.
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] if the future is already running or finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::Future;
    /// let f = Future::<()>::new();
    /// assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    /// assert!(f.set_running_or_notify_cancel().is_err());
    /// let c = Future::<()>::new();
    /// c.cancel();
    /// assert_eq!(c.set_running_or_notify_cancel(), Ok(false));
    /// ```
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        let mut g = self.lock();
        let run = match state::start(g.state)? {
            Start::Run => {
                g.state = FutureState::Running;
                true
            }
            Start::Skip => false,
        };
        drop(g); // a subscriber is user code: never under our lock
        if run {
            trace::started(self.id());
        }
        Ok(run)
    }

    /// Completes the future with a value.
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] if the future is already finished or cancelled;
    /// the stored outcome is left as it was (and `value` is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// f.set_result("hi").unwrap();
    /// assert_eq!(*f.result().unwrap(), "hi");
    /// assert!(f.set_result("again").is_err());
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.set_outcome(Ok(value), "set_result")
    }

    /// Completes the future with an error (Python's `set_exception`).
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] if the future is already finished or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::{Future, TaskError};
    /// let f = Future::<u8>::new();
    /// f.set_exception(TaskError::broken("pool gone")).unwrap();
    /// assert!(f.result().unwrap_err().task_error().unwrap().is_broken());
    /// ```
    pub fn set_exception(&self, error: TaskError) -> Result<(), InvalidStateError> {
        self.set_outcome(Err(error), "set_exception")
    }

    fn set_outcome(&self, outcome: Outcome<T>, op: &'static str) -> Result<(), InvalidStateError> {
        let mut g = self.lock();
        state::finish(g.state, op)?;
        let how = if outcome.is_ok() {
            Completion::Finished
        } else {
            Completion::Failed
        };
        // SAFETY: we hold the lock and the state is not done, so no reader
        // exists yet (reads come only after `done`) and no other writer can
        // run (writers hold the lock and check the state first).
        self.inner
            .outcome
            .with_mut(|slot| unsafe { *slot = Some(outcome) });
        g.state = FutureState::Finished;
        self.complete(g, how);
        Ok(())
    }

    /// The second half of every completion: publish `done`, notify waiters
    /// and sleepers under the lock, then run callbacks outside it.
    fn complete(&self, mut g: MutexGuard<'_, Shared<T>>, how: Completion) {
        self.inner.done.store(true, Ordering::Release);
        let waiters = mem::take(&mut g.waiters);
        for (w, token) in &waiters {
            if let Err(msg) = unwind::catch(|| w.notify(*token, how)) {
                diagnose(
                    DiagnosticKind::WaiterPanicked,
                    format_args!("a waiter panicked in notify: {msg}"),
                );
            }
        }
        let wake_sleepers = g.sleepers > 0;
        let callbacks = mem::take(&mut g.callbacks);
        drop(g);
        match how {
            Completion::Finished => trace::finished(self.id(), "returned"),
            Completion::Failed => trace::finished(self.id(), "failed"),
            Completion::Cancelled => trace::cancelled(self.id()),
        }
        // Signal after unlocking, so a woken reader does not block at once on
        // the lock we still hold. Sleepers re-check the state under the lock,
        // which was changed before it was released: nothing is missed.
        if wake_sleepers {
            self.inner.cond.notify_all();
        }
        // Our reference may be a waiter's last: its `Drop` is user code and
        // must not run under the lock.
        drop(waiters);
        callbacks::run_all(self, callbacks);
    }

    /// Runs `task` as an executor does: unless the future was cancelled, marks
    /// it running, runs `task` (a panic becomes [`TaskError::Panicked`]) and
    /// stores its value. Returns whether the task ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// assert!(f.run(|| 2 + 2));
    /// assert_eq!(*f.result().unwrap(), 4);
    /// let p = concurrent_futures_core::Future::<()>::new();
    /// p.run(|| panic!("bad input"));
    /// assert_eq!(p.exception().unwrap().unwrap().panic_message(), Some("bad input"));
    /// ```
    pub fn run(&self, task: impl FnOnce() -> T) -> bool {
        self.run_outcome(|| Ok(task()))
    }

    /// Like [`run`](Future::run) for a task that returns a `Result`: `Err(e)`
    /// becomes the future's [`TaskError::Error`] (Python's exception).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::<u32>::new();
    /// f.run_fallible(|| "x".parse::<u32>());
    /// assert!(f.exception().unwrap().unwrap().is_error());
    /// ```
    pub fn run_fallible<E: Into<BoxError>>(&self, task: impl FnOnce() -> Result<T, E>) -> bool {
        self.run_outcome(|| task().map_err(TaskError::error))
    }

    fn run_outcome(&self, task: impl FnOnce() -> Outcome<T>) -> bool {
        match self.set_running_or_notify_cancel() {
            Ok(true) => {}
            Ok(false) | Err(_) => return false,
        }
        let outcome = unwind::catch(task).unwrap_or_else(|m| Err(TaskError::panic(m)));
        // Cannot fail: the future is Running and only its runner completes it.
        let _ = self.set_outcome(outcome, "set_result");
        true
    }

    /// Blocks until done or until `deadline`; returns whether it is done.
    fn wait_done(&self, deadline: Option<Instant>) -> bool {
        if self.done() {
            return true;
        }
        // A result that is microseconds away is cheaper to spin for than to
        // sleep for (no futex wait here, no wake syscall in the completer).
        // Short timeouts (`Duration::ZERO` among them) only look.
        let long_wait = deadline.map_or(true, |d| d > Instant::now() + SPIN_MIN_TIMEOUT);
        if long_wait && primitives::backoff(|| self.done()) {
            return true;
        }
        let mut g = self.lock();
        loop {
            if g.state.is_done() {
                return true;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            g.sleepers += 1;
            g = match left {
                None => self.inner.cond.wait(g),
                Some(left) => self.inner.cond.wait_timeout(g, left),
            };
            g.sleepers -= 1;
        }
    }

    /// The stored outcome; `None` if cancelled. Call only once done.
    fn outcome(&self) -> Option<&Outcome<T>> {
        debug_assert!(self.done());
        // SAFETY: the caller saw the future done, so the single write
        // happened-before (module docs); it is never written again while this
        // handle lives, so the shared borrow, tied to `&self`, stays valid.
        self.inner.outcome.with(|slot| unsafe { (*slot).as_ref() })
    }

    fn deadline(timeout: Duration) -> Option<Instant> {
        // An overflowing deadline (a huge timeout) means no deadline.
        Instant::now().checked_add(timeout)
    }

    /// Waits for the future and returns its error, `Ok(None)` if it finished
    /// with a value (Python's `exception()`).
    ///
    /// # Errors
    ///
    /// [`FutureError::Cancelled`] if the future was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// f.set_result(5).unwrap();
    /// assert!(f.exception().unwrap().is_none());
    /// ```
    pub fn exception(&self) -> Result<Option<&TaskError>, FutureError> {
        self.wait_done(None);
        self.exception_now()
    }

    /// [`exception`](Future::exception) with a timeout.
    ///
    /// # Errors
    ///
    /// [`FutureError::Timeout`] if the future is not done in time (it is left
    /// as it is), [`FutureError::Cancelled`] if it was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let f = concurrent_futures_core::Future::<()>::new();
    /// assert!(f.exception_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<&TaskError>, FutureError> {
        if !self.wait_done(Self::deadline(timeout)) {
            return Err(FutureError::timeout());
        }
        self.exception_now()
    }

    fn exception_now(&self) -> Result<Option<&TaskError>, FutureError> {
        match self.outcome() {
            None => Err(FutureError::Cancelled),
            Some(o) => Ok(o.as_ref().err()),
        }
    }

    /// Waits for the future and takes its value: the owning accessor, with
    /// no `T: Clone` bound. This is how `map`, `as_completed` and `.await`
    /// users get a `T`.
    ///
    /// It waits until the future is done **and** this is the last handle: the
    /// executor drops its own handle right after completing the future, so
    /// that second wait is short. Drop other clones (e.g. `HashMap` keys)
    /// first; if another handle is kept alive for ever this waits for ever —
    /// use [`try_into_result`](Future::try_into_result) or
    /// [`result`](Future::result) then.
    ///
    /// # Errors
    ///
    /// [`FutureError::Cancelled`] or [`FutureError::Failed`] with the task's
    /// error.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// f.set_result(vec![1, 2, 3]).unwrap();
    /// let v: Vec<i32> = f.into_result().unwrap();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn into_result(self) -> Result<T, FutureError> {
        self.wait_done(None);
        if self.cancelled_now() {
            return Err(FutureError::Cancelled);
        }
        self.wait_unique();
        self.take()
    }

    /// Takes the value if the future is done and this is the last handle;
    /// gives the handle back otherwise. Never blocks.
    ///
    /// # Errors
    ///
    /// `Err(self)` if the future is not done or other handles exist.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// let g = f.clone();
    /// f.set_result(1).unwrap();
    /// let f = f.try_into_result().unwrap_err(); // `g` is still alive
    /// drop(g);
    /// assert_eq!(f.try_into_result().ok().unwrap().unwrap(), 1);
    /// ```
    pub fn try_into_result(self) -> Result<Result<T, FutureError>, Self> {
        if !self.done() {
            return Err(self);
        }
        if self.cancelled_now() {
            return Ok(Err(FutureError::Cancelled));
        }
        if !self.is_last_handle() {
            return Err(self);
        }
        Ok(self.take())
    }

    /// Whether a done future was cancelled.
    pub(crate) fn cancelled_now(&self) -> bool {
        self.outcome().is_none()
    }

    /// Whether this is the only handle. `Acquire` pairs with the `Release`
    /// decrement of every dropped handle (module docs, "Layout").
    fn is_last_handle(&self) -> bool {
        self.inner.handles.load(Ordering::Acquire) == 1
    }

    /// Blocks until this is the only handle. The executor drops its handle
    /// right after completing the future, so a brief backoff usually saves
    /// the owner a second sleep and wakeup.
    fn wait_unique(&self) {
        if primitives::backoff(|| self.is_last_handle()) {
            return;
        }
        let mut g = self.lock();
        self.inner.owner_waiting.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Drop` (module docs, "Owning the value").
        fence(Ordering::SeqCst);
        while !self.is_last_handle() {
            g.sleepers += 1;
            g = self.inner.cond.wait(g);
            g.sleepers -= 1;
        }
    }

    /// Registers `waker` to be woken when this becomes the only handle;
    /// returns whether it already is.
    pub(crate) fn poll_unique(&self, waker: &Waker) -> bool {
        if self.is_last_handle() {
            return true;
        }
        let waker = waker.clone();
        let mut g = self.lock();
        let old = g.owner_waker.replace(waker);
        self.inner.owner_waiting.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Drop` (module docs, "Owning the value").
        fence(Ordering::SeqCst);
        let unique = self.is_last_handle();
        drop(g);
        // A waker's `Drop` is runtime code: never under the lock.
        drop(old);
        unique
    }

    /// Takes the outcome out. Only for the last handle of a finished future.
    pub(crate) fn take(self) -> Result<T, FutureError> {
        debug_assert!(self.is_last_handle());
        // SAFETY: this is the only handle (checked with `Acquire`, pairing
        // with the `Release` decrement of every dropped handle, so all their
        // reads happened before), and it is consumed here, so no borrow of the
        // slot can exist or be made later.
        let outcome = self
            .inner
            .outcome
            .with_mut(|slot| unsafe { (*slot).take() });
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(FutureError::Failed(e)),
            None => Err(FutureError::Cancelled),
        }
    }

    /// Adds a callback that runs once the future is done, with the future as
    /// its argument: in the thread that completes it, in the order added, or
    /// at once in this thread if it is already done. A callback that panics
    /// is reported on stderr; the others still run.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_core::Future;
    /// use std::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let f = Future::new();
    /// f.add_done_callback(move |f: &Future<i32>| tx.send(*f.result().unwrap()).unwrap());
    /// f.set_result(3).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 3);
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        let callback: Callback<T> = Box::new(callback);
        if !self.done() {
            let mut g = self.lock();
            if !g.state.is_done() {
                g.callbacks.push(callback);
                return;
            }
        }
        callbacks::run_one(self, callback);
    }
}

impl<T: Sync> Future<T> {
    /// Waits for the future and borrows its value. Can be called again and
    /// again, from any thread; needs no `T: Clone`.
    ///
    /// # Errors
    ///
    /// [`FutureError::Cancelled`] if it was cancelled, [`FutureError::Failed`]
    /// with (a clone of) the task's error if the task failed.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures_core::Future::new();
    /// f.set_result(String::from("done")).unwrap();
    /// let a: &String = f.result().unwrap();
    /// let b: &String = f.result().unwrap();
    /// assert_eq!(a, b);
    /// ```
    pub fn result(&self) -> Result<&T, FutureError> {
        self.wait_done(None);
        self.result_now()
    }

    /// [`result`](Future::result) with a timeout. `Duration::ZERO` only looks.
    ///
    /// # Errors
    ///
    /// [`FutureError::Timeout`] if not done in time (the future is left as it
    /// is), otherwise as [`result`](Future::result).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let f = concurrent_futures_core::Future::<i32>::new();
    /// assert!(f.result_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<&T, FutureError> {
        if !self.wait_done(Self::deadline(timeout)) {
            return Err(FutureError::timeout());
        }
        self.result_now()
    }

    pub(crate) fn result_now(&self) -> Result<&T, FutureError> {
        match self.outcome() {
            None => Err(FutureError::Cancelled),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(FutureError::Failed(e.clone())),
        }
    }
}

impl<T> Default for Future<T> {
    fn default() -> Self {
        Future::new()
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        // Relaxed, as `Arc::clone`: a new handle is made from a live one.
        self.inner.handles.fetch_add(1, Ordering::Relaxed);
        Future {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        // Release: our reads of the outcome happen-before the owner's take
        // (it loads `handles` with `Acquire`). The fence pairs with the one
        // in `wait_unique`/`poll_unique`: see the module docs.
        if self.inner.handles.fetch_sub(1, Ordering::Release) == 2 && {
            fence(Ordering::SeqCst);
            self.inner.owner_waiting.load(Ordering::Relaxed)
        } {
            let mut g = self.lock();
            let wake_sleepers = g.sleepers > 0;
            let waker = g.owner_waker.take();
            drop(g);
            // After unlocking, as in `complete`; our `Arc` keeps `inner` alive.
            if wake_sleepers {
                self.inner.cond.notify_all();
            }
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<T> Future<T> {
    /// The future's identity (the address of its shared state).
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }
}

impl<T> fmt::Debug for Future<T> {
    /// Like Python's repr: `<Future at 0x55d0 state=finished returned i32>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        write!(f, "<Future at {:#x} state={state}", self.id())?;
        if state == FutureState::Finished {
            match self.outcome() {
                Some(Ok(_)) => write!(f, " returned {}", std::any::type_name::<T>())?,
                Some(Err(e)) => write!(f, " raised {}", e.kind())?,
                None => {}
            }
        }
        f.write_str(">")
    }
}

impl<T: Send> Waitable for Future<T> {
    fn install_waiter(&self, waiter: &StdArc<dyn Waiter>, token: usize) -> Option<Completion> {
        let mut g = self.lock();
        if g.state.is_done() {
            return self.completion_now();
        }
        g.waiters.push((waiter.clone(), token));
        None
    }

    fn remove_waiter(&self, waiter: &StdArc<dyn Waiter>) {
        self.lock()
            .waiters
            .retain(|(w, _)| !waiter::same_waiter(w, waiter));
    }

    fn completion(&self) -> Option<Completion> {
        if self.done() {
            self.completion_now()
        } else {
            None
        }
    }

    fn id(&self) -> usize {
        Future::id(self)
    }
}

impl<T> Future<T> {
    fn completion_now(&self) -> Option<Completion> {
        Some(match self.outcome() {
            None => Completion::Cancelled,
            Some(Ok(_)) => Completion::Finished,
            Some(Err(_)) => Completion::Failed,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn send_sync_for_send_results() {
        assert_send_sync::<Future<i32>>();
        // `Send` but not `Sync`: the future is still shareable (no `result()`).
        assert_send_sync::<Future<std::cell::Cell<i32>>>();
        assert_send_sync::<Future<std::sync::mpsc::Receiver<i32>>>();
    }

    #[test]
    fn debug_like_python_repr() {
        let f = Future::<i32>::new();
        assert!(format!("{f:?}").ends_with("state=pending>"));
        f.set_result(1).unwrap();
        assert!(format!("{f:?}").ends_with("state=finished returned i32>"));
        let e = Future::<()>::new();
        e.set_exception(TaskError::panic("x")).unwrap();
        assert!(format!("{e:?}").ends_with("state=finished raised panic>"));
    }

    /// Runs `f` on its own thread; fails (instead of hanging) if it does not
    /// return within ten seconds.
    fn within_10s(what: &str, f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        if rx.recv_timeout(Duration::from_secs(10)).is_err() {
            panic!("deadlock: {what} did not return within 10 s");
        }
    }

    /// A value whose `Drop` looks at a future: user code that must not run
    /// under that future's lock.
    struct LooksAtFutureOnDrop(Future<LooksAtFutureOnDrop>);

    impl Drop for LooksAtFutureOnDrop {
        fn drop(&mut self) {
            let _ = self.0.state();
        }
    }

    #[test]
    fn rejected_value_is_dropped_outside_the_lock() {
        within_10s("a refused set_result dropping its value", || {
            let f = Future::<LooksAtFutureOnDrop>::new();
            f.cancel();
            let err = f.set_result(LooksAtFutureOnDrop(f.clone())).unwrap_err();
            assert_eq!(err.state(), FutureState::Cancelled);
        });
    }

    /// A waiter whose `Drop` looks at the future it waits on.
    struct WaiterLookingAtFuture(Future<i32>);

    impl Waiter for WaiterLookingAtFuture {
        fn notify(&self, _: usize, _: Completion) {}
    }

    impl Drop for WaiterLookingAtFuture {
        fn drop(&mut self) {
            let _ = self.0.state();
        }
    }

    #[test]
    fn completion_drops_waiters_outside_the_lock() {
        within_10s("set_result dropping the last handle of a waiter", || {
            let f = Future::<i32>::new();
            let w: StdArc<dyn Waiter> = StdArc::new(WaiterLookingAtFuture(f.clone()));
            assert_eq!(f.install_waiter(&w, 0), None);
            drop(w); // the future holds the last reference now
            f.set_result(1).unwrap();
        });
    }

    /// A waker whose last reference looks at a future when dropped.
    struct WakerLookingAtFuture(Future<i32>);

    impl std::task::Wake for WakerLookingAtFuture {
        fn wake(self: StdArc<Self>) {}
    }

    impl Drop for WakerLookingAtFuture {
        fn drop(&mut self) {
            let _ = self.0.state();
        }
    }

    #[test]
    fn replaced_owner_waker_is_dropped_outside_the_lock() {
        within_10s("poll_unique replacing the owner's waker", || {
            let f = Future::<i32>::new();
            let other = f.clone();
            f.set_result(1).unwrap();
            let first = Waker::from(StdArc::new(WakerLookingAtFuture(f.clone())));
            assert!(!f.poll_unique(&first));
            drop(first); // `owner_waker` holds the last reference now
            let second = Waker::from(StdArc::new(WakerLookingAtFuture(f.clone())));
            assert!(!f.poll_unique(&second));
            drop(second);
            drop(other);
        });
    }

    #[test]
    fn handle_count_follows_clones() {
        let f = Future::<u8>::new();
        let g = f.clone();
        assert_eq!(f.inner.handles.load(Ordering::SeqCst), 2);
        drop(g);
        assert_eq!(f.inner.handles.load(Ordering::SeqCst), 1);
    }
}
