//! Stress: many threads complete, cancel, wait on (with timeouts), install
//! waiters on and add callbacks to shared futures, in random order with
//! random pauses. At the end every future is terminal, every callback ran
//! exactly once, every waiter was told at most once and consistently, and
//! every value read matches the one its future was given. Bounded by a
//! watchdog; runs in a few seconds in debug builds.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use concurrent_futures_core::{
    Completion, Future, FutureError, FutureState, TaskError, Waitable, Waiter,
};
use rand::seq::SliceRandom;
use rand::Rng;

const FUTURES: usize = 1000;
const THREADS: usize = 8;
const OPS_PER_THREAD: usize = 6000;
const LIMIT: Duration = Duration::from_secs(60);

/// The value future `i` is given by whoever completes it.
fn value_of(i: usize) -> u64 {
    i as u64 * 10 + 1
}

/// Every fourth future fails instead.
fn fails(i: usize) -> bool {
    i % 4 == 3
}

fn message_of(i: usize) -> String {
    format!("task {i} failed")
}

/// Counts violations instead of panicking where a panic would be swallowed
/// (callbacks and `notify` run under `catch_unwind`).
#[derive(Default)]
struct Violations(Mutex<Vec<String>>);

impl Violations {
    fn report(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }
}

struct World {
    futures: Vec<Future<u64>>,
    callbacks_added: Vec<AtomicUsize>,
    callbacks_ran: Vec<AtomicUsize>,
    violations: Violations,
}

/// A waiter installed once on one future: records each notification.
struct OneShotWaiter {
    index: usize,
    seen: Mutex<Vec<Completion>>,
}

// SAFETY: `notify` takes only its own lock, briefly; the assert is a test
// check (a panic would be reported, and the test would see the lost record).
unsafe impl Waiter for OneShotWaiter {
    fn notify(&self, token: usize, how: Completion) {
        assert_eq!(token, self.index);
        self.seen.lock().unwrap().push(how);
    }
}

/// Checks what a reader got from future `i` against how it can end.
fn check_read(world: &World, i: usize, got: Result<&u64, FutureError>) {
    let ok = match &got {
        Ok(v) => !fails(i) && **v == value_of(i),
        Err(FutureError::Cancelled) => world.futures[i].cancelled(),
        Err(FutureError::Timeout(_)) => true,
        Err(FutureError::Failed(e)) => {
            fails(i) && e.panic_message() == Some(message_of(i).as_str())
        }
        Err(_) => false,
    };
    if !ok {
        world.violations.report(format!(
            "future {i}: read {got:?} in state {:?}",
            world.futures[i].state()
        ));
    }
}

fn complete(world: &World, i: usize) {
    let f = &world.futures[i];
    if fails(i) {
        f.run(|| panic!("{}", message_of(i)));
    } else {
        f.run(|| value_of(i));
    }
}

fn interfere(world: &World, i: usize, rng: &mut impl Rng) {
    let f = &world.futures[i];
    let refused = if fails(i) {
        f.set_exception(TaskError::panic(message_of(i))).is_err()
    } else {
        f.set_result(value_of(i)).is_err()
    };
    if refused && !f.done() {
        world
            .violations
            .report(format!("future {i}: set refused while not done"));
    }
    let _ = rng;
}

fn add_callback(world: &Arc<World>, i: usize) {
    world.callbacks_added[i].fetch_add(1, SeqCst);
    let w = world.clone();
    world.futures[i].add_done_callback(move |f: &Future<u64>| {
        if !f.done() || !f.state().is_done() {
            w.violations
                .report(format!("future {i}: callback ran before done"));
        }
        if f.cancelled() {
            if !f.result_timeout(Duration::ZERO).unwrap_err().is_cancelled() {
                w.violations
                    .report(format!("future {i}: cancelled, not said"));
            }
        } else {
            check_read(&w, i, f.result_timeout(Duration::ZERO));
        }
        w.callbacks_ran[i].fetch_add(1, SeqCst);
    });
}

fn wait_with_waiter(world: &World, i: usize, rng: &mut impl Rng) {
    let f = &world.futures[i];
    let sleeper = Arc::new(OneShotWaiter {
        index: i,
        seen: Mutex::new(Vec::new()),
    });
    let waiter: Arc<dyn Waiter> = sleeper.clone();
    let at_install = f.install_waiter(&waiter, i);
    thread::sleep(Duration::from_micros(rng.gen_range(0..200)));
    f.remove_waiter(&waiter);
    let seen = sleeper.seen.lock().unwrap().clone();
    let final_state = f.completion();
    let consistent = match at_install {
        Some(how) => seen.is_empty() && final_state == Some(how),
        None => match seen[..] {
            [] => true,
            [how] => final_state == Some(how),
            _ => false,
        },
    };
    if !consistent {
        world.violations.report(format!(
            "future {i}: waiter saw {at_install:?} then {seen:?}, final {final_state:?}"
        ));
    }
}

