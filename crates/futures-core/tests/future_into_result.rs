//! The owning accessors `into_result` and `try_into_result`: they hand out a
//! `T` (no `Clone`, no `Sync`) once the task is done, never wait for other
//! handles (the executor's reference is not one; another user handle makes
//! `into_result` refuse at once), and never race the executor's release.
//! Every blocking call runs under a watchdog, so a lost wakeup fails the test
//! instead of hanging it.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concurrent_futures_core::{Future, FutureError, FutureState, Task, TaskError};
use rand::Rng;

const LIMIT: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread; fails naming `what` if it does not return
/// within `LIMIT`. Panics of `f` are re-raised here.
fn watchdog<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung waiting for {what}"),
    }
}

/// Neither `Clone` nor `Sync`; counts its drops.
struct Owned {
    value: u64,
    drops: Arc<AtomicUsize>,
    _not_sync: std::cell::Cell<()>,
}

impl Owned {
    fn new(value: u64, drops: &Arc<AtomicUsize>) -> Self {
        Owned {
            value,
            drops: drops.clone(),
            _not_sync: std::cell::Cell::new(()),
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

fn spin(iterations: u32) {
    for _ in 0..iterations {
        std::hint::spin_loop();
    }
}

#[test]
fn smoke() {
    let f = Future::new();
    f.set_result(String::from("mine")).unwrap();
    assert_eq!(f.into_result().unwrap(), "mine");
}

#[test]
fn into_result_waits_for_completion_from_another_thread() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let v = watchdog("into_result of a value set 50 ms later", move || {
        // The executor side is a `Completer`, not a clone of the handle: a
        // clone dropped after its `set_result` can still be alive when
        // `into_result` wakes (then `NotUnique`, correctly; CI under TSan
        // saw it).
        let (executor, f) = concurrent_futures_core::Completer::new();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            assert!(executor.complete(Ok(Owned::new(11, &d))));
        });
        let v = f.into_result().unwrap();
        t.join().unwrap();
        v
    });
    assert_eq!(v.value, 11);
    assert_eq!(drops.load(SeqCst), 0, "the taken value was dropped");
    drop(v);
    assert_eq!(drops.load(SeqCst), 1);
}

/// An executor thread runs tasks, lingering a random short while after each;
/// the owner calls `into_result` after its own random delay. Thousands of
/// rounds: the owner always gets the value (the executor's reference never
/// counts as a handle), each value is dropped once, nothing hangs.
#[test]
fn into_result_races_the_executor_dropping_its_handle() {
    const ROUNDS: usize = 3000;
    let done_rounds = Arc::new(AtomicUsize::new(0));
    let progress = done_rounds.clone();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let result = std::panic::catch_unwind(move || {
        watchdog(
            "into_result while the executor drops its handle",
            move || {
                let (tx, rx) = mpsc::channel::<(Task, u32)>();
                let executor = thread::spawn(move || {
                    let mut rng = rand::thread_rng();
                    for (task, hold) in rx {
                        spin(rng.gen_range(0..200));
                        task.run();
                        spin(hold);
                    }
                });
                let mut rng = rand::thread_rng();
                for i in 0..ROUNDS {
                    let d = d.clone();
                    let (task, f) = Task::new(move || Owned::new(i as u64, &d));
                    tx.send((task, rng.gen_range(0..400))).unwrap();
                    spin(rng.gen_range(0..400));
                    let v = f.into_result().unwrap();
                    assert_eq!(v.value, i as u64);
                    progress.fetch_add(1, SeqCst);
                }
                drop(tx);
                executor.join().unwrap();
            },
        )
    });
    if result.is_err() {
        panic!(
            "failed after {} of {ROUNDS} rounds",
            done_rounds.load(SeqCst)
        );
    }
    assert_eq!(
        drops.load(SeqCst),
        ROUNDS,
        "each value dropped exactly once"
    );
}

