//! The waiter hook: how `wait` and `as_completed` (crate
//! `concurrent-futures-wait`) learn that futures completed, without polling.
//!
//! # Protocol
//!
//! A [`Waiter`] is installed on each future with
//! [`Waitable::install_waiter`] (through the future's state word, or under
//! its lock for a second waiter): if the future is
//! already done, nothing is installed and its [`Completion`] is returned;
//! otherwise the waiter is stored, and the future calls [`Waiter::notify`]
//! exactly once, in the completion that makes it done (`set_result`,
//! `set_exception` or `cancel`): a future's first waiter sits in a slot
//! outside its lock and is notified without the lock, right after the
//! compare-and-swap that made the future done claimed it; further waiters
//! are notified under the lock. The waiter is removed
//! with [`Waitable::remove_waiter`] when the wait returns, on every path
//! (completion, timeout, unwinding); a completed future drops its waiters by
//! itself. A waiter installed with [`Waitable::install_waiter_unowned`] is
//! held by a plain pointer, not a reference count: its owner keeps it alive
//! until each future has either notified it (as the owner sees through the
//! waiter's own lock) or had it removed.
//!
//! # Lock order
//!
//! 1. A future's lock is taken before a waiter's lock (`notify` may run under
//!    the future's lock and may lock the waiter), never the other way round:
//!    a waiter must not call into any future while holding its own lock.
//! 2. At most one future's lock is held at a time. Installing on many futures
//!    is done one future after another. Code that ever needs two futures'
//!    locks at once must take them in address order ([`Waitable::id`]).
//! 3. `notify` must be short and must not block, panic or run user code: it
//!    records the completion and wakes the waiting thread.
//!
//! # Why no wakeup is lost
//!
//! For each future, `install_waiter` publishes the waiter and the completion
//! makes the future done with read-modify-writes of the future's one state
//! word, so one happens first. If the completion came first, install sees the
//! future done and reports it at once. If install came first, the completion
//! sees the waiter and notifies it. Either
//! way the waiter learns of every completion that happens before it is
//! removed, and futures need not be locked together: holding all of them at
//! once, as CPython's `_AcquireFutures` does, buys an atomic snapshot that
//! `wait` does not need. A waiter that sleeps checks its own condition under
//! its own lock before sleeping, and `notify` changes that condition under the
//! same lock before signalling, so the sleeper cannot miss it.

use std::ptr::NonNull;
use std::sync::Arc;

/// How a future ended, as reported to waiters.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Completion, Future, TaskError, Waitable};
///
/// let f = Future::<i32>::new();
/// assert_eq!(f.completion(), None);
/// f.set_exception(TaskError::panic("no")).unwrap();
/// assert_eq!(f.completion(), Some(Completion::Failed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Completion {
    /// Finished with a value.
    Finished,
    /// Finished with an error (counts for `FIRST_EXCEPTION`).
    Failed,
    /// Cancelled.
    Cancelled,
}

/// Something that wants to hear when futures complete: the other half of the
/// hook. Implemented by the waiters of `concurrent-futures-wait`.
///
/// # Safety
///
/// `notify` is called in the middle of the completing future's completion,
/// **possibly under its lock** (always for all but a future's first waiter,
/// which is notified without it). An implementation must:
///
/// * return promptly: never block on anything but a lock of its own that is
///   only ever held briefly, and never wait for another thread;
/// * never call into any future (no `result`, `cancel`, `add_done_callback`,
///   `install_waiter`, `remove_waiter`, `done`-loops, no drop of a
///   `Future` handle that may be the last) and never run user code, since
///   that may lock the same future again (a deadlock) or complete another
///   one under this lock (breaking the lock order of the module docs);
/// * not panic (a panic is caught and reported, but the notification is
///   then lost, and the waiting thread may wait until its timeout).
///
/// Breaking these rules deadlocks or loses wakeups; the trait is `unsafe`
/// so that an implementation states it keeps them.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Completion, Future, Waitable, Waiter};
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Default)]
/// struct Log(Mutex<Vec<(usize, Completion)>>);
/// // SAFETY: `notify` takes only its own lock, briefly, and calls nothing
/// // else.
/// unsafe impl Waiter for Log {
///     fn notify(&self, token: usize, how: Completion) {
///         self.0.lock().unwrap().push((token, how));
///     }
/// }
///
/// let log = Arc::new(Log::default());
/// let waiter: Arc<dyn Waiter> = log.clone();
/// let f = Future::<i32>::new();
/// assert_eq!(f.install_waiter(&waiter, 7), None); // not done: installed
/// f.set_result(1).unwrap();
/// assert_eq!(*log.0.lock().unwrap(), [(7, Completion::Finished)]);
/// f.remove_waiter(&waiter); // harmless after completion
/// ```
pub unsafe trait Waiter: Send + Sync {
    /// The future installed with `token` completed as `how`.
    fn notify(&self, token: usize, how: Completion);
}

