//! Stress of the task lifecycle (issue 10): 100,000 futures from two
//! submitters on a pool of four, mixing random cancels, a
//! `shutdown(cancel_futures = true)` half-way, tasks that panic (some with a
//! payload whose `Drop` panics too), closures whose captures panic in `Drop`
//! when the task is cancelled and skipped, and done-callbacks, some of
//! which submit follow-up tasks to the same pool. Afterwards every future is
//! terminal, every callback ran exactly once, and `stats()` matches the
//! futures' states one for one.
//!
//! `CF_STRESS_TASKS=1000000 cargo test --release -p concurrent-futures-pool --test lifecycle_stress`

mod common;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use common::{wait_until, T};
use concurrent_futures_core::{Future, FutureState};
use concurrent_futures_pool::ThreadPoolExecutor;
use rand::Rng;

fn tasks() -> usize {
    std::env::var("CF_STRESS_TASKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Panics in `Drop` unless disarmed (the task ran and disarmed it).
struct Armed(bool);

impl Drop for Armed {
    fn drop(&mut self) {
        if self.0 && !thread::panicking() {
            panic!("a capture of a skipped task panics in drop");
        }
    }
}

/// A panic payload whose own `Drop` panics.
struct NastyPayload;

impl Drop for NastyPayload {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("the payload's drop panics");
        }
    }
}

struct World {
    ex: ThreadPoolExecutor,
    /// Callback runs per original future.
    calls: Vec<AtomicU8>,
    /// Futures submitted by callbacks.
    follow_ups: Mutex<Vec<Future<usize>>>,
    follow_ups_refused: AtomicUsize,
    submitted: AtomicUsize,
}

fn submitter(w: &Arc<World>, ids: std::ops::Range<usize>) -> (Vec<(usize, Future<usize>)>, usize) {
    let mut rng = rand::thread_rng();
    let (mut out, mut refused) = (Vec::with_capacity(ids.len()), 0);
    for i in ids {
        w.submitted.fetch_add(1, Ordering::Relaxed);
        let r = match i % 1000 {
            0 => {
                w.ex.submit(move || -> usize { panic!("task {i} fails on purpose") })
            }
            1 => {
                w.ex.submit(move || -> usize { std::panic::panic_any(NastyPayload) })
            }
            2..=99 => {
                let mut armed = Armed(true);
                w.ex.submit(move || {
                    armed.0 = false;
                    drop(armed);
                    i
                })
            }
            _ => w.ex.submit(move || i),
        };
        let f = match r {
            Ok(f) => f,
            Err(e) => {
                assert!(e.is_shutdown(), "{e}");
                refused += 1;
                continue;
            }
        };
        if i % 10 == 0 {
            let world = Arc::clone(w);
            f.add_done_callback(move |_| {
                world.calls[i].fetch_add(1, Ordering::SeqCst);
                if i % 100 == 0 {
                    match world.ex.submit(move || i) {
                        Ok(g) => world.follow_ups.lock().unwrap().push(g),
                        Err(_) => {
                            world.follow_ups_refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
        if rng.gen_ratio(1, 10) {
            f.cancel();
        }
        out.push((i, f));
    }
    (out, refused)
}

#[test]
fn lifecycle_stress_100k() {
    let _watchdog = common::watchdog("lifecycle_stress_100k");
    // Quiet the expected panics (they are contained wherever they happen,
    // the shutdown caller's thread included); keep the test's own.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = concurrent_futures_core::panic_message(info.payload());
        let expected = info.payload().is::<NastyPayload>()
            || ["drop panics", "panics in drop", "on purpose"]
                .iter()
                .any(|m| message.contains(m));
        if !expected {
            default(info);
        }
    }));
    let n = tasks();
    let w = Arc::new(World {
        ex: ThreadPoolExecutor::new(4).unwrap(),
        calls: (0..n).map(|_| AtomicU8::new(0)).collect(),
        follow_ups: Mutex::new(Vec::new()),
        follow_ups_refused: AtomicUsize::new(0),
        submitted: AtomicUsize::new(0),
    });
    let start = Arc::new(Barrier::new(3));
    let hs: Vec<_> = [0..n / 2, n / 2..n]
        .into_iter()
        .map(|ids| {
            let (w, start) = (Arc::clone(&w), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                submitter(&w, ids)
            })
        })
        .collect();
    start.wait();
    wait_until("half of the submits", || {
        w.submitted.load(Ordering::Relaxed) >= n / 2
    });
    w.ex.shutdown(false, true);
    let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    w.ex.shutdown(true, false);

    let refused: usize = results.iter().map(|r| r.1).sum();
    let originals: Vec<&(usize, Future<usize>)> = results.iter().flat_map(|r| &r.0).collect();
    assert_eq!(originals.len() + refused, n);
    assert!(refused > 0, "shutdown came after every submit");
    let follow_ups = std::mem::take(&mut *w.follow_ups.lock().unwrap());

    let (mut finished, mut failed, mut cancelled) = (0u64, 0u64, 0u64);
    let all = originals.iter().map(|(_, f)| f).chain(follow_ups.iter());
    for f in all {
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
    for (i, _) in &originals {
        let expected = u8::from(i % 10 == 0);
        assert_eq!(
            w.calls[*i].load(Ordering::SeqCst),
            expected,
            "callbacks of future {i}"
        );
    }
    let callbacks_submitting = originals.iter().filter(|(i, _)| i % 100 == 0).count();
    assert_eq!(
        follow_ups.len() + w.follow_ups_refused.load(Ordering::SeqCst),
        callbacks_submitting
    );
    let s = w.ex.stats();
    assert_eq!((s.workers, s.queued, s.running), (0, 0, 0), "{s:?}");
    assert_eq!(
        (s.completed, s.failed, s.cancelled),
        (finished, failed, cancelled),
        "{s:?}"
    );
    assert_eq!(
        finished + failed + cancelled,
        (originals.len() + follow_ups.len()) as u64
    );
}