/// As above, with a user handle that reads the value (`result()`) and
/// drops: the owner either takes the value after that read (the reader was
/// gone) or is refused at once with `NotUnique` (it was alive) — never a
/// take during the read, never a wait for the reader.
#[test]
fn into_result_races_a_reader_and_the_executor() {
    const ROUNDS: usize = 1000;
    watchdog("into_result while a reader and the executor drop", || {
        let mut rng = rand::thread_rng();
        let (mut taken, mut refused) = (0, 0);
        for i in 0..ROUNDS as u64 {
            let (task, f) = Task::new(move || vec![i; 4]);
            let reader = f.clone();
            let (e_delay, r_delay) = (rng.gen_range(0..300), rng.gen_range(0..300));
            thread::scope(|s| {
                s.spawn(move || {
                    spin(e_delay);
                    task.run();
                });
                s.spawn(move || {
                    spin(r_delay);
                    let v = reader.result_timeout(LIMIT).unwrap();
                    assert_eq!(v, &[i; 4]);
                });
                match f.into_result() {
                    Ok(v) => {
                        assert_eq!(v, [i; 4]);
                        taken += 1;
                    }
                    Err(e) => {
                        assert!(e.is_not_unique(), "{e}");
                        refused += 1;
                    }
                }
            });
        }
        assert_eq!(taken + refused, ROUNDS);
    });
}

/// `for f in as_completed(keys) { f.into_result() }` with the futures still
/// keys of a map hung for ever; the same shape in core terms now returns at
/// once with an error that says what to do.
#[test]
fn into_result_with_the_future_still_a_map_key_returns_at_once() {
    watchdog("into_result of a clone whose original keys a map", || {
        let mut by_future = std::collections::HashMap::new();
        let (task, f) = Task::new(|| 5u8);
        by_future.insert(f.clone(), "five");
        let t = thread::spawn(move || task.run());
        let err = f.into_result().unwrap_err();
        assert!(err.is_not_unique(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("1 other handle") && text.contains("result()"),
            "{text}"
        );
        t.join().unwrap();
        let (key, _) = by_future.into_iter().next().unwrap();
        assert_eq!(
            key.into_result().unwrap(),
            5,
            "the value stayed for the key"
        );
    });
}

#[test]
fn into_result_timeout_in_each_case() {
    let f = Future::<u8>::new();
    let g = f.clone();
    assert!(f
        .into_result_timeout(Duration::ZERO)
        .unwrap_err()
        .is_timeout());
    assert!(g
        .clone()
        .into_result_timeout(Duration::from_millis(5))
        .unwrap_err()
        .is_timeout());
    g.set_result(4).unwrap();
    assert_eq!(g.into_result_timeout(Duration::MAX).unwrap(), 4);
    let (task, h) = Task::new(|| 6u8);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        task.run();
    });
    assert_eq!(h.into_result_timeout(LIMIT).unwrap(), 6);
    t.join().unwrap();
}

#[test]
fn into_result_of_a_cancelled_future_does_not_wait_for_other_handles() {
    watchdog("into_result of a cancelled future", || {
        let f = Future::<Owned>::new();
        let other = f.clone();
        assert!(f.cancel());
        assert!(matches!(f.into_result(), Err(FutureError::Cancelled)));
        assert!(other.cancelled());
    });
}

#[test]
fn into_result_wakes_on_cancel_from_another_thread() {
    watchdog("into_result woken by cancel", || {
        let f = Future::<u8>::new();
        let canceller = f.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            assert!(canceller.cancel());
            thread::sleep(Duration::from_millis(30));
        });
        assert!(f.into_result().unwrap_err().is_cancelled());
        t.join().unwrap();
    });
}

#[test]
fn into_result_of_a_failed_task() {
    watchdog("into_result of a failed task", || {
        let f = Future::<u8>::new();
        let executor = f.clone();
        let t = thread::spawn(move || executor.run(|| panic!("no value")));
        // Joined first: the runner is a clone, alive until its thread ends
        // (an `into_result` that came earlier would say `NotUnique`).
        assert!(t.join().unwrap());
        let err = f.into_result().unwrap_err();
        assert_eq!(err.task_error().unwrap().panic_message(), Some("no value"));
    });
}

#[test]
fn into_result_of_a_task_error_value() {
    let f = Future::<u32>::new();
    f.run_fallible(|| "nope".parse::<u32>());
    let err = f.into_result().unwrap_err().into_task_error().unwrap();
    assert!(err.downcast_ref::<std::num::ParseIntError>().is_some());
}

