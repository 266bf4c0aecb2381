//! Paths a user reaches by accident, across the crates: a done-callback
//! that shuts down or drops its own pool, timeouts of `Duration::MAX`, the
//! same future passed twice, a callback that panics with a non-string
//! payload after using its own future, a zero `map` timeout, and submits,
//! cancels and shutdowns racing. Each runs on a thread of its own and fails,
//! naming what it waited for, if it does not return within `LIMIT`.

use concurrent_futures::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs `f` on its own thread; fails naming `what` if it does not return
/// within `LIMIT`. Panics of `f` are re-raised here.
fn bounded(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung waiting for {what}"),
    }
}

#[test]
fn a_done_callback_may_shut_down_its_own_pool_and_wait() {
    bounded(
        "a callback's shutdown(wait = true) of the pool it runs on",
        || {
            let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
            let (tx, rx) = mpsc::channel();
            let f = ex
                .submit(|| {
                    thread::sleep(Duration::from_millis(50));
                    1
                })
                .unwrap();
            let other = ex.submit(|| 2).unwrap();
            let pool = ex.clone();
            f.add_done_callback(move |_| {
                pool.shutdown(true, false);
                tx.send(pool.submit(|| 3).is_err()).unwrap();
            });
            let refused = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the callback returned");
            assert!(refused, "a submit after the callback's shutdown is refused");
            assert_eq!(*other.result_timeout(Duration::from_secs(30)).unwrap(), 2);
            ex.shutdown(true, false);
        },
    );
}

#[test]
fn a_done_callback_may_drop_the_last_handle_of_its_pool() {
    bounded("a callback dropping the executor it runs on", || {
        let ex = ThreadPoolExecutor::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let f = ex
            .submit(|| {
                thread::sleep(Duration::from_millis(50));
                1
            })
            .unwrap();
        let holder = Arc::new(Mutex::new(Some(ex)));
        let h = holder.clone();
        f.add_done_callback(move |_| {
            let ex = h.lock().unwrap().take();
            drop(ex);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the callback returned");
        assert!(holder.lock().unwrap().is_none());
        assert_eq!(*f.result_timeout(Duration::from_secs(30)).unwrap(), 1);
    });
}

#[test]
fn timeouts_of_duration_max_wait_without_overflow() {
    bounded("calls with Duration::MAX timeouts", || {
        let ex = ThreadPoolExecutor::new(1).unwrap();
        let f = ex.submit(|| 5).unwrap();
        assert_eq!(*f.result_timeout(Duration::MAX).unwrap(), 5);
        assert!(f.exception_timeout(Duration::MAX).unwrap().is_none());
        let r = wait([&f], Some(Duration::MAX), ReturnWhen::AllCompleted);
        assert_eq!((r.done.len(), r.not_done.len()), (1, 0));
        let n = as_completed([&f], Some(Duration::MAX))
            .map(Result::unwrap)
            .count();
        assert_eq!(n, 1);
        let g = ex.submit(|| 6).unwrap();
        assert_eq!(g.into_result_timeout(Duration::MAX).unwrap(), 6);
        let opts = MapOptions::default().timeout(Duration::MAX);
        let m: Vec<u32> = ex
            .map_with(|x: u32| x, 0..10, opts)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(m, (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn as_completed_yields_a_future_passed_twice_once() {
    bounded("as_completed over duplicates", || {
        let f = Future::<u32>::new();
        let g = Future::<u32>::new();
        f.set_result(1).unwrap();
        let items: Vec<_> =
            as_completed([&f, &f, &g, &g], Some(Duration::from_millis(100))).collect();
        assert_eq!(items.len(), 2, "f once, then the timeout: {items:?}");
        assert!(items[0].as_ref().is_ok_and(|x| *x == f));
        assert!(matches!(items[1], Err(FutureError::Timeout(_))));
        g.set_result(2).unwrap();
        let n = as_completed([&f, &f, &g, &g], Some(Duration::from_secs(30)))
            .map(Result::unwrap)
            .count();
        assert_eq!(n, 2, "each future once, as Python's set");
        let r = wait([&f, &f, &g], None, ReturnWhen::AllCompleted);
        assert_eq!(r.done.len(), 2);
    });
}

#[test]
fn a_callback_using_its_own_future_then_panicking_with_any_payload() {
    bounded("callbacks re-entering their future", || {
        let f = Future::<u32>::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = order.clone();
        f.add_done_callback(move |f| {
            assert_eq!(*f.result().unwrap(), 3);
            assert!(!f.cancel());
            assert!(f.set_result(4).is_err());
            // Added while its completion runs callbacks: it queues behind
            // the ones added before it (`add_done_callback`'s docs).
            let inner = log.clone();
            f.add_done_callback(move |_| inner.lock().unwrap().push("added inside"));
            log.lock().unwrap().push("first");
            std::panic::panic_any(42u64);
        });
        let log = order.clone();
        f.add_done_callback(move |_| log.lock().unwrap().push("second"));
        f.set_result(3).unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            ["first", "second", "added inside"],
            "every callback once, in the order added, past a panic"
        );
        assert_eq!(*f.result().unwrap(), 3);
    });
}

#[test]
fn a_zero_map_timeout_times_out_and_dropping_the_map_cancels_the_rest() {
    bounded("a map with a zero timeout", || {
        let ex = ThreadPoolExecutor::new(2).unwrap();
        let slow = |x: u64| {
            thread::sleep(Duration::from_millis(100));
            x
        };
        let opts = MapOptions::default().timeout(Duration::ZERO);
        let mut it = ex.map_with(slow, 0..20, opts).unwrap();
        assert!(matches!(it.next(), Some(Err(FutureError::Timeout(_)))));
        drop(it);
        ex.shutdown(true, false);
        let s = ex.stats();
        assert_eq!(s.completed + s.failed + s.cancelled, 20, "{s:?}");
        assert!(s.cancelled >= 18, "at most two had started: {s:?}");
    });
}

#[test]
fn submits_cancels_and_shutdowns_racing_end_every_future_once() {
    bounded("futures of racing submits, cancels and shutdowns", || {
        for round in 0..30 {
            let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
            let calls = Arc::new(AtomicUsize::new(0));
            let mut handles = vec![];
            for t in 0..4 {
                let ex = ex.clone();
                let calls = calls.clone();
                handles.push(thread::spawn(move || {
                    let mut fs = vec![];
                    for i in 0..200u64 {
                        match ex.submit(move || i) {
                            Ok(f) => {
                                let c = calls.clone();
                                f.add_done_callback(move |_| {
                                    c.fetch_add(1, Ordering::SeqCst);
                                });
                                if (i + t) % 3 == 0 {
                                    f.cancel();
                                }
                                fs.push(f);
                            }
                            Err(_) => break,
                        }
                    }
                    fs
                }));
            }
            thread::sleep(Duration::from_micros(200 * (round % 5)));
            ex.shutdown(false, round % 2 == 0);
            let mut all = vec![];
            for h in handles {
                all.extend(h.join().unwrap());
            }
            for f in &all {
                // Every accepted future ends: it ran, or it was cancelled
                // (by its submitter or by `cancel_futures`).
                match f.exception_timeout(Duration::from_secs(30)) {
                    Ok(None) => assert_eq!(f.state(), FutureState::Finished),
                    Err(FutureError::Cancelled) => assert!(f.cancelled()),
                    other => panic!("round {round}: {f:?} ended {other:?}"),
                }
            }
            ex.shutdown(true, false);
            assert_eq!(
                calls.load(Ordering::SeqCst),
                all.len(),
                "round {round}: every callback once"
            );
        }
    });
}
