//! `Future<T>`: a result that will exist.
//!
//! # Layout
//!
//! A `Future<T>` is a pointer to the typed prefix of a task cell (`cell.rs`):
//! one allocation holding the state word (`state.rs`, "The state word"), the
//! inline waiter slot, the listener list under a lock (with the condvar of
//! blocked threads in its boxed part), and the write-once outcome slot. Every transition is a compare-and-swap of the
//! state word; the lock is taken only when someone listens other than the
//! inline waiter (a blocked thread, a second waiter, a waker, a
//! done-callback) and to remove a waiter. The first waiter of `wait` or
//! `as_completed` is installed and notified through the state word alone
//! (`state.rs`, "The inline waiter"). The outcome slot's rules are in `cell.rs`; they
//! are what lets `result()` return `&T` without `T: Clone` and without a
//! lock.
//!
//! # Owning the value
//!
//! `into_result` and owned `.await` wait for the task only. The executor's
//! reference (the `TASK` bit) is not a handle. Once the future is done, the
//! value is taken if this is the only handle; if other handles are alive the
//! call returns [`FutureError::NotUnique`] at once, saying how many, and the
//! value stays for them. The one wait besides the task's own is for its
//! done-callbacks to return (`NOTIFIED`), since a callback borrows the
//! future; a callback that takes its own future's value is told so instead.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem;
use std::ptr::NonNull;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::callbacks;
use crate::cell::{
    self, Callback, Entry, Header, Inner, Listeners, NoBody, NoBodyVtable, Outcome, Stored,
};
use crate::diagnostics::DiagnosticKind;
use crate::error::{BoxError, FutureError, InvalidStateError, TaskError};
use crate::primitives::{self, MutexGuard, Nap, Ordering};
use crate::reentry;
use crate::state::FutureState;
use crate::state::{
    self, Cancel, Word, BOXED, CANCELLED, COMPLETING, FINISHED, HANDLE_ONE, LISTENING, MAX_HANDLES,
    NOTIFIED, OWNER_WAITING, PENDING, RUNNING, SLOT, TASK, WAITER,
};
use crate::trace;
use crate::unwind::{self, AbortOnUnwind};
use crate::waiter::{Completion, Waitable, Waiter, WaiterRef};

/// Waits with a timeout shorter than this never spin before sleeping.
const SPIN_MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// A result that will exist: Python's `concurrent.futures.Future`.
///
/// A cheap [`Clone`] handle; all clones are the same future (`Eq` and `Hash`
/// go by identity, so futures can key a `HashMap`). Executors return one from
/// `submit`; code that writes its own executor makes one with
/// [`Future::new`] and completes it with [`Future::set_result`] or
/// [`Future::set_exception`], or makes a closure and its future together
/// with [`Task::new`](crate::Task::new).
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
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
    inner: NonNull<Inner<T>>,
    /// A handle shares (and may drop) the `T` in the cell.
    _owns: PhantomData<Inner<T>>,
}

// SAFETY: a handle gives shared access to the cell. Everything in it but the
// outcome is `Sync` on its own; the outcome follows the rules in `cell.rs`
// (one write before `FINISHED`, reads after it, the take by the one handle
// after every other access), so there is never a write concurrent with any
// access. Shared reads hand out `&T` only through `result`, which requires
// `T: Sync`; other reads look at the error side (`TaskError: Sync`) or the
// discriminant. `T` itself moves between threads (taken or dropped
// elsewhere), hence `T: Send` for both.
unsafe impl<T: Send> Send for Future<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Future<T> {}

impl<T> Future<T> {
    /// A new pending future, for code that writes its own executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Future, FutureState};
    /// let f = Future::<String>::new();
    /// assert_eq!(f.state(), FutureState::Pending);
    /// ```
    pub fn new() -> Self {
        let vtable: &'static cell::Vtable = const { &NoBodyVtable::<T>::VTABLE };
        let header = cell::allocate::<T, NoBody>(NoBody, PENDING | HANDLE_ONE, vtable);
        // SAFETY: a fresh cell of `T` with this one handle counted.
        unsafe { Future::from_header(header) }
    }

