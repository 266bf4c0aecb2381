//! `sync::Barrier`: Python's `threading.Barrier`, tested after CPython.
//!
//! Ported from CPython's `Lib/test/lock_tests.py`, class `BarrierTests`:
//! `test_constructor`, `test_barrier`, `test_barrier_10`,
//! `test_wait_return`, `test_action`, `test_abort`, `test_reset`,
//! `test_abort_and_reset`, `test_timeout`, `test_default_timeout`
//! (through `Barrier::builder`), `test_single_thread`, `test_repr`. What changed: CPython's default timeout of 2 s becomes an
//! explicit `wait_timeout(PATIENCE)` in every wait that should pass, so a
//! bug fails instead of hanging; `raise RuntimeError` then `abort()` is just
//! `abort()`; in `test_abort` the first wait must pass (CPython also accepts
//! a `BrokenBarrierError` there, from a released party that woke after the
//! abort: here a released round stays released); shared lists are atomics or mutexes; `Bunch` is in
//! `sync_common`. Added: `Duration::ZERO` and
//! `Duration::MAX`, a panicking action, abort and reset while the action
//! runs, timeouts that expire while the action runs, newcomers that time
//! out on a long action, a wait from inside the action, and two stress tests with random timing.

use concurrent_futures_core::sync::{Barrier, BrokenBarrierError, Event};
use rand::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod sync_common;
use sync_common::{wait_for, Bunch, PATIENCE};

const N: usize = 5;

/// CPython's `run_threads`: `f` on `N - 1` threads and on this one.
fn run_threads(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let bunch = {
        let f = Arc::clone(&f);
        Bunch::new(N - 1, move || f())
    };
    f();
    bunch.wait_for_finished();
}

fn pass(b: &Barrier) -> Result<usize, BrokenBarrierError> {
    b.wait_timeout(PATIENCE)
}

#[test]
fn smoke() {
    let b = Arc::new(Barrier::new(2));
    let other = {
        let b = Arc::clone(&b);
        thread::spawn(move || pass(&b))
    };
    let mine = pass(&b).expect("the other party never came");
    let theirs = other
        .join()
        .unwrap()
        .expect("the other party was not released");
    assert_eq!(mine + theirs, 1);
    assert!(!b.broken());
}

#[test]
#[should_panic(expected = "at least one party")]
fn constructor_refuses_zero_parties() {
    let _ = Barrier::new(0);
}

/// `multipass`: the parties pass `passes` times in lockstep.
fn barrier(passes: usize) {
    let b = Arc::new(Barrier::new(N));
    let results = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let bb = Arc::clone(&b);
    run_threads(move || {
        assert_eq!(bb.parties(), N);
        for i in 0..passes {
            results[0].fetch_add(1, Ordering::SeqCst);
            assert_eq!(results[1].load(Ordering::SeqCst), i * N);
            pass(&bb).unwrap();
            results[1].fetch_add(1, Ordering::SeqCst);
            assert_eq!(results[0].load(Ordering::SeqCst), (i + 1) * N);
            pass(&bb).unwrap();
        }
        assert_eq!(bb.n_waiting(), 0);
        assert!(!bb.broken());
    });
    assert!(!b.broken());
}

#[test]
fn barrier_1() {
    barrier(1);
}

#[test]
fn barrier_10() {
    barrier(10);
}