/// A future of any result type, seen by waiters: install and remove a
/// waiter, and read the completion. Object-safe, so futures of different
/// types can be waited on together as `&dyn Waitable`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Completion, Future, TaskError, Waitable};
///
/// let text = Future::<String>::new();
/// let number = Future::<u64>::new();
/// number.set_exception(TaskError::panic("overflow")).unwrap();
/// let mixed: [&dyn Waitable; 2] = [&text, &number];
/// let done: Vec<_> = mixed.iter().map(|f| f.completion()).collect();
/// assert_eq!(done, [None, Some(Completion::Failed)]);
/// assert_ne!(mixed[0].id(), mixed[1].id());
/// ```
pub trait Waitable: Send + Sync {
    /// Installs `waiter` with `token`, unless the future is already done, in
    /// which case nothing is installed and its completion is returned.
    fn install_waiter(&self, waiter: &Arc<dyn Waiter>, token: usize) -> Option<Completion>;

    /// As [`install_waiter`](Waitable::install_waiter), but the future may
    /// keep a plain pointer to `waiter` instead of a clone of the `Arc`: no
    /// reference count is touched when it installs, notifies or removes it.
    /// `wait` and `as_completed` install one waiter on every future they
    /// watch this way. The default implementation is `install_waiter` (a
    /// clone), which keeps every promise below by itself.
    ///
    /// # Safety
    ///
    /// Unless this call returned a completion (nothing is installed then),
    /// the caller must keep `*waiter` alive until one of these happened:
    ///
    /// * [`remove_waiter`](Waitable::remove_waiter) with `waiter` returned:
    ///   from then on the future neither notifies it nor is notifying it;
    /// * the future's [`Waiter::notify`] for this installation returned, as
    ///   the caller learns it from the waiter's own state. The last thing
    ///   `notify` does to the waiter must then be the step that lets the
    ///   caller see the notification (for example, unlocking the waiter's
    ///   own lock after recording the token), since the waiter may be freed
    ///   at once after it.
    ///
    /// An implementation that overrides this method must make
    /// `remove_waiter` wait for a `notify` of `waiter` in progress (the
    /// `Future` impl does: it notifies a listed waiter under its lock, which
    /// removal takes, and its inline waiter before the step that clears the
    /// state word's `WAITER` bit, which removal waits for).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Completion, Future, Waitable, Waiter};
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Default)]
    /// struct Log(Mutex<Vec<usize>>);
    /// // SAFETY: `notify` takes only its own lock, briefly; unlocking it is
    /// // the last thing it does to the waiter.
    /// unsafe impl Waiter for Log {
    ///     fn notify(&self, token: usize, _: Completion) {
    ///         self.0.lock().unwrap().push(token);
    ///     }
    /// }
    ///
    /// let waiter: Arc<dyn Waiter> = Arc::new(Log::default());
    /// let f = Future::<i32>::new();
    /// // SAFETY: `waiter` outlives the removal below.
    /// assert_eq!(unsafe { f.install_waiter_unowned(&waiter, 7) }, None);
    /// f.remove_waiter(&waiter);
    /// f.set_result(1).unwrap(); // the waiter is no longer installed
    /// ```
    unsafe fn install_waiter_unowned(
        &self,
        waiter: &Arc<dyn Waiter>,
        token: usize,
    ) -> Option<Completion> {
        self.install_waiter(waiter, token)
    }

    /// Removes every installation of `waiter` from this future (none if it
    /// already completed). On a [`Future`](crate::Future) (and on any
    /// implementation that overrides
    /// [`install_waiter_unowned`](Waitable::install_waiter_unowned)), when
    /// it returns the future neither notifies `waiter` nor is still
    /// notifying it.
    fn remove_waiter(&self, waiter: &Arc<dyn Waiter>);

    /// How the future ended, or `None` while it is pending or running.
    fn completion(&self) -> Option<Completion>;

    /// The future's identity: equal for handles of the same future. Also the
    /// order in which to lock several futures at once.
    fn id(&self) -> usize;
}

