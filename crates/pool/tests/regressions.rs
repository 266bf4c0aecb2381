//! Issue 10, "What goes wrong today", items 1 to 5: each scenario as it was
//! reported, bounded (a hang fails after a timeout and says what it waited
//! for). Items 3 (a panic while spawning), 7 (a spawn failure with a second
//! submitter in the gate) and the replacement of a dead worker need fault
//! injection and are unit tests in `src/thread/tests.rs`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{wait_until, Latch, T};
use concurrent_futures_core::Future;
use concurrent_futures_pool::ThreadPoolExecutor;

/// How long a callback or task waits for something that must happen soon
/// (half of `T`, so the test's own waits outlast it; generous for TSan).
const SOON: Duration = Duration::from_secs(10);

/// Panics when dropped (a value whose `Drop` is user code that fails).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("PanicOnDrop dropped");
        }
    }
}

/// A warm pool of `n` with one thread started and idle.
fn warm(n: usize) -> Arc<ThreadPoolExecutor> {
    let ex = Arc::new(ThreadPoolExecutor::new(n).unwrap());
    ex.submit(|| ()).unwrap().result_timeout(T).unwrap();
    wait_until("the first worker to be idle", || ex.stats().idle == 1);
    ex
}

/// Item 1: a done-callback on a worker submits to the same pool and waits:
/// the follow-up must start on another thread (the worker is busy until its
/// callbacks return).
#[test]
fn a_callback_that_submits_and_waits_does_not_deadlock() {
    let _w = common::watchdog("a_callback_that_submits_and_waits_does_not_deadlock");
    let ex = warm(4);
    let go = Latch::new();
    let g = go.clone();
    let f = ex.submit(move || g.wait()).unwrap();
    let outcome = Arc::new(Mutex::new(None));
    let (pool, out) = (Arc::clone(&ex), Arc::clone(&outcome));
    f.add_done_callback(move |_| {
        let follow_up = pool.submit(|| 5).unwrap();
        *out.lock().unwrap() = Some(follow_up.result_timeout(SOON).copied().ok());
    });
    go.open();
    wait_until("the callback to finish", || {
        outcome.lock().unwrap().is_some()
    });
    assert_eq!(
        *outcome.lock().unwrap(),
        Some(Some(5)),
        "the follow-up submitted by a callback never started: {:?}",
        ex.stats()
    );
}

/// Item 1: a slow callback must not delay a submit made meanwhile (it gets
/// a new thread instead of queueing behind the callback).
#[test]
fn a_slow_callback_does_not_delay_new_submits() {
    let _w = common::watchdog("a_slow_callback_does_not_delay_new_submits");
    let ex = warm(4);
    let release = Latch::new();
    let go = Latch::new();
    let g = go.clone();
    let f = ex.submit(move || g.wait()).unwrap();
    let in_callback = Arc::new(AtomicBool::new(false));
    let (r, inside) = (release.clone(), Arc::clone(&in_callback));
    f.add_done_callback(move |_| {
        inside.store(true, Ordering::SeqCst);
        r.wait();
    });
    go.open();
    wait_until("the callback to start", || {
        in_callback.load(Ordering::SeqCst)
    });
    let other = ex.submit(|| 7).unwrap();
    let got = other.result_timeout(SOON).copied().ok();
    release.open();
    assert_eq!(
        got,
        Some(7),
        "a submit waited for a slow callback: {:?}",
        ex.stats()
    );
}

/// Stats of a quiet pool: every accepted task counted once.
fn settled(ex: &ThreadPoolExecutor, accepted: u64) {
    wait_until("the counters to add up", || {
        let s = ex.stats();
        s.completed + s.failed + s.cancelled == accepted && s.running == 0 && s.queued == 0
    });
}

/// Item 2: a result whose `Drop` panics, dropped on the worker because the
/// caller dropped its handle first: the worker lives, the pool serves on.
#[test]
fn a_result_drop_panic_on_the_worker_keeps_the_pool_serving() {
    let _w = common::watchdog("a_result_drop_panic_on_the_worker_keeps_the_pool_serving");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let go = Latch::new();
    let g = go.clone();
    drop(ex.submit(move || {
        g.wait();
        PanicOnDrop
    }));
    go.open();
    let next = ex.submit(|| 1).unwrap();
    assert_eq!(*next.result_timeout(SOON).unwrap(), 1, "{:?}", ex.stats());
    settled(&ex, 2);
    assert_eq!(ex.stats().workers, 1);
}

