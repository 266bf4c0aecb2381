//! The owning accessors `into_result` and `try_into_result`: they hand out a
//! `T` (no `Clone`, no `Sync`) once the future is done and theirs is the last
//! handle, and never race the executor's own handle still being dropped.
//! Every blocking call runs under a watchdog, so a lost wakeup fails the test
//! instead of hanging it.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concurrent_futures_core::{Future, FutureError, FutureState, TaskError};
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
        let f = Future::new();
        let executor = f.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            executor.set_result(Owned::new(11, &d)).unwrap();
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

/// The executor completes the future and then, after a random short delay,
/// drops its handle; the owner calls `into_result` after its own random
/// delay. Thousands of rounds: the owner must always get the value, only
/// after the executor's drop, and never hang.
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
                let (tx, rx) = mpsc::channel::<(Future<Owned>, u32)>();
                let executor = thread::spawn(move || {
                    let mut rng = rand::thread_rng();
                    for (i, (f, hold)) in rx.into_iter().enumerate() {
                        spin(rng.gen_range(0..200));
                        f.set_result(Owned::new(i as u64, &d)).unwrap();
                        spin(hold);
                        drop(f);
                    }
                });
                let mut rng = rand::thread_rng();
                for i in 0..ROUNDS {
                    let f = Future::new();
                    tx.send((f.clone(), rng.gen_range(0..400))).unwrap();
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

/// As above, with a third handle that reads the value (`result()`) and
/// drops: the owner's take must come after that read.
#[test]
fn into_result_races_a_reader_and_the_executor() {
    const ROUNDS: usize = 1000;
    watchdog("into_result while a reader and the executor drop", || {
        let mut rng = rand::thread_rng();
        for i in 0..ROUNDS as u64 {
            let f = Future::new();
            let executor = f.clone();
            let reader = f.clone();
            let (e_delay, r_delay) = (rng.gen_range(0..300), rng.gen_range(0..300));
            thread::scope(|s| {
                s.spawn(move || {
                    spin(e_delay);
                    executor.set_result(vec![i; 4]).unwrap();
                });
                s.spawn(move || {
                    spin(r_delay);
                    let v = reader.result_timeout(LIMIT).unwrap();
                    assert_eq!(v, &[i; 4]);
                });
                assert_eq!(f.into_result().unwrap(), [i; 4]);
            });
        }
    });
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
        let err = f.into_result().unwrap_err();
        assert_eq!(err.task_error().unwrap().panic_message(), Some("no value"));
        assert!(t.join().unwrap());
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
            let mut f = Future::new();
            let executor = f.clone();
            let delay = rng.gen_range(0..300);
            let t = thread::spawn(move || {
                spin(delay);
                executor.set_result(i).unwrap();
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
