//! Stress: a million tiny tasks (set `CF_STRESS_TASKS`; the default keeps a
//! debug `cargo test` to a few seconds) from two submitters, with random
//! cancels, some panics, and a `shutdown(wait, cancel_futures)` in the
//! middle. Afterwards every accepted future is terminal and the counts add
//! up: accepted + refused = submitted, and the pool's counters match the
//! futures' states one for one.
//!
//! `CF_STRESS_TASKS=1000000 cargo test --release -p concurrent-futures-pool --test stress`

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{wait_until, T};
use concurrent_futures_core::{Future, FutureState};
use concurrent_futures_pool::ThreadPoolExecutor;
use rand::Rng;

fn tasks() -> usize {
    let default = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    std::env::var("CF_STRESS_TASKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let fs: Vec<_> = (0..1000).map(|i| ex.submit(move || i).unwrap()).collect();
    ex.shutdown(true, false);
    assert!(fs.iter().all(Future::done));
}

struct Submitted {
    futures: Vec<Future<usize>>,
    refused: usize,
}

fn submitter(ex: &ThreadPoolExecutor, n: usize, count: &AtomicUsize) -> Submitted {
    let mut rng = rand::thread_rng();
    let mut out = Submitted {
        futures: Vec::with_capacity(n),
        refused: 0,
    };
    for i in 0..n {
        count.fetch_add(1, Ordering::Relaxed);
        let r = if i % 997 == 0 {
            ex.submit(move || -> usize { panic!("task {i} fails on purpose") })
        } else {
            ex.submit(move || i)
        };
        match r {
            Ok(f) => {
                if rng.gen_ratio(1, 10) {
                    f.cancel();
                }
                out.futures.push(f);
            }
            Err(e) => {
                assert!(e.is_shutdown(), "{e}");
                out.refused += 1;
            }
        }
    }
    out
}

fn run(wait: bool, cancel_futures: bool) {
    // Quiet the expected panics of the failing tasks.
    let n = tasks();
    let ex = Arc::new(ThreadPoolExecutor::new(4).unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(3));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let (ex, count, start) = (ex.clone(), count.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                submitter(&ex, n / 2, &count)
            })
        })
        .collect();
    start.wait();
    wait_until("half of the submits", || {
        count.load(Ordering::Relaxed) >= n / 2
    });
    ex.shutdown(wait, cancel_futures);
    let results: Vec<Submitted> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    ex.shutdown(true, false);

    let refused: usize = results.iter().map(|r| r.refused).sum();
    let futures: Vec<&Future<usize>> = results.iter().flat_map(|r| &r.futures).collect();
    assert_eq!(futures.len() + refused, n / 2 * 2);
    assert!(
        refused > 0 || futures.len() == n,
        "shutdown came after every submit"
    );

    let (mut finished, mut failed, mut cancelled) = (0u64, 0u64, 0u64);
    for f in &futures {
        // Every wait is bounded, though after shutdown(wait) all are done.
        match f.exception_timeout(T) {
            Ok(None) => finished += 1,
            Ok(Some(e)) => {
                assert!(e.is_panic(), "{e}");
                failed += 1;
            }
            Err(e) => {
                assert!(e.is_cancelled(), "a future was not terminal: {e}");
                cancelled += 1;
            }
        }
        assert_ne!(f.state(), FutureState::Running);
    }
    let s = ex.stats();
    assert_eq!(s.workers, 0);
    assert_eq!(s.queued, 0);
    assert_eq!(s.completed, finished, "{s:?}");
    assert_eq!(s.failed, failed, "{s:?}");
    assert_eq!(s.cancelled, cancelled, "{s:?}");
    assert_eq!(finished + failed + cancelled, futures.len() as u64);
}

#[test]
fn million_tiny_tasks_with_cancels_and_shutdown_cancel_futures() {
    let _watchdog = common::watchdog("million_tiny_tasks_with_cancels_and_shutdown_cancel_futures");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    run(true, true);
    run(false, false);
    std::panic::set_hook(hook);
}
