//! A task costs one allocation on the submitting thread: its future's shared
//! state. The closure and the future handle ride inline in the queue slot
//! (`work_item.rs`); the injector allocates one block per 63 jobs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use concurrent_futures_pool::ThreadPoolExecutor;

/// Counts allocations made by the current thread.
struct CountingAlloc;

thread_local!(static ALLOCS: Cell<usize> = const { Cell::new(0) });

// SAFETY: forwards to `System`; the thread-local is a const-initialized
// `Cell` without destructor, so touching it never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System.dealloc`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

#[test]
fn smoke() {
    let ex = ThreadPoolExecutor::new(1).unwrap();
    assert_eq!(ex.submit(|| 1).unwrap().into_result().unwrap(), 1);
}

#[test]
fn one_allocation_per_submit() {
    const N: usize = 630;
    // One worker, so that no thread starts (and allocates) while counting.
    let ex = ThreadPoolExecutor::new(1).unwrap();
    // Warm up: the thread started, queues allocated.
    let warm: Vec<_> = (0..200u64).map(|i| ex.submit(move || i).unwrap()).collect();
    for f in &warm {
        f.result_timeout(Duration::from_secs(20)).unwrap();
    }
    let mut futures = Vec::with_capacity(N);
    let before = allocs();
    for i in 0..N as u64 {
        futures.push(ex.submit(move || i * 2).unwrap());
    }
    let made = allocs() - before;
    assert!(
        (N..=N + N / 63 + 2).contains(&made),
        "{made} allocations for {N} submits"
    );
    for (i, f) in futures.iter().enumerate() {
        assert_eq!(
            *f.result_timeout(Duration::from_secs(20)).unwrap(),
            i as u64 * 2
        );
    }
}