#[test]
fn try_into_result_in_each_case() {
    // Pending: handed back.
    let f = Future::<String>::new();
    let f = f.try_into_result().unwrap_err();
    assert_eq!(f.state(), FutureState::Pending);

    // Done, but another handle is alive: handed back, value kept.
    let other = f.clone();
    f.set_result(String::from("v")).unwrap();
    let f = f.try_into_result().unwrap_err();
    assert_eq!(other.result().unwrap(), "v");

    // Done and the last handle: taken.
    drop(other);
    assert_eq!(f.try_into_result().ok().unwrap().unwrap(), "v");

    // Cancelled: an answer even with other handles alive.
    let c = Future::<String>::new();
    let c2 = c.clone();
    c.cancel();
    assert!(c
        .try_into_result()
        .ok()
        .unwrap()
        .unwrap_err()
        .is_cancelled());
    assert!(c2.cancelled());

    // Failed and the last handle: the error.
    let e = Future::<String>::new();
    e.set_exception(TaskError::broken("gone")).unwrap();
    let err = e.try_into_result().ok().unwrap().unwrap_err();
    assert!(err.task_error().unwrap().is_broken());
}

/// `try_into_result` polled in a loop while the executor completes and
/// drops: it takes the value exactly when it may.
#[test]
fn try_into_result_races_the_executor() {
    const ROUNDS: u64 = 1000;
    watchdog("try_into_result while the executor drops", || {
        let mut rng = rand::thread_rng();
        for i in 0..ROUNDS {
            let (task, mut f) = Task::new(move || i);
            let delay = rng.gen_range(0..300);
            let t = thread::spawn(move || {
                spin(delay);
                task.run();
            });
            let v = loop {
                match f.try_into_result() {
                    Ok(r) => break r.unwrap(),
                    Err(back) => f = back,
                }
                thread::yield_now();
            };
            assert_eq!(v, i);
            t.join().unwrap();
        }
    });
}

/// A value never taken is dropped once, with the last handle, wherever that
/// is.
#[test]
fn untaken_value_is_dropped_once_with_the_last_handle() {
    let drops = Arc::new(AtomicUsize::new(0));
    let f = Future::new();
    let g = f.clone();
    f.set_result(Owned::new(1, &drops)).unwrap();
    drop(f);
    assert_eq!(drops.load(SeqCst), 0);
    thread::spawn(move || drop(g)).join().unwrap();
    assert_eq!(drops.load(SeqCst), 1);

    // A refused second value is dropped at once; the first is kept.
    let f = Future::new();
    f.set_result(Owned::new(1, &drops)).unwrap();
    assert!(f.set_result(Owned::new(2, &drops)).is_err());
    assert_eq!(drops.load(SeqCst), 2);
    assert_eq!(f.into_result().unwrap().value, 1);
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn into_result_inside_a_nested_callback_of_the_same_future_is_refused() {
    // A's done-callback completes B; B's callback takes A's value through
    // A's only handle. It runs inside A's callbacks, so waiting for them
    // would wait for itself: it once hung there for ever (only the
    // innermost future's callbacks were remembered).
    let got = watchdog("into_result in a nested done-callback", || {
        let (task, a) = Task::new(|| 5u32);
        let b = Future::<()>::new();
        let (tx, rx) = mpsc::channel();
        let b2 = b.clone();
        a.add_done_callback(move |a: &Future<u32>| {
            let mine = a.clone();
            b2.add_done_callback(move |_| {
                let _ = tx.send(mine.into_result());
            });
            b2.set_result(()).unwrap();
        });
        drop(a);
        task.run();
        rx.recv_timeout(LIMIT).expect("B's callback returned")
    });
    match got {
        Err(e @ FutureError::NotUnique(_)) => {
            assert!(e.to_string().contains("done-callback"), "{e}");
        }
        other => panic!("expected NotUnique in a callback, got {other:?}"),
    }
}

#[test]
fn into_result_timeout_keeps_a_value_that_came_in_time() {
    // Done before the timeout, with a done-callback still running after
    // it: the value is the caller's (a timeout would drop the handle and
    // the value with it).
    let v = watchdog("into_result_timeout behind a slow callback", || {
        let (task, f) = Task::new(|| "value".to_string());
        let (started, wait_started) = mpsc::channel();
        f.add_done_callback(move |_: &Future<String>| {
            started.send(()).unwrap();
            thread::sleep(Duration::from_millis(200));
        });
        let t = thread::spawn(move || {
            task.run();
        });
        wait_started.recv_timeout(LIMIT).unwrap();
        let v = f.into_result_timeout(Duration::from_millis(20));
        t.join().unwrap();
        v
    });
    assert_eq!(v.unwrap(), "value");
}
