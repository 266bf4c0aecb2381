//! `wait` and `as_completed` over 100,000 futures, beside a crossbeam-channel
//! fan-in of 100,000 messages as the floor (the least that handing 100,000
//! completions from one thread to another can cost).
//!
//! * `fan_in_100k`: another thread completes the futures (or sends the
//!   messages) while the consumer runs; timed from spawning that thread to
//!   the consumer's return (and the thread's join, except for
//!   `wait_first_completed`, which returns at the first completion).
//! * `already_done_100k`: everything is done before the call (the channel
//!   already holds its messages); timed: the call alone.
//!
//! Making and dropping the futures is not timed. Python's numbers for the
//! same cases come from `benches/python/wait.py`.
//!
//! Run: `cargo bench --bench wait -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use concurrent_futures::{as_completed, wait, Future, ReturnWhen};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

const N: usize = 100_000;

fn futures() -> Vec<Future<u64>> {
    (0..N).map(|_| Future::new()).collect()
}

/// Completes clones of `fs` in order on a new thread.
fn complete_on_a_thread(fs: &[Future<u64>]) -> thread::JoinHandle<()> {
    let work = fs.to_vec();
    thread::spawn(move || {
        for (i, f) in work.into_iter().enumerate() {
            f.set_result(i as u64).unwrap();
        }
    })
}

/// Times `iters` runs of `run`, each on fresh futures made by `setup`.
fn timed<S>(iters: u64, setup: impl Fn() -> S, run: impl Fn(S) -> Duration) -> Duration {
    (0..iters).map(|_| run(setup())).sum()
}

fn fan_in(c: &mut Criterion) {
    let mut g = c.benchmark_group("fan_in_100k");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || (),
                |()| {
                    let start = Instant::now();
                    let (tx, rx) = crossbeam_channel::unbounded();
                    let t = thread::spawn(move || {
                        for i in 0..N as u64 {
                            tx.send(i).unwrap();
                        }
                    });
                    let mut sum = 0u64;
                    for _ in 0..N {
                        sum += rx.recv().unwrap();
                    }
                    t.join().unwrap();
                    black_box(sum);
                    start.elapsed()
                },
            )
        })
    });
    // What one would write by hand instead of `as_completed`: a done-callback
    // per future that sends it into a channel.
    g.bench_function("callback_into_channel", |b| {
        b.iter_custom(|iters| {
            timed(iters, futures, |fs| {
                let start = Instant::now();
                let (tx, rx) = crossbeam_channel::unbounded();
                for f in &fs {
                    let tx = tx.clone();
                    f.add_done_callback(move |f: &Future<u64>| tx.send(f.clone()).unwrap());
                }
                let t = complete_on_a_thread(&fs);
                for _ in 0..N {
                    let _ = black_box(rx.recv().unwrap());
                }
                t.join().unwrap();
                start.elapsed()
            })
        })
    });
    g.bench_function("wait_all_completed", |b| {
        b.iter_custom(|iters| {
            timed(iters, futures, |fs| {
                let start = Instant::now();
                let t = complete_on_a_thread(&fs);
                let r = wait(&fs, None, ReturnWhen::AllCompleted);
                t.join().unwrap();
                let took = start.elapsed();
                assert_eq!(r.done.len(), N);
                took
            })
        })
    });
    g.bench_function("wait_first_completed", |b| {
        b.iter_custom(|iters| {
            timed(iters, futures, |fs| {
                let start = Instant::now();
                let t = complete_on_a_thread(&fs);
                let r = wait(&fs, None, ReturnWhen::FirstCompleted);
                let took = start.elapsed();
                assert!(!r.done.is_empty());
                t.join().unwrap();
                took
            })
        })
    });
    g.bench_function("as_completed", |b| {
        b.iter_custom(|iters| {
            timed(iters, futures, |fs| {
                let start = Instant::now();
                let t = complete_on_a_thread(&fs);
                let mut n = 0;
                for f in as_completed(&fs, None) {
                    let _ = black_box(f.unwrap());
                    n += 1;
                }
                t.join().unwrap();
                let took = start.elapsed();
                assert_eq!(n, N);
                took
            })
        })
    });
    g.finish();
}

fn done_futures() -> Vec<Future<u64>> {
    let fs = futures();
    for (i, f) in fs.iter().enumerate() {
        f.set_result(i as u64).unwrap();
    }
    fs
}

fn already_done(c: &mut Criterion) {
    let mut g = c.benchmark_group("already_done_100k");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| {
            let setup = || {
                let (tx, rx) = crossbeam_channel::unbounded();
                for i in 0..N as u64 {
                    tx.send(i).unwrap();
                }
                rx
            };
            timed(iters, setup, |rx| {
                let start = Instant::now();
                let mut sum = 0u64;
                for _ in 0..N {
                    sum += rx.recv().unwrap();
                }
                let took = start.elapsed();
                black_box(sum);
                took
            })
        })
    });
    for (name, rw) in [
        ("wait_all_completed", ReturnWhen::AllCompleted),
        ("wait_first_completed", ReturnWhen::FirstCompleted),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(iters, done_futures, |fs| {
                    let start = Instant::now();
                    let r = wait(&fs, None, rw);
                    let took = start.elapsed();
                    assert_eq!(r.done.len(), N);
                    took
                })
            })
        });
    }
    g.bench_function("as_completed", |b| {
        b.iter_custom(|iters| {
            timed(iters, done_futures, |fs| {
                let start = Instant::now();
                let n = as_completed(&fs, None).map(black_box).count();
                let took = start.elapsed();
                assert_eq!(n, N);
                took
            })
        })
    });
    g.finish();
}

criterion_group!(benches, fan_in, already_done);
criterion_main!(benches);
