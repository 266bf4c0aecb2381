//! Futures completed while a thread exits: from the destructor of a
//! thread-local (a hand-written executor's queue of `Completer`s or `Task`s),
//! after the library's own thread-locals may be gone. The completion must run
//! the callbacks and end the future, never abort the process. Each case runs
//! in a child process (this test binary, re-run on one test), since the
//! failure is an abort.

use std::cell::RefCell;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use concurrent_futures_core::{Completer, Future, Task};

mod child;
use child::stderr_of_child;

const LIMIT: Duration = Duration::from_secs(30);

thread_local! {
    static COMPLETERS: RefCell<Vec<Completer<u32>>> = const { RefCell::new(Vec::new()) };
    static TASKS: RefCell<Vec<Task>> = const { RefCell::new(Vec::new()) };
}

/// Runs a done-callback on this thread, so the library's thread-local
/// bookkeeping is made after (and destroyed before) the test's own.
fn touch_callbacks_here() {
    let g = Future::<u8>::new();
    g.add_done_callback(|_| {});
    g.set_result(1).unwrap();
}

#[test]
fn smoke() {
    let (c, f) = Completer::<u32>::new();
    thread::spawn(move || drop(c)).join().unwrap();
    assert!(f.exception().unwrap().unwrap().is_broken());
}

fn completer_child() {
    let (c, f) = Completer::<u32>::new();
    let (tx, rx) = mpsc::channel();
    f.add_done_callback(move |_| tx.send(()).unwrap());
    thread::spawn(move || {
        COMPLETERS.with(|q| q.borrow_mut().push(c));
        touch_callbacks_here();
    })
    .join()
    .unwrap();
    rx.recv_timeout(LIMIT).expect("the callback ran");
    let e = f.exception_timeout(LIMIT).unwrap().unwrap();
    assert!(e.is_broken(), "{e}");
}

#[test]
fn a_completer_dropped_by_a_thread_local_destructor_runs_the_callbacks() {
    stderr_of_child(
        "a_completer_dropped_by_a_thread_local_destructor_runs_the_callbacks",
        completer_child,
    );
}

fn task_child() {
    let (task, f) = Task::new(|| 1u32);
    let (tx, rx) = mpsc::channel();
    f.add_done_callback(move |_| tx.send(()).unwrap());
    thread::spawn(move || {
        TASKS.with(|q| q.borrow_mut().push(task));
        touch_callbacks_here();
    })
    .join()
    .unwrap();
    rx.recv_timeout(LIMIT).expect("the callback ran");
    assert!(f.exception_timeout(LIMIT).unwrap().unwrap().is_broken());
}

#[test]
fn a_task_dropped_by_a_thread_local_destructor_runs_the_callbacks() {
    stderr_of_child(
        "a_task_dropped_by_a_thread_local_destructor_runs_the_callbacks",
        task_child,
    );
}