#[test]
fn wait_return() {
    let b = Arc::new(Barrier::new(N));
    let results = Arc::new(Mutex::new(Vec::new()));
    {
        let (b, results) = (Arc::clone(&b), Arc::clone(&results));
        run_threads(move || {
            let r = pass(&b).unwrap();
            results.lock().unwrap().push(r);
        });
    }
    let mut got = results.lock().unwrap().clone();
    got.sort_unstable();
    // Stronger than CPython's sum: each index exactly once.
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

#[test]
fn action() {
    let runs = Arc::new(AtomicUsize::new(0));
    let b = {
        let runs = Arc::clone(&runs);
        Arc::new(Barrier::with_action(N, move || {
            runs.fetch_add(1, Ordering::SeqCst);
        }))
    };
    {
        let runs = Arc::clone(&runs);
        run_threads(move || {
            pass(&b).unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        });
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn abort() {
    let b = Arc::new(Barrier::new(N));
    let results1 = Arc::new(AtomicUsize::new(0));
    let results2 = Arc::new(AtomicUsize::new(0));
    {
        let (b, results1, results2) = (b.clone(), results1.clone(), results2.clone());
        run_threads(move || {
            let i = pass(&b).unwrap();
            if i == N / 2 {
                b.abort();
                return;
            }
            match pass(&b) {
                Ok(_) => results1.fetch_add(1, Ordering::SeqCst),
                Err(BrokenBarrierError { .. }) => results2.fetch_add(1, Ordering::SeqCst),
            };
        });
    }
    assert_eq!(results1.load(Ordering::SeqCst), 0);
    assert_eq!(results2.load(Ordering::SeqCst), N - 1);
    assert!(b.broken());
}

#[test]
fn reset() {
    let b = Arc::new(Barrier::new(N));
    let results = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    {
        let (b, results) = (b.clone(), results.clone());
        run_threads(move || {
            let i = pass(&b).unwrap();
            if i == N / 2 {
                // Wait until the other threads are all in the barrier.
                wait_for("the others to wait", || b.n_waiting() == N - 1);
                b.reset();
            } else {
                match pass(&b) {
                    Ok(_) => results[0].fetch_add(1, Ordering::SeqCst),
                    Err(_) => results[1].fetch_add(1, Ordering::SeqCst),
                };
            }
            // Now, pass the barrier again.
            pass(&b).unwrap();
            results[2].fetch_add(1, Ordering::SeqCst);
        });
    }
    let got: Vec<usize> = results.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(got, [0, N - 1, N]);
    assert!(!b.broken());
}

#[test]
fn abort_and_reset() {
    let b = Arc::new(Barrier::new(N));
    let b2 = Arc::new(Barrier::new(N));
    let results = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    {
        let (b, results) = (b.clone(), results.clone());
        run_threads(move || {
            let i = pass(&b).unwrap();
            if i == N / 2 {
                b.abort();
            } else {
                match pass(&b) {
                    Ok(_) => results[0].fetch_add(1, Ordering::SeqCst),
                    Err(_) => results[1].fetch_add(1, Ordering::SeqCst),
                };
            }
            // Synchronize and reset the barrier. Must synchronize first so
            // that everyone has left it when we reset, and after so that no
            // one enters it before the reset.
            if pass(&b2).unwrap() == N / 2 {
                b.reset();
            }
            pass(&b2).unwrap();
            pass(&b).unwrap();
            results[2].fetch_add(1, Ordering::SeqCst);
        });
    }
    let got: Vec<usize> = results.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(got, [0, N - 1, N]);
}

#[test]
fn timeout() {
    let b = Arc::new(Barrier::new(N));
    {
        let b = b.clone();
        run_threads(move || {
            let i = pass(&b).unwrap();
            if i == N / 2 {
                // One thread is late!
                thread::sleep(Duration::from_millis(1000));
            }
            assert!(b.wait_timeout(Duration::from_millis(200)).is_err());
        });
    }
    assert!(b.broken());
}

#[test]
fn default_timeout() {
    // A barrier with a low default timeout.
    let b = Arc::new(
        Barrier::builder(N)
            .timeout(Duration::from_millis(200))
            .build(),
    );
    {
        let b = b.clone();
        run_threads(move || {
            let i = b.wait_timeout(PATIENCE).unwrap();
            if i == N / 2 {
                // One thread is later than the default timeout.
                thread::sleep(Duration::from_millis(1000));
            }
            assert!(b.wait().is_err());
        });
    }
    assert!(b.broken());
}

#[test]
fn single_thread() {
    let b = Barrier::new(1);
    assert_eq!(b.wait(), Ok(0));
    assert_eq!(b.wait(), Ok(0));
}

#[test]
fn repr() {
    let b = Arc::new(Barrier::new(3));
    assert_eq!(format!("{b:?}"), "<Barrier: waiters=0/3>");
    let waiter = {
        let b = b.clone();
        thread::spawn(move || pass(&b))
    };
    wait_for("one waiter", || b.n_waiting() == 1);
    assert_eq!(format!("{b:?}"), "<Barrier: waiters=1/3>");
    b.abort();
    assert_eq!(format!("{b:?}"), "<Barrier: broken>");
    assert!(waiter.join().unwrap().is_err());
}

#[test]
fn zero_timeout() {
    // Already passable: one party never waits.
    let one = Barrier::new(1);
    assert_eq!(one.wait_timeout(Duration::ZERO), Ok(0));
    // Not passable: a zero timeout breaks the barrier at once.
    let two = Barrier::new(2);
    assert!(two.wait_timeout(Duration::ZERO).is_err());
    assert!(two.broken());
    assert!(two.wait_timeout(Duration::ZERO).is_err());
    two.reset();
    assert!(!two.broken());
    assert_eq!(two.n_waiting(), 0);
}

#[test]
fn huge_timeout_does_not_panic() {
    let b = Arc::new(Barrier::new(2));
    let other = {
        let b = b.clone();
        thread::spawn(move || b.wait_timeout(Duration::MAX))
    };
    wait_for("the other party to wait", || b.n_waiting() == 1);
    let mine = b.wait_timeout(Duration::MAX).unwrap();
    assert_eq!(mine, 1, "the last to arrive gets parties - 1");
    assert_eq!(other.join().unwrap(), Ok(0));
}

#[test]
fn panicking_action_breaks_the_barrier() {
    let first = Arc::new(AtomicUsize::new(0));
    let b = {
        let first = first.clone();
        Arc::new(Barrier::with_action(3, move || {
            if first.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("action failed");
            }
        }))
    };
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    {
        let (b, outcomes) = (b.clone(), outcomes.clone());
        Bunch::new(3, move || {
            let r = catch_unwind(AssertUnwindSafe(|| pass(&b)));
            let outcome = match r {
                Ok(Ok(_)) => "passed",
                Ok(Err(_)) => "broken",
                Err(_) => "panicked",
            };
            outcomes.lock().unwrap().push(outcome);
        })
        .wait_for_finished();
    }
    let mut got = outcomes.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, ["broken", "broken", "panicked"]);
    assert!(b.broken());
    // Reset: usable again, and the action runs (without panicking) this time.
    b.reset();
    let bb = b.clone();
    Bunch::new(3, move || {
        pass(&bb).unwrap();
    })
    .wait_for_finished();
    assert_eq!(first.load(Ordering::SeqCst), 2);
}

/// A barrier whose action announces itself and then waits for `proceed`.
fn held_action(parties: usize) -> (Arc<Barrier>, Arc<Event>, Arc<Event>) {
    let (in_action, proceed) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let b = {
        let (in_action, proceed) = (in_action.clone(), proceed.clone());
        Arc::new(Barrier::with_action(parties, move || {
            in_action.set();
            assert!(
                proceed.wait_timeout(PATIENCE),
                "the test never let the action go"
            );
        }))
    };
    (b, in_action, proceed)
}

#[test]
fn abort_while_the_action_runs() {
    let (b, in_action, proceed) = held_action(3);
    let results = Arc::new(Mutex::new(Vec::new()));
    let bunch = {
        let (b, results) = (b.clone(), results.clone());
        Bunch::new(3, move || {
            let r = pass(&b);
            results.lock().unwrap().push(r.is_ok());
        })
    };
    assert!(in_action.wait_timeout(PATIENCE), "the action never ran");
    assert_eq!(b.n_waiting(), 0, "a tripping barrier has no waiters");
    b.abort();
    proceed.set();
    bunch.wait_for_finished();
    assert_eq!(*results.lock().unwrap(), [false; 3]);
    assert!(b.broken());
}

#[test]
fn reset_while_the_action_runs() {
    let (b, in_action, proceed) = held_action(2);
    let results = Arc::new(Mutex::new(Vec::new()));
    let bunch = {
        let (b, results) = (b.clone(), results.clone());
        Bunch::new(2, move || {
            let r = pass(&b);
            results.lock().unwrap().push(r.is_ok());
        })
    };
    assert!(in_action.wait_timeout(PATIENCE), "the action never ran");
    b.reset();
    proceed.set();
    bunch.wait_for_finished();
    assert_eq!(*results.lock().unwrap(), [false; 2]);
    assert!(!b.broken());
    // The reset round is over: a new one passes.
    let bb = b.clone();
    Bunch::new(2, move || {
        pass(&bb).unwrap();
    })
    .wait_for_finished();
}

/// Waits on `b` on a new thread and sends how the wait ended: "passed",
/// "broken", or the panic's message.
fn wait_on_a_thread(b: &Arc<Barrier>, tx: &std::sync::mpsc::Sender<String>) {
    let (b, tx) = (b.clone(), tx.clone());
    thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| b.wait_timeout(PATIENCE)));
        let _ = tx.send(match r {
            Ok(Ok(_)) => "passed".to_owned(),
            Ok(Err(_)) => "broken".to_owned(),
            Err(p) => concurrent_futures_core::panic_message(&*p),
        });
    });
}

