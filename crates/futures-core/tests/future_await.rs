//! `.await` on a `Future<T>`: with a minimal hand-written `block_on` (a
//! thread-parking waker) and with tokio's current-thread and multi-thread
//! runtimes. Every wait is bounded: a hang fails with what it waited for.

use std::future::{Future as StdFuture, IntoFuture};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use concurrent_futures_core::{Future, FutureError, Task, TaskError};

const LIMIT: Duration = Duration::from_secs(20);

/// Wakes a parked thread, counting wakes.
struct ThreadWaker {
    thread: Thread,
    wakes: AtomicUsize,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.thread.unpark();
    }
}

/// Polls `fut` on this thread, parking between polls, for at most `limit`;
/// panics naming `what` if it is not ready by then.
fn block_on<F: StdFuture>(what: &str, limit: Duration, fut: F) -> F::Output {
    let deadline = Instant::now() + limit;
    let waker = Waker::from(Arc::new(ThreadWaker {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    }));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "block_on timed out waiting for {what}");
        thread::park_timeout(left);
    }
}

fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn multi_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// `fut` under tokio's timeout; panics naming `what` on timeout.
async fn bounded<F: IntoFuture>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("tokio timed out waiting for {what}"),
    }
}

/// A future whose task a std thread runs after `delay`; the thread lingers
/// for `hold` more. Its task reference is not a handle: nobody waits for it.
fn completed_later(
    value: u64,
    delay: Duration,
    hold: Duration,
) -> (Future<u64>, thread::JoinHandle<()>) {
    let (task, f) = Task::new(move || value);
    let t = thread::spawn(move || {
        thread::sleep(delay);
        task.run();
        thread::sleep(hold);
    });
    (f, t)
}

#[test]
fn smoke() {
    let f = Future::new();
    f.set_result(1u8).unwrap();
    assert_eq!(
        block_on("a done future", LIMIT, f.into_future()).unwrap(),
        1
    );
}

#[test]
fn block_on_completion_from_another_thread() {
    let (f, t) = completed_later(42, Duration::from_millis(20), Duration::ZERO);
    assert_eq!(
        block_on("the other thread's set_result", LIMIT, f.into_future()).unwrap(),
        42
    );
    t.join().unwrap();
}

#[test]
fn block_on_cancel_while_awaiting() {
    let f = Future::<u64>::new();
    let canceller = f.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        assert!(canceller.cancel());
        // Keep the handle: a cancelled await does not wait for it.
        thread::sleep(Duration::from_millis(50));
        drop(canceller);
    });
    let err = block_on("cancel", LIMIT, f.into_future()).unwrap_err();
    assert!(matches!(err, FutureError::Cancelled), "{err}");
    t.join().unwrap();
}

#[test]
fn block_on_failed_task() {
    let f = Future::<u64>::new();
    let executor = f.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        executor.run(|| panic!("task blew up"));
    });
    let err = block_on("a failing task", LIMIT, f.into_future()).unwrap_err();
    let task = err.task_error().expect("a task error");
    assert_eq!(task.panic_message(), Some("task blew up"));
    t.join().unwrap();
}

/// The owner's await never waits for another user handle: with a clone
/// alive when the value is ready it returns `NotUnique` at once (the clone
/// then takes the value). It was a hang before (an await of a clone while
/// the original is in scope never returned).
#[test]
fn block_on_returns_at_once_when_another_handle_is_alive() {
    let f = Future::new();
    let other = f.clone();
    let t = thread::spawn(move || {
        other.set_result(String::from("owned")).unwrap();
        thread::sleep(Duration::from_millis(200));
        other
    });
    let started = Instant::now();
    let err = block_on("a done future with a clone alive", LIMIT, f.into_future()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "waited for the clone"
    );
    assert!(err.is_not_unique(), "{err}");
    assert!(err.to_string().contains("1 other handle"), "{err}");
    let other = t.join().unwrap();
    assert_eq!(other.into_result().unwrap(), "owned", "the value stayed");
}

/// `block_on(async { f.clone().await })` while `f` is in scope: returned
/// never before; now it says why at once.
#[test]
fn awaiting_a_clone_while_the_original_lives_returns() {
    let f = Future::new();
    f.set_result(3u8).unwrap();
    let err = block_on("a clone's await", LIMIT, async { f.clone().await }).unwrap_err();
    assert!(err.is_not_unique(), "{err}");
    assert_eq!(*f.result().unwrap(), 3);
}

