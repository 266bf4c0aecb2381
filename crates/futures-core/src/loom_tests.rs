//! Model checks of `Future<T>` under loom (`RUSTFLAGS="--cfg loom"`, see
//! `ci/loom.sh`). Each model runs at most three threads; loom explores their
//! interleavings (up to `LOOM_MAX_PREEMPTIONS` preemptions) and reports a
//! deadlock (a lost wakeup), a data race on the outcome slot, or a failed
//! assertion. Timeouts are modelled with `Duration::ZERO` only: loom's
//! `Condvar::wait_timeout` never times out.
//!
//! Bookkeeping of the tests themselves (counters of callback runs) uses std
//! atomics: joins order it, and keeping it out of the model keeps the state
//! space small.

use std::future::IntoFuture;
use std::pin::pin;
use std::sync::atomic::{AtomicBool as StdBool, AtomicUsize as StdUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use loom::sync::{Condvar, Mutex};
use loom::thread;

use crate::state::{LISTENING, NOTIFIED, SLOT, TASK, WAITER};
use crate::{Completion, Future, FutureState, Task, Waitable, Waiter};

/// `set_result` racing a blocking `result()` and a zero-timeout look.
#[test]
fn loom_set_result_vs_result() {
    loom::model(|| {
        let f = Future::new();
        let setter = f.clone();
        let looker = f.clone();
        let t1 = thread::spawn(move || setter.set_result(42).unwrap());
        let t2 = thread::spawn(move || match looker.result_timeout(Duration::ZERO) {
            Ok(v) => assert_eq!(*v, 42),
            Err(e) => {
                assert!(e.is_timeout(), "{e}");
            }
        });
        assert_eq!(*f.result().unwrap(), 42);
        assert!(f.done());
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// `done()` seen true (lock-free `Acquire`) makes the value readable.
#[test]
fn loom_done_flag_publishes_the_value() {
    loom::model(|| {
        let f = Future::new();
        let setter = f.clone();
        let t = thread::spawn(move || setter.set_result(String::from("x")).unwrap());
        if f.done() {
            assert_eq!(f.result_timeout(Duration::ZERO).unwrap(), "x");
        }
        t.join().unwrap();
        assert_eq!(f.result_timeout(Duration::ZERO).unwrap(), "x");
    });
}

/// `cancel` racing an executor's `run`: exactly one wins, a cancelled task
/// never runs, and a waiter sees the winner's outcome.
#[test]
fn loom_cancel_vs_set_running_or_notify_cancel() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let ran = StdArc::new(StdBool::new(false));
        let runner = f.clone();
        let ran2 = ran.clone();
        let executor = thread::spawn(move || {
            runner.run(|| {
                ran2.store(true, SeqCst);
                7
            })
        });
        let canceller = f.clone();
        let cancel = thread::spawn(move || canceller.cancel());
        let outcome = f.result().map(|v| *v);
        let started = executor.join().unwrap();
        let cancelled = cancel.join().unwrap();
        assert_ne!(started, cancelled, "exactly one of run and cancel wins");
        assert_eq!(ran.load(SeqCst), started, "a cancelled task never runs");
        if cancelled {
            assert_eq!(f.state(), FutureState::Cancelled);
            assert!(outcome.unwrap_err().is_cancelled());
        } else {
            assert_eq!(f.state(), FutureState::Finished);
            assert_eq!(outcome.unwrap(), 7);
        }
    });
}

/// Two callbacks added from two threads while a third completes the future:
/// each runs exactly once and sees the future done.
#[test]
fn loom_add_done_callback_vs_completion() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let runs = StdArc::new([StdUsize::new(0), StdUsize::new(0)]);
        let adders: Vec<_> = (0..2)
            .map(|i| {
                let (g, runs) = (f.clone(), runs.clone());
                thread::spawn(move || {
                    g.add_done_callback(move |f: &Future<u8>| {
                        assert_eq!(*f.result_timeout(Duration::ZERO).unwrap(), 3);
                        runs[i].fetch_add(1, SeqCst);
                    });
                })
            })
            .collect();
        f.set_result(3).unwrap();
        for a in adders {
            a.join().unwrap();
        }
        assert_eq!(runs[0].load(SeqCst), 1);
        assert_eq!(runs[1].load(SeqCst), 1);
    });
}

