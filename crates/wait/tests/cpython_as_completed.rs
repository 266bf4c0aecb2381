//! A port of CPython's `Lib/test/test_concurrent_futures/test_as_completed.py`
//! (CPython main, 2024), with our own code and our own names.
//!
//! Changes from the source:
//! * Executors: tasks run on a thread each (`common::submit`); futures from
//!   any executor must work. The process-pool variants are the same cases.
//! * A cancelled future counts as done at once (CPython's
//!   `CANCELLED_AND_NOTIFIED_FUTURE` and `CANCELLED_FUTURE` are one state
//!   here), so it is yielded with the finished ones.
//! * `TimeoutError` is an item, `Err(FutureError::Timeout(_))`, after which
//!   the iterator ends; and the timeout counts from the call to
//!   `as_completed` (CPython counts from the first `next`).
//! * `time.sleep(1)` tasks are tasks blocked on a gate, released at the end.
//! * `test_free_reference_yielded_future` checks with weak references in
//!   Python; here a future's value is an `Arc<()>` whose strong count shows
//!   whether the future's shared state was freed, which needs every handle
//!   (the iterator's included) gone. A cancelled future holds no value, so
//!   it is only checked to be yielded.
//! * Every wait is bounded, so a hang fails instead of blocking the suite.

mod common;

use common::{cancelled, failed, gate, running, submit, successful, LONG};
use concurrent_futures_core::{Future, FutureError};
use concurrent_futures_wait::as_completed;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `as_completed` yields: the futures, and the timeout if any.
fn drain<T: Send>(
    it: impl Iterator<Item = Result<Future<T>, FutureError>>,
) -> (HashSet<Future<T>>, Option<FutureError>) {
    let mut seen = HashSet::new();
    for item in it {
        match item {
            Ok(f) => assert!(seen.insert(f), "a future was yielded twice"),
            Err(e) => return (seen, Some(e)),
        }
    }
    (seen, None)
}

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let f = submit(|| 1);
    let (got, err) = drain(as_completed([&f], Some(LONG)));
    assert!(err.is_none() && got.len() == 1);
}

#[test]
fn test_no_timeout() {
    let _watchdog = common::watchdog("test_no_timeout");
    let future1 = submit(|| 2 * 21);
    let future2 = submit(|| 7 * 6);
    let all = [&cancelled(), &failed(), &successful(0), &future1, &future2].map(Clone::clone);
    let (completed, err) = drain(as_completed(&all, Some(LONG)));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(completed, all.iter().cloned().collect());
}

#[test]
fn test_future_times_out() {
    let _watchdog = common::watchdog("test_future_times_out");
    let already_completed: HashSet<Future<()>> = [cancelled(), failed(), successful(())]
        .into_iter()
        .collect();
    let short_timeout = Duration::from_millis(100);
    for timeout in [Duration::ZERO, short_timeout] {
        let (event, released) = gate();
        let future = submit(move || released.wait());
        let mut input = already_completed.clone();
        input.insert(future.clone());
        let start = Instant::now();
        let (completed, err) = drain(as_completed(&input, Some(timeout)));
        assert!(start.elapsed() >= timeout);
        // Check that `future` wasn't completed.
        assert_eq!(completed, already_completed, "timeout {timeout:?}");
        let err = err.expect("a timeout error after the finished futures");
        assert_eq!(err.to_string(), "timed out: 1 (of 4) futures unfinished");
        event.set();
        future.result_timeout(LONG).unwrap();
    }
}

#[test]
fn test_duplicate_futures() {
    let _watchdog = common::watchdog("test_duplicate_futures");
    // Issue 20367. Duplicate futures should not raise exceptions or give
    // duplicate responses. Issue #31641: accept arbitrary iterables.
    let (event, released) = gate();
    let future1 = submit(move || released.wait());
    let f = future1.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        event.set();
        drop(f);
    });
    let completed: Vec<_> = as_completed(std::iter::repeat_n(&future1, 3), Some(LONG)).collect();
    assert_eq!(completed.len(), 1);
    assert!(completed[0].as_ref().is_ok_and(|f| *f == future1));
}

/// A future and the value it holds (or will hold), if any.
type Entry = (Future<Arc<()>>, Option<Arc<()>>);

/// Drops `f` and the list's handle to it, then checks its value was freed.
fn assert_freed(list: &mut Vec<Entry>, f: Future<Arc<()>>) {
    let at = list
        .iter()
        .position(|(g, _)| *g == f)
        .expect("yielded from the list");
    let (g, value) = list.remove(at);
    drop((f, g));
    if let Some(value) = value {
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "the iterator still holds the future it yielded"
        );
    }
}

