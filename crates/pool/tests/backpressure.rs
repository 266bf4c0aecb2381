//! `max_queued` (backpressure), `shutdown_timeout`, and the builder's
//! per-worker options (issue 10; `stack_size`, `current_thread_index` and
//! `initializer_with_index` from issue 13).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wait_until, Latch, T};
use concurrent_futures_pool::{MapOptions, SubmitError, ThreadPoolExecutor};

fn bounded(workers: usize, queued: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(workers)
        .max_queued(queued)
        .build()
        .unwrap()
}

/// One worker held by a latch, so the queue fills.
fn held(ex: &ThreadPoolExecutor) -> Latch {
    let go = Latch::new();
    let g = go.clone();
    let f = ex.submit(move || g.wait()).unwrap();
    wait_until("the holding task to start", || f.running());
    go
}

#[test]
fn try_submit_refuses_at_once_when_full() {
    let _w = common::watchdog("try_submit_refuses_at_once_when_full");
    let ex = bounded(1, 2);
    let go = held(&ex);
    let a = ex.try_submit(|| 1).unwrap();
    let b = ex.try_submit(|| 2).unwrap();
    let t = Instant::now();
    let e = ex.try_submit(|| 3).unwrap_err();
    assert!(t.elapsed() < T);
    assert_eq!(e, SubmitError::Full { max_queued: 2 });
    assert!(e.is_full() && e.to_string().contains("full"), "{e}");
    assert_eq!(ex.stats().queued, 2);
    go.open();
    assert_eq!(
        *a.result_timeout(T).unwrap() + *b.result_timeout(T).unwrap(),
        3
    );
    // Room again once they started.
    assert_eq!(ex.try_submit(|| 4).unwrap().into_result().unwrap(), 4);
}

#[test]
fn submit_timeout_gives_up_after_its_timeout() {
    let _w = common::watchdog("submit_timeout_gives_up_after_its_timeout");
    let ex = bounded(1, 1);
    let go = held(&ex);
    let _queued = ex.submit(|| ()).unwrap();
    let t = Instant::now();
    let e = ex
        .submit_timeout(|| (), Duration::from_millis(30))
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert_eq!(e, SubmitError::Timeout { max_queued: 1 });
    go.open();
    assert!(ex.submit_timeout(|| (), T).is_ok());
}

#[test]
fn submit_blocks_while_full_and_resumes_when_a_task_starts() {
    let _w = common::watchdog("submit_blocks_while_full_and_resumes_when_a_task_starts");
    let ex = Arc::new(bounded(1, 1));
    let go = held(&ex);
    let _queued = ex.submit(|| ()).unwrap();
    let returned = Arc::new(AtomicUsize::new(0));
    let (pool, r) = (Arc::clone(&ex), Arc::clone(&returned));
    let blocked = std::thread::spawn(move || {
        let f = pool.submit(|| 9).unwrap();
        r.store(1, Ordering::SeqCst);
        f.into_result().unwrap()
    });
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        returned.load(Ordering::SeqCst),
        0,
        "submit did not wait for room"
    );
    go.open();
    assert_eq!(blocked.join().unwrap(), 9);
}

#[test]
fn shutdown_refuses_a_blocked_submitter() {
    let _w = common::watchdog("shutdown_refuses_a_blocked_submitter");
    let ex = Arc::new(bounded(1, 1));
    let go = held(&ex);
    let queued = ex.submit(|| ()).unwrap();
    let pool = Arc::clone(&ex);
    let blocked = std::thread::spawn(move || pool.submit(|| ()).map(drop));
    std::thread::sleep(Duration::from_millis(20));
    ex.shutdown(false, true);
    assert_eq!(blocked.join().unwrap(), Err(SubmitError::Shutdown));
    assert!(queued.cancelled());
    go.open();
}

