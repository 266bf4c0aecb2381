//! `map` over an input iterator that panics part-way: the panic leaves
//! `map` (or the map's `next`), and every task the map submitted before it
//! and that has not started is cancelled, as when the map is dropped. No
//! future is left running for results nobody can take.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Latch, T};
use concurrent_futures_pool::{MapOptions, ThreadPoolExecutor};

/// Items `0..n`, then a panic where item `n` would be.
fn panics_after(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
    (0..=n).inspect(move |&i| {
        if i == n {
            panic!("the input failed at item {i}");
        }
    })
}

/// A one-worker pool whose worker is held by a task until the returned
/// latch opens, so whatever is submitted next stays queued.
fn held_pool() -> (ThreadPoolExecutor, Latch) {
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let gate = Latch::new();
    let g = gate.clone();
    let _held = ex.submit(move || g.wait()).unwrap();
    (ex, gate)
}

fn counting(ran: &Arc<AtomicUsize>) -> impl Fn(u32) -> u32 + Send + Sync + 'static {
    let ran = Arc::clone(ran);
    move |x| {
        ran.fetch_add(1, Ordering::SeqCst);
        x
    }
}

/// Lets the held worker go, waits for every accepted task, and returns how
/// many of the map's tasks ran.
fn settle(ex: ThreadPoolExecutor, gate: Latch, ran: &AtomicUsize) -> usize {
    gate.open();
    let s = ex.stats();
    ex.shutdown(true, false);
    let after = ex.stats();
    assert_eq!(
        after.queued, 0,
        "shutdown(wait) left queued work: {s:?} -> {after:?}"
    );
    ran.load(Ordering::SeqCst)
}

#[test]
fn an_eager_map_whose_input_panics_cancels_what_it_submitted() {
    let _w = common::watchdog("an_eager_map_whose_input_panics_cancels_what_it_submitted");
    let (ex, gate) = held_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = ex.map(counting(&ran), panics_after(3));
    }));
    assert!(caught.is_err(), "the input's panic leaves map()");
    assert_eq!(
        settle(ex, gate, &ran),
        0,
        "the 3 queued items were cancelled"
    );
}

#[test]
fn an_eager_map_with_options_whose_input_panics_cancels_what_it_submitted() {
    let _w =
        common::watchdog("an_eager_map_with_options_whose_input_panics_cancels_what_it_submitted");
    let (ex, gate) = held_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let opts = MapOptions::default().chunksize(2).timeout(T);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = ex.map_with(counting(&ran), panics_after(5), opts);
    }));
    assert!(caught.is_err(), "the input's panic leaves map_with()");
    assert_eq!(
        settle(ex, gate, &ran),
        0,
        "the 2 queued chunks were cancelled"
    );
}

#[test]
fn a_buffered_map_whose_input_panics_at_the_start_cancels_what_it_submitted() {
    let _w = common::watchdog(
        "a_buffered_map_whose_input_panics_at_the_start_cancels_what_it_submitted",
    );
    let (ex, gate) = held_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let opts = MapOptions::default().buffersize(8).timeout(T);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = ex.map_with(counting(&ran), panics_after(3), opts);
    }));
    assert!(caught.is_err(), "the input's panic leaves map_with()");
    assert_eq!(
        settle(ex, gate, &ran),
        0,
        "the 3 queued items were cancelled"
    );
}

/// The refill in `next` reads the input before the item it is about to
/// wait for leaves the map: a panic there leaves that item in the map,
/// and dropping the map cancels it with the rest.
#[test]
fn a_buffered_map_whose_input_panics_in_next_cancels_every_queued_item() {
    let _w =
        common::watchdog("a_buffered_map_whose_input_panics_in_next_cancels_every_queued_item");
    let (ex, gate) = held_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let opts = MapOptions::default().buffersize(2).timeout(T);
    let mut m = ex.map_with(counting(&ran), panics_after(2), opts).unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| m.next()));
    assert!(caught.is_err(), "the input's panic leaves next()");
    drop(m);
    assert_eq!(settle(ex, gate, &ran), 0, "items 0 and 1 were cancelled");
}

/// After a panic in `next`, the map keeps serving the items it holds (the
/// input is dropped, not read again).
#[test]
fn a_buffered_map_serves_its_items_after_the_input_panicked() {
    let _w = common::watchdog("a_buffered_map_serves_its_items_after_the_input_panicked");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&reads);
    let input = (0..u32::MAX).inspect(move |&i| {
        r.fetch_add(1, Ordering::SeqCst);
        if i == 2 {
            panic!("the input failed at item 2");
        }
    });
    let opts = MapOptions::default().buffersize(2).timeout(T);
    let mut m = ex.map_with(|x: u32| x * 10, input, opts).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| m.next())).is_err());
    let rest: Vec<_> = m.map(Result::unwrap).collect();
    assert_eq!(rest, [0, 10], "the two items submitted before the panic");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        3,
        "the input was not read after it panicked"
    );
}
