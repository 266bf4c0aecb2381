//! A port of CPython's process-pool tests: the portable cases of
//! `Lib/test/test_concurrent_futures/test_process_pool.py`,
//! `test_deadlock.py` (a crash, an exit or an error at each stage of a task's
//! life), and the process halves of `test_shutdown.py` and `test_init.py`.
//!
//! Changed on purpose (API.md, "where we differ"): a worker that dies fails
//! only its own task with `TaskError::WorkerDied` and the pool goes on,
//! where CPython raises `BrokenProcessPool` for every pending future and
//! breaks the pool. Pickling errors are serde errors at the same stages.
//! Python-only cases (pickle internals, `_processes`, start methods, the
//! interpreter's finalization) are left out. `harness = false`: `main` calls
//! `process::init()` first.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concurrent_futures_core::{ExitCause, TaskError};
use concurrent_futures_pool::process::{self, ProcessPoolExecutor, SerdeError, SerdeStage};
use concurrent_futures_pool::MapOptions;
use support::faults::{blob_of, AbortDe, AbortSer, Blob, FailDe, FailSer, PanicDe};
use support::{pool, pool_n, secs, task_error, value, wait_until};

fn mul((x, y): (i64, i64)) -> i64 {
    x * y
}

fn pow((x, y): (u32, u32)) -> u64 {
    u64::from(x).pow(y % 5)
}

fn getpid(_: ()) -> u32 {
    std::process::id()
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn crash(_: ()) -> u32 {
    // SAFETY: test fault (CPython's `faulthandler._sigsegv()`): restore the
    // default action and raise SIGSEGV.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV returned")
}

fn crash_with_data(_: Blob) -> u32 {
    crash(())
}

fn exit_task(_: ()) -> u32 {
    std::process::exit(1)
}

fn raise_error(_: ()) -> u32 {
    panic!("error during func exec")
}

fn died(e: &TaskError) -> ExitCause {
    match e {
        TaskError::WorkerDied { cause, .. } => *cause,
        other => panic!("expected WorkerDied, got {other:?}"),
    }
}

fn stage(e: &TaskError) -> SerdeStage {
    e.downcast_ref::<SerdeError>()
        .unwrap_or_else(|| panic!("expected SerdeError, got {e:?}"))
        .stage()
}

// ------------------------------------------------ test_process_pool.py

/// `test_killed_child`: ours fails only the killed task; the pool serves on.
fn test_killed_child() {
    let ex = pool_n(2);
    let f = ex.submit(|ms: u64| sleep_ms(ms), 3_000).unwrap();
    wait_until(secs(10.0), "the task to run", || f.running());
    let (pid, _) = support::children()[0];
    // SAFETY: terminates our own child, as `_processes[0].terminate()`.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    assert_eq!(
        died(&task_error(&f, secs(10.0))),
        ExitCause::Signal(libc::SIGTERM)
    );
    assert_eq!(value(&ex.submit(mul, (2, 8)).unwrap(), secs(10.0)), 16);
}

/// `test_map_chunksize`.
fn test_map_chunksize() {
    let ex = pool_n(2);
    let input: Vec<(u32, u32)> = (0..40).map(|i| (i, i)).collect();
    let reference: Vec<u64> = input.iter().copied().map(pow).collect();
    for chunk in [1, 6, 50, 40] {
        let got = ex
            .map_with(pow, input.clone(), MapOptions::default().chunksize(chunk))
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(got, reference, "chunksize {chunk}");
    }
    let zero = std::panic::catch_unwind(|| MapOptions::default().chunksize(0));
    assert!(
        zero.is_err(),
        "chunksize 0 is refused (Python's ValueError)"
    );
}

/// `test_traceback`: the worker's panic message reaches the caller.
fn test_traceback() {
    let ex = pool_n(1);
    let e = task_error(&ex.submit(raise_error, ()).unwrap(), secs(10.0));
    assert_eq!(e.panic_message(), Some("error during func exec"));
}