/// Neither `Clone` nor `Sync` is needed to await a value.
#[test]
fn block_on_a_value_that_is_neither_clone_nor_sync() {
    let (task, f) = Task::new(|| {
        let (tx, rx) = mpsc::channel();
        tx.send(9).unwrap();
        rx
    });
    let t = thread::spawn(move || {
        task.run();
    });
    let rx = block_on("a receiver", LIMIT, f.into_future()).unwrap();
    assert_eq!(rx.recv_timeout(LIMIT).unwrap(), 9);
    t.join().unwrap();
}

/// A counting waker for manual polls.
fn counting_waker() -> (Waker, Arc<ThreadWaker>) {
    let w = Arc::new(ThreadWaker {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    });
    (Waker::from(w.clone()), w)
}

/// A task that moves between executors polls with a new waker: completion
/// must wake the newest one.
#[test]
fn completion_wakes_the_newest_waker() {
    let f = Future::<u8>::new();
    let executor = f.clone();
    let mut awaiting = f.into_future();
    let (w1, c1) = counting_waker();
    let (w2, c2) = counting_waker();
    assert!(pin!(&mut awaiting)
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    assert!(pin!(&mut awaiting)
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    executor.set_result(3).unwrap();
    assert_eq!(c2.wakes.load(SeqCst), 1, "the newest waker was not woken");
    assert_eq!(c1.wakes.load(SeqCst), 0, "a stale waker was woken");
    drop(executor);
    match pin!(&mut awaiting).poll(&mut Context::from_waker(&w2)) {
        Poll::Ready(r) => assert_eq!(r.unwrap(), 3),
        Poll::Pending => panic!("pending although done and unique"),
    }
}

/// Dropping an await before completion leaves the future usable, and leaves
/// nothing registered on it: the completion wakes nobody.
#[test]
fn dropped_await_leaves_the_future_usable() {
    let f = Future::<u8>::new();
    let keep = f.clone();
    let mut awaiting = f.into_future();
    let (w, counter) = counting_waker();
    assert!(pin!(&mut awaiting)
        .poll(&mut Context::from_waker(&w))
        .is_pending());
    drop(awaiting);
    keep.set_result(5).unwrap();
    assert_eq!(
        counter.wakes.load(SeqCst),
        0,
        "the abandoned await's waker stayed"
    );
    assert_eq!(keep.into_result().unwrap(), 5);
}

#[test]
fn tokio_current_thread_completion_from_another_thread() {
    let (f, t) = completed_later(7, Duration::from_millis(20), Duration::from_millis(20));
    let v = current_thread_rt().block_on(bounded("set_result from a std thread", f));
    assert_eq!(v.unwrap(), 7);
    t.join().unwrap();
}

#[test]
fn tokio_multi_thread_completion_from_another_thread() {
    let (f, t) = completed_later(8, Duration::from_millis(20), Duration::from_millis(20));
    let v = multi_thread_rt().block_on(bounded("set_result from a std thread", f));
    assert_eq!(v.unwrap(), 8);
    t.join().unwrap();
}

#[test]
fn tokio_cancel_while_awaiting() {
    for rt in [current_thread_rt(), multi_thread_rt()] {
        let f = Future::<u64>::new();
        let canceller = f.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            assert!(canceller.cancel());
        });
        let err = rt.block_on(bounded("cancel", f)).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        t.join().unwrap();
    }
}

#[test]
fn tokio_failed_task() {
    for rt in [current_thread_rt(), multi_thread_rt()] {
        let f = Future::<u64>::new();
        let executor = f.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            executor
                .set_exception(TaskError::broken("pool gone"))
                .unwrap();
        });
        let err = rt.block_on(bounded("set_exception", f)).unwrap_err();
        assert!(err.task_error().unwrap().is_broken(), "{err}");
        t.join().unwrap();
    }
}

/// `tokio::time::timeout(d, f)` on a done future with a clone alive timed
/// out before (the await waited for the clone); now it returns the refusal
/// at once, well inside the timeout.
#[test]
fn tokio_timeout_of_a_done_future_with_a_clone_returns_at_once() {
    for rt in [current_thread_rt(), multi_thread_rt()] {
        let f = Future::new();
        f.set_result(vec![1, 2, 3]).unwrap();
        let keep = f.clone();
        let started = Instant::now();
        let got = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), f).await });
        let err = got.expect("timed out on a done future").unwrap_err();
        assert!(err.is_not_unique(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(keep.into_result().unwrap(), [1, 2, 3]);
    }
}