fn random_op(world: &Arc<World>, rng: &mut impl Rng) {
    let i = rng.gen_range(0..FUTURES);
    let f = &world.futures[i];
    match rng.gen_range(0..100) {
        0..=9 => {
            let _ = f.cancel();
        }
        10..=14 => interfere(world, i, rng),
        15..=39 => add_callback(world, i),
        40..=59 => {
            let timeout = Duration::from_micros(rng.gen_range(0..500));
            check_read(world, i, f.result_timeout(timeout));
        }
        60..=69 => match f.exception_timeout(Duration::ZERO) {
            Ok(None) => check_read(world, i, f.result_timeout(Duration::ZERO)),
            Ok(Some(e)) if fails(i) && e.panic_message() == Some(message_of(i).as_str()) => {}
            Err(e) if e.is_timeout() || (e.is_cancelled() && f.cancelled()) => {}
            other => world
                .violations
                .report(format!("future {i}: exception() gave {other:?}")),
        },
        70..=84 => wait_with_waiter(world, i, rng),
        _ => {
            let g = f.clone();
            if g.done() && !g.state().is_done() {
                world
                    .violations
                    .report(format!("future {i}: done() ahead of state"));
            }
            drop(g);
        }
    }
}

/// One worker: completes its share of futures at random points among
/// `OPS_PER_THREAD` random operations on any future.
fn worker(world: Arc<World>, mut mine: Vec<usize>) {
    let mut rng = rand::thread_rng();
    mine.shuffle(&mut rng);
    let total = OPS_PER_THREAD + mine.len();
    for step in 0..total {
        let left_to_complete = mine.len();
        let left_steps = total - step;
        if left_to_complete > 0 && rng.gen_range(0..left_steps) < left_to_complete {
            complete(&world, mine.pop().unwrap());
        } else {
            random_op(&world, &mut rng);
        }
        if rng.gen_range(0..50) == 0 {
            thread::yield_now();
        }
    }
    for i in mine {
        complete(&world, i);
    }
}

fn run_stress() -> Arc<World> {
    let world = Arc::new(World {
        futures: (0..FUTURES).map(|_| Future::new()).collect(),
        callbacks_added: (0..FUTURES).map(|_| AtomicUsize::new(0)).collect(),
        callbacks_ran: (0..FUTURES).map(|_| AtomicUsize::new(0)).collect(),
        violations: Violations::default(),
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let mine = (0..FUTURES).filter(|i| i % THREADS == t).collect();
            let world = world.clone();
            thread::spawn(move || worker(world, mine))
        })
        .collect();
    for w in workers {
        w.join().expect("a stress worker panicked");
    }
    world
}

#[test]
fn smoke() {
    let f = Future::new();
    let g = f.clone();
    thread::spawn(move || g.run(|| 1u8)).join().unwrap();
    assert_eq!(f.into_result().unwrap(), 1);
}

#[test]
fn stress_complete_cancel_wait_and_callbacks() {
    let (tx, rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let world = run_stress();
        let _ = tx.send(());
        world
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("stress run did not finish within {LIMIT:?}")
        }
    }
    let world = runner.join().expect("the stress run panicked");

    let violations = world.violations.0.lock().unwrap();
    assert!(
        violations.is_empty(),
        "{} violations: {:#?}",
        violations.len(),
        &violations[..violations.len().min(20)]
    );
    drop(violations);

    let mut states = [0usize; 2];
    for (i, f) in world.futures.iter().enumerate() {
        let state = f.state();
        assert!(state.is_done(), "future {i} ended {state:?}");
        states[usize::from(state == FutureState::Cancelled)] += 1;
        let added = world.callbacks_added[i].load(SeqCst);
        let ran = world.callbacks_ran[i].load(SeqCst);
        assert_eq!(ran, added, "future {i}: {added} callbacks added, {ran} ran");
        match f.result_timeout(Duration::ZERO) {
            Ok(v) => assert!(!fails(i) && *v == value_of(i), "future {i}: {v}"),
            Err(FutureError::Cancelled) => assert!(f.cancelled()),
            Err(FutureError::Failed(e)) => {
                assert!(fails(i) && e.panic_message() == Some(message_of(i).as_str()))
            }
            Err(e) => panic!("future {i}: {e}"),
        }
    }
    // The stress is only meaningful if both outcomes occur.
    assert!(
        states[0] > 0 && states[1] > 0,
        "finished/cancelled: {states:?}"
    );

    // Every handle but ours is gone: take each value by ownership.
    let world = Arc::into_inner(world).expect("no other reference to the world");
    for (i, f) in world.futures.into_iter().enumerate() {
        match f.try_into_result() {
            Ok(Ok(v)) => assert_eq!(v, value_of(i)),
            Ok(Err(e)) => assert!(e.is_cancelled() || fails(i), "future {i}: {e}"),
            Err(_) => panic!("future {i}: a handle outlived the stress"),
        }
    }
}
