//! Touches every re-export of the facade once, so a missing one fails to build.

use concurrent_futures as cf;
use std::sync::Arc;

#[test]
fn smoke() {
    let f: cf::Future<i32> = cf::Future::new();
    f.set_result(1).unwrap();
    assert_eq!(f.state(), cf::FutureState::Finished);
}

#[test]
fn every_reexport() {
    let _: Option<cf::BoxError> = None;
    let _: Option<cf::SharedError> = None;
    let _ = cf::Completion::Finished;
    let _ = cf::ExitCause::Code(0);
    let _ = cf::FutureError::Cancelled;
    let _ = cf::TaskError::panic("p");
    let _ = cf::ClusterJobError::new("1", "FAILED");
    let _ = cf::slurm::SlurmState::parse("PENDING");
    let _: fn() -> bool = cf::slurm::cluster_available;
    let _ = cf::process::launcher::Launcher::srun();
    let _ = cf::TimeoutError::new(1, 2);
    let f = cf::Future::<()>::new();
    let e: cf::InvalidStateError = {
        f.set_result(()).unwrap();
        f.set_result(()).unwrap_err()
    };
    assert_eq!(e.state(), cf::FutureState::Finished);
    let _: fn(cf::Future<()>) -> cf::ResultFuture<()> = std::future::IntoFuture::into_future;
    let unit = cf::Future::<()>::new();
    let rf: cf::RefResultFuture<'_, ()> = std::future::IntoFuture::into_future(&unit);
    assert!(format!("{rf:?}").starts_with("RefResultFuture"));
    struct W;
    // SAFETY: `notify` does nothing: it takes no lock and never calls back
    // into a future.
    unsafe impl cf::Waiter for W {
        fn notify(&self, _: usize, _: cf::Completion) {}
    }
    let w: Arc<dyn cf::Waiter> = Arc::new(W);
    let waitable: &dyn cf::Waitable = &f;
    assert_eq!(
        waitable.install_waiter(&w, 0),
        Some(cf::Completion::Finished)
    );
    let fs = [f.clone()];
    let r: cf::DoneAndNotDone<()> = cf::wait(&fs, None, cf::ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 1);
    let it: cf::AsCompleted<()> = cf::as_completed(&fs, None);
    assert_eq!(it.count(), 1);
    let r: cf::DoneAndNotDoneIndices = cf::wait_any(&[&f], None, cf::ReturnWhen::FirstCompleted);
    assert_eq!(r.done, [0]);
    let it: cf::AsCompletedAny<'_> = cf::as_completed_any(&[&f], None);
    assert_eq!(it.count(), 1);
    let (task, g) = cf::Task::new(|| 2u8);
    assert_eq!(task.run(), cf::Ran::Completed);
    let _g2 = g.clone();
    match g.into_result() {
        Err(cf::FutureError::NotUnique(e)) => {
            let e: cf::NotUniqueError = e;
            assert_eq!(e.others(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_sync_reexport() {
    use std::time::Duration;
    let event = cf::sync::Event::new();
    event.set();
    assert!(event.wait_timeout(Duration::ZERO));
    let sem = cf::sync::Semaphore::new(1);
    drop(sem.acquire_guard());
    let guard: Option<cf::sync::SemaphoreGuard<'_>> = sem.try_acquire_guard();
    assert!(guard.is_some());
    let bounded = cf::sync::BoundedSemaphore::new(1);
    let _: cf::sync::ReleaseError = bounded.release().unwrap_err();
    let builder: cf::sync::BarrierBuilder = cf::sync::Barrier::builder(1);
    let barrier = builder.build();
    assert_eq!(barrier.wait(), Ok(0));
    barrier.abort();
    let _: cf::sync::BrokenBarrierError = barrier.wait().unwrap_err();
    let timer = cf::sync::Timer::start(Duration::from_secs(3600), || {});
    assert!(timer.cancel());
}

#[cfg(all(target_os = "linux", feature = "process"))]
#[test]
fn process_reexports() {
    let _: fn() = cf::process::init;
    let b: cf::ProcessPoolBuilder = cf::ProcessPoolExecutor::builder().max_workers(1);
    // `init()` was not called in this test binary: a clear error, not a hang.
    assert!(b.build().is_err());
    let _ = cf::process::SerdeStage::ResultDecode;
}

#[test]
fn thread_pool_reexports() {
    let b: cf::ThreadPoolBuilder = cf::ThreadPoolExecutor::builder().max_workers(2);
    let ex: cf::ThreadPoolExecutor = b.build().unwrap();
    let f = ex.submit(|| 1 + 1).unwrap();
    assert_eq!(*f.result().unwrap(), 2);
    let m: cf::Map<u32> = ex
        .map_with(|x: u32| x * 2, vec![1, 2], cf::MapOptions::default())
        .unwrap();
    assert_eq!(m.map(Result::unwrap).collect::<Vec<_>>(), [2, 4]);
    let n: usize = ex.scope(|s: &cf::Scope<'_, '_>| s.submit(|| 3).unwrap().into_result().unwrap());
    assert_eq!(n, 3);
    let stats: cf::PoolStats = ex.stats();
    assert!(stats.completed >= 2, "{stats:?}");
    fn shut<E: cf::Executor>(e: &E) {
        e.shutdown_with(cf::ShutdownOptions::default());
    }
    shut(&ex);
    let e: cf::SubmitError = ex.submit(|| ()).unwrap_err();
    assert!(e.is_shutdown());
    let z: cf::BuildError = cf::ThreadPoolExecutor::new(0).unwrap_err();
    assert!(z.is_zero_workers());
}

#[test]
fn panic_message_reexport() {
    let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    assert_eq!(cf::panic_message(payload.as_ref()), "boom");
}

/// `shutdown_with(ShutdownOptions)` names Python's keyword arguments: with
/// `wait(false).cancel_futures(true)` a queued task is cancelled and the call
/// does not wait for the running one.
#[test]
fn shutdown_options_name_the_arguments() {
    use std::time::Duration;
    let ex = cf::ThreadPoolExecutor::new(1).unwrap();
    let gate = Arc::new(cf::sync::Event::new());
    let g = Arc::clone(&gate);
    let running = ex
        .submit(move || g.wait_timeout(Duration::from_secs(30)))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !running.running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first task did not start in 30 s"
        );
        std::thread::yield_now();
    }
    let queued = ex.submit(|| 1).unwrap();
    let opts = cf::ShutdownOptions::default()
        .wait(false)
        .cancel_futures(true);
    assert!(!opts.get_wait() && opts.get_cancel_futures());
    ex.shutdown_with(opts);
    assert!(queued.cancelled(), "{queued:?}");
    assert!(
        !running.done(),
        "shutdown_with(wait(false)) waited for the running task"
    );
    gate.set();
    assert!(*running.result_timeout(Duration::from_secs(30)).unwrap());
}

#[test]
fn diagnostics_reexport() {
    let kind = cf::diagnostics::DiagnosticKind::CallbackPanicked;
    assert_eq!(kind.as_str(), "callback panicked");
    let _: fn(&cf::diagnostics::Diagnostic<'_>) = cf::diagnostics::report;
    cf::trace::worker_spawned("reexports test", 0);
    let (completer, future): (cf::Completer<u8>, cf::Future<u8>) = cf::Completer::new();
    drop(completer);
    let _ = future.cancel();
    let ex = cf::ThreadPoolExecutor::new(1).unwrap();
    let on_time: Result<(), cf::ShutdownTimeout> =
        ex.shutdown_timeout(std::time::Duration::from_secs(10), false);
    assert!(on_time.is_ok());
}