/// One thread adds two callbacks while another completes the future: they
/// run in the order added whichever side of the completion each lands on (a
/// late one queues behind the early one the completion is running). Fails
/// if `add_done_callback` runs a callback at once while `DRAINING` (`cell.rs`) is set.
#[test]
fn loom_callbacks_added_across_completion_keep_their_order() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let log = StdArc::new(std::sync::Mutex::new(Vec::new()));
        let (g, l) = (f.clone(), log.clone());
        let adder = thread::spawn(move || {
            for i in 0..2 {
                let l = l.clone();
                g.add_done_callback(move |_: &Future<u8>| l.lock().unwrap().push(i));
            }
        });
        f.set_result(3).unwrap();
        adder.join().unwrap();
        assert_eq!(*log.lock().unwrap(), [0, 1]);
    });
}

/// A callback added while one thread cancels and another runs the task:
/// it runs exactly once, after the future is terminal, whoever wins.
#[test]
fn loom_add_done_callback_vs_cancel_and_run() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let runs = StdArc::new(StdUsize::new(0));
        let (adder, r) = (f.clone(), runs.clone());
        let t1 = thread::spawn(move || {
            adder.add_done_callback(move |f: &Future<u8>| {
                assert!(f.state().is_done());
                r.fetch_add(1, SeqCst);
            });
        });
        let canceller = f.clone();
        let t2 = thread::spawn(move || canceller.cancel());
        let ran = f.run(|| 1);
        t1.join().unwrap();
        let cancelled = t2.join().unwrap();
        assert_ne!(ran, cancelled);
        assert_eq!(runs.load(SeqCst), 1);
    });
}

/// A waiter that sleeps on its own lock until notified, as `wait` does.
struct Sleeper {
    seen: Mutex<Vec<Completion>>,
    cond: Condvar,
}

// SAFETY: `notify` takes only the sleeper's own lock, briefly.
unsafe impl Waiter for Sleeper {
    fn notify(&self, token: usize, how: Completion) {
        assert_eq!(token, 5);
        self.seen.lock().unwrap().push(how);
        self.cond.notify_one();
    }
}

/// Installing a waiter races `set_result` and `cancel`: the waiter either
/// sees the future done at install or is notified exactly once (a lost
/// notification would leave it asleep: loom reports the deadlock), with the
/// completion that won.
#[test]
fn loom_waiter_install_vs_completion() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let setter = f.clone();
        let canceller = f.clone();
        let t1 = thread::spawn(move || setter.set_result(1).is_ok());
        let t2 = thread::spawn(move || canceller.cancel());
        let sleeper = StdArc::new(Sleeper {
            seen: Mutex::new(Vec::new()),
            cond: Condvar::new(),
        });
        let waiter: StdArc<dyn Waiter> = sleeper.clone();
        let how = match f.install_waiter(&waiter, 5) {
            Some(how) => how,
            None => {
                let mut seen = sleeper.seen.lock().unwrap();
                while seen.is_empty() {
                    seen = sleeper.cond.wait(seen).unwrap();
                }
                seen[0]
            }
        };
        f.remove_waiter(&waiter);
        let set = t1.join().unwrap();
        let cancelled = t2.join().unwrap();
        assert_ne!(set, cancelled, "exactly one completion wins");
        let expected = if set {
            Completion::Finished
        } else {
            Completion::Cancelled
        };
        assert_eq!(how, expected);
        assert_eq!(f.completion(), Some(expected));
        assert!(sleeper.seen.lock().unwrap().len() <= 1, "notified twice");
    });
}

