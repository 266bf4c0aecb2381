//! Loom models of the thread pool's protocols, driving the real code:
//! `Shared::push` (check, push, fence, wake, idle claim, spawn, confirm,
//! revoke), the real worker loop and sleep protocol, `shutdown`,
//! `break_pool` and injected spawn failures. The workers are loom threads
//! (`primitives::thread`), so every atomic of the gate, the lifecycle, the
//! slots and `Sleep` is explored. The injector is `queue.rs`'s loom model
//! (jobs under a loom lock, emptiness read from a `Relaxed` length), so a
//! push reaches another thread's `is_empty` only through the protocol's
//! fences. The workers' own deques are crossbeam's, which loom cannot see
//! inside (their pushes and steals are indivisible steps here; crossbeam's
//! own loom tests check them).
//!
//! Each model submits `Probe` jobs whose state stands in for a future's:
//! run, cancelled, failed, or revoked by its submitter. The property
//! everywhere: an accepted submit's job is run or abandoned (cancelled,
//! failed by a break) exactly once; a refused one never runs; every job is
//! dropped by the end (nothing stays queued once the pool's threads are
//! gone); and the pool ends with no thread alive. (A worker that dies is not
//! modelled: loom fails a model whose thread panics; `thread/tests.rs`
//! covers the replacement.)
//!
//! Which removal fails which model (`bash ci/loom_mutations.sh` removes
//! each step alone and prints this; models with the `loom_real_` prefix):
//!
//! | removed | failing models |
//! |---|---|
//! | the confirm after the push | all six `submit`/`break` models |
//! | the push's fence | `break_vs_submit`, `submit_vs_cancel_futures`, `submit_vs_shutdown_with_a_worker`, `..._with_no_worker_left` |
//! | the fence in `Lifecycle::drained` | `submit_vs_shutdown_with_a_worker` |
//! | `shutdown`'s fence | `submit_vs_cancel_futures` |
//! | the refused submitter's sweep | all six `submit`/`break` models |
//! | the last worker's sweep | `break_vs_submit`, `submit_vs_shutdown_with_a_worker`, `..._with_no_worker_left` |
//! | the break's fence | none. In the models a break's sweep is never the only look at the queues after the break: a submitter that breaks (a failed spawn) sweeps its own job first, and taking it locks the model injector, which orders the sweep after every earlier push; a worker that breaks (a failed initializer) looks again in its own loop, whose `drained` fences. (crossbeam's `steal` also fences before it reads the tail.) The fence stays so that the sweep is right whoever breaks. |

use std::io;
use std::sync::Arc;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use super::{Route, ThreadPoolExecutor};
use crate::work_item::{Abandon, Job, Ran, Task};

use super::sleep::Sleep;

const PENDING: usize = 0;
const RAN: usize = 1;
const CANCELLED: usize = 2;
const FAILED: usize = 3;
const REVOKED: usize = 4;

/// What happened to one probe: its future's state, and whether the job was
/// dropped.
#[derive(Default)]
struct Fate {
    state: AtomicUsize,
    dropped: AtomicBool,
}

