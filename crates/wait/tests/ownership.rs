//! Ownership with `as_completed` and `wait`: taking values out of the
//! futures they yield never hangs. Before, `for f in as_completed(map.keys())
//! { f?.into_result() }` waited for ever for the map's handle to go.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{submit, LONG};
use concurrent_futures_core::Future;
use concurrent_futures_wait::{as_completed, wait, ReturnWhen};

#[test]
fn smoke() {
    let f = submit(|| 1u8);
    let got: Vec<_> = as_completed([&f], Some(LONG)).collect();
    assert_eq!(got.len(), 1);
    drop(got);
    assert_eq!(f.into_result().unwrap(), 1);
}

/// The loop the old `into_result` docs suggested, with the futures keys of
/// a map: every `into_result` returns at once with an error that says what
/// to do, and the values stay for the map's handles.
#[test]
fn as_completed_over_map_keys_then_into_result_returns_at_once() {
    let _w = common::watchdog("as_completed_over_map_keys_then_into_result_returns_at_once");
    let pages: HashMap<Future<usize>, &str> = ["a", "bb", "ccc"]
        .into_iter()
        .map(|p| (submit(move || p.len()), p))
        .collect();
    let started = Instant::now();
    let mut refused = 0;
    for f in as_completed(pages.keys(), Some(LONG)) {
        let err = f.unwrap().into_result().unwrap_err();
        assert!(err.is_not_unique(), "{err}");
        assert!(err.to_string().contains("result()"), "{err}");
        refused += 1;
    }
    assert_eq!(refused, 3);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Borrowing works with the map alive; taking works once it is gone.
    for (f, page) in &pages {
        assert_eq!(*f.result().unwrap(), page.len());
    }
    let mut lens: Vec<usize> = pages
        .into_keys()
        .map(|f| f.into_result().unwrap())
        .collect();
    lens.sort_unstable();
    assert_eq!(lens, [1, 2, 3]);
}

/// Futures moved into `as_completed`'s input and dropped by the caller can
/// be taken from what it yields: the yielded handle is the last one.
#[test]
fn as_completed_over_owned_futures_then_into_result_takes() {
    let _w = common::watchdog("as_completed_over_owned_futures_then_into_result_takes");
    let futures: Vec<Future<String>> = (0..8).map(|i| submit(move || i.to_string())).collect();
    let mut it = as_completed(&futures, Some(LONG));
    let first = it.next().unwrap().unwrap();
    drop(it);
    drop(futures);
    let s = first.into_result().unwrap();
    assert!(s.parse::<u32>().unwrap() < 8);
}

/// `wait`'s result sets hold handles too: `into_result` on a clone refuses
/// at once; the set's own handles can be taken once the input is dropped.
#[test]
fn wait_sets_then_into_result() {
    let _w = common::watchdog("wait_sets_then_into_result");
    let futures: Vec<Future<u32>> = (0..4).map(|i| submit(move || i * 2)).collect();
    let r = wait(&futures, Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 4);
    assert!(futures[0]
        .clone()
        .into_result()
        .unwrap_err()
        .is_not_unique());
    drop(futures);
    let mut v: Vec<u32> = r
        .done
        .into_iter()
        .map(|f| f.into_result().unwrap())
        .collect();
    v.sort_unstable();
    assert_eq!(v, [0, 2, 4, 6]);
}
