//! `Future<T>` against the one-shot channels people use for the same job:
//! a `crossbeam_channel::bounded(1)` and a `std::sync::mpsc` channel, each
//! case in one criterion group with its peers.
//!
//! * `create_complete_read`: make one future, complete it, read the value.
//! * `callback`: make one future, add a done-callback, complete it (the
//!   callback runs); the peers send a boxed closure and the receiver runs it.
//! * `cross_thread`: a worker thread completes what the main thread waits
//!   for; the handle (or the channel's sender) goes to the worker over the
//!   same crossbeam channel in every case.
//!
//! Run: `cargo bench --bench future -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::thread;

use concurrent_futures::{Future, Task};
use criterion::{criterion_group, criterion_main, Criterion};

fn create_complete_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_complete_read");
    g.bench_function("future_result", |b| {
        b.iter(|| {
            let f = Future::new();
            f.set_result(black_box(7u64)).unwrap();
            *f.result().unwrap()
        })
    });
    g.bench_function("future_into_result", |b| {
        b.iter(|| {
            let f = Future::new();
            f.set_result(black_box(7u64)).unwrap();
            f.into_result().unwrap()
        })
    });
    g.bench_function("crossbeam_bounded_1", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            tx.send(black_box(7u64)).unwrap();
            rx.recv().unwrap()
        })
    });
    g.bench_function("std_mpsc", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            tx.send(black_box(7u64)).unwrap();
            rx.recv().unwrap()
        })
    });
    g.finish();
}

/// Where the callback leaves its result (a static: no allocation beyond the
/// callback's own box, as the peers' boxed closure).
static CALLBACK_OUT: AtomicU64 = AtomicU64::new(0);

type Job = Box<dyn FnOnce(u64) -> u64 + Send>;

fn callback(c: &mut Criterion) {
    let mut g = c.benchmark_group("callback");
    g.bench_function("future_add_done_callback", |b| {
        b.iter(|| {
            let f = Future::new();
            f.add_done_callback(|f: &Future<u64>| {
                CALLBACK_OUT.store(*f.result().unwrap() + 1, Relaxed);
            });
            f.set_result(black_box(7u64)).unwrap();
            CALLBACK_OUT.load(Relaxed)
        })
    });
    g.bench_function("crossbeam_bounded_1", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::bounded::<Job>(1);
            tx.send(Box::new(|v| v + 1)).unwrap();
            (rx.recv().unwrap())(black_box(7))
        })
    });
    g.bench_function("std_mpsc", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            tx.send(Box::new(|v| v + 1)).unwrap();
            (rx.recv().unwrap())(black_box(7))
        })
    });
    g.finish();
}

/// What the worker thread is handed: something to complete with a value.
enum Reply {
    Future(Future<u64>),
    /// A task whose future the caller kept: the executor's reference, which
    /// never counts as a handle (so `into_result` never races its drop).
    Task(Task),
    Crossbeam(crossbeam_channel::Sender<u64>),
    Mpsc(mpsc::Sender<u64>),
}

fn cross_thread(c: &mut Criterion) {
    let (to_worker, requests) = crossbeam_channel::bounded::<Reply>(1);
    let worker = thread::spawn(move || {
        for reply in requests {
            match reply {
                Reply::Future(f) => f.set_result(7).unwrap(),
                Reply::Task(t) => {
                    t.run();
                }
                Reply::Crossbeam(tx) => tx.send(7).unwrap(),
                Reply::Mpsc(tx) => tx.send(7).unwrap(),
            }
        }
    });
    let mut g = c.benchmark_group("cross_thread");
    g.bench_function("future_result", |b| {
        b.iter(|| {
            let f = Future::new();
            to_worker.send(Reply::Future(f.clone())).unwrap();
            *f.result().unwrap()
        })
    });
    g.bench_function("future_into_result", |b| {
        b.iter(|| {
            let (task, f) = Task::new(|| black_box(7u64));
            to_worker.send(Reply::Task(task)).unwrap();
            f.into_result().unwrap()
        })
    });
    g.bench_function("crossbeam_bounded_1", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            to_worker.send(Reply::Crossbeam(tx)).unwrap();
            rx.recv().unwrap()
        })
    });
    g.bench_function("std_mpsc", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            to_worker.send(Reply::Mpsc(tx)).unwrap();
            rx.recv().unwrap()
        })
    });
    g.finish();
    drop(to_worker);
    worker.join().unwrap();
}

criterion_group!(benches, create_complete_read, callback, cross_thread);
criterion_main!(benches);
