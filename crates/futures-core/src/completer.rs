//! [`Completer`]: the executor's uncounted reference to a future whose value
//! arrives from outside a closure (a process pool's worker reply), the
//! bodiless counterpart of [`Task`](crate::Task).

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::cell::{self, Header, NoBody, NoBodyVtable};
use crate::error::TaskError;
use crate::future::Future;
use crate::state::{FutureState, HANDLE_ONE, PENDING, TASK};

/// The executor's side of a future it completes by hand: marks it running,
/// then completes, fails or cancels it, once. Like a [`Task`](crate::Task)'s
/// reference, it never counts as a handle, so `into_result` on the caller's
/// future never reports it as another handle (`NotUnique`). Dropped without
/// completing, it fails the future ("dropped by its executor").
///
/// # Examples
///
/// ```
/// use concurrent_futures::Completer;
/// let (c, f) = Completer::new();
/// assert!(c.set_running_or_notify_cancel());
/// std::thread::spawn(move || c.complete(Ok(7))).join().unwrap();
/// assert_eq!(f.into_result().unwrap(), 7);
/// ```
pub struct Completer<T> {
    header: NonNull<Header>,
    _value: PhantomData<T>,
}

// SAFETY: as `Task`: the completer owns the task reference of a cell whose
// shared parts are `Sync` for `T: Send`; it sends a `T` into the cell.
unsafe impl<T: Send> Send for Completer<T> {}
// SAFETY: `&Completer` only reads the state and marks it running, both
// thread-safe operations on the cell.
unsafe impl<T: Send> Sync for Completer<T> {}

impl<T: Send> Completer<T> {
    /// A pending future and its completer.
    #[must_use = "dropping the completer fails the future at once"]
    pub fn new() -> (Completer<T>, Future<T>) {
        let vtable: &'static cell::Vtable = const { &NoBodyVtable::<T>::VTABLE };
        let header = cell::allocate::<T, NoBody>(NoBody, PENDING | TASK | HANDLE_ONE, vtable);
        // SAFETY: a fresh cell of `T` with one handle counted for the future
        // and the task reference for the completer.
        let future = unsafe { Future::from_header(header) };
        (
            Completer {
                header,
                _value: PhantomData,
            },
            future,
        )
    }

    /// The future, borrowed (never dropped, so the handle count is untouched).
    fn future(&self) -> ManuallyDrop<Future<T>> {
        // SAFETY: the completer owns the task reference, so the cell lives.
        ManuallyDrop::new(unsafe { Future::from_header(self.header) })
    }

    /// Python's `set_running_or_notify_cancel`: whether the work should go
    /// on (false if the future was cancelled).
    pub fn set_running_or_notify_cancel(&self) -> bool {
        matches!(self.future().set_running_or_notify_cancel(), Ok(true))
    }

    /// The future's state.
    pub fn state(&self) -> FutureState {
        self.future().state()
    }

    /// Whether done-callbacks are registered now: completing would run them
    /// on the completing thread, for as long as they take. An executor that
    /// counts the completing thread as free before it completes (a process
    /// pool's slot, so the caller's next submit finds it) asks this first.
    /// A callback added after the answer still runs, on the same thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::Completer;
    /// let (c, f) = Completer::<i32>::new();
    /// assert!(!c.has_done_callbacks());
    /// f.add_done_callback(|_| {});
    /// assert!(c.has_done_callbacks());
    /// c.complete(Ok(1));
    /// ```
    #[must_use]
    pub fn has_done_callbacks(&self) -> bool {
        self.future().has_done_callbacks()
    }

    /// Completes the future with `outcome`, releasing the reference: whether
    /// it was accepted (refused if the future was cancelled or completed by
    /// hand meanwhile; the outcome is then dropped).
    pub fn complete(self, outcome: Result<T, TaskError>) -> bool {
        let me = ManuallyDrop::new(self);
        me.future().complete_as_task(outcome).is_ok()
    }

    /// Cancels the future and releases the reference. A running future
    /// cannot be cancelled, and this completer is the only way to complete
    /// it: it fails as broken instead (as when the completer is dropped), so
    /// no caller waits for ever. A done future stays as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::Completer;
    /// let (c, f) = Completer::<u8>::new();
    /// c.cancel();
    /// assert!(f.cancelled());
    ///
    /// let (c, f) = Completer::<u8>::new();
    /// assert!(c.set_running_or_notify_cancel());
    /// c.cancel(); // too late to cancel: it fails
    /// assert!(f.exception().unwrap().unwrap().is_broken());
    /// ```
    pub fn cancel(self) {
        let me = ManuallyDrop::new(self);
        let f = me.future();
        if f.cancel() {
            f.release_task();
        } else {
            // Refused (and the reference released) if it is done.
            let _ = f.complete_as_task(Err(TaskError::broken(
                "the task was cancelled by its executor while it was running",
            )));
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        // SAFETY: as in `future`; `self` is not used after.
        let f = ManuallyDrop::new(unsafe { Future::<T>::from_header(self.header) });
        let _ = f.complete_as_task(Err(TaskError::broken(
            "the task was dropped by its executor before it completed",
        )));
    }
}

impl<T> fmt::Debug for Completer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completer")
            .field("cell", &self.header)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_completer_is_not_a_handle() {
        let (c, f) = Completer::new();
        assert!(c.set_running_or_notify_cancel());
        assert!(f.running());
        assert!(c.complete(Ok(vec![1, 2])));
        assert_eq!(f.into_result().unwrap(), [1, 2]);
    }

    #[test]
    fn cancel_fail_and_drop_end_the_future() {
        let (c, f) = Completer::<u8>::new();
        c.cancel();
        assert!(f.cancelled());
        let (c, f) = Completer::<u8>::new();
        assert!(c.set_running_or_notify_cancel());
        assert!(c.complete(Err(TaskError::panic("x"))));
        assert!(f.exception().unwrap().unwrap().is_panic());
        let (c, f) = Completer::<String>::new();
        drop(c);
        assert!(f.exception().unwrap().unwrap().is_broken());
        // Cancelled by the caller first: the worker's value is refused.
        let (c, f) = Completer::new();
        assert!(f.cancel());
        assert!(!c.set_running_or_notify_cancel());
        assert!(!c.complete(Ok(1u8)));
        // The future dropped first: the completer frees the cell.
        let (c, f) = Completer::<String>::new();
        drop(f);
        assert!(c.complete(Ok("late".to_owned())));
    }

    #[test]
    fn cancel_of_a_running_future_still_ends_it() {
        // `cancel` consumes the completer: if it left a running future
        // running, nothing could ever complete it and `result()` would
        // block for ever.
        let (c, f) = Completer::<u8>::new();
        assert!(c.set_running_or_notify_cancel());
        c.cancel();
        assert!(f.done(), "left {f:?}");
        let e = f.exception_timeout(std::time::Duration::from_secs(10));
        assert!(e.unwrap().unwrap().is_broken());
        // Done already: the outcome stays as it was.
        let (c, f) = Completer::<u8>::new();
        let hand = f.clone();
        assert!(c.set_running_or_notify_cancel());
        hand.set_result(3).unwrap();
        c.cancel();
        drop(hand);
        assert_eq!(f.into_result().unwrap(), 3);
    }
}