/// The bound holds for a producer faster than the pool, through `map` and
/// `scope` too: sampled from inside the tasks, the queue never exceeds it.
#[test]
fn map_and_scope_respect_the_bound() {
    let _w = common::watchdog("map_and_scope_respect_the_bound");
    let ex = Arc::new(bounded(2, 3));
    let worst = Arc::new(AtomicUsize::new(0));
    let sample = {
        let (pool, worst) = (Arc::downgrade(&ex), Arc::clone(&worst));
        move || {
            if let Some(p) = pool.upgrade() {
                worst.fetch_max(p.stats().queued, Ordering::SeqCst);
            }
        }
    };
    let s = sample.clone();
    let out: Vec<u32> = ex
        .map_with(
            move |x: u32| {
                s();
                std::thread::sleep(Duration::from_micros(200));
                x
            },
            0..200,
            MapOptions::default().timeout(T),
        )
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(out.len(), 200);
    let total = AtomicUsize::new(0);
    ex.scope(|sc| {
        for _ in 0..200 {
            let _ = sc
                .submit(|| {
                    sample();
                    total.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
    });
    assert_eq!(total.load(Ordering::SeqCst), 200);
    assert!(
        worst.load(Ordering::SeqCst) <= 3,
        "queued reached {}",
        worst.load(Ordering::SeqCst)
    );
}

/// A task that submits to its own full pool does not wait for itself.
#[test]
fn a_task_submitting_to_its_full_pool_does_not_deadlock() {
    let _w = common::watchdog("a_task_submitting_to_its_full_pool_does_not_deadlock");
    let ex = Arc::new(bounded(1, 1));
    let pool = Arc::clone(&ex);
    let f = ex
        .submit(move || {
            let a = pool.submit(|| 1).unwrap();
            let b = pool.submit(|| 2).unwrap(); // past the bound: no waiting
            (a, b)
        })
        .unwrap();
    let (a, b) = f.into_result().unwrap();
    assert_eq!(
        *a.result_timeout(T).unwrap() + *b.result_timeout(T).unwrap(),
        3
    );
}

#[test]
fn zero_max_queued_is_a_build_error() {
    let e = ThreadPoolExecutor::builder()
        .max_queued(0)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("max_queued"), "{e}");
}

#[test]
fn shutdown_timeout_reports_what_still_runs_then_succeeds() {
    let _w = common::watchdog("shutdown_timeout_reports_what_still_runs_then_succeeds");
    let ex = ThreadPoolExecutor::builder()
        .max_workers(1)
        .thread_name_prefix("slow")
        .build()
        .unwrap();
    let go = held(&ex);
    let queued = ex.submit(|| 5).unwrap();
    let t = Instant::now();
    let late = ex
        .shutdown_timeout(Duration::from_millis(30), false)
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(30) && t.elapsed() < T);
    assert_eq!(
        (late.running, late.queued, late.workers),
        (1, 1, 1),
        "{late}"
    );
    assert_eq!(late.threads, ["slow_0"]);
    assert!(late.to_string().contains("1 tasks running"), "{late}");
    assert!(ex.submit(|| 0).unwrap_err().is_shutdown());
    go.open();
    ex.shutdown_timeout(T, false).unwrap();
    assert_eq!(*queued.result_timeout(T).unwrap(), 5);
    assert_eq!(ex.stats().workers, 0);
}

#[test]
fn shutdown_timeout_with_cancel_futures() {
    let _w = common::watchdog("shutdown_timeout_with_cancel_futures");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let go = held(&ex);
    let queued = ex.submit(|| 5).unwrap();
    go.open();
    ex.shutdown_timeout(T, true).unwrap();
    assert!(queued.cancelled() || *queued.result_timeout(T).unwrap() == 5);
}

#[test]
fn worker_indices_and_per_worker_initializer() {
    let _w = common::watchdog("worker_indices_and_per_worker_initializer");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let ex = ThreadPoolExecutor::builder()
        .max_workers(3)
        .stack_size(1 << 20)
        .initializer_with_index(move |i| {
            assert_eq!(ThreadPoolExecutor::current_thread_index(), Some(i));
            s.lock().unwrap().push(i);
        })
        .build()
        .unwrap();
    let b = Arc::new(concurrent_futures_core::sync::Barrier::new(3));
    let fs: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&b);
            ex.submit(move || {
                b.wait_timeout(T).unwrap();
                ThreadPoolExecutor::current_thread_index().unwrap()
            })
            .unwrap()
        })
        .collect();
    let got: HashSet<usize> = fs.into_iter().map(|f| f.into_result().unwrap()).collect();
    assert_eq!(got, HashSet::from([0, 1, 2]));
    let mut init = seen.lock().unwrap().clone();
    init.sort_unstable();
    assert_eq!(init, [0, 1, 2]);
}