/// `test_idle_process_reuse_one` (CPython's `len(executor._processes) == 1`
/// is `stats().workers`), on ten fresh pools: it was flaky before the
/// slots counted themselves ready before completing the future.
fn test_idle_process_reuse_one() {
    for round in 0..10 {
        let ex = pool_n(4);
        assert!(ex.max_workers() >= 4);
        let pids: Vec<u32> = (0..3)
            .map(|_| value(&ex.submit(getpid, ()).unwrap(), secs(10.0)))
            .collect();
        assert!(
            pids.iter().all(|&p| p == pids[0]),
            "round {round}: {pids:?}"
        );
        assert_eq!(ex.stats().workers, 1, "round {round}");
        assert_eq!(support::children().len(), 1, "round {round}");
    }
}

/// `test_idle_process_reuse_multiple`.
fn test_idle_process_reuse_multiple() {
    let ex = pool_n(3);
    for i in 0..5 {
        assert_eq!(value(&ex.submit(mul, (i, 2)).unwrap(), secs(10.0)), i * 2);
    }
    let f = ex.submit(mul, (3, 3)).unwrap();
    let g = ex.submit(mul, (4, 4)).unwrap();
    assert_eq!((value(&f, secs(10.0)), value(&g, secs(10.0))), (9, 16));
    assert!(support::children().len() <= 3);
}

/// `test_max_tasks_per_child`.
fn test_max_tasks_per_child() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .max_tasks_per_child(3),
    );
    let first = value(&ex.submit(getpid, ()).unwrap(), secs(10.0));
    assert_eq!(value(&ex.submit(getpid, ()).unwrap(), secs(10.0)), first);
    assert_eq!(value(&ex.submit(getpid, ()).unwrap(), secs(10.0)), first);
    let fourth = value(&ex.submit(getpid, ()).unwrap(), secs(10.0));
    assert_ne!(fourth, first, "a new worker after 3 tasks");
}

/// `test_max_tasks_early_shutdown` (gh-115634: shutdown must not hang).
fn test_max_tasks_early_shutdown() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(3)
            .max_tasks_per_child(1),
    );
    let futures: Vec<_> = (0..6).map(|i| ex.submit(mul, (i, i)).unwrap()).collect();
    ex.shutdown(true, false);
    for (i, f) in futures.iter().enumerate() {
        let i = i as i64;
        assert_eq!(value(f, secs(1.0)), i * i);
    }
}

/// `test_force_shutdown_workers` (3.14): both kill and terminate.
fn test_force_shutdown_workers() {
    for kill in [false, true] {
        let ex = pool_n(2);
        let running = ex.submit(|ms: u64| sleep_ms(ms), 60_000).unwrap();
        let queued: Vec<_> = (0..4).map(|i| ex.submit(mul, (i, 1)).unwrap()).collect();
        wait_until(secs(10.0), "the task to run", || running.running());
        if kill {
            ex.kill_workers();
        } else {
            ex.terminate_workers();
        }
        let want = if kill { libc::SIGKILL } else { libc::SIGTERM };
        assert_eq!(
            died(&task_error(&running, secs(5.0))),
            ExitCause::Signal(want)
        );
        for q in &queued {
            assert!(q.done(), "{q:?}");
        }
        assert!(ex.submit(mul, (1, 1)).unwrap_err().is_shutdown());
    }
}

// ----------------------------------------------------- test_deadlock.py