impl Fate {
    fn end(&self, to: usize) -> bool {
        self.state
            .compare_exchange(PENDING, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The submitter's revoke, as `Future::cancel`: true if it is (now, or
    /// already) cancelled.
    fn revoke(&self) -> bool {
        self.end(REVOKED) || self.state.load(Ordering::SeqCst) == CANCELLED
    }

    fn get(&self) -> usize {
        self.state.load(Ordering::SeqCst)
    }
}

/// A job that records its end in its [`Fate`].
struct Probe(Arc<Fate>);

impl Task for Probe {
    fn run(self, _: &dyn Fn()) -> Ran {
        if self.0.end(RAN) {
            Ran::Completed
        } else {
            Ran::Cancelled
        }
    }
    fn abandon(self, why: Abandon<'_>) -> bool {
        self.0.end(match why {
            Abandon::Cancel => CANCELLED,
            Abandon::Broken(_) => FAILED,
        })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        assert!(
            !self.0.dropped.swap(true, Ordering::SeqCst),
            "a job dropped twice"
        );
    }
}

fn pool(max_workers: usize) -> Arc<ThreadPoolExecutor> {
    Arc::new(ThreadPoolExecutor::new(max_workers).unwrap())
}

/// The real submit path with a probe: whether it was accepted, and the
/// probe's fate.
fn submit(ex: &ThreadPoolExecutor) -> (bool, Arc<Fate>) {
    let fate = Arc::new(Fate::default());
    let f = Arc::clone(&fate);
    let accepted = ex
        .shared
        .push(
            Job::new(Probe(Arc::clone(&fate))),
            Route::SUBMIT,
            move || f.revoke(),
        )
        .is_ok();
    (accepted, fate)
}

/// Checks one probe once every thread of the model is done: accepted means
/// ended once by a worker or a sweep, refused means never run; dropped
/// either way.
fn check(accepted: bool, fate: &Fate) {
    assert!(fate.dropped.load(Ordering::SeqCst), "a job was left queued");
    let s = fate.get();
    if accepted {
        assert!(
            matches!(s, RAN | CANCELLED | FAILED),
            "accepted, ended as {s}"
        );
    } else {
        // Refused at the check (dropped unrun) or at the confirm.
        assert!(
            matches!(s, PENDING | REVOKED | CANCELLED),
            "refused, ended as {s}"
        );
    }
}

/// submit ‖ shutdown(wait), no worker started yet: the submit is accepted
/// exactly when its job runs; the worker it started is joined.
#[test]
fn loom_real_submit_vs_shutdown() {
    loom::model(|| {
        let ex = pool(1);
        let e = Arc::clone(&ex);
        let submitter = thread::spawn(move || submit(&e));
        ex.shutdown(true, false);
        let (accepted, fate) = submitter.join().unwrap();
        // shutdown(wait) returned; an accepted job has run by then unless
        // the submit started its worker after that wait (then the second
        // wait joins it).
        ex.shutdown(true, false);
        assert_eq!(ex.stats().workers, 0);
        check(accepted, &fate);
        assert_eq!(fate.get() == RAN, accepted);
    });
}

/// submit ‖ shutdown(wait) with a worker started and idle: an accepted job
/// runs before shutdown returns; a refused one is revoked and dropped by
/// the worker (skipped) or by the last worker out (swept).
#[test]
fn loom_real_submit_vs_shutdown_with_a_worker() {
    loom::model(|| {
        let ex = pool(1);
        let (first, f0) = submit(&ex);
        assert!(first);
        let e = Arc::clone(&ex);
        let submitter = thread::spawn(move || submit(&e));
        ex.shutdown(true, false);
        // Joined: the one worker is gone (and with one worker started no
        // submit starts another), so an accepted job ran before this.
        assert_eq!(ex.stats().workers, 0);
        let (accepted, fate) = submitter.join().unwrap();
        if accepted {
            assert_eq!(
                fate.get(),
                RAN,
                "accepted but not run when shutdown returned"
            );
        }
        check(true, &f0);
        check(accepted, &fate);
        assert_eq!(fate.get() == RAN, accepted);
    });
}

/// submit ‖ shutdown(wait) where the only worker may already have exited:
/// a refused submit with nobody left sweeps its own revoked job.
#[test]
fn loom_real_submit_vs_shutdown_with_no_worker_left() {
    loom::model(|| {
        let ex = pool(1);
        let (first, f0) = submit(&ex);
        assert!(first);
        let e = Arc::clone(&ex);
        let closer = thread::spawn(move || e.shutdown(true, false));
        let (accepted, fate) = submit(&ex);
        closer.join().unwrap();
        ex.shutdown(true, false);
        assert_eq!(ex.stats().workers, 0);
        check(true, &f0);
        check(accepted, &fate);
        assert_eq!(fate.get() == RAN, accepted);
    });
}

/// Idle claiming: the first job's worker may be running, idle (claimed by
/// the second submit) or asleep; either way both jobs run, at most two
/// threads start, and shutdown joins them.
///
/// Two worker threads, two submits, shutdown: at the CI bound of two
/// preemptions this model takes minutes, so it runs with one (every
/// interleaving with a single preemption; the bound is the budget's, not a
/// claim that one suffices).
#[test]
fn loom_real_idle_claim_then_shutdown() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(b.preemption_bound.map_or(1, |p| p.min(1)));
    b.check(|| {
        let ex = pool(2);
        let (a, fa) = submit(&ex);
        // The second submit finds the first worker starting, running, idle
        // (it claims it) or asleep (it wakes it), or starts a second thread.
        let (b, fb) = submit(&ex);
        assert!(a && b);
        ex.shutdown(true, false);
        assert_eq!((fa.get(), fb.get()), (RAN, RAN));
        assert!(ex.shared.spawned.load(Ordering::SeqCst) <= 2);
        assert_eq!(ex.stats().workers, 0);
        check(true, &fa);
        check(true, &fb);
    });
}

/// Spawn failure with two submitters (issue 10, item 7): no thread can
/// start, so the pool breaks; whichever submitter's push comes after a
/// break's sweep, its job is failed by a later sweep or revoked and swept
/// by that submitter; none stays queued, none runs. Both submits may be
/// refused: a submitter may revoke its job while another's sweep holds it,
/// so the break overlaps both (and the counters still add up).
#[test]
fn loom_real_spawn_failure_with_two_submitters() {
    loom::model(|| {
        let ex = pool(1);
        *ex.shared.faults.spawn.lock() = Some(Box::new(|| Err(io::Error::other("EAGAIN"))));
        let e = Arc::clone(&ex);
        let first = thread::spawn(move || submit(&e));
        let (b, fb) = submit(&ex);
        let (a, fa) = first.join().unwrap();
        ex.shutdown(true, false);
        for (accepted, fate) in [(a, &fa), (b, &fb)] {
            check(accepted, fate);
            assert_ne!(fate.get(), RAN);
            assert_eq!(fate.get() == FAILED, accepted);
        }
        let s = ex.stats();
        assert!(s.broken);
        assert_eq!(s.failed, u64::from(a) + u64::from(b), "{s:?}");
        assert_eq!((s.cancelled, s.completed), (0, 0), "{s:?}");
    });
}

/// A break racing a submit while a worker runs: each accepted job runs or
/// is failed, once; the refused one never runs and is dropped.
#[test]
fn loom_real_break_vs_submit() {
    loom::model(|| {
        let ex = pool(1);
        let (first, f0) = submit(&ex);
        assert!(first);
        let e = Arc::clone(&ex);
        let breaker = thread::spawn(move || e.shared.break_pool("broken in a model".into()));
        let (second, f1) = submit(&ex);
        breaker.join().unwrap();
        ex.shutdown(true, false);
        check(true, &f0);
        check(second, &f1);
        assert_eq!(ex.stats().workers, 0);
    });
}

/// `cancel_futures` racing a submit: a job accepted before it is started or
/// cancelled by the time `shutdown(cancel_futures = true)` returns, never
/// left queued to run later; a refused one is never run.
#[test]
fn loom_real_submit_vs_cancel_futures() {
    loom::model(|| {
        let ex = pool(1);
        let fates = Arc::new(loom::sync::Mutex::new(None));
        let (e, f) = (Arc::clone(&ex), Arc::clone(&fates));
        let submitter = thread::spawn(move || {
            let fate = Arc::new(Fate::default());
            *f.lock().unwrap() = Some(Arc::clone(&fate));
            let r = Arc::clone(&fate);
            let job = Job::new(Probe(Arc::clone(&fate)));
            let accepted = e
                .shared
                .push(job, Route::SUBMIT, move || r.revoke())
                .is_ok();
            (accepted, fate)
        });
        ex.shutdown(false, true);
        // When shutdown returned: was the job still queued, and not ended?
        // (A worker may hold it, taken and not yet started: it then runs,
        // as in Python, where a work item already taken off the queue is
        // not cancelled.)
        let queued = ex.shared.queues.injected_exact();
        let at_return = fates.lock().unwrap().as_ref().map(|f| f.get());
        let (accepted, fate) = submitter.join().unwrap();
        if accepted {
            let s = at_return.expect("an accepted job was made before shutdown closed the gate");
            assert!(
                queued == 0 || s != PENDING,
                "accepted, and still queued after cancel_futures returned"
            );
        }
        ex.shutdown(true, false);
        check(accepted, &fate);
        assert_ne!(fate.get(), FAILED);
    });
}

/// The sleep/wake protocol alone: two jobs pushed while a worker goes to
/// sleep; both run (no lost wakeup).
#[test]
fn loom_sleep_no_lost_wakeup() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new());
        let jobs = Arc::new(AtomicUsize::new(0));
        let (s, j) = (sleep.clone(), jobs.clone());
        let take = |j: &AtomicUsize| {
            let mut n = j.load(Ordering::Acquire);
            while n > 0 {
                match j.compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return true,
                    Err(m) => n = m,
                }
            }
            false
        };
        let worker = thread::spawn(move || {
            let mut ran = 0;
            while ran < 2 {
                if take(&j) {
                    ran += 1;
                } else {
                    s.sleep(|| j.load(Ordering::Acquire) > 0);
                }
            }
        });
        for _ in 0..2 {
            jobs.fetch_add(1, Ordering::Release);
            sleep.wake_one();
        }
        // Deadlock (a lost wakeup) makes loom fail the model here.
        worker.join().unwrap();
        assert_eq!(sleep.sleepers(), 0);
    });
}