#[test]
fn shutdown_timeout_is_not_held_up_by_another_callers_wait() {
    let _w = common::watchdog("shutdown_timeout_is_not_held_up_by_another_callers_wait");
    let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let go = held(&ex);
    // One thread waits for ever (`shutdown(true)`), another for long.
    let waiters: Vec<_> = [None, Some(T)]
        .into_iter()
        .map(|timeout| {
            let ex = Arc::clone(&ex);
            std::thread::spawn(move || match timeout {
                None => ex.shutdown(true, false),
                Some(t) => ex.shutdown_timeout(t, false).unwrap(),
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    // Both are waiting now; a short wait of a third caller still ends on
    // its own timeout (it once queued behind their lock for all of theirs).
    let t = Instant::now();
    let late = ex
        .shutdown_timeout(Duration::from_millis(20), false)
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(late.running, 1, "{late}");
    go.open();
    for w in waiters {
        w.join().unwrap();
    }
    assert!(
        took < T / 2,
        "shutdown_timeout(20 ms) waited {took:?}, for the other callers' waits"
    );
    assert_eq!(ex.stats().workers, 0);
    ex.shutdown_timeout(Duration::ZERO, false).unwrap();
}

#[test]
fn shutdown_timeout_from_an_own_task_never_joins_itself() {
    let _w = common::watchdog("shutdown_timeout_from_an_own_task_never_joins_itself");
    for timeout in [
        Duration::MAX,
        Duration::from_secs(u64::MAX / 2),
        T,
        Duration::ZERO,
    ] {
        let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let inner = Arc::clone(&ex);
        let f = ex
            .submit(move || inner.shutdown_timeout(timeout, false))
            .unwrap();
        // Without a deadline it once took the others' exit as its cue to
        // join every thread, its own included, and panicked.
        let late = f
            .result_timeout(T)
            .unwrap_or_else(|e| panic!("shutdown_timeout({timeout:?}) from a task: {e}"));
        let late = late.as_ref().unwrap_err();
        assert_eq!(late.running, 1, "{late}");
        ex.shutdown(true, false);
        assert_eq!(ex.stats().workers, 0);
    }
}

/// A buffered map's timeout bounds its read-ahead submit: with the queue
/// full, `next` used to wait for room (for other tasks' progress) past the
/// deadline and then return a value; it now times out at the deadline,
/// and the map ends cancelling what it submitted.
#[test]
fn a_buffered_map_times_out_when_its_read_ahead_finds_no_room() {
    let ex = bounded(1, 2);
    let go = held(&ex);
    let mut m = ex
        .map_with(
            |x: u32| x,
            0..5u32,
            MapOptions::default()
                .buffersize(1)
                .timeout(Duration::from_millis(200)),
        )
        .unwrap();
    let filler = ex.submit(|| ()).unwrap(); // item 0 and this fill the queue
    let t = Instant::now();
    let first = m.next();
    let waited = t.elapsed();
    go.open();
    assert!(
        matches!(first, Some(Err(ref e)) if e.is_timeout()),
        "expected the map's timeout, got {first:?} after {waited:?}"
    );
    assert!(waited < T, "next() waited {waited:?} for room");
    assert!(m.next().is_none(), "a timed-out map ends");
    filler.result_timeout(T).unwrap();
}

/// The same for a map that submits its whole input at the call: its
/// timeout counts from the call, so a submit still without room then is
/// refused with `SubmitError::Timeout`, and what was submitted is cancelled.
#[test]
fn an_eager_map_refuses_at_its_timeout_when_the_pool_has_no_room() {
    let ex = bounded(1, 2);
    let go = held(&ex);
    let t = Instant::now();
    let refused = ex.map_with(
        |x: u32| x,
        0..10u32,
        MapOptions::default().timeout(Duration::from_millis(200)),
    );
    let waited = t.elapsed();
    assert!(
        matches!(refused, Err(SubmitError::Timeout { .. })),
        "expected a submit timeout, got {:?} after {waited:?}",
        refused.map(|_| "a map")
    );
    assert!(waited < T, "map_with waited {waited:?} for room");
    go.open();
    // Nothing of the map is left to run: the pool takes new work at once.
    assert_eq!(*ex.submit(|| 7).unwrap().result_timeout(T).unwrap(), 7);
}
