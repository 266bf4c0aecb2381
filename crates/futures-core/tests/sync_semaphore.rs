//! `sync::Semaphore` and `sync::BoundedSemaphore`: Python's
//! `threading.Semaphore` and `BoundedSemaphore`, tested after CPython.
//!
//! Ported from CPython's `Lib/test/lock_tests.py`, classes
//! `BaseSemaphoreTests` (run for both types through the `Sem` trait below),
//! `SemaphoreTests` and `BoundedSemaphoreTests`: `test_acquire`,
//! `test_acquire_destroy`, `test_acquire_contended`, `test_multirelease`
//! (Python 3.9's `release(n)`), `test_try_acquire`,
//! `test_try_acquire_contended`, `test_acquire_timeout`,
//! `test_default_value`, `test_with`, `test_release_unacquired`.
//! What changed: `Bunch` (in `sync_common`) bounds its waits; Python's
//! `phase_num` read by racing threads is an atomic here; `with sem:` is a
//! guard and the exception a panic; only the lower bound of a timed wait is
//! checked (no speed assertions). Not ported: `test_constructor` (a
//! negative value cannot be a `usize`), `ValueError` for
//! `acquire(False, timeout=1)` (no such call here), `test_repr`'s address.
//! Added: `Duration::ZERO`/`Duration::MAX`, `release_n` edge cases, guards,
//! and a stress test with many threads and random timing.

use concurrent_futures_core::sync::{BoundedSemaphore, Semaphore};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod sync_common;
use sync_common::{short_wait, wait_for, Bunch, PATIENCE};

/// What the ported `BaseSemaphoreTests` need, for both types.
trait Sem: Default + Send + Sync + 'static {
    fn with_value(n: usize) -> Self;
    fn acquire(&self);
    fn try_acquire(&self) -> bool;
    fn acquire_timeout(&self, d: Duration) -> bool;
    /// A release the test knows is legal for either type.
    fn release(&self);
    fn release_n(&self, n: usize);
    fn value(&self) -> usize;
    fn guarded<R>(&self, f: impl FnOnce() -> R) -> R;
}

macro_rules! impl_sem {
    ($t:ty, $unwrap:ident) => {
        impl Sem for $t {
            fn with_value(n: usize) -> Self {
                <$t>::new(n)
            }
            fn acquire(&self) {
                <$t>::acquire(self)
            }
            fn try_acquire(&self) -> bool {
                <$t>::try_acquire(self)
            }
            fn acquire_timeout(&self, d: Duration) -> bool {
                <$t>::acquire_timeout(self, d)
            }
            fn release(&self) {
                $unwrap(<$t>::release(self))
            }
            fn release_n(&self, n: usize) {
                $unwrap(<$t>::release_n(self, n))
            }
            fn value(&self) -> usize {
                <$t>::value(self)
            }
            fn guarded<R>(&self, f: impl FnOnce() -> R) -> R {
                let _guard = self.acquire_guard();
                f()
            }
        }
    };
}

fn unit(_: ()) {}
fn ok<E: std::fmt::Debug>(r: Result<(), E>) {
    r.expect("a legal release was refused");
}
impl_sem!(Semaphore, unit);
impl_sem!(BoundedSemaphore, ok);

