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
    let _ = cf::TimeoutError::new(1, 2);
    let f = cf::Future::<()>::new();
    let e: cf::InvalidStateError = {
        f.set_result(()).unwrap();
        f.set_result(()).unwrap_err()
    };
    assert_eq!(e.state(), cf::FutureState::Finished);
    let _: fn(cf::Future<()>) -> cf::ResultFuture<()> = std::future::IntoFuture::into_future;
    struct W;
    impl cf::Waiter for W {
        fn notify(&self, _: usize, _: cf::Completion) {}
    }
    let w: Arc<dyn cf::Waiter> = Arc::new(W);
    let waitable: &dyn cf::Waitable = &f;
    assert_eq!(
        waitable.install_waiter(&w, 0),
        Some(cf::Completion::Finished)
    );
}

#[cfg(target_os = "linux")]
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
    let ex: cf::ThreadPoolExecutor = cf::ThreadPoolBuilder::new().max_workers(1).build().unwrap();
    let m: cf::Map<i32> = ex
        .map_with(|x: i32| x, [1], cf::MapOptions::default())
        .unwrap();
    assert_eq!(m.into_result().unwrap(), [1]);
    let n = [2];
    assert_eq!(
        ex.scope(|s: &cf::Scope<'_, '_>| s.submit(|| n[0]).unwrap().into_result().unwrap()),
        2
    );
    let _: cf::PoolStats = ex.stats();
    fn shut<E: cf::Executor>(e: &E) {
        e.shutdown(true, false);
    }
    shut(&ex);
    let e: cf::SubmitError = ex.submit(|| ()).unwrap_err();
    assert!(e.is_shutdown());
    let b: cf::BuildError = cf::ThreadPoolExecutor::new(0).unwrap_err();
    assert!(b.is_zero_workers());
}
