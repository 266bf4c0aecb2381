//! `map_with(.., chunksize(n))` on the thread pool: items run `n` to a task,
//! in input order, each failing only its own place.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Latch, T};
use concurrent_futures_pool::{MapOptions, ThreadPoolExecutor};

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let m = ex
        .map_with(|x: u32| x + 1, 0..10, MapOptions::default().chunksize(3))
        .unwrap();
    assert_eq!(m.into_result().unwrap(), (1..=10).collect::<Vec<_>>());
}

#[test]
fn chunks_are_tasks_and_keep_order() {
    let _watchdog = common::watchdog("chunks_are_tasks_and_keep_order");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let opts = MapOptions::default().chunksize(1000).timeout(T);
    let out = ex.map_with(|x: u64| x * 2, 0..100_000, opts).unwrap();
    assert_eq!(
        out.into_result().unwrap(),
        (0..100_000).map(|x| x * 2).collect::<Vec<_>>()
    );
    ex.shutdown(true, false);
    assert_eq!(ex.stats().completed, 100);
}

#[test]
fn a_panicking_item_fails_only_its_place() {
    let _watchdog = common::watchdog("a_panicking_item_fails_only_its_place");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let out: Vec<_> = ex
        .map_with(
            |x: i32| if x == 4 { panic!("item four") } else { x },
            0..8,
            MapOptions::default().chunksize(3),
        )
        .unwrap()
        .collect();
    assert_eq!(out.len(), 8);
    for (i, r) in out.iter().enumerate() {
        if i == 4 {
            let e = r.as_ref().unwrap_err().task_error().unwrap();
            assert_eq!(e.panic_message(), Some("item four"));
        } else {
            assert_eq!(*r.as_ref().unwrap(), i as i32);
        }
    }
}

#[test]
fn buffersize_counts_chunks_on_an_endless_input() {
    let _watchdog = common::watchdog("buffersize_counts_chunks_on_an_endless_input");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let read = Arc::new(AtomicUsize::new(0));
    let r = read.clone();
    let input = (0u64..).inspect(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let mut m = ex
        .map_with(
            |x: u64| x,
            input,
            MapOptions::default().chunksize(4).buffersize(2),
        )
        .unwrap();
    assert_eq!(read.load(Ordering::SeqCst), 8);
    assert_eq!(m.next().unwrap().unwrap(), 0);
    // The first chunk was taken out and one more chunk was read.
    assert_eq!(read.load(Ordering::SeqCst), 12);
    let next: Vec<u64> = m.by_ref().take(7).map(Result::unwrap).collect();
    assert_eq!(next, [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn dropping_a_chunked_map_cancels_chunks_not_started() {
    let _watchdog = common::watchdog("dropping_a_chunked_map_cancels_chunks_not_started");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let release = Latch::new();
    let r = release.clone();
    let blocker = ex.submit(move || r.wait()).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let ran2 = ran.clone();
    let m = ex
        .map_with(
            move |_: u8| {
                ran2.fetch_add(1, Ordering::SeqCst);
            },
            0..10,
            MapOptions::default().chunksize(5),
        )
        .unwrap();
    drop(m);
    release.open();
    blocker.result_timeout(T).unwrap();
    ex.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(ex.stats().cancelled, 2);
}

#[test]
fn a_chunked_timeout_counts_items_not_chunks() {
    let _w = common::watchdog("a_chunked_timeout_counts_items_not_chunks");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let go = Latch::new();
    let g = go.clone();
    let opts = MapOptions::default()
        .chunksize(3)
        .timeout(std::time::Duration::from_millis(50));
    let mut m = ex
        .map_with(
            move |x: u32| {
                if x >= 3 {
                    g.wait();
                }
                x
            },
            0..9u32,
            opts,
        )
        .unwrap();
    for i in 0..3 {
        assert_eq!(m.next().unwrap().unwrap(), i);
    }
    let e = m.next().unwrap().unwrap_err();
    go.open();
    // Items 3..9 (two chunks of three) were unfinished, of 9 in all; it
    // once said "2 (of 5)", chunks added to items.
    assert_eq!(e.to_string(), "timed out: 6 (of 9) futures unfinished");
    assert!(m.next().is_none());
    ex.shutdown(true, false);
}