/// The take-ownership path: the owner's `into_result` racing the task's
/// run, which also runs a done-callback that borrows the value. The owner
/// never waits for the executor's reference (it is not a handle), never
/// takes while the callback reads (loom reports a race on the outcome
/// slot), and is never left asleep (loom reports the deadlock).
#[test]
fn loom_into_result_vs_task_run_and_callback() {
    loom::model(|| {
        let (task, f) = Task::new(|| String::from("owned"));
        f.add_done_callback(|f: &Future<String>| {
            assert_eq!(f.result_timeout(Duration::ZERO).unwrap(), "owned");
        });
        let t = thread::spawn(move || task.run());
        assert_eq!(f.into_result().unwrap(), "owned");
        t.join().unwrap();
    });
}

/// As above with a reader that borrows the value through its own handle and
/// then drops it: the owner takes after the read (the reader's drop came
/// first) or is refused (it was alive); never a take during the read.
#[test]
fn loom_into_result_vs_reader_and_task() {
    loom::model(|| {
        let (task, f) = Task::new(|| vec![1u8, 2]);
        let reader = f.clone();
        let t1 = thread::spawn(move || task.run());
        let t2 = thread::spawn(move || {
            assert_eq!(reader.result().unwrap().len(), 2);
        });
        match f.into_result() {
            Ok(v) => assert_eq!(v, [1, 2]),
            Err(e) => assert!(e.is_not_unique(), "{e}"),
        }
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// A value whose drops are counted (std atomics: joins order them).
struct Counted(StdArc<StdUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// The user drops the last handle while the task runs (and a second
/// handle is dropped on a third thread): the cell is freed once, by
/// whoever is last, and the value dropped exactly once.
#[test]
fn loom_drop_of_every_handle_vs_task_run() {
    loom::model(|| {
        let drops = StdArc::new(StdUsize::new(0));
        let d = drops.clone();
        let (task, f) = Task::new(move || Counted(d));
        let g = f.clone();
        let t1 = thread::spawn(move || task.run());
        let t2 = thread::spawn(move || drop(g));
        drop(f);
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the value was dropped once");
    });
}

/// A task dropped unrun (its executor gave up) racing a user's `cancel` and
/// a blocked `result()`: the future ends (cancelled or failed, never
/// pending) and the reader wakes.
#[test]
fn loom_task_drop_vs_cancel_and_result() {
    loom::model(|| {
        let (task, f) = Task::new(|| 1u8);
        let canceller = f.clone();
        let t1 = thread::spawn(move || drop(task));
        let t2 = thread::spawn(move || canceller.cancel());
        let err = f.result().unwrap_err();
        let cancelled = t2.join().unwrap();
        t1.join().unwrap();
        if cancelled {
            assert!(err.is_cancelled(), "{err}");
        } else {
            assert!(err.task_error().unwrap().is_broken(), "{err}");
        }
    });
}

/// A task dropped unrun racing a blocked `result()` and a callback's
/// registration: the future fails with the reason, the reader wakes, the
/// callback runs once.
#[test]
fn loom_task_drop_vs_result_and_callback() {
    loom::model(|| {
        let (task, f) = Task::new(|| 1u8);
        let runs = StdArc::new(StdUsize::new(0));
        let (adder, r) = (f.clone(), runs.clone());
        let t1 = thread::spawn(move || drop(task));
        let t2 = thread::spawn(move || {
            adder.add_done_callback(move |_| {
                r.fetch_add(1, SeqCst);
            });
        });
        let err = f.result().unwrap_err();
        assert!(err.task_error().unwrap().is_broken(), "{err}");
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(runs.load(SeqCst), 1);
    });
}

/// A zero-timeout look racing the completion leaves the lock-free path
/// behind it: after both, nobody listens.
#[test]
fn loom_result_timeout_vs_completion_leaves_no_listener() {
    loom::model(|| {
        let (task, f) = Task::new(|| 4u8);
        let t = thread::spawn(move || task.run());
        let _ = f.result_timeout(Duration::ZERO);
        t.join().unwrap();
        let w = f.word();
        assert!(
            !w.has(LISTENING) && w.has(NOTIFIED) && !w.has(TASK),
            "{w:?}"
        );
    });
}

/// A waker that sets a flag under a loom lock and signals a loom condvar.
struct Flag {
    woken: Mutex<bool>,
    cond: Condvar,
}

impl Wake for Flag {
    fn wake(self: StdArc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cond.notify_one();
    }
}

/// Polls `fut` until ready, sleeping on the flag between polls (a lost wake
/// is a deadlock loom reports).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let flag = StdArc::new(Flag {
        woken: Mutex::new(false),
        cond: Condvar::new(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let mut woken = flag.woken.lock().unwrap();
        while !*woken {
            woken = flag.cond.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// Owned `.await` racing the task's run with a done-callback: the waker
/// for the done state and the owner's waker for the end of the callbacks
/// are each woken (a lost one is a deadlock in `block_on`).
#[test]
fn loom_await_vs_task_run_with_callback() {
    loom::model(|| {
        let (task, f) = Task::new(|| 9u32);
        f.add_done_callback(|_| {});
        let t = thread::spawn(move || task.run());
        assert_eq!(block_on(f.into_future()).unwrap(), 9);
        t.join().unwrap();
    });
}

/// A borrowed `.await` polled once and dropped (a `select!` that gave up)
/// while the task completes: afterwards nothing of it is left on the
/// future (no waker, no `LISTENING`).
#[test]
fn loom_abandoned_await_vs_completion() {
    loom::model(|| {
        let (task, f) = Task::new(|| 2u8);
        let t = thread::spawn(move || task.run());
        {
            let flag = StdArc::new(Flag {
                woken: Mutex::new(false),
                cond: Condvar::new(),
            });
            let waker = Waker::from(flag);
            let mut awaiting = pin!((&f).into_future());
            let _ = std::future::Future::poll(awaiting.as_mut(), &mut Context::from_waker(&waker));
        }
        let w = f.word();
        if !w.is_done() {
            assert!(
                !w.has(LISTENING),
                "the abandoned await left a listener: {w:?}"
            );
        }
        t.join().unwrap();
        assert!(f.lock().more.as_ref().map_or(true, |m| m.wakers.is_empty()));
    });
}

/// `try_into_result` never takes while another handle is alive, and takes
/// once the other handle is gone.
#[test]
fn loom_try_into_result_vs_drop() {
    loom::model(|| {
        let f = Future::new();
        let executor = f.clone();
        let t = thread::spawn(move || {
            executor.set_result(5u64).unwrap();
        });
        let f = match f.try_into_result() {
            Ok(r) => {
                assert_eq!(r.unwrap(), 5);
                t.join().unwrap();
                return;
            }
            Err(f) => f,
        };
        t.join().unwrap();
        assert_eq!(f.try_into_result().ok().unwrap().unwrap(), 5);
    });
}

/// A waiter whose memory is "freed" (written) by its owner once the owner
/// may free it: a notify that reads it unordered with that write is a data
/// race loom reports, as it would be a use after free outside loom.
struct Probe {
    freed: loom::cell::UnsafeCell<bool>,
    seen: Mutex<Vec<usize>>,
}

impl Probe {
    fn new() -> StdArc<Probe> {
        StdArc::new(Probe {
            freed: loom::cell::UnsafeCell::new(false),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// What the owner does when it frees the waiter.
    fn free(&self) {
        self.freed.with_mut(|p| {
            // SAFETY: loom checks this write against every notify's reads.
            unsafe { *p = true }
        });
    }
}

// SAFETY: `freed` is shared on purpose: loom checks every access to it and
// reports one that is not ordered after the other (the point of the probe).
unsafe impl Sync for Probe {}

// SAFETY: `notify` takes only the probe's own lock, briefly.
unsafe impl Waiter for Probe {
    fn notify(&self, token: usize, _: Completion) {
        self.seen.lock().unwrap().push(token);
        // The last touch, after the lock: as a waiter's unlock is.
        self.freed.with(|p| {
            // SAFETY: loom checks this read against the owner's free.
            assert!(!unsafe { *p }, "notified after it was freed");
        });
    }
}

/// The inline waiter, installed without a reference count, removed while
/// another thread completes the future: once `remove_waiter` returns, the
/// notify is over or never comes, so the owner may free the waiter (loom
/// reports the race otherwise). It rests on the removal's wait for a done
/// future whose `WAITER` bit is still set: without it, this fails.
#[test]
fn loom_inline_waiter_removal_vs_completion() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let probe = Probe::new();
        let waiter: StdArc<dyn Waiter> = probe.clone();
        // SAFETY: `probe` outlives the removal below, and is "freed" only
        // after it.
        assert_eq!(unsafe { f.install_waiter_unowned(&waiter, 3) }, None);
        let g = f.clone();
        let t = thread::spawn(move || g.set_result(1).unwrap());
        f.remove_waiter(&waiter);
        probe.free();
        t.join().unwrap();
        assert!(probe.seen.lock().unwrap().len() <= 1);
        let w = f.word();
        assert!(!w.has(WAITER) && w.has(NOTIFIED), "{w:?}");
    });
}

/// As above, with a done-callback that blocks until the removal has
/// returned, so the completion takes the lock for it after notifying the
/// inline waiter: the removal must not wait for the callback (user code),
/// only for the locked step that clears `WAITER`, which wakes it because
/// it counts as a sleeper there. Waiting for the callback is a deadlock.
#[test]
fn loom_inline_waiter_removal_vs_completion_with_a_callback() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let probe = Probe::new();
        let waiter: StdArc<dyn Waiter> = probe.clone();
        // SAFETY: as above.
        assert_eq!(unsafe { f.install_waiter_unowned(&waiter, 3) }, None);
        let removed = StdArc::new(Flag {
            woken: Mutex::new(false),
            cond: Condvar::new(),
        });
        let r = removed.clone();
        f.add_done_callback(move |_| {
            let mut done = r.woken.lock().unwrap();
            while !*done {
                done = r.cond.wait(done).unwrap();
            }
        });
        let g = f.clone();
        let t = thread::spawn(move || g.set_result(1).unwrap());
        f.remove_waiter(&waiter);
        probe.free();
        *removed.woken.lock().unwrap() = true;
        removed.cond.notify_one();
        t.join().unwrap();
        assert!(probe.seen.lock().unwrap().len() <= 1);
        assert!(!f.word().has(WAITER));
    });
}

/// An executor's task completing with an inline waiter (owned: the future
/// drops its clone) while the owner takes the value: the owner waits for
/// the end of the completion (`NOTIFIED`, set by the same swap that clears
/// `WAITER`) and is woken; the executor's reference goes after that wake,
/// so the cell outlives it. The waiter is notified exactly once.
#[test]
fn loom_into_result_vs_task_run_with_inline_waiter() {
    loom::model(|| {
        let (task, f) = Task::new(|| 5u8);
        let probe = Probe::new();
        let waiter: StdArc<dyn Waiter> = probe.clone();
        assert_eq!(f.install_waiter(&waiter, 8), None);
        drop(waiter);
        let t = thread::spawn(move || task.run());
        assert_eq!(f.into_result().unwrap(), 5);
        t.join().unwrap();
        assert_eq!(*probe.seen.lock().unwrap(), [8]);
        assert_eq!(StdArc::strong_count(&probe), 1, "the clone was dropped");
    });
}

/// Two waiters installed (the first inline, the second in the list) while
/// a cancel races them, and the first removed: each is notified at most
/// once, the second exactly once, and the first never after its removal
/// returned.
#[test]
fn loom_inline_and_listed_waiters_vs_cancel() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let (first, second) = (Probe::new(), Probe::new());
        let (w1, w2): (StdArc<dyn Waiter>, StdArc<dyn Waiter>) = (first.clone(), second.clone());
        let g = f.clone();
        let t = thread::spawn(move || assert!(g.cancel()));
        // SAFETY: `first` is freed only after its removal; `second` stays
        // alive to the end.
        let a = unsafe { f.install_waiter_unowned(&w1, 1) };
        // SAFETY: as above.
        let b = unsafe { f.install_waiter_unowned(&w2, 2) };
        f.remove_waiter(&w1);
        first.free();
        t.join().unwrap();
        assert!(first.seen.lock().unwrap().len() <= 1);
        let seen2 = second.seen.lock().unwrap().len();
        assert_eq!(seen2 + usize::from(b.is_some()), 1, "second: {b:?}");
        if a.is_some() {
            assert!(first.seen.lock().unwrap().is_empty());
        }
        f.remove_waiter(&w2);
        let w = f.word();
        assert!(
            !w.has(WAITER) && !w.has(LISTENING) && w.has(NOTIFIED),
            "{w:?}"
        );
    });
}

