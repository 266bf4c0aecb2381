//! A port of the thread-pool parts of CPython's
//! `Lib/test/test_concurrent_futures/test_init.py` (`InitializerMixin`,
//! `FailingInitializerMixin`).
//!
//! What changed: the global `INITIALIZER_STATUS` becomes a thread-local;
//! Python's logged `ValueError` becomes the broken error's message, which we
//! check; `executor._broken` becomes `stats().broken`.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_until, T};
use concurrent_futures_pool::ThreadPoolExecutor;

thread_local!(static STATUS: Cell<&'static str> = const { Cell::new("uninitialized") });

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::builder()
        .initializer(|| STATUS.set("initialized"))
        .build()
        .unwrap();
    assert_eq!(
        ex.submit(|| STATUS.get()).unwrap().into_result().unwrap(),
        "initialized"
    );
}

#[test]
fn test_initializer() {
    let _watchdog = common::watchdog("test_initializer");
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let ex = ThreadPoolExecutor::builder()
        .max_workers(5)
        .initializer(move || {
            r.fetch_add(1, Ordering::SeqCst);
            STATUS.set("initialized");
        })
        .build()
        .unwrap();
    let fs: Vec<_> = (0..5)
        .map(|_| {
            ex.submit(|| {
                std::thread::sleep(Duration::from_millis(5));
                STATUS.get()
            })
            .unwrap()
        })
        .collect();
    for f in fs {
        assert_eq!(*f.result_timeout(T).unwrap(), "initialized");
    }
    ex.shutdown(true, false);
    // Once per thread started.
    assert!((1..=5).contains(&runs.load(Ordering::SeqCst)));
}

fn check_broken(ex: &ThreadPoolExecutor, what: &str) {
    match ex.submit(|| STATUS.get()) {
        Err(e) => assert!(e.is_broken() && e.to_string().contains(what), "{e}"),
        Ok(f) => {
            let e = f
                .exception_timeout(T)
                .unwrap()
                .expect("task ran on a broken pool");
            assert!(e.is_broken(), "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
    }
    // At some point the executor breaks...
    wait_until("the pool to break", || ex.stats().broken);
    // ... and from then on submit is guaranteed to fail.
    let e = ex.submit(|| ()).unwrap_err();
    assert!(e.is_broken());
    assert!(e.broken_reason().unwrap().contains(what), "{e}");
    assert!(e.to_string().contains("initializer failed"), "{e}");
}

#[test]
fn test_failing_initializer_panic() {
    let _watchdog = common::watchdog("test_failing_initializer_panic");
    let ex = ThreadPoolExecutor::builder()
        .max_workers(5)
        .initializer(|| panic!("error in initializer"))
        .build()
        .unwrap();
    check_broken(&ex, "error in initializer");
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn test_failing_initializer_error() {
    let _watchdog = common::watchdog("test_failing_initializer_error");
    let ex = ThreadPoolExecutor::builder()
        .try_initializer(|| Err::<(), _>(std::io::Error::other("no database")))
        .build()
        .unwrap();
    check_broken(&ex, "no database");
}

#[test]
fn test_pending_calls_race() {
    let _watchdog = common::watchdog("test_pending_calls_race");
    // Futures queued while the initializer fails all end broken (or were
    // refused); none hangs.
    let ex = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| {
            std::thread::sleep(Duration::from_millis(10));
            panic!("error in initializer")
        })
        .build()
        .unwrap();
    let mut fs = Vec::new();
    for _ in 0..10 {
        match ex.submit(|| std::thread::sleep(Duration::from_millis(1))) {
            Ok(f) => fs.push(f),
            Err(e) => assert!(e.is_broken()),
        }
    }
    for f in fs {
        let e = f.exception_timeout(T).unwrap().expect("a task ran");
        assert!(e.is_broken());
    }
    ex.shutdown(true, false);
    assert_eq!(ex.stats().workers, 0);
}
