//! `ThreadPoolExecutor::stats`: workers alive and idle, tasks queued,
//! running, completed, failed, cancelled.

mod common;

use common::{wait_until, Latch, T};
use concurrent_futures_pool::{PoolStats, ThreadPoolExecutor};

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    assert_eq!(ex.stats(), PoolStats::default());
}

#[test]
fn a_live_pool_and_a_shut_down_one() {
    let _watchdog = common::watchdog("a_live_pool_and_a_shut_down_one");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let release = Latch::new();
    let fs: Vec<_> = (0..5)
        .map(|_| {
            let r = release.clone();
            ex.submit(move || r.wait()).unwrap()
        })
        .collect();
    wait_until("two running tasks", || ex.stats().running == 2);
    let s = ex.stats();
    assert_eq!(
        (s.workers, s.idle, s.running, s.queued),
        (2, 0, 2, 3),
        "{s:?}"
    );
    assert!(!s.shutdown && !s.broken);
    assert!(fs[4].cancel());
    let p = ex.submit(|| -> () { panic!("counted as failed") }).unwrap();
    release.open();
    p.exception_timeout(T).unwrap().unwrap();
    for f in &fs[..4] {
        f.result_timeout(T).unwrap();
    }
    wait_until("both workers idle", || ex.stats().idle == 2);
    ex.shutdown(true, false);
    let s = ex.stats();
    assert_eq!(
        (
            s.workers,
            s.queued,
            s.running,
            s.completed,
            s.failed,
            s.cancelled
        ),
        (0, 0, 0, 4, 1, 1),
        "{s:?}"
    );
    assert!(s.shutdown);
}