/// Two threads install their waiters on one future at once (the inline
/// slot is taken without the lock: one of them gets it, the other goes to
/// the list) while a third completes it: each waiter is notified exactly
/// once unless its install saw the future done, and nothing is left behind.
/// Without the check that the slot is free, both write it (loom reports the
/// race).
#[test]
fn loom_two_installs_vs_completion() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let probes = [Probe::new(), Probe::new()];
        let installers: Vec<_> = probes
            .iter()
            .map(|p| {
                let (f, p) = (f.clone(), p.clone());
                thread::spawn(move || {
                    let w: StdArc<dyn Waiter> = p;
                    f.install_waiter(&w, 1).is_some()
                })
            })
            .collect();
        f.set_result(1).unwrap();
        for (t, p) in installers.into_iter().zip(&probes) {
            let saw_done = t.join().unwrap();
            let notified = p.seen.lock().unwrap().len();
            assert_eq!(notified + usize::from(saw_done), 1, "{notified} {saw_done}");
            assert_eq!(StdArc::strong_count(p), 1, "the future kept a clone");
        }
        let w = f.word();
        assert!(!w.has(WAITER) && !w.has(SLOT) && !w.has(LISTENING), "{w:?}");
    });
}

/// One thread removes the inline waiter while another installs a second
/// waiter (which may take the freed slot at once) and a third completes the
/// future: the removal reads the slot only before it frees it (loom reports
/// a read after, racing the new install's write), the removed waiter is
/// notified at most once and never after its removal returned, and the new
/// one exactly once unless its install saw the future done.
#[test]
fn loom_removal_vs_install_vs_completion() {
    loom::model(|| {
        let f = Future::<u8>::new();
        let (old, new) = (Probe::new(), Probe::new());
        let w_old: StdArc<dyn Waiter> = old.clone();
        // SAFETY: `old` is freed only after its removal below.
        assert_eq!(unsafe { f.install_waiter_unowned(&w_old, 1) }, None);
        let (g, n) = (f.clone(), new.clone());
        let installer = thread::spawn(move || {
            let w: StdArc<dyn Waiter> = n;
            g.install_waiter(&w, 2).is_some()
        });
        let h = f.clone();
        let completer = thread::spawn(move || h.set_result(1).unwrap());
        f.remove_waiter(&w_old);
        old.free();
        let saw_done = installer.join().unwrap();
        completer.join().unwrap();
        assert!(old.seen.lock().unwrap().len() <= 1);
        let notified = new.seen.lock().unwrap().len();
        assert_eq!(notified + usize::from(saw_done), 1, "{notified} {saw_done}");
        assert_eq!(StdArc::strong_count(&new), 1, "the future kept a clone");
    });
}