#[test]
fn a_wait_from_the_action_panics_instead_of_waiting_for_itself() {
    // The action runs while its round trips, and a wait waits for the trip
    // to end: a wait on the same barrier from inside the action would wait
    // for itself for ever (its timeout never applies), and so would every
    // party of the round. It panics instead, which breaks the round.
    let me: Arc<std::sync::OnceLock<std::sync::Weak<Barrier>>> = Arc::default();
    let b = {
        let me = me.clone();
        Arc::new(Barrier::with_action(2, move || {
            let b = me.get().unwrap().upgrade().unwrap();
            let _ = b.wait_timeout(Duration::from_millis(10));
        }))
    };
    me.set(Arc::downgrade(&b)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        wait_on_a_thread(&b, &tx);
    }
    let got: Vec<String> = (0..2)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("a party waits for ever: the action waited for itself")
        })
        .collect();
    assert!(got.iter().any(|o| o == "broken"), "{got:?}");
    assert!(got.iter().any(|o| o.contains("own action")), "{got:?}");
    assert!(b.broken());
}

#[test]
fn a_wait_from_a_nested_action_on_the_outer_barrier_panics() {
    // A's action waits on B, whose last party (this same thread) runs B's
    // action, which waits on A: A is still tripping, so that wait would wait
    // for itself too. It is refused at any depth, not only the innermost.
    let a_of: Arc<std::sync::OnceLock<std::sync::Weak<Barrier>>> = Arc::default();
    let b = {
        let a_of = a_of.clone();
        Arc::new(Barrier::with_action(1, move || {
            let a = a_of.get().unwrap().upgrade().unwrap();
            let _ = a.wait_timeout(Duration::from_millis(10));
        }))
    };
    let a = {
        let b = b.clone();
        Arc::new(Barrier::with_action(1, move || {
            let _ = b.wait_timeout(Duration::from_millis(10));
        }))
    };
    a_of.set(Arc::downgrade(&a)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    wait_on_a_thread(&a, &tx);
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the party waits for ever: the inner action waited for the outer trip");
    assert!(got.contains("own action"), "{got}");
    assert!(a.broken() && b.broken());
}

#[test]
fn timeouts_do_not_break_a_tripped_barrier() {
    // Once all parties are in, a waiter whose deadline passes while the
    // action runs is still released (as in CPython, where the action runs
    // under the lock).
    let (b, in_action, proceed) = held_action(3);
    let early = {
        let b = b.clone();
        Bunch::new(2, move || {
            b.wait_timeout(Duration::from_secs(2)).unwrap();
        })
    };
    wait_for("two early parties", || b.n_waiting() == 2);
    let last = {
        let b = b.clone();
        thread::spawn(move || pass(&b))
    };
    assert!(in_action.wait_timeout(PATIENCE), "the action never ran");
    thread::sleep(Duration::from_millis(2200));
    proceed.set();
    early.wait_for_finished();
    assert_eq!(last.join().unwrap(), Ok(2));
    assert!(!b.broken());
}

/// A newcomer that arrives while the round before it runs its action waits
/// for the action no longer than its own timeout (API.md: a call waits only
/// for its work and its timeout; CPython waits without limit here). Its
/// timeout breaks the barrier as any timeout does, but only once the round
/// in progress, all of whose parties are in, has been released.
#[test]
fn a_newcomer_gives_up_on_a_long_action_at_its_timeout() {
    let (b, in_action, proceed) = held_action(2);
    let round = {
        let b = b.clone();
        Bunch::new(2, move || {
            pass(&b).unwrap();
        })
    };
    assert!(in_action.wait_timeout(PATIENCE), "the action never ran");
    for newcomer_waits in [
        |b: &Barrier| b.wait_timeout(Duration::from_millis(50)),
        |b: &Barrier| b.wait_timeout(Duration::ZERO),
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        let bb = b.clone();
        thread::spawn(move || tx.send(newcomer_waits(&bb)).unwrap());
        let got = rx
            .recv_timeout(PATIENCE)
            .expect("the newcomer waited for the action past its timeout");
        assert!(got.is_err(), "{got:?}");
    }
    assert!(!b.broken(), "the round in progress was broken");
    proceed.set();
    round.wait_for_finished();
    assert!(
        b.broken(),
        "the newcomer's timeout did not break the barrier"
    );
    b.reset();
    let bb = b.clone();
    Bunch::new(2, move || {
        pass(&bb).unwrap();
    })
    .wait_for_finished();
}

/// The same through the builder's default timeout, and a reset before the
/// action ends forgives the newcomer's timeout with the rest.
#[test]
fn a_newcomer_with_a_default_timeout_gives_up_and_a_reset_forgives_it() {
    let (in_action, proceed) = (Arc::new(Event::new()), Arc::new(Event::new()));
    let b = {
        let (in_action, proceed) = (in_action.clone(), proceed.clone());
        Arc::new(
            Barrier::builder(2)
                .action(move || {
                    in_action.set();
                    assert!(proceed.wait_timeout(PATIENCE), "never let go");
                })
                .timeout(Duration::from_millis(50))
                .build(),
        )
    };
    let results = Arc::new(Mutex::new(Vec::new()));
    let round = {
        let (b, results) = (b.clone(), results.clone());
        Bunch::new(2, move || {
            let r = b.wait_timeout(PATIENCE);
            results.lock().unwrap().push(r.is_ok());
        })
    };
    assert!(in_action.wait_timeout(PATIENCE), "the action never ran");
    let (tx, rx) = std::sync::mpsc::channel();
    let bb = b.clone();
    thread::spawn(move || tx.send(bb.wait()).unwrap());
    let got = rx
        .recv_timeout(PATIENCE)
        .expect("the newcomer waited for the action past its default timeout");
    assert!(got.is_err());
    b.reset();
    proceed.set();
    round.wait_for_finished();
    // The reset broke the tripping round and cleared the newcomer's break.
    assert_eq!(*results.lock().unwrap(), [false; 2]);
    assert!(!b.broken());
    let bb = b.clone();
    Bunch::new(2, move || {
        bb.wait_timeout(PATIENCE).unwrap();
    })
    .wait_for_finished();
}

/// Many rounds with random timing: each round every party arrives before
/// any leaves, indices are a permutation of `0..parties`, the action runs
/// once per round.
#[test]
fn stress_rounds() {
    const PARTIES: usize = 8;
    const ROUNDS: usize = 500;
    let actions = Arc::new(AtomicUsize::new(0));
    let b = {
        let actions = actions.clone();
        Arc::new(Barrier::with_action(PARTIES, move || {
            actions.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let arrived = Arc::new(AtomicUsize::new(0));
    let indices = Arc::new(Mutex::new(vec![Vec::new(); ROUNDS]));
    {
        let (b, arrived, indices, actions) =
            (b.clone(), arrived.clone(), indices.clone(), actions.clone());
        Bunch::new(PARTIES, move || {
            let mut rng = rand::thread_rng();
            for round in 0..ROUNDS {
                if rng.gen_bool(0.3) {
                    thread::sleep(Duration::from_micros(rng.gen_range(0..300)));
                }
                arrived.fetch_add(1, Ordering::SeqCst);
                let i = pass(&b).unwrap_or_else(|e| panic!("round {round}: {e}"));
                let seen = arrived.load(Ordering::SeqCst);
                assert!(seen >= (round + 1) * PARTIES, "released before all arrived");
                assert!(
                    seen <= (round + 2) * PARTIES,
                    "a party ran two rounds ahead"
                );
                assert!(
                    actions.load(Ordering::SeqCst) > round,
                    "released before the action"
                );
                indices.lock().unwrap()[round].push(i);
            }
        })
        .wait_for_finished();
    }
    for (round, got) in indices.lock().unwrap().iter_mut().enumerate() {
        got.sort_unstable();
        assert_eq!(*got, (0..PARTIES).collect::<Vec<_>>(), "round {round}");
    }
    assert_eq!(actions.load(Ordering::SeqCst), ROUNDS);
    assert!(!b.broken());
}

/// Random waits with tiny timeouts, aborts and resets from every thread:
/// nothing hangs, every index is in range, and after a final reset the
/// barrier works.
#[test]
fn stress_chaos() {
    const PARTIES: usize = 4;
    let b = Arc::new(Barrier::new(PARTIES));
    let passed = Arc::new(AtomicUsize::new(0));
    {
        let (b, passed) = (b.clone(), passed.clone());
        Bunch::new(PARTIES, move || {
            let mut rng = rand::thread_rng();
            for _ in 0..1000 {
                match rng.gen_range(0..20) {
                    0 => b.abort(),
                    1 => b.reset(),
                    _ => {
                        let d = Duration::from_micros(rng.gen_range(0..2000));
                        if let Ok(i) = b.wait_timeout(d) {
                            assert!(i < PARTIES);
                            passed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                let _ = b.n_waiting();
            }
        })
        .wait_for_finished();
    }
    let give_up = Instant::now() + PATIENCE;
    b.reset();
    let results = Arc::new(Mutex::new(Vec::new()));
    {
        let (b, results) = (b.clone(), results.clone());
        Bunch::new(PARTIES, move || {
            let r = pass(&b).expect("the barrier did not recover after reset");
            results.lock().unwrap().push(r);
        })
        .wait_for_finished();
    }
    assert!(Instant::now() < give_up);
    let mut got = results.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..PARTIES).collect::<Vec<_>>());
}
