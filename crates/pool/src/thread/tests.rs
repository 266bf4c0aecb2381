//! Unit tests of the thread pool that need its insides: injected spawn
//! failures and worker deaths (issue 10, items 2, 3 and 7).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

type SpawnHook = Box<dyn FnMut() -> io::Result<()> + Send>;
type AdmitHook = Box<dyn Fn() + Send + Sync>;

/// Fault injection points (tests only).
pub(crate) struct Faults {
    /// Called before each thread spawn; an `Err` is the spawn's error, a
    /// panic a panic inside `thread::Builder::spawn`.
    pub(crate) spawn: crate::primitives::Mutex<Option<SpawnHook>>,
    /// Called by a submitter right after it entered the gate.
    pub(crate) admitted: crate::primitives::Mutex<Option<AdmitHook>>,
    /// Workers that panic (outside the containment) after their next job.
    pub(crate) kill: AtomicUsize,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            spawn: crate::primitives::Mutex::new(None),
            admitted: crate::primitives::Mutex::new(None),
            kill: AtomicUsize::new(0),
        }
    }
}

impl Faults {
    pub(crate) fn before_spawn(&self) -> io::Result<()> {
        let mut hook = self.spawn.lock().take();
        let r = hook.as_mut().map_or(Ok(()), |f| f());
        *self.spawn.lock() = hook;
        r
    }

    pub(crate) fn after_admit(&self) {
        let hook = self.admitted.lock();
        if let Some(f) = hook.as_ref() {
            f();
        }
    }

    pub(crate) fn after_job(&self) {
        let n = self.kill.load(Ordering::SeqCst);
        if n > 0
            && self
                .kill
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            panic!("injected worker death");
        }
    }
}

#[cfg(not(loom))]
mod cases {
    use super::*;
    use crate::thread::{Map, ThreadPoolExecutor};
    use concurrent_futures_core::FutureState;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const T: Duration = Duration::from_secs(20);

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + T;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn pool_is_send_sync() {
        assert_send_sync::<ThreadPoolExecutor>();
        fn assert_send<X: Send>() {}
        assert_send::<Map<i32>>();
    }

    /// Item 2: a worker that dies outside the containment is replaced with
    /// its index; the job queued behind it runs; the counters add up.
    #[test]
    fn a_dead_worker_is_replaced() {
        let ex = ThreadPoolExecutor::new(1).unwrap();
        ex.shared.faults.kill.store(1, Ordering::SeqCst);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = ex.submit(move || rx.recv_timeout(T).is_ok()).unwrap();
        let second = ex.submit(ThreadPoolExecutor::current_thread_index).unwrap();
        tx.send(()).unwrap();
        assert!(*first.result_timeout(T).unwrap());
        assert_eq!(
            *second.result_timeout(T).unwrap(),
            Some(0),
            "the replacement has index 0"
        );
        wait_until("one worker, both tasks counted", || {
            let s = ex.stats();
            (s.workers, s.completed, s.failed, s.cancelled) == (1, 2, 0, 0)
        });
        ex.shutdown(true, false);
        assert_eq!(ex.stats().workers, 0);
    }

    /// Item 3: a panic while spawning the thread (the OS refusing its name)
    /// inside `submit` leaves the gate; the pool breaks cleanly, the future
    /// fails, and drop returns.
    #[test]
    fn a_panic_while_spawning_releases_the_gate() {
        let ex = ThreadPoolExecutor::new(2).unwrap();
        *ex.shared.faults.spawn.lock() =
            Some(Box::new(|| panic!("thread name contains a NUL byte")));
        let f = ex.submit(|| 1).unwrap();
        let e = f.exception_timeout(T).unwrap().unwrap();
        assert!(e.is_broken() && e.to_string().contains("NUL"), "{e}");
        assert_eq!(ex.shared.lc.inside(), 0);
        assert!(ex.submit(|| 2).unwrap_err().is_broken());
        let t = Instant::now();
        drop(ex);
        assert!(t.elapsed() < T);
    }

    /// A failed spawn with another worker alive only loses that thread.
    #[test]
    fn a_failed_spawn_with_a_worker_alive_keeps_serving() {
        let ex = ThreadPoolExecutor::new(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let busy = ex.submit(move || rx.recv_timeout(T).is_ok()).unwrap();
        wait_until("the first task to start", || busy.running());
        *ex.shared.faults.spawn.lock() =
            Some(Box::new(|| Err(io::Error::other("EAGAIN (injected)"))));
        let queued = ex.submit(|| 7).unwrap();
        tx.send(()).unwrap();
        assert_eq!(*queued.result_timeout(T).unwrap(), 7);
        assert!(!ex.stats().broken);
    }

    /// Item 7: one worker; the first spawn fails while a second submitter
    /// is inside the gate and pushes only after the break swept the queue.
    /// Its job must not stay queued with no worker to run it. Here the
    /// second submitter then tries a spawn of its own (which fails and
    /// sweeps again); the interleaving where it sees the first spawn still
    /// in progress and tries none, so that only the drainer's sweep
    /// (`Lifecycle::on_drained`) can end its job, is
    /// `loom_models::loom_real_spawn_failure_with_two_submitters` (it fails
    /// if that sweep is removed; this test does not).
    #[test]
    fn spawn_failure_with_a_second_submitter_in_the_gate() {
        let ex = Arc::new(ThreadPoolExecutor::new(1).unwrap());
        let shared = Arc::clone(&ex.shared);
        let mut first = true;
        *ex.shared.faults.spawn.lock() = Some(Box::new(move || {
            // The first spawn fails only once the second submitter is
            // inside; every later one (the second submitter's) at once.
            if std::mem::take(&mut first) {
                wait_until("the second submitter to enter", || shared.lc.inside() == 2);
            }
            Err(io::Error::other("EAGAIN (injected)"))
        }));
        let shared = Arc::clone(&ex.shared);
        *ex.shared.faults.admitted.lock() = Some(Box::new(move || {
            if std::thread::current().name() == Some("second") {
                wait_until("the pool to break", || shared.lc.broken());
            }
        }));
        let ex2 = Arc::clone(&ex);
        let second = std::thread::Builder::new()
            .name("second".into())
            .spawn(move || {
                wait_until("the first submitter to enter", || {
                    ex2.shared.lc.inside() == 1
                });
                ex2.submit(|| 2).unwrap()
            })
            .unwrap();
        let first = ex.submit(|| 1).unwrap();
        let second = second.join().unwrap();
        for f in [&first, &second] {
            let e = f.exception_timeout(T).expect("the future ended").unwrap();
            // Injected, not a hook's timed-out wait (a panic in the hook
            // would also be a spawn failure).
            assert!(e.is_broken() && e.to_string().contains("EAGAIN"), "{e}");
        }
        *ex.shared.faults.admitted.lock() = None;
        let s = ex.stats();
        assert_eq!((s.failed, s.queued, s.workers), (2, 0, 0), "{s:?}");
        assert_eq!(second.state(), FutureState::Finished);
    }

    #[test]
    fn slots_are_allocated_by_segment() {
        let q = crate::thread::queue::Queues::new();
        for id in 0..40 {
            drop(q.new_worker(id));
            assert!(std::ptr::eq(q.slot(id), q.slot(id)));
        }
        assert_eq!(
            (0..40)
                .map(|i| q.slot(i) as *const _ as usize)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            40
        );
    }
}