/// Item 2: a cancelled task's closure whose capture panics in `Drop` when
/// the worker skips it.
#[test]
fn a_cancelled_capture_drop_panic_keeps_the_pool_serving() {
    let _w = common::watchdog("a_cancelled_capture_drop_panic_keeps_the_pool_serving");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let go = Latch::new();
    let g = go.clone();
    let busy = ex.submit(move || g.wait()).unwrap();
    let capture = PanicOnDrop;
    let skipped = ex
        .submit(move || {
            let _keep = &capture;
        })
        .unwrap();
    assert!(skipped.cancel());
    go.open();
    busy.result_timeout(SOON).unwrap();
    let next = ex.submit(|| 2).unwrap();
    assert_eq!(*next.result_timeout(SOON).unwrap(), 2, "{:?}", ex.stats());
    settled(&ex, 3);
    assert_eq!(ex.stats().workers, 1);
}

/// Item 2: a task panicking with a payload whose own `Drop` panics: its
/// future still fails, and the pool serves on.
#[test]
fn a_panic_payload_whose_drop_panics_still_ends_the_future() {
    let _w = common::watchdog("a_panic_payload_whose_drop_panics_still_ends_the_future");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let f: Future<()> = ex.submit(|| std::panic::panic_any(PanicOnDrop)).unwrap();
    assert!(
        f.exception_timeout(SOON).is_ok(),
        "the future never ended: {:?}",
        f.state()
    );
    let next = ex.submit(|| 3).unwrap();
    assert_eq!(*next.result_timeout(SOON).unwrap(), 3, "{:?}", ex.stats());
    settled(&ex, 2);
}

/// Item 3: a thread name the OS cannot take is refused when the pool is
/// built, not by a panic inside the first `submit`.
#[test]
fn a_thread_name_with_nul_is_a_build_error() {
    let _w = common::watchdog("a_thread_name_with_nul_is_a_build_error");
    let e = ThreadPoolExecutor::builder()
        .thread_name_prefix("bad\0name")
        .build()
        .expect_err("a NUL in the thread name prefix was accepted");
    assert!(e.to_string().contains("NUL"), "{e}");
}

/// Item 4: a huge `max_workers` costs nothing until threads start.
#[test]
fn huge_max_workers_is_lazy() {
    let _w = common::watchdog("huge_max_workers_is_lazy");
    for n in [usize::MAX, 1 << 40] {
        let ex = ThreadPoolExecutor::new(n).unwrap();
        assert_eq!(ex.max_workers(), n);
        assert_eq!(*ex.submit(|| 4).unwrap().result_timeout(SOON).unwrap(), 4);
        assert!(ex.stats().workers <= 2);
    }
}

/// Item 5: on a pool of one, B submitted from a task after A was submitted
/// from outside runs after A (one FIFO queue, as Python's).
#[test]
fn inside_submits_do_not_jump_the_queue() {
    let _w = common::watchdog("inside_submits_do_not_jump_the_queue");
    let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let order = Arc::new(Mutex::new(Vec::new()));
    let a_submitted = Latch::new();
    let (pool, o, a) = (Arc::clone(&ex), Arc::clone(&order), a_submitted.clone());
    let t = ex
        .submit(move || {
            a.wait();
            let o = Arc::clone(&o);
            pool.submit(move || o.lock().unwrap().push("B")).unwrap()
        })
        .unwrap();
    let o = Arc::clone(&order);
    let a = ex.submit(move || o.lock().unwrap().push("A")).unwrap();
    a_submitted.open();
    let b = t.into_result().unwrap();
    b.result_timeout(SOON).unwrap();
    a.result_timeout(SOON).unwrap();
    assert_eq!(*order.lock().unwrap(), ["A", "B"]);
}

