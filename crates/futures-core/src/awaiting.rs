//! `.await` on a [`Future`]: works from any async runtime.
//!
//! Awaiting registers a done-callback that wakes the task (once), and yields
//! the value by ownership, as [`Future::into_result`] does. No thread blocks.

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::error::FutureError;
use crate::future::Future;

/// The `std::future::Future` behind `future.await`; made by
/// [`IntoFuture`] for [`Future`].
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
    /// The waker the done-callback wakes; replaced on every pending poll.
    waker: Arc<Mutex<Option<Waker>>>,
    registered: bool,
}

impl<T: Send + 'static> IntoFuture for Future<T> {
    type Output = Result<T, FutureError>;
    type IntoFuture = ResultFuture<T>;

    fn into_future(self) -> ResultFuture<T> {
        ResultFuture {
            future: Some(self),
            waker: Arc::new(Mutex::new(None)),
            registered: false,
        }
    }
}

fn set_waker(slot: &Mutex<Option<Waker>>, waker: &Waker) {
    let mut g = slot.lock().unwrap_or_else(PoisonError::into_inner);
    match &*g {
        Some(w) if w.will_wake(waker) => {}
        _ => *g = Some(waker.clone()),
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
        if !future.done() {
            // Store the waker before looking again, so a completion between
            // the two looks wakes the newest waker.
            set_waker(&this.waker, cx.waker());
            if !this.registered {
                this.registered = true;
                let slot = this.waker.clone();
                future.add_done_callback(move |_| {
                    let w = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                    if let Some(w) = w {
                        w.wake();
                    }
                });
            }
            if !future.done() {
                return Poll::Pending;
            }
        }
        if future.result_is_cancelled() {
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