#[test]
fn test_free_reference_yielded_future() {
    let _watchdog = common::watchdog("test_free_reference_yielded_future");
    // Issue #14406: the iterator should not keep references to the futures
    // it has yielded. Each future is paired with the value it will hold.
    let mut list: Vec<Entry> = (0..8)
        .map(|_| (Future::new(), Some(Arc::new(()))))
        .collect();
    list.push((cancelled(), None));
    let value = Arc::new(());
    list.push((successful(value.clone()), Some(value)));

    // `as_completed` clones what it needs: `list` is free again at once.
    let it = as_completed(list.iter().map(|(f, _)| f), Some(Duration::ZERO));
    let mut timed_out = false;
    for item in it {
        match item {
            Ok(f) => assert_freed(&mut list, f),
            Err(e) => {
                assert!(e.is_timeout());
                timed_out = true;
            }
        }
    }
    assert!(timed_out);
    assert_eq!(list.len(), 8, "the two finished futures were yielded");

    let complete_first = |list: &[Entry]| {
        if let Some((f, value)) = list.first() {
            f.set_result(value.clone().unwrap()).unwrap();
        }
    };
    complete_first(&list);
    let mut yielded = 0;
    for item in as_completed(list.iter().map(|(f, _)| f), Some(LONG)) {
        let f = item.expect("each future is completed before the next is asked for");
        assert_freed(&mut list, f);
        yielded += 1;
        complete_first(&list);
    }
    assert_eq!(yielded, 8);
}

#[test]
fn test_correct_timeout_exception_msg() {
    let _watchdog = common::watchdog("test_correct_timeout_exception_msg");
    let fs = [cancelled(), Future::<()>::new(), running(), successful(())];
    let (done, err) = drain(as_completed(&fs, Some(Duration::ZERO)));
    assert_eq!(done.len(), 2);
    let err = err.expect("a timeout error");
    assert!(matches!(err, FutureError::Timeout(t) if t.unfinished() == 2 && t.total() == 4));
    assert_eq!(err.to_string(), "timed out: 2 (of 4) futures unfinished");
}

// Cases beyond CPython's file.

#[test]
fn timeout_counts_from_the_call() {
    let _watchdog = common::watchdog("timeout_counts_from_the_call");
    let (event, released) = gate();
    let slow = submit(move || released.wait());
    // A wide margin: the first `next` must not wait another second.
    let timeout = Duration::from_secs(1);
    let it = as_completed([&slow], Some(timeout));
    std::thread::sleep(timeout);
    let start = Instant::now();
    let (got, err) = drain(it);
    assert!(got.is_empty());
    assert!(err.is_some_and(|e| e.is_timeout()));
    assert!(
        start.elapsed() < timeout,
        "the first next() should find the deadline already passed"
    );
    event.set();
    slow.result_timeout(LONG).unwrap();
}

#[test]
fn ends_after_the_timeout_error() {
    let _watchdog = common::watchdog("ends_after_the_timeout_error");
    let p = Future::<u8>::new();
    let mut it = as_completed([&p], Some(Duration::ZERO));
    assert!(it.next().unwrap().unwrap_err().is_timeout());
    assert!(it.next().is_none());
    assert!(it.next().is_none());
    p.set_result(1).unwrap();
    assert!(it.next().is_none());
}

#[test]
fn finished_first_then_in_completion_order() {
    let _watchdog = common::watchdog("finished_first_then_in_completion_order");
    let done = successful(0usize);
    let pending: Vec<Future<usize>> = (0..5).map(|_| Future::new()).collect();
    let mut input = pending.clone();
    input.insert(2, done.clone());
    let mut it = as_completed(&input, Some(LONG));
    assert_eq!(it.next().unwrap().unwrap(), done);
    for i in [3, 0, 4, 1, 2] {
        pending[i].set_result(i).unwrap();
    }
    let order: Vec<usize> = it.map(|f| *f.unwrap().result().unwrap()).collect();
    assert_eq!(order, [3, 0, 4, 1, 2]);
}

#[test]
fn cancel_while_iterating_yields_at_once() {
    let _watchdog = common::watchdog("cancel_while_iterating_yields_at_once");
    let f = Future::<()>::new();
    let g = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        assert!(g.cancel());
    });
    let got: Vec<_> = as_completed([&f], Some(LONG)).collect();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].as_ref().unwrap().cancelled(),
        "cancel did not wake it within {LONG:?}"
    );
    t.join().unwrap();
}

#[test]
fn empty_input_ends_at_once() {
    let _watchdog = common::watchdog("empty_input_ends_at_once");
    let mut it = as_completed(&Vec::<Future<u8>>::new(), None);
    assert_eq!(it.size_hint(), (0, Some(0)));
    assert!(it.next().is_none());
}

#[test]
fn size_hint_is_exact_without_a_timeout() {
    let _watchdog = common::watchdog("size_hint_is_exact_without_a_timeout");
    let fs = [successful(1), successful(2)];
    let mut it = as_completed(&fs, None);
    assert_eq!(it.size_hint(), (2, Some(2)));
    it.next();
    assert_eq!(it.size_hint(), (1, Some(1)));
}