/// Runs each generic test for both types.
macro_rules! for_both {
    ($($name:ident),* $(,)?) => {
        mod unbounded {
            $(#[test] fn $name() { super::$name::<concurrent_futures_core::sync::Semaphore>(); })*
        }
        mod bounded {
            $(#[test] fn $name() { super::$name::<concurrent_futures_core::sync::BoundedSemaphore>(); })*
        }
    };
}

for_both!(
    acquire,
    acquire_destroy,
    acquire_contended,
    multirelease,
    try_acquire,
    try_acquire_contended,
    acquire_timeout,
    default_value,
    with,
    zero_and_huge_timeouts,
    release_n_zero_is_a_no_op,
    guards,
    stress,
);

#[test]
fn smoke() {
    let sem = Arc::new(Semaphore::new(0));
    let releaser = {
        let sem = Arc::clone(&sem);
        thread::spawn(move || sem.release())
    };
    assert!(sem.acquire_timeout(PATIENCE), "the release never came");
    releaser.join().unwrap();
    assert_eq!(sem.value(), 0);
}

fn acquire<S: Sem>() {
    let sem = S::with_value(1);
    sem.acquire();
    sem.release();
    let sem = S::with_value(2);
    sem.acquire();
    sem.acquire();
    sem.release();
    sem.release();
    assert_eq!(sem.value(), 2);
}

fn acquire_destroy<S: Sem>() {
    let sem = S::default();
    sem.acquire();
    drop(sem);
}

/// Shared by `acquire_contended` and `multirelease`: 10 threads each take
/// two units of a semaphore of 7 (one held by the test); `release(k)`
/// releases `k` units in the second and third phases.
fn contended<S: Sem>(release: impl Fn(&S, usize)) {
    let sem = Arc::new(S::with_value(7));
    sem.acquire();
    let phase = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let taken = || results.lock().unwrap().len();
    let bunch = {
        let (sem, phase, results) = (sem.clone(), phase.clone(), results.clone());
        Bunch::new(10, move || {
            for _ in 0..2 {
                assert!(sem.acquire_timeout(PATIENCE), "an acquire starved");
                results.lock().unwrap().push(phase.load(Ordering::SeqCst));
            }
        })
    };
    bunch.wait_for_started();
    wait_for("6 units taken", || taken() >= 6);
    short_wait();
    assert_eq!(*results.lock().unwrap(), [0; 6]);
    phase.store(1, Ordering::SeqCst);
    release(&sem, 7);
    wait_for("13 units taken", || taken() >= 13);
    short_wait();
    phase.store(2, Ordering::SeqCst);
    release(&sem, 6);
    wait_for("19 units taken", || taken() >= 19);
    short_wait();
    let mut got = results.lock().unwrap().clone();
    got.sort_unstable();
    let want: Vec<usize> = [[0; 6].as_slice(), &[1; 7], &[2; 6]].concat();
    assert_eq!(got, want);
    // The semaphore is still locked.
    assert!(!sem.try_acquire());
    // Final release, to let the last thread finish.
    sem.release();
    bunch.wait_for_finished();
    assert_eq!(sem.value(), 0);
}

fn acquire_contended<S: Sem>() {
    contended::<S>(|sem, k| (0..k).for_each(|_| sem.release()));
}

fn multirelease<S: Sem>() {
    contended::<S>(|sem, k| sem.release_n(k));
}

fn try_acquire<S: Sem>() {
    let sem = S::with_value(2);
    assert!(sem.try_acquire());
    assert!(sem.try_acquire());
    assert!(!sem.try_acquire());
    sem.release();
    assert!(sem.try_acquire());
}

fn try_acquire_contended<S: Sem>() {
    let sem = Arc::new(S::with_value(4));
    sem.acquire();
    let results = Arc::new(Mutex::new(Vec::new()));
    {
        let (sem, results) = (sem.clone(), results.clone());
        Bunch::new(5, move || {
            let a = sem.try_acquire();
            let b = sem.try_acquire();
            results.lock().unwrap().extend([a, b]);
        })
        .wait_for_finished();
    }
    let mut got = results.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, [[false; 7].as_slice(), &[true; 3]].concat());
}

fn acquire_timeout<S: Sem>() {
    let sem = S::with_value(2);
    assert!(sem.acquire_timeout(Duration::from_millis(5)));
    assert!(sem.acquire_timeout(Duration::from_millis(5)));
    assert!(!sem.acquire_timeout(Duration::from_millis(5)));
    sem.release();
    assert!(sem.acquire_timeout(Duration::from_millis(5)));
    let t = Duration::from_millis(100);
    let t0 = Instant::now();
    assert!(!sem.acquire_timeout(t));
    let dt = t0.elapsed();
    assert!(dt >= t, "a timed acquire gave up after {dt:?} < {t:?}");
}

fn default_value<S: Sem>() {
    // The default initial value is 1.
    let sem = Arc::new(S::default());
    sem.acquire();
    let bunch = {
        let sem = sem.clone();
        Bunch::new(1, move || {
            assert!(
                sem.acquire_timeout(PATIENCE),
                "the default unit never came back"
            );
            sem.release();
        })
    };
    bunch.wait_for_started();
    short_wait();
    assert_eq!(
        bunch.finished(),
        0,
        "acquired a second unit of a default semaphore"
    );
    sem.release();
    bunch.wait_for_finished();
    assert_eq!(sem.value(), 1);
}

fn with<S: Sem>() {
    let sem = S::with_value(2);
    let nested = |fail: bool| {
        sem.guarded(|| {
            assert!(sem.try_acquire());
            sem.release();
            sem.guarded(|| {
                assert!(!sem.try_acquire());
                if fail {
                    panic!("raised inside `with`");
                }
            });
        });
    };
    nested(false);
    assert!(sem.try_acquire());
    sem.release();
    let raised = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| nested(true)));
    assert!(raised.is_err());
    // Both guards gave their unit back while unwinding.
    assert!(sem.try_acquire());
    sem.release();
    assert_eq!(sem.value(), 2);
}

