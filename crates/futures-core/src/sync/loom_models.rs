//! Loom models of the sync primitives: every interleaving (up to the
//! preemption bound) of a setter/releaser against waiters. Loom's condvar
//! never times out, so timed waits are modelled with `Duration::ZERO`.

use super::{Barrier, BoundedSemaphore, Event, Semaphore};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

#[test]
fn loom_event_set_wakes_every_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let e = Arc::clone(&event);
                thread::spawn(move || e.wait())
            })
            .collect();
        event.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(event.is_set());
    });
}

#[test]
fn loom_event_poll_sees_set_or_not() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let e = Arc::clone(&event);
        let setter = thread::spawn(move || e.set());
        let polled = event.wait_timeout(Duration::ZERO);
        // A poll that saw the flag may not be contradicted later; one that
        // did not is followed by a wait that the set releases.
        if !polled {
            event.wait();
        }
        setter.join().unwrap();
        assert!(event.is_set());
    });
}

#[test]
fn loom_semaphore_release_wakes_acquirer() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let releaser = thread::spawn(move || s.release());
        sem.acquire();
        releaser.join().unwrap();
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn loom_semaphore_release_n_wakes_two() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let acquirer = thread::spawn(move || s.acquire());
        let s = Arc::clone(&sem);
        let releaser = thread::spawn(move || s.release_n(2));
        sem.acquire();
        acquirer.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn loom_semaphore_excludes_and_conserves() {
    loom::model(|| {
        let sem = Arc::new(BoundedSemaphore::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let worker = |sem: Arc<BoundedSemaphore>, inside: Arc<AtomicUsize>| {
            move || {
                sem.acquire();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                inside.fetch_sub(1, Ordering::SeqCst);
                sem.release().unwrap();
            }
        };
        let a = thread::spawn(worker(Arc::clone(&sem), Arc::clone(&inside)));
        let b = thread::spawn(worker(Arc::clone(&sem), Arc::clone(&inside)));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.value(), 1);
        assert!(sem.release().is_err());
    });
}

#[test]
fn loom_semaphore_poll_vs_release_conserves() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let releaser = thread::spawn(move || s.release());
        let took = sem.acquire_timeout(Duration::ZERO);
        releaser.join().unwrap();
        assert_eq!(sem.value(), usize::from(!took));
    });
}

#[test]
fn loom_barrier_two_parties_two_rounds() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let other = thread::spawn(move || [b.wait().unwrap(), b.wait().unwrap()]);
        let mine = [barrier.wait().unwrap(), barrier.wait().unwrap()];
        let theirs = other.join().unwrap();
        assert_eq!(mine[0] + theirs[0], 1, "distinct indices in round 1");
        assert_eq!(mine[1] + theirs[1], 1, "distinct indices in round 2");
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.broken());
    });
}

#[test]
fn loom_barrier_action_runs_once_before_release() {
    loom::model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        let barrier = Arc::new(Barrier::with_action(2, move || {
            r.fetch_add(1, Ordering::SeqCst);
        }));
        let b = Arc::clone(&barrier);
        let rs = Arc::clone(&runs);
        let other = thread::spawn(move || {
            let i = b.wait().unwrap();
            assert_eq!(rs.load(Ordering::SeqCst), 1);
            i
        });
        let mine = barrier.wait().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(mine + other.join().unwrap(), 1);
    });
}

#[test]
fn loom_barrier_abort_releases_waiter() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let waiter = thread::spawn(move || b.wait());
        barrier.abort();
        assert!(waiter.join().unwrap().is_err());
        assert!(barrier.broken());
    });
}

#[test]
fn loom_barrier_released_round_survives_abort() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let other = thread::spawn(move || b.wait());
        let mine = barrier.wait();
        // The round is released: a later abort must not turn the other
        // party's pass into an error, however late it wakes.
        barrier.abort();
        assert!(mine.is_ok());
        assert!(other.join().unwrap().is_ok());
        assert!(barrier.broken());
    });
}