/// `test_error_at_task_pickle`: ours refuses the submit itself.
fn test_error_at_task_pickle() {
    let ex = pool_n(2);
    let e = ex.submit(|_: FailSer| 0u8, FailSer).unwrap_err();
    assert!(e.is_serialize(), "{e}");
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_exit_at_task_unpickle` and `test_crash_at_task_unpickle`.
fn test_crash_at_task_unpickle() {
    let ex = pool_n(2);
    let e = task_error(&ex.submit(|_: AbortDe| 0u8, AbortDe).unwrap(), secs(10.0));
    assert_eq!(died(&e), ExitCause::Signal(libc::SIGABRT));
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_error_at_task_unpickle`.
fn test_error_at_task_unpickle() {
    let ex = pool_n(2);
    let e = task_error(&ex.submit(|_: FailDe| 0u8, FailDe).unwrap(), secs(10.0));
    assert_eq!(stage(&e), SerdeStage::ArgumentDecode);
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_crash_during_func_exec_on_worker`,
/// `test_exit_during_func_exec_on_worker`,
/// `test_error_during_func_exec_on_worker`.
fn test_failures_during_func_exec_on_worker() {
    let ex = pool_n(2);
    let crashed = ex.submit(crash, ()).unwrap();
    let exited = ex.submit(exit_task, ()).unwrap();
    let raised = ex.submit(raise_error, ()).unwrap();
    assert_eq!(
        died(&task_error(&crashed, secs(10.0))),
        ExitCause::Signal(libc::SIGSEGV)
    );
    assert_eq!(died(&task_error(&exited, secs(10.0))), ExitCause::Code(1));
    assert!(task_error(&raised, secs(10.0)).is_panic());
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_crash_during_result_pickle_on_worker`,
/// `test_error_during_result_pickle_on_worker`.
fn test_failures_during_result_pickle_on_worker() {
    let ex = pool_n(2);
    let crashed = ex.submit(|_: ()| AbortSer, ()).unwrap();
    let failed = ex.submit(|_: ()| FailSer, ()).unwrap();
    assert_eq!(
        died(&task_error(&crashed, secs(10.0))),
        ExitCause::Signal(libc::SIGABRT)
    );
    assert_eq!(
        stage(&task_error(&failed, secs(10.0))),
        SerdeStage::ResultEncode
    );
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_error_during_result_unpickle_in_result_handler` (ours: the error,
/// or the panic, stays with that future; the dispatcher goes on).
fn test_error_during_result_unpickle_in_result_handler() {
    let ex = pool_n(2);
    let failed = ex.submit(|_: ()| FailDe, ()).unwrap();
    let panicked = ex.submit(|_: ()| PanicDe, ()).unwrap();
    assert_eq!(
        stage(&task_error(&failed, secs(10.0))),
        SerdeStage::ResultDecode
    );
    assert_eq!(
        stage(&task_error(&panicked, secs(10.0))),
        SerdeStage::ResultDecode
    );
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_crash_big_data`: crashes while big arguments are in the pipes.
fn test_crash_big_data() {
    let ex = pool_n(2);
    let data = blob_of(1 << 20, 7);
    let results: Vec<_> = ex.map(crash_with_data, vec![data; 10]).unwrap().collect();
    assert_eq!(results.len(), 10);
    for r in results {
        let e = r.unwrap_err();
        assert_eq!(
            died(e.task_error().unwrap()),
            ExitCause::Signal(libc::SIGSEGV)
        );
    }
    assert_eq!(value(&ex.submit(mul, (2, 3)).unwrap(), secs(10.0)), 6);
}

/// `test_shutdown_deadlock`: a worker dies after shutdown was called.
fn test_shutdown_deadlock() {
    let ex = pool_n(2);
    let f = ex
        .submit(
            |_: ()| -> u8 {
                std::thread::sleep(Duration::from_millis(100));
                std::process::exit(1)
            },
            (),
        )
        .unwrap();
    ex.shutdown(true, false);
    assert_eq!(died(&task_error(&f, secs(1.0))), ExitCause::Code(1));
}

/// `test_shutdown_deadlock_pickle`: a refused argument and shutdown(wait=False).
fn test_shutdown_deadlock_pickle() {
    let ex = pool_n(2);
    let slow = ex.submit(|ms: u64| sleep_ms(ms), 100).unwrap();
    assert!(ex
        .submit(|_: FailSer| 0u8, FailSer)
        .unwrap_err()
        .is_serialize());
    ex.shutdown(false, false);
    support::outcome(&slow, secs(10.0)).unwrap();
}

// ------------------------------------------------- test_shutdown.py

/// `test_processes_terminate`.
fn test_processes_terminate() {
    let ex = pool_n(5);
    let fs: Vec<_> = [(21, 2), (6, 7), (3, 14)]
        .into_iter()
        .map(|a| ex.submit(mul, a).unwrap())
        .collect();
    ex.shutdown(true, false);
    for f in &fs {
        assert_eq!(value(f, secs(1.0)), 42);
    }
    assert!(support::children().is_empty(), "{:?}", support::children());
}

/// `test_context_manager_shutdown` and `test_del_shutdown`: a map outlives
/// its executor.
fn test_del_shutdown() {
    let ex = ProcessPoolExecutor::new(5).unwrap();
    let res = ex.map(i64::abs, -5..5).unwrap();
    drop(ex);
    assert!(support::children().is_empty());
    assert_eq!(res.into_result().unwrap(), [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
}

/// `test_shutdown_no_wait`.
fn test_shutdown_no_wait() {
    let ex = pool_n(5);
    let res = ex.map(i64::abs, -5..5).unwrap();
    ex.shutdown(false, false);
    assert_eq!(res.into_result().unwrap(), [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
    drop(ex);
}

/// `test_cancel_futures_wait_false`.
fn test_cancel_futures_wait_false() {
    let ex = pool_n(2);
    let fs: Vec<_> = (0..50)
        .map(|_| ex.submit(|ms: u64| sleep_ms(ms), 100).unwrap())
        .collect();
    ex.shutdown(false, true);
    drop(ex);
    let cancelled = fs.iter().filter(|f| f.cancelled()).count();
    assert!(cancelled >= 40, "{cancelled} of 50 cancelled");
    assert!(fs.iter().all(|f| f.done()));
}

/// `test_run_after_shutdown`.
fn test_run_after_shutdown() {
    let ex = pool_n(1);
    ex.shutdown(true, false);
    assert!(ex.submit(mul, (2, 5)).unwrap_err().is_shutdown());
}

// ----------------------------------------------------- test_init.py

static STATUS: AtomicUsize = AtomicUsize::new(0);

fn init_ok() {
    STATUS.store(1, Ordering::SeqCst);
}

fn init_fail() -> Result<(), String> {
    Err("error in initializer".to_owned())
}

fn get_init_status(_: ()) -> usize {
    STATUS.load(Ordering::SeqCst)
}

/// `InitializerMixin.test_initializer`.
fn test_initializer() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(5)
            .initializer(init_ok),
    );
    let fs: Vec<_> = (0..5)
        .map(|_| ex.submit(get_init_status, ()).unwrap())
        .collect();
    for f in &fs {
        assert_eq!(value(f, secs(10.0)), 1);
    }
}

/// `FailingInitializerMixin.test_initializer`.
fn test_failing_initializer() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(5)
            .try_initializer(init_fail),
    );
    if let Ok(f) = ex.submit(get_init_status, ()) {
        assert!(task_error(&f, secs(10.0)).is_broken());
    }
    let e = ex.submit(get_init_status, ()).unwrap_err();
    assert!(e.is_broken());
    assert!(e.to_string().contains("error in initializer"), "{e}");
}

fn main() {
    support::quiet_deliberate_faults();
    process::init();
    support::run(&[
        support::case!(test_killed_child, 30),
        support::case!(test_map_chunksize, 30),
        support::case!(test_traceback, 30),
        support::case!(test_idle_process_reuse_one, 30),
        support::case!(test_idle_process_reuse_multiple, 30),
        support::case!(test_max_tasks_per_child, 30),
        support::case!(test_max_tasks_early_shutdown, 30),
        support::case!(test_force_shutdown_workers, 30),
        support::case!(test_error_at_task_pickle, 30),
        support::case!(test_crash_at_task_unpickle, 30),
        support::case!(test_error_at_task_unpickle, 30),
        support::case!(test_failures_during_func_exec_on_worker, 30),
        support::case!(test_failures_during_result_pickle_on_worker, 30),
        support::case!(test_error_during_result_unpickle_in_result_handler, 30),
        support::case!(test_crash_big_data, 60),
        support::case!(test_shutdown_deadlock, 30),
        support::case!(test_shutdown_deadlock_pickle, 30),
        support::case!(test_processes_terminate, 30),
        support::case!(test_del_shutdown, 30),
        support::case!(test_shutdown_no_wait, 30),
        support::case!(test_cancel_futures_wait_false, 30),
        support::case!(test_run_after_shutdown, 30),
        support::case!(test_initializer, 30),
        support::case!(test_failing_initializer, 30),
    ]);
}