fn zero_and_huge_timeouts<S: Sem>() {
    let sem = Arc::new(S::with_value(1));
    // Available: both take at once.
    assert!(sem.acquire_timeout(Duration::MAX));
    sem.release();
    assert!(sem.acquire_timeout(Duration::ZERO));
    // Unavailable: zero polls, huge waits (without a deadline) for a release.
    assert!(!sem.acquire_timeout(Duration::ZERO));
    let releaser = {
        let sem = sem.clone();
        thread::spawn(move || {
            short_wait();
            sem.release();
        })
    };
    assert!(sem.acquire_timeout(Duration::MAX));
    releaser.join().unwrap();
    assert_eq!(sem.value(), 0);
}

fn release_n_zero_is_a_no_op<S: Sem>() {
    let sem = S::with_value(1);
    sem.release_n(0);
    assert_eq!(sem.value(), 1);
}

fn guards<S: Sem>() {
    let sem = Arc::new(S::with_value(1));
    // A panic while holding the unit gives it back, and poisons nothing.
    let holder = {
        let sem = sem.clone();
        thread::spawn(move || sem.guarded(|| panic!("holder panics")))
    };
    assert!(holder.join().is_err());
    assert_eq!(sem.value(), 1);
    assert!(sem.try_acquire());
    sem.release();
}

/// Many threads take and give back units of a semaphore of 3 in random
/// ways and with random timing; at most 3 hold a unit at once, and all 3
/// are back at the end.
fn stress<S: Sem>() {
    const LIMIT: usize = 3;
    const THREADS: usize = 16;
    const ROUNDS: usize = 1000;
    let sem = Arc::new(S::with_value(LIMIT));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let enter = {
        let (inside, most) = (inside.clone(), most.clone());
        move |rng: &mut rand::rngs::ThreadRng| {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(now <= LIMIT, "{now} threads hold a unit of {LIMIT}");
            most.fetch_max(now, Ordering::SeqCst);
            if rng.gen_bool(0.3) {
                thread::sleep(Duration::from_micros(rng.gen_range(0..200)));
            }
            inside.fetch_sub(1, Ordering::SeqCst);
        }
    };
    {
        let sem = sem.clone();
        Bunch::new(THREADS, move || {
            let mut rng = rand::thread_rng();
            for _ in 0..ROUNDS {
                match rng.gen_range(0..4) {
                    0 => {
                        sem.acquire();
                        enter(&mut rng);
                        sem.release();
                    }
                    1 => {
                        if sem.try_acquire() {
                            enter(&mut rng);
                            sem.release();
                        }
                    }
                    2 => {
                        let d = Duration::from_micros(rng.gen_range(0..300));
                        if sem.acquire_timeout(d) {
                            enter(&mut rng);
                            sem.release();
                        }
                    }
                    _ => sem.guarded(|| enter(&mut rng)),
                }
                if rng.gen_bool(0.1) {
                    thread::yield_now();
                }
            }
        })
        .wait_for_finished();
    }
    assert_eq!(sem.value(), LIMIT, "units were lost or made up");
    assert!(most.load(Ordering::SeqCst) >= 1);
}

