//! `.await` on a [`Future`]: works from any async runtime.
//!
//! Awaiting registers a done-callback that wakes the task (once); no thread
//! blocks. `future.await` yields the value by ownership, as
//! [`Future::into_result`] does; `(&future).await` borrows it, as
//! [`Future::result`] does, so other handles (e.g. one kept to `cancel()` on a
//! timeout) may stay alive.

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::FutureError;
use crate::future::Future;

/// Wakes the awaiting task when the future is done: a waker slot that a
/// done-callback (added on the first pending poll) takes and wakes.
#[derive(Default)]
struct DoneWaker {
    waker: Arc<Mutex<Option<Waker>>>,
    registered: bool,
}

impl DoneWaker {
    /// Ready once `future` is done; otherwise arranges a wakeup.
    fn poll_done<T>(&mut self, future: &Future<T>, cx: &Context<'_>) -> Poll<()> {
        if future.done() {
            return Poll::Ready(());
        }
        // Store the waker before looking again, so a completion between the
        // two looks wakes the newest waker.
        {
            let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        if !self.registered {
            self.registered = true;
            let slot = self.waker.clone();
            future.add_done_callback(move |_| {
                let w = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(w) = w {
                    w.wake();
                }
            });
        }
        if future.done() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The `std::future::Future` behind `future.await`, which yields the value by
/// ownership (made by [`IntoFuture`] for [`Future`]).
///
/// Like [`Future::into_result`], it is ready once the future is done and this
/// is the last handle (the executor drops its own right after completing).
/// To keep other handles, await a reference instead: [`RefResultFuture`].
///
/// # Examples
///
/// ```
/// use concurrent_futures_core::Future;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let f = Future::new();
/// let g = f.clone();
/// std::thread::spawn(move || g.set_result(7).unwrap());
/// assert_eq!(f.await.unwrap(), 7);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ResultFuture<T> {
    future: Option<Future<T>>,
    done: DoneWaker,
}

impl<T: Send + 'static> IntoFuture for Future<T> {
    type Output = Result<T, FutureError>;
    type IntoFuture = ResultFuture<T>;

    fn into_future(self) -> ResultFuture<T> {
        ResultFuture {
            future: Some(self),
            done: DoneWaker::default(),
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
        if future.cancelled_now() {
            this.future = None;
            return Poll::Ready(Err(FutureError::Cancelled));
        }
        if !future.poll_unique(cx.waker()) {
            return Poll::Pending;
        }
        let future = this.future.take().expect("checked above");
        Poll::Ready(future.take())
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
/// use concurrent_futures_core::Future;
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
    done: DoneWaker,
}

impl<'a, T: Send + Sync + 'static> IntoFuture for &'a Future<T> {
    type Output = Result<&'a T, FutureError>;
    type IntoFuture = RefResultFuture<'a, T>;

    fn into_future(self) -> RefResultFuture<'a, T> {
        RefResultFuture {
            future: self,
            done: DoneWaker::default(),
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

impl<T> Unpin for RefResultFuture<'_, T> {}

impl<T> std::fmt::Debug for RefResultFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RefResultFuture").field(self.future).finish()
    }
}
