//! `wait` and `as_completed` over 100,000 futures, beside a crossbeam-channel
//! fan-in of 100,000 messages as the floor (the least that handing 100,000
//! completions from one thread to another can cost).
//!
//! * `fan_in_100k`: another thread completes the futures (or sends the
//!   messages) while the consumer runs; timed from spawning that thread to
//!   the consumer's return (and the thread's join, except for
//!   `wait_first_completed`, which returns at the first completion). The
//!   completing thread borrows the futures (a scoped thread), as a pool's
//!   worker completes through the reference it already holds: no handle is
//!   cloned for it, as no message is copied for the channel's sender.
//! * `fan_in_interleaved`: the same fan-ins (the channel, `as_completed`,
//!   `wait(ALL_COMPLETED)`, a done-callback into a channel), run one after
//!   another in rounds whose order rotates, so that every ratio to the
//!   channel comes from the same minutes; median ns per future. One more
//!   row, `as_completed_producer_clones`, is `as_completed` with a producer
//!   that owns a clone of every handle (cloned on the consumer's thread
//!   before the producer starts, dropped by the producer one by one): what
//!   a hand-made producer pays for its 2 reference-count updates per
//!   future. Written to `target/bench-python/fan_in_interleaved.json` for
//!   `benches/report.py`; `CF_BENCH_INTERLEAVED_ONLY=1` runs only this.
//! * `already_done_100k`: everything is done before the call (the channel
//!   already holds its messages); timed: the call alone.
//!
//! Making and dropping the futures is not timed. Python's numbers for the
//! same cases come from `benches/python/wait.py`.
//!
//! Run: `cargo bench --bench wait -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

#[path = "support/rounds.rs"]
mod rounds;

use concurrent_futures::{as_completed, wait, Future, ReturnWhen};
use criterion::{criterion_group, Criterion, Throughput};
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

const N: usize = 100_000;

fn futures() -> Vec<Future<u64>> {
    (0..N).map(|_| Future::new()).collect()
}

/// Completes `fs` in order on a scoped thread while `consume` runs on this
/// one; returns the time from before the spawn to `consume`'s end (the
/// scope then joins the thread) and what `consume` returned.
fn fan_in_scoped<R>(fs: &[Future<u64>], consume: impl FnOnce() -> R) -> (Duration, R) {
    thread::scope(|s| {
        let start = Instant::now();
        s.spawn(|| {
            for (i, f) in fs.iter().enumerate() {
                f.set_result(i as u64).unwrap();
            }
        });
        let r = consume();
        (start.elapsed(), r)
    })
}

/// The channel floor: one thread sends `N` integers, this one receives them.
fn channel_fan_in() -> Duration {
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
}

/// `as_completed` over `fs`, completed on another thread; every future is
/// yielded (and dropped) once.
fn as_completed_fan_in(fs: &[Future<u64>]) -> Duration {
    let (took, n) = fan_in_scoped(fs, || {
        as_completed(fs, None).fold(0, |n, f| {
            drop(black_box(f.unwrap()));
            n + 1
        })
    });
    assert_eq!(n, N);
    took
}

/// `wait(ALL_COMPLETED)` over `fs`, completed on another thread. The
/// result (100,000 handles in a set) is dropped after the clock stops.
fn wait_all_fan_in(fs: &[Future<u64>]) -> Duration {
    let (took, r) = fan_in_scoped(fs, || wait(fs, None, ReturnWhen::AllCompleted));
    assert_eq!(r.done.len(), N);
    took
}

/// What one would write by hand instead of `as_completed`: a done-callback
/// per future that sends it into a channel.
fn callback_fan_in(fs: &[Future<u64>]) -> Duration {
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::unbounded();
    for f in fs {
        let tx = tx.clone();
        f.add_done_callback(move |f: &Future<u64>| tx.send(f.clone()).unwrap());
    }
    let (_, ()) = fan_in_scoped(fs, || {
        for _ in 0..N {
            let _ = black_box(rx.recv().unwrap());
        }
    });
    start.elapsed()
}

/// `as_completed` with a producer that owns a clone of each handle (made
/// here, on the consumer's thread, before it starts) and drops each after
/// completing it.
fn as_completed_producer_clones(fs: &[Future<u64>]) -> Duration {
    let start = Instant::now();
    let work = fs.to_vec();
    let t = thread::spawn(move || {
        for (i, f) in work.into_iter().enumerate() {
            f.set_result(i as u64).unwrap();
        }
    });
    let n = as_completed(fs, None).fold(0, |n, f| {
        drop(black_box(f.unwrap()));
        n + 1
    });
    t.join().unwrap();
    let took = start.elapsed();
    assert_eq!(n, N);
    took
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
        b.iter_custom(|iters| timed(iters, || (), |()| channel_fan_in()))
    });
    g.bench_function("callback_into_channel", |b| {
        b.iter_custom(|iters| timed(iters, futures, |fs| callback_fan_in(&fs)))
    });
    g.bench_function("wait_all_completed", |b| {
        b.iter_custom(|iters| timed(iters, futures, |fs| wait_all_fan_in(&fs)))
    });
    g.bench_function("wait_first_completed", |b| {
        b.iter_custom(|iters| {
            timed(iters, futures, |fs| {
                let (took, r) = fan_in_scoped(&fs, || wait(&fs, None, ReturnWhen::FirstCompleted));
                assert!(!r.done.is_empty());
                took
            })
        })
    });
    g.bench_function("as_completed", |b| {
        b.iter_custom(|iters| timed(iters, futures, |fs| as_completed_fan_in(&fs)))
    });
    g.finish();
}

/// The fan-ins in interleaved rounds (see the top of this file).
fn fan_in_interleaved() {
    const ROUNDS: usize = 31;
    type Case = (&'static str, fn(&[Future<u64>]) -> Duration);
    let cases: [Case; 5] = [
        ("crossbeam_channel", |_| channel_fan_in()),
        ("as_completed", as_completed_fan_in),
        ("wait_all_completed", wait_all_fan_in),
        ("callback_into_channel", callback_fan_in),
        ("as_completed_producer_clones", as_completed_producer_clones),
    ];
    let per_future = |run: fn(&[Future<u64>]) -> Duration| {
        let fs = futures();
        let took = run(&fs);
        drop(fs);
        took.as_nanos() as f64 / N as f64
    };
    // One untimed round warms the allocator.
    for (_, run) in cases {
        per_future(run);
    }
    let results = rounds::interleave(ROUNDS, cases.len(), |i| per_future(cases[i].1));
    let channel = results[0].median;
    println!("fan_in_interleaved: {ROUNDS} rounds, rotating order, median ns/future");
    for ((name, _), r) in cases.iter().zip(&results) {
        let m = r.median;
        println!("  {name:<30} {m:>7.1} ns   {:>5.2}x channel", m / channel);
    }
    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    rounds::write_interleaved("fan_in_interleaved", &names, &results, ROUNDS);
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

fn main() {
    fan_in_interleaved();
    if std::env::var_os("CF_BENCH_INTERLEAVED_ONLY").is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, fan_in, already_done);