/// A waiter as a future stores it: a clone of the installer's `Arc`
/// ([`Waitable::install_waiter`]), or a pointer that the installer keeps
/// valid ([`Waitable::install_waiter_unowned`]). One fat pointer, tagged in
/// its lowest address bit (set: borrowed), so a future's inline waiter slot
/// stays three words.
pub(crate) struct WaiterRef(NonNull<dyn Waiter>);

// SAFETY: the pointer is used only as a `&dyn Waiter` (and, when owned, as
// the `Arc` it came from), and `Waiter` is `Send + Sync`; a borrowed one is
// kept valid by its installer while it is stored (`install_waiter_unowned`'s
// contract).
unsafe impl Send for WaiterRef {}

impl WaiterRef {
    /// A clone of `waiter`, owned by the future.
    #[inline]
    pub(crate) fn owned(waiter: &Arc<dyn Waiter>) -> Self {
        let p = Arc::into_raw(Arc::clone(waiter));
        WaiterRef(Self::untagged(p))
    }

    /// A pointer to `waiter`, which the installer keeps alive.
    #[inline]
    pub(crate) fn borrowed(waiter: &Arc<dyn Waiter>) -> Self {
        let p = Self::untagged(Arc::as_ptr(waiter));
        WaiterRef(NonNull::new(p.as_ptr().wrapping_byte_add(1)).expect("not null"))
    }

    /// `p` as the untagged pointer. The value of an `Arc` sits after its two
    /// counters, so its address is a multiple of a word's alignment, and
    /// the lowest bit is free for the tag.
    #[inline]
    fn untagged(p: *const dyn Waiter) -> NonNull<dyn Waiter> {
        assert!(
            p.cast::<u8>().addr() & 1 == 0,
            "an Arc's value is word-aligned"
        );
        NonNull::new(p.cast_mut()).expect("an Arc's pointer is not null")
    }

    #[inline]
    fn is_borrowed(&self) -> bool {
        self.0.as_ptr().cast::<u8>().addr() & 1 == 1
    }

    /// Whether this holds a reference count (dropping it may free the
    /// waiter and run its `Drop`).
    #[inline]
    pub(crate) fn is_owned(&self) -> bool {
        !self.is_borrowed()
    }

    #[inline]
    fn ptr(&self) -> *const dyn Waiter {
        if self.is_borrowed() {
            self.0.as_ptr().wrapping_byte_sub(1)
        } else {
            self.0.as_ptr()
        }
    }

    /// The waiter.
    #[inline]
    pub(crate) fn get(&self) -> &dyn Waiter {
        // SAFETY: an owned pointer is a live `Arc` of ours; a borrowed one
        // was installed with `install_waiter_unowned`, whose caller keeps the
        // waiter alive until it is removed or has been notified, and a
        // stored reference is neither yet.
        unsafe { &*self.ptr() }
    }

    /// Whether this is `waiter` (the same object).
    #[inline]
    pub(crate) fn is(&self, waiter: &Arc<dyn Waiter>) -> bool {
        std::ptr::addr_eq(self.ptr(), Arc::as_ptr(waiter))
    }
}

impl Drop for WaiterRef {
    fn drop(&mut self) {
        if !self.is_borrowed() {
            // SAFETY: an owned pointer came from `Arc::into_raw` (`owned`)
            // and is given back once, here.
            drop(unsafe { Arc::from_raw(self.ptr()) });
        }
    }
}