/// The executor's reference never counts: a task whose executor thread
/// lingers after running it is awaited without waiting for that thread.
#[test]
fn tokio_does_not_wait_for_the_executor() {
    for rt in [current_thread_rt(), multi_thread_rt()] {
        let (task, f) = Task::new(|| vec![1, 2, 3]);
        let (ran_tx, ran_rx) = mpsc::channel();
        let t = thread::spawn(move || {
            task.run();
            ran_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(300));
        });
        let v = rt.block_on(bounded("a task's value", f)).unwrap();
        assert_eq!(v, [1, 2, 3]);
        ran_rx.recv_timeout(LIMIT).unwrap();
        assert!(
            !t.is_finished(),
            "returned only after the executor thread ended"
        );
        t.join().unwrap();
    }
}

/// Many tasks of a multi-thread runtime await futures completed by std
/// threads with varied delays.
#[test]
fn tokio_many_tasks_await_many_futures() {
    let rt = multi_thread_rt();
    let mut futures = Vec::new();
    let mut threads = Vec::new();
    for i in 0..64u64 {
        let (f, t) = completed_later(i, Duration::from_micros(i * 97 % 3000), Duration::ZERO);
        futures.push(f);
        threads.push(t);
    }
    let sum = rt.block_on(async move {
        let tasks: Vec<_> = futures
            .into_iter()
            .map(|f| tokio::spawn(bounded("one of 64 futures", f)))
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.unwrap().unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..64).sum::<u64>());
    for t in threads {
        t.join().unwrap();
    }
}

/// A future completed by a tokio task and awaited by another.
#[test]
fn tokio_completed_inside_the_runtime() {
    let rt = current_thread_rt();
    let f = Future::<&'static str>::new();
    let executor = f.clone();
    let v = rt.block_on(async move {
        let waiter = tokio::spawn(bounded("a sibling task's set_result", f));
        tokio::task::yield_now().await;
        executor.set_result("from a task").unwrap();
        drop(executor);
        waiter.await.unwrap()
    });
    assert_eq!(v.unwrap(), "from a task");
}

#[test]
fn result_future_debug_needs_no_debug_value() {
    struct Opaque;
    let f = concurrent_futures_core::Future::<Opaque>::new();
    let rf = std::future::IntoFuture::into_future(f);
    assert!(
        format!("{rf:?}").starts_with("ResultFuture(<Future at"),
        "{rf:?}"
    );
}

#[test]
fn borrowed_await_keeps_other_handles_and_sees_cancel() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let f = concurrent_futures_core::Future::<String>::new();
        let timed_out = tokio::time::timeout(Duration::from_millis(20), &f).await;
        assert!(timed_out.is_err(), "nobody completed the future");
        let g = f.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            g.set_result("late".to_string()).unwrap();
        });
        let v = tokio::time::timeout(Duration::from_secs(10), &f)
            .await
            .expect("completed within 10 s")
            .unwrap();
        assert_eq!(v, "late");
        setter.join().unwrap();
        let c = concurrent_futures_core::Future::<u8>::new();
        assert!(c.cancel());
        assert!((&c).await.unwrap_err().is_cancelled());
    });
}

/// The completing side of the `ResultFuture` example, with the completing
/// thread alive after its completion until the await has returned: a
/// `Completer` (not a handle) lets the owned await take the value, where a
/// clone still alive makes it `NotUnique` (the value staying for the clone).
#[test]
fn an_owned_await_takes_the_value_from_a_lingering_completer_not_from_a_clone() {
    use concurrent_futures_core::Completer;
    let rt = multi_thread_rt();
    let (c, f) = Completer::new();
    let (back_tx, back_rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        assert!(c.set_running_or_notify_cancel());
        c.complete(Ok(7u64));
        back_rx.recv_timeout(LIMIT).expect("the await returned");
    });
    assert_eq!(rt.block_on(bounded("a completer's value", f)).unwrap(), 7);
    back_tx.send(()).unwrap();
    t.join().unwrap();

    let f = Future::new();
    let g = f.clone();
    let (back_tx, back_rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        g.set_result(7u64).unwrap();
        back_rx.recv_timeout(LIMIT).expect("the await returned");
        g
    });
    let err = rt.block_on(bounded("a clone's value", f)).unwrap_err();
    assert!(matches!(err, FutureError::NotUnique(_)), "{err:?}");
    back_tx.send(()).unwrap();
    assert_eq!(t.join().unwrap().into_result().unwrap(), 7);
}