    /// The handle of the cell at `header`, taking over one counted handle
    /// (or, for the borrowed view of a task, never dropped).
    ///
    /// # Safety
    ///
    /// `header` is a live cell of `T` made by `cell::allocate`.
    pub(crate) unsafe fn from_header(header: NonNull<Header>) -> Self {
        Future {
            inner: header.cast(),
            _owns: PhantomData,
        }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: a handle keeps its cell alive (it is counted in the state
        // word, or it is a task's borrowed view and the task reference is).
        unsafe { self.inner.as_ref() }
    }

    fn header(&self) -> NonNull<Header> {
        self.inner.cast()
    }

    /// The state word, loaded with `Acquire` (pairs with the `Release` of
    /// every completion, so a done word makes the outcome readable).
    pub(crate) fn word(&self) -> Word {
        Word(self.inner().header.state.load(Ordering::Acquire))
    }

    /// Before freeing the cell: synchronizes with the `Release` of every
    /// reference dropped before (they are all in the word's release
    /// sequence). An `Acquire` load of the word rather than an `Acquire`
    /// fence, as `std`'s `Arc` does under ThreadSanitizer: TSan does not
    /// model fences and reported the free as a race (ci/sanitizers.sh). The
    /// load is as strong, and runs once per cell.
    fn acquire_all_releases(&self) {
        let _ = self.inner().header.state.load(Ordering::Acquire);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Listeners<T>> {
        self.inner().listeners.lock()
    }

    /// Whether done-callbacks wait for the completion (`Completer`).
    pub(crate) fn has_done_callbacks(&self) -> bool {
        // Without `BOXED` no callback was ever stored: no lock needed.
        self.word().has(BOXED)
            && self
                .lock()
                .more
                .as_ref()
                .is_some_and(|m| !m.callbacks.is_empty())
    }

    /// The current state.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Future, FutureState};
    /// let f = Future::<()>::new();
    /// f.cancel();
    /// assert_eq!(f.state(), FutureState::Cancelled);
    /// ```
    pub fn state(&self) -> FutureState {
        self.word().state()
    }

    /// Whether the future was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::<()>::new();
    /// assert!(!f.cancelled());
    /// f.cancel();
    /// assert!(f.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.word().is_cancelled()
    }

    /// Whether the task is running now.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::<()>::new();
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
    /// let f = concurrent_futures::Future::new();
    /// assert!(!f.done());
    /// f.set_result(1).unwrap();
    /// assert!(f.done());
    /// ```
    pub fn done(&self) -> bool {
        self.word().is_done()
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
    /// use concurrent_futures::Future;
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
        self.cancel_now() != Cancel::Refused
    }

    /// [`cancel`](Future::cancel), saying whether this call cancelled the
    /// future (`Now`) or found it cancelled (`Already`).
    pub(crate) fn cancel_now(&self) -> Cancel {
        let swap =
            self.inner()
                .header
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                    let w = Word(w);
                    (state::cancel(w.state()) == Cancel::Now)
                        .then(|| w.completed(CANCELLED, false).0)
                });
        match swap {
            Ok(prev) => {
                trace::cancelled(self.id());
                if Word(prev).listened() {
                    self.notify_listeners(Word(prev), Completion::Cancelled, false);
                }
                Cancel::Now
            }
            Err(now) => state::cancel(Word(now).state()),
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
    /// use concurrent_futures::Future;
    /// let f = Future::<()>::new();
    /// assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    /// assert!(f.set_running_or_notify_cancel().is_err());
    /// let c = Future::<()>::new();
    /// c.cancel();
    /// assert_eq!(c.set_running_or_notify_cancel(), Ok(false));
    /// ```
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        // Relaxed: the runner reads nothing on the strength of it (the
        // closure is its own); the completion publishes with `Release`.
        let swap =
            self.inner()
                .header
                .state
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                    let w = Word(w);
                    (w.lifecycle() == PENDING).then(|| w.with_lifecycle(RUNNING).0)
                });
        match swap {
            Ok(_) => {
                trace::started(self.id());
                Ok(true)
            }
            Err(now) => match state::start(Word(now).state())? {
                state::Start::Skip => Ok(false),
                state::Start::Run => unreachable!("the swap refused a pending future"),
            },
        }
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
    /// let f = concurrent_futures::Future::new();
    /// f.set_result("hi").unwrap();
    /// assert_eq!(*f.result().unwrap(), "hi");
    /// assert!(f.set_result("again").is_err());
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.complete(Ok(value), "set_result", false)
            .map_err(|(e, _)| e)
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
    /// use concurrent_futures::{Future, TaskError};
    /// let f = Future::<u8>::new();
    /// f.set_exception(TaskError::broken("pool gone")).unwrap();
    /// assert!(f.result().unwrap_err().task_error().unwrap().is_broken());
    /// ```
    pub fn set_exception(&self, error: TaskError) -> Result<(), InvalidStateError> {
        self.complete(Err(error), "set_exception", false)
            .map_err(|(e, _)| e)
    }

    /// Completes the future as its task's runner: as `set_*`, then releases
    /// the task reference (in the completing swap when nobody listens). A
    /// refused outcome is dropped with panics contained, and the reference
    /// released all the same.
    pub(crate) fn complete_as_task(&self, outcome: Outcome<T>) -> Result<(), InvalidStateError> {
        match self.complete(outcome, "set_result", true) {
            Ok(()) => Ok(()),
            Err((e, outcome)) => {
                unwind::drop_reporting("the result of a task completed by hand", outcome);
                self.release_task();
                Err(e)
            }
        }
    }

    /// Claims the outcome slot, writes it, publishes it (see `state.rs`).
    #[allow(clippy::type_complexity)]
    fn complete(
        &self,
        outcome: Outcome<T>,
        op: &'static str,
        release_task: bool,
    ) -> Result<(), (InvalidStateError, Outcome<T>)> {
        let claim =
            self.inner()
                .header
                .state
                .fetch_update(Ordering::Acquire, Ordering::Acquire, |w| {
                    state::claim(Word(w), op).ok().map(|w| w.0)
                });
        if let Err(now) = claim {
            let e = state::claim(Word(now), op).expect_err("the swap refused the claim");
            if Word(now).lifecycle() == COMPLETING {
                // Another `set_*` won and is writing its outcome (a few
                // instructions, no user code). A refusal says the future is
                // done, so it is not returned before it is: a caller that
                // checks `done()` next must see it (as Java's FutureTask
                // counts its COMPLETING state as done).
                while self.word().lifecycle() == COMPLETING {
                    primitives::thread::yield_now();
                }
            }
            return Err((e, outcome));
        }
        let how = if outcome.is_ok() {
            Completion::Finished
        } else {
            Completion::Failed
        };
        let stored: Stored<T> = outcome.map_err(Box::new);
        // SAFETY: the claim (lifecycle `COMPLETING`) makes this the one
        // writer, and no reader exists before `FINISHED` (`cell.rs`, "Rules of
        // the outcome slot").
        self.inner()
            .outcome
            .with_mut(|slot| unsafe { *slot = Some(stored) });
        self.publish(FINISHED, how, release_task);
        Ok(())
    }

    /// Moves a claimed future to `FINISHED`. `Release` publishes the
    /// outcome; `Acquire` pairs with the `Release` of an inline waiter's
    /// install (`state.rs`, "The inline waiter"), whose slot this swap
    /// claims if it sees `WAITER`. With no listener that is all (and an
    /// executor's reference goes in the same swap); otherwise the listeners
    /// are notified.
    fn publish(&self, to: usize, how: Completion, release_task: bool) {
        let prev = self
            .inner()
            .header
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                Some(Word(w).completed(to, release_task).0)
            })
            .expect("the update always succeeds");
        let prev = Word(prev);
        // Before the listeners (so a callback's events come after it), and
        // before the cell may be freed below.
        trace::finished(
            self.id(),
            if how == Completion::Failed {
                "failed"
            } else {
                "returned"
            },
        );
        if prev.listened() {
            self.notify_listeners(prev, how, release_task);
        } else if release_task && prev.completed(to, true).unreferenced() {
            // Every handle is gone: their `Release` decrements pair with this.
            self.acquire_all_releases();
            // SAFETY: nothing references the cell any more.
            unsafe { (self.inner().header.vtable.dealloc)(self.header()) };
        }
    }

    /// The slow half of a completion, when someone listens (`prev`, the
    /// word before the completing swap, says who): first the inline waiter,
    /// which that swap claimed, without the lock; then, if anything else
    /// listens, the rest (`notify_locked`); else one last swap ends the
    /// completion (`end_inline`).
    fn notify_listeners(&self, prev: Word, how: Completion, release_task: bool) {
        // Nothing here unwinds (`notify_one` catches a waiter's panic), so
        // only the locked part needs the abort guard.
        let first = prev.has(WAITER).then(|| {
            // SAFETY: the completing swap saw `WAITER` (with `Acquire`, after
            // the install's `Release`), so the slot holds an entry and
            // nobody writes it until `SLOT` is cleared, which only this
            // thread does now (a removal of a done future waits for it).
            // This copy is the one that is dropped: the slot counts as empty
            // once `WAITER` is clear.
            let entry = self
                .inner()
                .waiter
                .with(|slot| unsafe { (*slot).assume_init_read() });
            notify_one(&entry, how);
            entry
        });
        if prev.has(LISTENING) {
            let early_owner = self.notify_locked(how, first.is_some());
            drop_entry(first);
            self.end_notified(early_owner, release_task);
        } else {
            self.end_inline(release_task);
            drop_entry(first);
        }
    }

    /// The completion of a future whose one listener was the inline waiter,
    /// notified already: one swap frees the slot (a removal waiting for that
    /// is woken below, having set `OWNER_WAITING`), sets `NOTIFIED` and, for
    /// an executor, drops its reference (unless an owner must be woken
    /// first: the cell must stay alive for that).
    fn end_inline(&self, release_task: bool) {
        let mut released = false;
        // Release: the notify happens-before a removal that sees `WAITER`
        // clear; Acquire: to free the cell (every handle's drop) below.
        let prev = self
            .inner()
            .header
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                let w = Word(w);
                released = release_task && !w.has(OWNER_WAITING);
                let mut next = (w.0 & !(WAITER | SLOT)) | NOTIFIED;
                if released {
                    next &= !TASK;
                }
                Some(next)
            })
            .expect("the update always succeeds");
        let prev = Word(prev);
        if prev.has(OWNER_WAITING) {
            self.wake_owner(None);
            if release_task {
                self.release_task();
            }
        } else if released && Word(prev.0 & !TASK).unreferenced() {
            // SAFETY: nothing references the cell any more (the swap above
            // acquired every handle's release).
            unsafe { (self.inner().header.vtable.dealloc)(self.header()) };
        }
    }

    /// Under the lock: take every listener and notify the waiters; after
    /// it, wake sleepers and wakers and run the callbacks, in order, then
    /// those added while they ran (`DRAINING`, `cell.rs`). Returns the waker of
    /// an owned `.await` found waiting. `inline`: the inline waiter was
    /// notified already, and its slot is freed here.
    fn notify_locked(&self, how: Completion, inline: bool) -> Option<Waker> {
        let inner = self.inner();
        let section = AbortOnUnwind::new("the notification of a future's listeners");
        let mut g = self.lock();
        // Under the lock: a listener added from now on sees the future done;
        // a removal of the inline waiter (notified already) may go on. A
        // `SLOT` without `WAITER` is an install in progress: its own.
        let clear = if inline {
            LISTENING | WAITER | SLOT
        } else {
            LISTENING
        };
        inner.header.state.fetch_and(!clear, Ordering::Release);
        let sleepers = g.sleepers_cond();
        let (mut waiters, mut wakers, mut callbacks, mut early_owner) = Default::default();
        if let Some(m) = g.more.as_mut() {
            m.waiters.iter().for_each(|e| notify_one(e, how));
            waiters = mem::take(&mut m.waiters);
            wakers = mem::take(&mut m.wakers);
            callbacks = mem::take(&mut m.callbacks);
            early_owner = m.owner_waker.take();
            m.set_draining(!callbacks.is_empty());
        }
        // The box stays while callbacks run: one added meanwhile is queued
        // in it (`add_done_callback`); and while threads sleep on its
        // condvar (`cell.rs`, "Rules of the boxed part"). Otherwise it goes,
        // and a late listener makes a new one.
        let gone = if callbacks.is_empty() && sleepers.is_none() {
            g.more.take()
        } else {
            None
        };
        drop(g);
        section.disarm();
        // Signal after unlocking, so a woken reader does not block at once
        // on the lock. Sleepers re-check the word, changed before the lock
        // was released: nothing is missed.
        if let Some(cond) = sleepers {
            // SAFETY: the box was kept (above) and only `dealloc` drops it
            // now; this caller holds a reference to the future.
            unsafe { (*cond).notify_all() };
        }
        for (_, waker) in wakers {
            unwind::catch_and_report("a waker of an awaited future", || waker.wake());
        }
        while !callbacks.is_empty() {
            callbacks::run_all(self, callbacks);
            let mut g = self.lock();
            let m = g.more.as_mut().expect("the box stays while callbacks run");
            callbacks = mem::take(&mut m.callbacks);
            m.set_draining(!callbacks.is_empty());
        }
        // Waiters' last references may be ours: their `Drop` is user code,
        // outside the lock.
        if !waiters.is_empty() || gone.is_some() {
            unwind::drop_reporting("a waiter", (waiters, gone));
        }
        early_owner
    }

    /// Marks the completion over (`NOTIFIED`), wakes an owner waiting for
    /// that, and drops an executor's reference.
    fn end_notified(&self, early_owner: Option<Waker>, release_task: bool) {
        // Release: the callbacks' reads of the outcome happen-before an
        // owner's take (it loads `NOTIFIED` with `Acquire`).
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_or(NOTIFIED, Ordering::AcqRel),
        );
        if prev.has(OWNER_WAITING) || early_owner.is_some() {
            self.wake_owner(early_owner);
        }
        if release_task {
            self.release_task();
        }
    }

    /// Wakes whoever waits for the end of the completion: threads on the
    /// condvar (an owner, a removal of the inline waiter) and an owned
    /// `.await`'s waker. The lock orders this after a sleeper's check.
    fn wake_owner(&self, early_owner: Option<Waker>) {
        let (owner, sleepers) = {
            let mut g = self.lock();
            let owner = g.more.as_mut().and_then(|m| m.owner_waker.take());
            (owner, g.sleepers_cond())
        };
        if let Some(cond) = sleepers {
            // SAFETY: the completion's notification is over, so only
            // `dealloc` drops the box now; this caller holds a reference.
            unsafe { (*cond).notify_all() };
        }
        for waker in [early_owner, owner].into_iter().flatten() {
            unwind::catch_and_report("the waker of an owned await", || waker.wake());
        }
    }

    /// Drops the executor's reference (the `TASK` bit). Frees the cell if
    /// no handle is left.
    pub(crate) fn release_task(&self) {
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_and(!TASK, Ordering::Release),
        );
        debug_assert!(prev.has(TASK));
        if Word(prev.0 & !TASK).unreferenced() {
            self.acquire_all_releases();
            // SAFETY: nothing references the cell any more.
            unsafe { (self.inner().header.vtable.dealloc)(self.header()) };
        }
    }

    /// Runs `task` as an executor does: unless the future was cancelled, marks
    /// it running, runs `task` (a panic becomes [`TaskError::Panicked`]) and
    /// stores its value. Returns whether the task ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::new();
    /// assert!(f.run(|| 2 + 2));
    /// assert_eq!(*f.result().unwrap(), 4);
    /// let p = concurrent_futures::Future::<()>::new();
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
    /// let f = concurrent_futures::Future::<u32>::new();
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
        // Refused only if a `set_*` by hand completed the running future.
        if let Err((_, outcome)) = self.complete(outcome, "set_result", false) {
            unwind::drop_reporting("the result of a task completed by hand", outcome);
        }
        true
    }

    /// Runs `add` on the listener list, unless the future is done: then
    /// returns the done word and adds nothing. The `fetch_or` and the
    /// completion's swap are ordered (`state.rs`): if this one saw the future
    /// not done, the completion sees `LISTENING` and notifies.
    fn listen<R>(
        &self,
        g: &mut MutexGuard<'_, Listeners<T>>,
        add: impl FnOnce(&mut Listeners<T>) -> R,
    ) -> Result<R, Word> {
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_or(LISTENING, Ordering::AcqRel),
        );
        if prev.is_done() {
            if !prev.has(LISTENING) {
                self.inner()
                    .header
                    .state
                    .fetch_and(!LISTENING, Ordering::Relaxed);
            }
            return Err(prev);
        }
        Ok(add(g))
    }

    /// Clears `LISTENING` when the last listener left a pending future, so
    /// its completion takes the lock-free path again. Under the lock.
    fn unlisten_if_empty(&self, g: &MutexGuard<'_, Listeners<T>>) {
        if g.is_empty() {
            self.inner()
                .header
                .state
                .fetch_and(!LISTENING, Ordering::Relaxed);
        }
    }

    /// Blocks on the condvar until `ready(word)` or `deadline`; returns
    /// whether it became ready. `flag` is set in the word first (with the
    /// lock held), so the completion knows it must wake us.
    fn sleep_until(
        &self,
        flag: usize,
        ready: impl Fn(Word) -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        let inner = self.inner();
        let mut g = self.lock();
        let prev = Word(inner.header.state.fetch_or(flag, Ordering::AcqRel));
        if ready(prev) {
            if flag == LISTENING && !prev.has(LISTENING) {
                inner.header.state.fetch_and(!LISTENING, Ordering::Relaxed);
            }
            return true;
        }
        let cond = g.add_sleeper(&inner.header.state);
        let ready_now = loop {
            if ready(self.word()) {
                break true;
            }
            let Some(nap) = Nap::until(deadline) else {
                break false;
            };
            // SAFETY: counted as a sleeper, so the box stays (`cell.rs`).
            g = unsafe { (*cond).nap(g, nap) };
        };
        g.remove_sleeper();
        if !ready_now && flag == LISTENING {
            self.unlisten_if_empty(&g);
        }
        ready_now
    }

    /// Blocks until done or until `deadline`; returns whether it is done.
    fn wait_done(&self, deadline: Option<Instant>) -> bool {
        if self.done() {
            return true;
        }
        // A result that is microseconds away is cheaper to spin for than to
        // sleep for (no futex wait here, no wake syscall in the completer).
        // Short timeouts (`Duration::ZERO` among them) only look.
        let long_wait = deadline.is_none_or(|d| d > Instant::now() + SPIN_MIN_TIMEOUT);
        if long_wait && primitives::backoff(|| self.done()) {
            return true;
        }
        self.sleep_until(LISTENING, Word::is_done, deadline)
    }

    /// Blocks until the completion is over (`NOTIFIED`: callbacks
    /// returned). Only for a done future.
    fn wait_notified(&self) {
        let notified = |w: Word| w.has(NOTIFIED);
        if notified(self.word()) || primitives::backoff(|| notified(self.word())) {
            return;
        }
        self.sleep_until(OWNER_WAITING, notified, None);
    }

    /// The stored outcome; `None` if cancelled. Call only once done.
    fn outcome(&self) -> Option<&Stored<T>> {
        debug_assert!(self.done());
        // SAFETY: the caller saw the future done, so the single write
        // happened-before (`cell.rs`); it is taken only by a unique handle,
        // so never while this one lives: the shared borrow, tied to `&self`,
        // stays valid.
        self.inner()
            .outcome
            .with(|slot| unsafe { (*slot).as_ref() })
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
    /// let f = concurrent_futures::Future::new();
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
    /// let f = concurrent_futures::Future::<()>::new();
    /// assert!(f.exception_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<&TaskError>, FutureError> {
        if !self.wait_done(primitives::deadline(timeout)) {
            return Err(FutureError::timeout());
        }
        self.exception_now()
    }

    fn exception_now(&self) -> Result<Option<&TaskError>, FutureError> {
        match self.outcome() {
            None => Err(FutureError::Cancelled),
            Some(o) => Ok(o.as_ref().err().map(|e| &**e)),
        }
    }

    /// Waits for the task and takes its value: the owning accessor, with no
    /// `T: Clone` bound.
    ///
    /// It waits for the task only (and for the future's done-callbacks to
    /// return, since they borrow it), never for other handles: the
    /// executor's own reference does not count as one. If other handles of
    /// this future are alive when it is done (a clone kept in a `HashMap`, in
    /// another thread), it returns [`FutureError::NotUnique`] at once, which
    /// says how many; the value stays for them. Borrow it instead with
    /// [`result`](Future::result) or `(&f).await`, or drop the other handles
    /// first.
    ///
    /// # Errors
    ///
    /// [`FutureError::Cancelled`], [`FutureError::Failed`] with the task's
    /// error (taken, or cloned if other handles are alive), or
    /// [`FutureError::NotUnique`].
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::new();
    /// f.set_result(vec![1, 2, 3]).unwrap();
    /// let g = f.clone();
    /// assert_eq!(g.into_result().unwrap_err().to_string(),
    ///     "cannot take the value of a future while 1 other handle of it is alive: \
    ///      borrow it with result() or (&future).await, or drop the other handles first");
    /// let v: Vec<i32> = f.into_result().unwrap(); // the last handle takes it
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    #[inline]
    pub fn into_result(self) -> Result<T, FutureError> {
        // The common case, inline: finished, its completion over, and this
        // the only handle (`Acquire`: see `refuse_take`).
        let w = self.word();
        if w.lifecycle() == FINISHED && w.has(NOTIFIED) && w.handles() == 1 {
            return self.take();
        }
        self.into_result_until(None)
    }

    /// [`into_result`](Future::into_result) with a timeout. On a timeout
    /// this handle is dropped (the task goes on); to keep it, wait with
    /// [`result_timeout`](Future::result_timeout) first. The timeout bounds
    /// the wait for the task: once it is done, this waits for its
    /// done-callbacks still running (they borrow the value), however long
    /// they take, rather than drop a value that came in time.
    ///
    /// # Errors
    ///
    /// [`FutureError::Timeout`] if the task is not done in time, otherwise as
    /// [`into_result`](Future::into_result).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let f = concurrent_futures::Future::<u8>::new();
    /// assert!(f.into_result_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn into_result_timeout(self, timeout: Duration) -> Result<T, FutureError> {
        self.into_result_until(primitives::deadline(timeout))
    }

    fn into_result_until(self, deadline: Option<Instant>) -> Result<T, FutureError> {
        if !self.wait_done(deadline) {
            return Err(FutureError::timeout());
        }
        if let Some(refused) = self.refuse_take() {
            return Err(refused);
        }
        if !self.word().has(NOTIFIED) {
            if reentry::inside(self.id()) {
                return Err(FutureError::not_unique(0, true));
            }
            // The task is done: the deadline was for it. The done-callbacks
            // still running borrow the value, so they are waited for to the
            // end; a timeout here would drop this handle, and with it the
            // value, though the task finished in time.
            self.wait_notified();
            // A callback may have kept a clone.
            if let Some(refused) = self.refuse_take() {
                return Err(refused);
            }
        }
        self.take()
    }

    /// Why a done future's value cannot be taken through this handle, if it
    /// cannot: cancelled, failed with other handles alive (a clone of the
    /// error then), or other handles alive. `Acquire` (in `word`) pairs with
    /// the `Release` decrement of every dropped handle.
    ///
    /// A hand-written executor often drops its clone right after `set_*`
    /// returns; a brief backoff (microseconds, bounded) lets that drop land
    /// before the refusal in the common case. It cannot rule the race out (a
    /// setter preempted between its set and its drop still makes this
    /// `NotUnique`), which is why such an executor should complete through a
    /// `Completer`, which is not a handle.
    fn refuse_take(&self) -> Option<FutureError> {
        let w = self.word();
        if w.is_cancelled() {
            return Some(FutureError::Cancelled);
        }
        if w.handles() == 1 || primitives::backoff(|| self.word().handles() == 1) {
            return None;
        }
        let others = self.word().handles() - 1;
        Some(match self.outcome() {
            Some(Err(e)) => FutureError::Failed((**e).clone()),
            _ => FutureError::not_unique(others, false),
        })
    }

    /// Takes the value if the future is done, its callbacks returned, and
    /// this is the only handle; gives the handle back otherwise. Never
    /// blocks.
    ///
    /// # Errors
    ///
    /// `Err(self)` if the future is not done or other handles exist.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = concurrent_futures::Future::new();
    /// let g = f.clone();
    /// f.set_result(1).unwrap();
    /// let f = f.try_into_result().unwrap_err(); // `g` is still alive
    /// drop(g);
    /// assert_eq!(f.try_into_result().ok().unwrap().unwrap(), 1);
    /// ```
    pub fn try_into_result(self) -> Result<Result<T, FutureError>, Self> {
        let w = self.word();
        if !w.is_done() {
            return Err(self);
        }
        if w.is_cancelled() {
            return Ok(Err(FutureError::Cancelled));
        }
        if w.handles() != 1 || !w.has(NOTIFIED) {
            return Err(self);
        }
        Ok(self.take())
    }

    /// Takes the outcome out. Only for the one handle of a finished future
    /// whose completion is over.
    fn take(self) -> Result<T, FutureError> {
        debug_assert!({
            let w = self.word();
            w.handles() == 1 && w.has(NOTIFIED)
        });
        // SAFETY: this is the only handle and the completion is over (both
        // seen with `Acquire`, see `cell.rs`), so every other access happened
        // before; the handle is consumed here, so no borrow of the slot can
        // exist or be made later.
        let outcome = self
            .inner()
            .outcome
            .with_mut(|slot| unsafe { (*slot).take() });
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(FutureError::Failed(*e)),
            None => Err(FutureError::Cancelled),
        }
    }

    /// Adds a callback that runs once the future is done, with the future as
    /// its argument: in the thread that completes it, in the order added, or
    /// at once in this thread if it is already done. A callback that panics
    /// is reported on stderr; the others still run.
    ///
    /// The order holds even when a callback is added while the future
    /// completes: if the completing thread has yet to run, or is running,
    /// callbacks added before, the new one runs after them, on that thread
    /// (CPython runs it at once in the adding thread, ahead of them).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::Future;
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
        // The completion is over: nothing runs callbacks any more.
        if self.word().has(NOTIFIED) {
            return callbacks::run_one(self, callback);
        }
        let mut g = self.lock();
        let mut slot = Some(callback);
        let state = &self.inner().header.state;
        let added = self.listen(&mut g, |l| l.more(state).callbacks.extend(slot.take()));
        if added.is_err() {
            // Done: behind the callbacks its completion has yet to take
            // (it takes them under this lock) or is running.
            if let Some(m) = g
                .more
                .as_mut()
                .filter(|m| m.draining() || !m.callbacks.is_empty())
            {
                m.callbacks.extend(slot.take());
            }
        }
        drop(g);
        if let Some(callback) = slot {
            callbacks::run_one(self, callback);
        }
    }

    /// Ready once done; otherwise registers (or refreshes) the waker under
    /// `key`, which the completion wakes. An abandoned await removes it with
    /// [`forget_waker`](Future::forget_waker).
    pub(crate) fn poll_done(&self, key: &mut Option<u64>, cx: &Context<'_>) -> Poll<()> {
        if self.done() {
            return Poll::Ready(());
        }
        let mut g = self.lock();
        let mut replaced = None;
        let added = self.listen(&mut g, |l| {
            let more = l.more(&self.inner().header.state);
            let entry = key.and_then(|k| more.wakers.iter_mut().find(|(ek, _)| *ek == k));
            match entry {
                Some((_, w)) => {
                    if !w.will_wake(cx.waker()) {
                        replaced = Some(mem::replace(w, cx.waker().clone()));
                    }
                }
                None => {
                    let k = more.next_key;
                    more.next_key += 1;
                    more.wakers.push((k, cx.waker().clone()));
                    *key = Some(k);
                }
            }
        });
        drop(g);
        // A waker's `Drop` is runtime code: never under the lock.
        drop(replaced);
        match added {
            Ok(()) => Poll::Pending,
            Err(_) => Poll::Ready(()),
        }
    }

    /// Removes the waker registered under `key` (an await dropped before
    /// the future was done), so nothing of it stays on the future.
    pub(crate) fn forget_waker(&self, key: u64) {
        if self.done() {
            return;
        }
        let mut g = self.lock();
        let removed = g.more.as_mut().and_then(|m| {
            let i = m.wakers.iter().position(|(k, _)| *k == key)?;
            Some(m.wakers.swap_remove(i))
        });
        self.unlisten_if_empty(&g);
        drop(g);
        drop(removed);
    }

    /// For an owned `.await` of a done future: ready once the completion is
    /// over (or if the value cannot be taken); otherwise registers the waker
    /// for `NOTIFIED`.
    pub(crate) fn poll_owned(&self, cx: &Context<'_>) -> Poll<Option<FutureError>> {
        if let Some(refused) = self.refuse_take() {
            return Poll::Ready(Some(refused));
        }
        if self.word().has(NOTIFIED) {
            return Poll::Ready(None);
        }
        if reentry::inside(self.id()) {
            return Poll::Ready(Some(FutureError::not_unique(0, true)));
        }
        let mut g = self.lock();
        let old = g
            .more(&self.inner().header.state)
            .owner_waker
            .replace(cx.waker().clone());
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_or(OWNER_WAITING, Ordering::AcqRel),
        );
        let mine = prev
            .has(NOTIFIED)
            .then(|| g.more.as_mut().and_then(|m| m.owner_waker.take()));
        drop(g);
        drop((old, mine));
        if prev.has(NOTIFIED) {
            return Poll::Ready(self.refuse_take());
        }
        Poll::Pending
    }

    /// Takes the value for an owned `.await` that `poll_owned` let through.
    pub(crate) fn take_owned(self) -> Result<T, FutureError> {
        match self.refuse_take() {
            Some(refused) => Err(refused),
            None => self.take(),
        }
    }

    /// Drops the waker an abandoned owned `.await` left for `NOTIFIED`.
    pub(crate) fn forget_owner_waker(&self) {
        let mut g = self.lock();
        let w = g.more.as_mut().and_then(|m| m.owner_waker.take());
        drop(g);
        drop(w);
    }

    /// The future's identity (the address of its cell).
    pub(crate) fn id(&self) -> usize {
        self.inner.as_ptr() as *const () as usize
    }

    fn completion_of(&self, w: Word) -> Completion {
        if w.is_cancelled() {
            return Completion::Cancelled;
        }
        match self.outcome() {
            Some(Ok(_)) => Completion::Finished,
            _ => Completion::Failed,
        }
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
    /// let f = concurrent_futures::Future::new();
    /// f.set_result(String::from("done")).unwrap();
    /// let a: &String = f.result().unwrap();
    /// let b: &String = f.result().unwrap();
    /// assert_eq!(a, b);
    /// ```
    #[inline]
    pub fn result(&self) -> Result<&T, FutureError> {
        // The common case, inline: finished with a value (`Acquire`, in
        // `word`, makes the outcome visible: `cell.rs`).
        if self.word().lifecycle() == FINISHED {
            if let Some(Ok(v)) = self.outcome() {
                return Ok(v);
            }
        }
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
    /// let f = concurrent_futures::Future::<i32>::new();
    /// assert!(f.result_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<&T, FutureError> {
        if !self.wait_done(primitives::deadline(timeout)) {
            return Err(FutureError::timeout());
        }
        self.result_now()
    }

    pub(crate) fn result_now(&self) -> Result<&T, FutureError> {
        match self.outcome() {
            None => Err(FutureError::Cancelled),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(FutureError::Failed((**e).clone())),
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
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_add(HANDLE_ONE, Ordering::Relaxed),
        );
        if prev.handles() > MAX_HANDLES {
            std::process::abort();
        }
        Future {
            inner: self.inner,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        // The last reference (the executor's is gone too): nobody else can
        // reach the word, so nothing needs to hear of this drop, and the cell
        // is freed without the decrement (one atomic read-modify-write less
        // per task, on the thread that reads the results). `Acquire`, in
        // `word`, pairs with the `Release` of every other reference's end.
        let w = self.word();
        if w.handles() == 1 && !w.has(TASK) {
            // SAFETY: this handle is the only reference left (above).
            unsafe { (self.inner().header.vtable.dealloc)(self.header()) };
            return;
        }
        // Release: this handle's reads of the outcome happen-before the take
        // by the last handle, and before the free.
        let prev = Word(
            self.inner()
                .header
                .state
                .fetch_sub(HANDLE_ONE, Ordering::Release),
        );
        if Word(prev.0 - HANDLE_ONE).unreferenced() {
            // Pairs with the `Release` of every other reference's drop.
            self.acquire_all_releases();
            // SAFETY: nothing references the cell any more.
            unsafe { (self.inner().header.vtable.dealloc)(self.header()) };
        }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The address, folded to 32 bits: half the input for SipHash (no
        // block to compress before the final rounds, about 30 instructions
        // less per insert into a `std` `HashSet`); equal futures still hash
        // equal, and cells a few GiB apart rarely collide. `wait`'s result
        // sets skip SipHash altogether (the wait crate's `IdHasher`).
        let id = self.id() as u64;
        state.write_u32((id ^ (id >> 32)) as u32);
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
        self.install(WaiterRef::owned(waiter), token)
    }

    unsafe fn install_waiter_unowned(
        &self,
        waiter: &StdArc<dyn Waiter>,
        token: usize,
    ) -> Option<Completion> {
        // The caller keeps the waiter alive until `remove_waiter` returns or
        // it has seen the notify (the contract); both come after the last
        // use of the pointer: a listed waiter's `notify` runs under this
        // future's lock, which `remove_waiter` takes unless `NOTIFIED` says
        // the notify is over, and the inline waiter's comes before the step
        // that frees the slot, which `remove_waiter` waits for.
        self.install(WaiterRef::borrowed(waiter), token)
    }

    fn remove_waiter(&self, waiter: &StdArc<dyn Waiter>) {
        // `NOTIFIED` (Acquire, set after the waiters were notified and let
        // go) says no notify is running; a done word alone does not (the
        // notify may not have run yet).
        if self.word().has(NOTIFIED) {
            return;
        }
        // The lock orders removals among themselves: the slot is read
        // only while no other removal can free it (and an install refill
        // it).
        let (mut g, inline) = self.remove_inline(self.lock(), waiter);
        let mut removed = Vec::new();
        if let Some(m) = g.more.as_mut() {
            let (gone, keep) = mem::take(&mut m.waiters)
                .into_iter()
                .partition(|(w, _)| w.is(waiter));
            m.waiters = keep;
            removed = gone;
        }
        self.unlisten_if_empty(&g);
        drop(g);
        // The last reference may be ours: its `Drop` runs outside the lock.
        drop((inline, removed));
    }

    fn completion(&self) -> Option<Completion> {
        let w = self.word();
        w.is_done().then(|| self.completion_of(w))
    }

    fn id(&self) -> usize {
        Future::id(self)
    }
}

impl<T: Send> Future<T> {
    /// Stores `waiter` with `token`, unless the future is done: then drops
    /// it (never the last reference: the caller holds one) and returns how
    /// the future ended. The inline slot if it is free, without the lock
    /// (`state.rs`, "The inline waiter"), else the list under the lock.
    fn install(&self, waiter: WaiterRef, token: usize) -> Option<Completion> {
        let state = &self.inner().header.state;
        // Acquire: a done word makes the outcome readable, and a completion
        // or removal that freed the slot is done with it.
        let claim = state.fetch_update(Ordering::Acquire, Ordering::Acquire, |w| {
            let w = Word(w);
            (!w.is_done() && !w.has(SLOT)).then_some(w.0 | SLOT)
        });
        match claim {
            Ok(_) => self.install_inline((waiter, token)),
            Err(now) if Word(now).is_done() => Some(self.completion_of(Word(now))),
            Err(_) => {
                let mut g = self.lock();
                let added = self.listen(&mut g, move |l| {
                    l.more(&self.inner().header.state)
                        .waiters
                        .push((waiter, token));
                });
                drop(g);
                added.err().map(|w| self.completion_of(w))
            }
        }
    }

    /// Writes `entry` into the inline slot, which this thread took (`SLOT`),
    /// and publishes it; takes it back if the future was done meanwhile.
    fn install_inline(&self, entry: Entry) -> Option<Completion> {
        let state = &self.inner().header.state;
        self.inner().waiter.with_mut(|slot| {
            // SAFETY: this thread set `SLOT`, so it is the slot's one
            // writer, and nobody reads the slot before `WAITER` is set.
            unsafe { (*slot).write(entry) }
        });
        // Release: the slot is written before a completion sees the bit.
        let prev = Word(state.fetch_or(WAITER, Ordering::AcqRel));
        if !prev.is_done() {
            return None;
        }
        // Done before the bit was set: no completion saw it. Take it back
        // (the slot stays ours: nobody takes it on a done future).
        let entry = self.inner().waiter.with(|slot| {
            // SAFETY: written above, and ours (see above).
            unsafe { (*slot).assume_init_read() }
        });
        state.fetch_and(!(WAITER | SLOT), Ordering::Relaxed);
        drop(entry);
        Some(self.completion_of(prev))
    }

    /// Under the lock: takes `waiter` out of the inline slot if it is there,
    /// so that no completion notifies it; if a completion is notifying it
    /// now, waits until that is over (on the condvar).
    fn remove_inline<'a>(
        &'a self,
        mut g: MutexGuard<'a, Listeners<T>>,
        waiter: &StdArc<dyn Waiter>,
    ) -> (MutexGuard<'a, Listeners<T>>, Option<Entry>) {
        let state = &self.inner().header.state;
        loop {
            // Acquire: pairs with the install's `Release` (the slot's
            // contents) and with the `Release` that freed the slot.
            let w = self.word();
            if !w.has(WAITER) {
                return (g, None);
            }
            let entry = self.inner().waiter.with(|slot| {
                // SAFETY: `WAITER` was set, so the slot holds an entry, and
                // nobody writes it until `SLOT` is cleared: by a completion
                // of the future (after which it is done, so no install takes
                // the slot again) or by a removal (ordered with this one by
                // the lock). A completion only reads it. This copy counts
                // only if the swap below frees the slot; otherwise it is
                // forgotten.
                unsafe { (*slot).assume_init_read() }
            });
            if !entry.0.is(waiter) {
                mem::forget(entry);
                return (g, None);
            }
            if !w.is_done() {
                // Fails if a completion swapped first: it then owns the
                // notify, and the next round waits for it. Release: the read
                // above happens-before the write of an install that takes
                // the freed slot (its claim acquires this swap).
                let free = w.0 & !(WAITER | SLOT);
                if state
                    .compare_exchange(w.0, free, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return (g, Some(entry));
                }
                mem::forget(entry);
                continue;
            }
            mem::forget(entry);
            // The completion claimed the waiter and notifies it without the
            // lock; it frees the slot at the end and then wakes the condvar:
            // under the lock if it sees `OWNER_WAITING` (set here first), or
            // after freeing the slot under the lock, where it counts the
            // sleepers.
            let prev = Word(state.fetch_or(OWNER_WAITING, Ordering::AcqRel));
            if prev.has(WAITER) {
                let cond = g.add_sleeper(state);
                // SAFETY: counted as a sleeper, so the box stays (`cell.rs`).
                g = unsafe { (*cond).wait(g) };
                g.remove_sleeper();
            }
        }
    }
}

/// Drops the inline waiter's entry after its notify. A borrowed waiter
/// (`wait`, `as_completed`) has nothing to drop.
fn drop_entry(entry: Option<Entry>) {
    if entry.as_ref().is_some_and(|(w, _)| w.is_owned()) {
        unwind::drop_reporting("a waiter", entry);
    }
}

/// Notifies one waiter of `how`; a panic is reported, not propagated.
fn notify_one((w, token): &Entry, how: Completion) {
    if let Err(message) = unwind::catch(|| w.get().notify(*token, how)) {
        unwind::report_as(
            DiagnosticKind::WaiterPanicked,
            "a waiter's notify",
            &message,
        );
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
            let _ = self.0.completion();
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

    // SAFETY: `notify` does nothing.
    unsafe impl Waiter for WaiterLookingAtFuture {
        fn notify(&self, _: usize, _: Completion) {}
    }

    impl Drop for WaiterLookingAtFuture {
        fn drop(&mut self) {
            let f = self.0.clone();
            f.remove_waiter(&(StdArc::new(NopWaiter) as StdArc<dyn Waiter>));
        }
    }

    struct NopWaiter;
    // SAFETY: `notify` does nothing.
    unsafe impl Waiter for NopWaiter {
        fn notify(&self, _: usize, _: Completion) {}
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

    #[test]
    fn handle_count_follows_clones_and_ignores_the_task() {
        let (task, f) = crate::Task::new(|| 1u8);
        let g = f.clone();
        assert_eq!(f.word().handles(), 2);
        assert!(f.word().has(TASK));
        drop(g);
        assert_eq!(f.word().handles(), 1);
        task.run();
        let w = f.word();
        assert!(
            !w.has(TASK) && w.has(NOTIFIED) && !w.has(LISTENING),
            "{w:?}"
        );
        assert_eq!(f.into_result().unwrap(), 1);
    }

    #[test]
    fn a_removed_listener_gives_back_the_lock_free_completion() {
        let f = Future::<u8>::new();
        let w: StdArc<dyn Waiter> = StdArc::new(NopWaiter);
        assert_eq!(f.install_waiter(&w, 0), None);
        assert!(f.word().has(WAITER) && !f.word().has(LISTENING));
        f.remove_waiter(&w);
        assert!(!f.word().has(WAITER) && !f.word().has(LISTENING));
        assert_eq!(StdArc::strong_count(&w), 1, "the future kept no reference");
        assert!(f.result_timeout(Duration::ZERO).is_err());
        assert!(!f.word().has(LISTENING), "a timed-out look leaves nothing");
    }

    #[test]
    fn the_first_waiter_is_stored_inline() {
        let f = Future::<u8>::new();
        let w: StdArc<dyn Waiter> = StdArc::new(NopWaiter);
        assert_eq!(f.install_waiter(&w, 0), None);
        assert!(f.lock().more.is_none(), "no allocation for one waiter");
        f.set_result(1).unwrap();
        assert_eq!(StdArc::strong_count(&w), 1);
        let word = f.word();
        assert!(word.has(NOTIFIED) && !word.has(WAITER), "{word:?}");
    }

    /// A waiter that counts its notifications by token.
    #[derive(Default)]
    struct Tally(std::sync::Mutex<Vec<usize>>);

    // SAFETY: `notify` takes only its own lock, briefly.
    unsafe impl Waiter for Tally {
        fn notify(&self, token: usize, _: Completion) {
            self.0.lock().unwrap().push(token);
        }
    }

    #[test]
    fn inline_and_listed_waiters_are_each_notified_once() {
        let tally = StdArc::new(Tally::default());
        let (a, b): (StdArc<dyn Waiter>, StdArc<dyn Waiter>) = (tally.clone(), tally.clone());
        let other: StdArc<dyn Waiter> = StdArc::new(Tally::default());
        let f = Future::<u8>::new();
        assert_eq!(f.install_waiter(&a, 1), None); // inline
        assert_eq!(f.install_waiter(&other, 9), None); // listed
        f.remove_waiter(&other);
        assert_eq!(f.install_waiter(&b, 2), None); // listed (same object as `a`)
        f.add_done_callback(|_| {});
        f.set_result(0).unwrap();
        let mut got = tally.0.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(
            StdArc::strong_count(&tally),
            3,
            "the future dropped its clones"
        );
        let word = f.word();
        assert!(!word.has(WAITER) && !word.has(LISTENING) && word.has(NOTIFIED));
        // Removing the inline waiter frees the slot for the next one.
        let g = Future::<u8>::new();
        assert_eq!(g.install_waiter(&a, 3), None);
        g.remove_waiter(&a);
        assert_eq!(g.install_waiter(&other, 4), None);
        assert!(g.lock().more.is_none(), "the slot was free again");
        g.cancel();
        assert!(
            tally.0.lock().unwrap().len() == 2,
            "a removed waiter is not notified"
        );
    }

    #[test]
    fn a_dropped_pending_future_drops_its_inline_waiter() {
        let w: StdArc<dyn Waiter> = StdArc::new(NopWaiter);
        let f = Future::<u8>::new();
        assert_eq!(f.install_waiter(&w, 0), None);
        assert_eq!(StdArc::strong_count(&w), 2);
        drop(f);
        assert_eq!(StdArc::strong_count(&w), 1);
    }

    /// A thread blocked on the boxed part's condvar holds a reference to it
    /// while the lock holder changes the rest of the box (here: a callback
    /// added, a second reader). The two must not overlap: Miri (Stacked
    /// Borrows) runs this test.
    #[test]
    fn listeners_added_while_a_thread_sleeps_leave_its_condvar_alone() {
        let f = Future::<u64>::new();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let g = f.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(*g.result().unwrap());
                });
                rx
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while f.lock().more.as_ref().is_none_or(|m| m.sleepers() < 2) {
            assert!(
                Instant::now() < deadline,
                "the two readers did not block in result() within 10 s"
            );
            std::thread::yield_now();
        }
        let (tx, called) = std::sync::mpsc::channel();
        f.add_done_callback(move |_| {
            let _ = tx.send(());
        });
        f.set_result(3).unwrap();
        assert_eq!(called.recv_timeout(Duration::from_secs(10)), Ok(()));
        for rx in readers {
            assert_eq!(
                rx.recv_timeout(Duration::from_secs(10)),
                Ok(3),
                "a reader was not woken"
            );
        }
    }

    /// The condvar of blocked threads lives in the boxed part, so the
    /// completion must keep the box while a thread sleeps on it (`cell.rs`,
    /// "Rules of the boxed part"); otherwise the sleeper wakes on freed
    /// memory (Miri runs this test).
    #[test]
    fn a_blocked_reader_keeps_the_box_its_condvar_is_in() {
        for round in 0..if cfg!(miri) { 2 } else { 20 } {
            let f = Future::<u64>::new();
            let g = f.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(*g.result().unwrap());
            });
            let deadline = Instant::now() + Duration::from_secs(10);
            while f.lock().more.as_ref().is_none_or(|m| m.sleepers() == 0) {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: the reader did not block in result() within 10 s"
                );
                std::thread::yield_now();
            }
            f.set_result(5).unwrap();
            assert!(
                f.lock().more.is_some(),
                "round {round}: the completion dropped the box a thread sleeps in"
            );
            let got = rx.recv_timeout(Duration::from_secs(10));
            assert_eq!(
                got,
                Ok(5),
                "round {round}: the blocked reader was not woken"
            );
        }
    }
}
