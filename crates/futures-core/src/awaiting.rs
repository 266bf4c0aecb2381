//! `.await` on a [`Future`]: works from any async runtime.
//!
//! Awaiting registers the task's waker in the future's listener list (and
//! removes it if the await is dropped first); no thread blocks. `future.await` yields the value by ownership, as
//! [`Future::into_result`] does; `(&future).await` borrows it, as
//! [`Future::result`] does, so other handles (e.g. one kept to `cancel()` on a
//! timeout) may stay alive.

use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::FutureError;
use crate::future::Future;

/// An awaiter's registration on the future: the key of its waker in the
/// future's listener list, removed when the await is dropped unfinished.
#[derive(Debug, Default)]
struct Registration {
    key: Option<u64>,
}

impl Registration {
    /// Ready once `future` is done; otherwise registers or refreshes the
    /// waker.
    fn poll_done<T>(&mut self, future: &Future<T>, cx: &Context<'_>) -> Poll<()> {
        let ready = future.poll_done(&mut self.key, cx);
        if ready.is_ready() {
            // The completion (or the refused listen) dropped the entry.
            self.key = None;
        }
        ready
    }

    /// Removes the waker of an await dropped before the future was done.
    fn forget<T>(&mut self, future: &Future<T>) {
        if let Some(key) = self.key.take() {
            future.forget_waker(key);
        }
    }
}

/// The `std::future::Future` behind `future.await`, which yields the value by
/// ownership (made by [`IntoFuture`] for [`Future`]).
///
/// Like [`Future::into_result`], it waits for the task only: once the future
/// is done it yields the value, or [`FutureError::NotUnique`] at once if
/// other handles of the future are alive (the value stays for them). To keep
/// other handles, await a reference instead: [`RefResultFuture`]. Dropped
/// before it is ready, it leaves nothing registered on the future.
///
/// # Examples
///
/// A thread that completes the future should hold a [`Completer`], which is
/// not a handle: a clone it drops after `set_result` may still be alive
/// when the await wakes, and then the await yields `NotUnique`.
///
/// ```
/// use concurrent_futures::Completer;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let (c, f) = Completer::new();
/// std::thread::spawn(move || {
///     if c.set_running_or_notify_cancel() {
///         c.complete(Ok(7));
///     }
/// });
/// assert_eq!(f.await.unwrap(), 7);
/// # });
/// ```
///
/// [`Completer`]: crate::Completer
#[must_use = "futures do nothing unless polled"]
pub struct ResultFuture<T> {
    future: Option<Future<T>>,
    done: Registration,
    /// Registered for the end of the completion (its callbacks).
    owner_registered: bool,
}

impl<T: Send + 'static> IntoFuture for Future<T> {
    type Output = Result<T, FutureError>;
    type IntoFuture = ResultFuture<T>;

    fn into_future(self) -> ResultFuture<T> {
        ResultFuture {
            future: Some(self),
            done: Registration::default(),
            owner_registered: false,
        }
    }
}

impl<T: Send + 'static> std::future::Future for ResultFuture<T> {
    type Output = Result<T, FutureError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = this
            .future
            .as_ref()
            .expect("ResultFuture polled after it returned Ready");
        if this.done.poll_done(future, cx).is_pending() {
            return Poll::Pending;
        }
        match future.poll_owned(cx) {
            Poll::Pending => {
                this.owner_registered = true;
                Poll::Pending
            }
            Poll::Ready(refused) => {
                this.owner_registered = false;
                let future = this.future.take().expect("checked above");
                Poll::Ready(match refused {
                    Some(e) => Err(e),
                    None => future.take_owned(),
                })
            }
        }
    }
}

impl<T> Drop for ResultFuture<T> {
    fn drop(&mut self) {
        if let Some(future) = &self.future {
            self.done.forget(future);
            if self.owner_registered {
                future.forget_owner_waker();
            }
        }
    }
}

impl<T> Unpin for ResultFuture<T> {}

impl<T> std::fmt::Debug for ResultFuture<T> {
    /// Shows the awaited future (no `T: Debug` needed), or that it returned.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.future {
            Some(future) => f.debug_tuple("ResultFuture").field(future).finish(),
            None => f.write_str("ResultFuture(<returned>)"),
        }
    }
}

/// The `std::future::Future` behind `(&future).await`, which borrows the
/// value as [`Future::result`] does: other handles may stay alive, e.g. one
/// kept to cancel the task when a timeout fires.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use std::time::Duration;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # rt.block_on(async {
/// let f = Future::<u32>::new();
/// // Nobody completes `f`: give up after 10 ms and cancel it.
/// let waited = tokio::time::timeout(Duration::from_millis(10), &f).await;
/// assert!(waited.is_err());
/// assert!(f.cancel());
/// assert!((&f).await.unwrap_err().is_cancelled());
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RefResultFuture<'a, T> {
    future: &'a Future<T>,
    done: Registration,
}

impl<'a, T: Send + Sync + 'static> IntoFuture for &'a Future<T> {
    type Output = Result<&'a T, FutureError>;
    type IntoFuture = RefResultFuture<'a, T>;

    fn into_future(self) -> RefResultFuture<'a, T> {
        RefResultFuture {
            future: self,
            done: Registration::default(),
        }
    }
}

impl<'a, T: Send + Sync + 'static> std::future::Future for RefResultFuture<'a, T> {
    type Output = Result<&'a T, FutureError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = this.future;
        match this.done.poll_done(future, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(future.result_now()),
        }
    }
}

impl<T> Drop for RefResultFuture<'_, T> {
    fn drop(&mut self) {
        self.done.forget(self.future);
    }
}

impl<T> Unpin for RefResultFuture<'_, T> {}

impl<T> std::fmt::Debug for RefResultFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RefResultFuture").field(self.future).finish()
    }
}
