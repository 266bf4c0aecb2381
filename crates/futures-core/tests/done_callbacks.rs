//! Done-callbacks run in the order they were added, each once, even when
//! one is added while the future completes (API.md: "in the order added").
//! CPython runs a callback added to a done future at once in the adding
//! thread, so it can overtake one the completing thread has yet to run; here
//! it runs after those, on the completing thread.

mod sync_common;

use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use concurrent_futures_core::Future;
use sync_common::{wait_for, PATIENCE};

type Log = Arc<Mutex<Vec<&'static str>>>;

fn logger(log: &Log, name: &'static str) -> impl FnOnce(&Future<u32>) + Send + 'static {
    let log = Arc::clone(log);
    move |_| log.lock().unwrap().push(name)
}

/// A callback added (from another thread) while the completing thread runs
/// an earlier one runs after it, on the completing thread; `add` returns at
/// once.
#[test]
fn a_callback_added_while_the_completion_runs_callbacks_waits_its_turn() {
    let f = Future::<u32>::new();
    let log: Log = Arc::default();
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let l = Arc::clone(&log);
    f.add_done_callback(move |_| {
        entered_tx.send(()).unwrap();
        release_rx
            .recv_timeout(PATIENCE)
            .expect("released by the test");
        l.lock().unwrap().push("first");
    });
    let setter = f.clone();
    let completer = thread::spawn(move || setter.set_result(1).unwrap());
    entered
        .recv_timeout(PATIENCE)
        .expect("the completion to start the first callback");
    assert!(f.done());
    let l = Arc::clone(&log);
    let completing = completer.thread().id();
    f.add_done_callback(move |_| {
        assert_eq!(thread::current().id(), completing, "run by the completion");
        l.lock().unwrap().push("second");
    });
    assert!(
        log.lock().unwrap().is_empty(),
        "the second callback ran ahead of the first: {:?}",
        log.lock().unwrap()
    );
    release.send(()).unwrap();
    completer.join().unwrap();
    assert_eq!(*log.lock().unwrap(), ["first", "second"]);
    // The completion is over: a callback now runs at once, here.
    f.add_done_callback(logger(&log, "third"));
    assert_eq!(*log.lock().unwrap(), ["first", "second", "third"]);
}

/// A callback that adds one runs it after the rest of the batch (it was
/// added last), still exactly once.
#[test]
fn a_callback_added_by_a_callback_runs_after_the_others() {
    let f = Future::<u32>::new();
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    f.add_done_callback(move |f| {
        l.lock().unwrap().push("a");
        f.add_done_callback(logger(&l, "c"));
    });
    f.add_done_callback(logger(&log, "b"));
    f.set_result(1).unwrap();
    assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
}

/// One thread adds callbacks while another completes the future: in every
/// round they run in the order added, each once (the old code put the late
/// ones first in nearly every round).
#[test]
fn callbacks_added_across_the_completion_keep_their_order() {
    for round in 0..300 {
        let f = Future::<u32>::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (g, l) = (f.clone(), Arc::clone(&log));
        let (started, start) = mpsc::channel();
        let adder = thread::spawn(move || {
            for i in 0..20usize {
                if i == 3 {
                    started.send(()).unwrap();
                }
                let l = Arc::clone(&l);
                g.add_done_callback(move |_| {
                    if i < 3 {
                        thread::sleep(std::time::Duration::from_micros(30));
                    }
                    l.lock().unwrap().push(i);
                });
            }
        });
        start.recv_timeout(PATIENCE).expect("the adder to start");
        f.set_result(1).unwrap();
        adder.join().unwrap();
        // The completing thread is done with its callbacks once `set_result`
        // returned, but the adder's at-once ones may still be running.
        wait_for("every callback", || log.lock().unwrap().len() == 20);
        let got = log.lock().unwrap().clone();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "round {round}: out of order: {got:?}"
        );
    }
}
