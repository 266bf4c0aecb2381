//! The sync primitives beside their nearest peers in `std`.
//!
//! * `barrier`: one round of a two-party barrier, ours against
//!   `std::sync::Barrier` (which cannot time out, abort or reset);
//! * `semaphore`: an uncontended `try_acquire` + `release`, ours against
//!   a `std::sync::Mutex<usize>` decremented and incremented (the floor of
//!   any mutex-based semaphore);
//! * `event`: a set/wait/clear ping-pong between two threads, ours against a
//!   pair of `std::sync::mpsc` channels.
//!
//! Run: `cargo bench --bench sync -- --warm-up-time 1 --measurement-time 3`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use concurrent_futures::sync::{Barrier, Event, Semaphore};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);

fn barrier(c: &mut Criterion) {
    let mut g = c.benchmark_group("barrier");
    g.bench_function("ours 2 parties, 1 round", |b| {
        b.iter_custom(|iters| {
            let bar = Arc::new(Barrier::new(2));
            let other = {
                let bar = Arc::clone(&bar);
                thread::spawn(move || {
                    for _ in 0..iters {
                        bar.wait_timeout(PATIENCE).unwrap();
                    }
                })
            };
            let t0 = Instant::now();
            for _ in 0..iters {
                bar.wait_timeout(PATIENCE).unwrap();
            }
            let dt = t0.elapsed();
            other.join().unwrap();
            dt
        });
    });
    g.bench_function("std 2 parties, 1 round", |b| {
        b.iter_custom(|iters| {
            let bar = Arc::new(std::sync::Barrier::new(2));
            let other = {
                let bar = Arc::clone(&bar);
                thread::spawn(move || {
                    for _ in 0..iters {
                        bar.wait();
                    }
                })
            };
            let t0 = Instant::now();
            for _ in 0..iters {
                bar.wait();
            }
            let dt = t0.elapsed();
            other.join().unwrap();
            dt
        });
    });
    g.finish();
}

fn semaphore(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore");
    let sem = Semaphore::new(1);
    g.bench_function("ours try_acquire+release", |b| {
        b.iter(|| {
            assert!(black_box(&sem).try_acquire());
            sem.release();
        });
    });
    let count = Mutex::new(1usize);
    g.bench_function("std Mutex<usize> dec+inc", |b| {
        b.iter(|| {
            *black_box(&count).lock().unwrap() -= 1;
            *count.lock().unwrap() += 1;
        });
    });
    g.finish();
}

fn event(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    g.bench_function("ours ping-pong", |b| {
        b.iter_custom(|iters| {
            let (ping, pong) = (Arc::new(Event::new()), Arc::new(Event::new()));
            let other = {
                let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
                thread::spawn(move || {
                    for _ in 0..iters {
                        assert!(ping.wait_timeout(PATIENCE));
                        ping.clear();
                        pong.set();
                    }
                })
            };
            let t0 = Instant::now();
            for _ in 0..iters {
                ping.set();
                assert!(pong.wait_timeout(PATIENCE));
                pong.clear();
            }
            let dt = t0.elapsed();
            other.join().unwrap();
            dt
        });
    });
    g.bench_function("std mpsc ping-pong", |b| {
        b.iter_custom(|iters| {
            let (ping_tx, ping_rx) = mpsc::channel::<()>();
            let (pong_tx, pong_rx) = mpsc::channel::<()>();
            let other = thread::spawn(move || {
                for _ in 0..iters {
                    ping_rx.recv_timeout(PATIENCE).unwrap();
                    pong_tx.send(()).unwrap();
                }
            });
            let t0 = Instant::now();
            for _ in 0..iters {
                ping_tx.send(()).unwrap();
                pong_rx.recv_timeout(PATIENCE).unwrap();
            }
            let dt = t0.elapsed();
            other.join().unwrap();
            dt
        });
    });
    g.finish();
}

criterion_group!(benches, barrier, semaphore, event);
criterion_main!(benches);