/// Item 5: a task that keeps resubmitting itself does not starve outside
/// work: with one worker, an outside task submitted while the chain runs
/// starts after a bounded number of links.
#[test]
fn a_self_resubmitting_chain_does_not_starve_outside_work() {
    let _w = common::watchdog("a_self_resubmitting_chain_does_not_starve_outside_work");
    const LINKS: usize = 200;
    let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let links = Arc::new(AtomicUsize::new(0));
    let done = Latch::new();
    fn link(ex: Arc<ThreadPoolExecutor>, links: Arc<AtomicUsize>, done: Latch) {
        let n = links.fetch_add(1, Ordering::SeqCst) + 1;
        if n == LINKS {
            done.open();
            return;
        }
        let pool = Arc::clone(&ex);
        let _ = ex.submit(move || link(pool, links, done)).unwrap();
    }
    let started = Latch::new();
    let s = started.clone();
    let (pool, l, d) = (Arc::clone(&ex), Arc::clone(&links), done.clone());
    let _chain = ex
        .submit(move || {
            s.wait();
            link(pool, l, d)
        })
        .unwrap();
    let l = Arc::clone(&links);
    let outside = ex.submit(move || l.load(Ordering::SeqCst)).unwrap();
    started.open();
    let at = *outside.result_timeout(T).unwrap();
    done.wait();
    assert!(
        at < 4,
        "the outside task waited behind {at} of {LINKS} links of a chain"
    );
}

#[test]
fn one_worker_starts_tasks_in_submission_order() {
    // The worker takes jobs from the shared queue in batches; its periodic
    // look at the shared queue first (a fairness rule for scoped jobs
    // pushed on the worker) once let a newer job start before older ones
    // of the batch: one inversion every 61 jobs.
    let _w = common::watchdog("one_worker_starts_tasks_in_submission_order");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..1000 {
        let log = Arc::clone(&log);
        let _ = ex.submit(move || log.lock().unwrap().push(i)).unwrap();
    }
    ex.shutdown(true, false);
    let log = log.lock().unwrap();
    let first_inversion = log.windows(2).position(|w| w[0] > w[1]);
    assert_eq!(
        first_inversion,
        None,
        "started out of order: {:?}",
        &log[..]
    );
    assert_eq!(log.len(), 1000);
}

/// A stack of 24 KiB or less segfaulted a debug build's worker (in a
/// thread-local destructor as it exited); such a size is now refused at
/// `build`, and the smallest accepted one runs tasks, panicking ones
/// included, and shuts down cleanly.
#[test]
fn a_stack_too_small_for_a_worker_is_refused_and_the_minimum_runs() {
    use concurrent_futures_pool::{BuildError, ThreadPoolBuilder};
    for bytes in [0, 4096, 24 * 1024, ThreadPoolBuilder::MIN_STACK_SIZE - 1] {
        let refused = ThreadPoolBuilder::new().stack_size(bytes).build();
        assert!(
            matches!(&refused, Err(BuildError::InvalidOption(why)) if why.contains("stack_size")),
            "stack_size({bytes}) was not refused: {:?}",
            refused.err()
        );
    }
    let ex = ThreadPoolBuilder::new()
        .max_workers(2)
        .stack_size(ThreadPoolBuilder::MIN_STACK_SIZE)
        .initializer(|| ())
        .build()
        .unwrap();
    let fs: Vec<_> = (0..64u32)
        .map(|i| {
            ex.submit(move || {
                assert!(i % 8 != 0, "task {i} panics on purpose");
                i
            })
            .unwrap()
        })
        .collect();
    for (i, f) in (0u32..).zip(&fs) {
        match f.result_timeout(T) {
            Ok(v) => assert_eq!(*v, i),
            Err(e) => assert!(i % 8 == 0, "task {i}: {e}"),
        }
    }
    ex.shutdown(true, false);
}

/// A user's `set_running_or_notify_cancel` on a queued pool future (an
/// executor-implementer's call, made on the wrong future) left it running
/// for ever: the worker took the refused claim for a cancellation and
/// dropped the closure. The task now runs and completes it.
#[test]
fn a_queued_future_marked_running_by_its_user_still_runs() {
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let gate = Latch::new();
    let busy = {
        let gate = gate.clone();
        ex.submit(move || gate.wait()).unwrap()
    };
    let queued = ex.submit(|| 5u32).unwrap();
    assert_eq!(queued.set_running_or_notify_cancel(), Ok(true));
    gate.open();
    busy.result_timeout(T).unwrap();
    assert_eq!(
        *queued
            .result_timeout(T)
            .expect("the future marked running by hand never completed"),
        5
    );
    assert_eq!(ex.stats().cancelled, 0);
}