// SemaphoreTests

#[test]
fn unbounded_release_unacquired() {
    // Unbounded releases are allowed and increment the semaphore's value.
    let sem = Semaphore::new(1);
    sem.release();
    sem.acquire();
    sem.acquire();
    sem.release();
    assert_eq!(sem.value(), 1);
    sem.release_n(5);
    assert_eq!(sem.value(), 6);
}

#[test]
#[should_panic(expected = "released too many times")]
fn unbounded_overflow_panics() {
    let sem = Semaphore::new(usize::MAX);
    sem.release();
}

// BoundedSemaphoreTests

#[test]
fn bounded_release_unacquired() {
    // Cannot go past the initial value.
    let sem = BoundedSemaphore::default();
    assert!(sem.release().is_err());
    sem.acquire();
    sem.release().unwrap();
    assert!(sem.release().is_err());
    assert_eq!(sem.value(), 1);
}

#[test]
fn bounded_release_n_past_the_bound_changes_nothing() {
    let sem = BoundedSemaphore::new(3);
    sem.acquire();
    sem.acquire();
    let err = sem.release_n(3).unwrap_err();
    assert_eq!((err.value(), err.bound(), err.releasing()), (1, 3, 3));
    assert_eq!(sem.value(), 1);
    sem.release_n(2).unwrap();
    assert_eq!(sem.value(), 3);
    assert!(sem.release_n(1).is_err());
    sem.release_n(0).unwrap();
}

#[test]
fn bounded_release_wakes_a_waiter() {
    let sem = Arc::new(BoundedSemaphore::new(1));
    sem.acquire();
    let waiter = {
        let sem = sem.clone();
        thread::spawn(move || sem.acquire_timeout(PATIENCE))
    };
    short_wait();
    sem.release().unwrap();
    assert!(waiter.join().unwrap(), "the waiter missed the release");
    assert_eq!(sem.value(), 0);
}

#[test]
fn guard_forget_keeps_the_unit() {
    let sem = BoundedSemaphore::new(1);
    sem.acquire_guard().forget();
    assert_eq!(sem.value(), 0);
    sem.release().unwrap();
    assert!(sem.acquire_guard_timeout(Duration::ZERO).is_some());
    assert_eq!(sem.value(), 1);
}

#[test]
fn debug_like_python_repr() {
    assert_eq!(format!("{:?}", Semaphore::new(3)), "<Semaphore: value=3>");
    let b = BoundedSemaphore::new(3);
    let _g = b.acquire_guard();
    assert_eq!(format!("{b:?}"), "<BoundedSemaphore: value=2/3>");
}

#[test]
fn a_failed_guard_acquire_gives_back_nothing() {
    // A refused `try_acquire_guard` or a timed-out `acquire_guard_timeout`
    // took no unit, so it must not release one: a binary semaphore would
    // then admit a second holder.
    let sem = Semaphore::new(1);
    let held = sem.acquire_guard();
    assert!(sem.try_acquire_guard().is_none());
    assert!(sem.acquire_guard_timeout(Duration::ZERO).is_none());
    assert!(sem
        .acquire_guard_timeout(Duration::from_millis(1))
        .is_none());
    assert_eq!(sem.value(), 0, "a failed acquire added a unit");
    drop(held);
    assert_eq!(sem.value(), 1);

    let bounded = BoundedSemaphore::new(2);
    let held = bounded.acquire_guard();
    let held2 = bounded.acquire_guard();
    assert!(bounded.try_acquire_guard().is_none());
    assert!(bounded
        .acquire_guard_timeout(Duration::from_millis(1))
        .is_none());
    assert_eq!(bounded.value(), 0, "a failed acquire added a unit");
    drop((held, held2));
    assert_eq!(bounded.value(), 2);
}
