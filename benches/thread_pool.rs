//! The thread pool against its peers, two workers each, every case beside
//! its peers in one criterion group:
//!
//! * `submit_result_100k`: submit 100,000 no-op tasks, then take every
//!   result. Peers hand their value back through a tokio oneshot; the floor
//!   moves bare integers through a crossbeam channel to two threads and back.
//! * `work_10us_10k`: 10,000 tasks of about 10 µs of work; compare with the
//!   `sequential` loop for the speedup (2.0 is ideal on two cores).
//! * `round_trip_idle`: one submit-to-result round trip on a pool whose
//!   workers are asleep (a 300 µs pause, untimed, before each trip).
//! * `map_1m`: `map` over 1,000,000 items (a future per item, as Python;
//!   and with `chunksize(16384)`) against rayon's `par_iter().map().collect()`.
//!
//! * `submit_result_interleaved` (printed first, not a criterion group): the
//!   cases of `submit_result_100k`, one 100k batch each per round, in an
//!   order that rotates every round, 31 rounds; medians and the ratios to
//!   the best peer and to the floor, all from the same minutes. Drift of a
//!   shared machine hits every case alike. Written to
//!   `target/bench-python/submit_result_interleaved.json` for
//!   `benches/report.py`. `CF_BENCH_INTERLEAVED_ONLY=1` runs only this.
//!
//! Run: `cargo bench --bench thread_pool -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/rounds.rs"]
mod rounds;

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use concurrent_futures::{MapOptions, ThreadPoolExecutor};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use tokio::sync::oneshot;

const WORKERS: usize = 2;
const NOOP_TASKS: u64 = 100_000;
const WORK_TASKS: u64 = 10_000;
const MAP_ITEMS: u64 = 1_000_000;

fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(WORKERS)
        .build()
        .unwrap()
}

/// The channel floor: integers to two threads and back.
struct ChannelFloor {
    to: Option<crossbeam_channel::Sender<u64>>,
    back: crossbeam_channel::Receiver<u64>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ChannelFloor {
    fn new() -> Self {
        let (to, rx) = crossbeam_channel::unbounded::<u64>();
        let (tx, back) = crossbeam_channel::unbounded::<u64>();
        let threads = (0..WORKERS)
            .map(|_| {
                let (rx, tx) = (rx.clone(), tx.clone());
                thread::spawn(move || {
                    for v in rx {
                        tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        ChannelFloor {
            to: Some(to),
            back,
            threads,
        }
    }

    fn round(&self, n: u64) -> u64 {
        let to = self.to.as_ref().unwrap();
        for i in 0..n {
            to.send(i).unwrap();
        }
        (0..n).map(|_| self.back.recv().unwrap()).sum()
    }
}

impl Drop for ChannelFloor {
    fn drop(&mut self) {
        self.to = None;
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

fn submit_result(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit_result_100k");
    g.throughput(Throughput::Elements(NOOP_TASKS));

    let ex = ThreadPoolExecutor::new(WORKERS).unwrap();
    g.bench_function("concurrent_futures", |b| {
        b.iter(|| {
            let fs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| ex.submit(move || i).unwrap())
                .collect();
            fs.iter().map(|f| *f.result().unwrap()).sum::<u64>()
        })
    });
    g.bench_function("concurrent_futures_into_result", |b| {
        b.iter(|| {
            let fs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| ex.submit(move || i).unwrap())
                .collect();
            fs.into_iter()
                .map(|f| f.into_result().unwrap())
                .sum::<u64>()
        })
    });
    drop(ex);

    let pool = rayon_pool();
    g.bench_function("rayon_spawn_oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    pool.spawn(move || {
                        let _ = tx.send(i);
                    });
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .sum::<u64>()
        })
    });
    drop(pool);

    let tp = threadpool::ThreadPool::new(WORKERS);
    g.bench_function("threadpool_execute_oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    tp.execute(move || {
                        let _ = tx.send(i);
                    });
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .sum::<u64>()
        })
    });
    drop(tp);

    let rt = tokio_rt();
    g.bench_function("tokio_spawn_blocking_oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    drop(rt.spawn_blocking(move || {
                        let _ = tx.send(i);
                    }));
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .sum::<u64>()
        })
    });
    drop(rt);

    let floor = ChannelFloor::new();
    g.bench_function("crossbeam_channel_floor", |b| {
        b.iter(|| floor.round(NOOP_TASKS))
    });
    drop(floor);
    g.finish();
}

/// About `iters` rounds of integer work that the optimizer cannot remove.
fn spin_work(iters: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// Rounds of `spin_work` that take about `target`.
fn calibrate(target: Duration) -> u64 {
    let mut iters = 1000;
    loop {
        let t = Instant::now();
        for _ in 0..100 {
            black_box(spin_work(iters));
        }
        let per = t.elapsed() / 100;
        if per >= target / 2 {
            return (iters as f64 * target.as_secs_f64() / per.as_secs_f64()) as u64;
        }
        iters *= 2;
    }
}

fn work_10us(c: &mut Criterion) {
    let iters = calibrate(Duration::from_micros(10));
    let mut g = c.benchmark_group("work_10us_10k");
    g.throughput(Throughput::Elements(WORK_TASKS));
    g.sample_size(20);

    g.bench_function("sequential", |b| {
        b.iter(|| {
            (0..WORK_TASKS)
                .map(|_| spin_work(iters))
                .fold(0, u64::wrapping_add)
        })
    });

    let ex = ThreadPoolExecutor::new(WORKERS).unwrap();
    g.bench_function("concurrent_futures", |b| {
        b.iter(|| {
            let fs: Vec<_> = (0..WORK_TASKS)
                .map(|_| ex.submit(move || spin_work(iters)).unwrap())
                .collect();
            fs.iter()
                .map(|f| *f.result().unwrap())
                .fold(0, u64::wrapping_add)
        })
    });
    g.bench_function("concurrent_futures_map", |b| {
        b.iter(|| {
            ex.map(move |_: u64| spin_work(iters), 0..WORK_TASKS)
                .unwrap()
                .map(Result::unwrap)
                .fold(0, u64::wrapping_add)
        })
    });
    drop(ex);

    let pool = rayon_pool();
    g.bench_function("rayon_spawn_oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<_> = (0..WORK_TASKS)
                .map(|_| {
                    let (tx, rx) = oneshot::channel();
                    pool.spawn(move || {
                        let _ = tx.send(spin_work(iters));
                    });
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .fold(0, u64::wrapping_add)
        })
    });
    g.bench_function("rayon_par_iter", |b| {
        b.iter(|| {
            pool.install(|| {
                (0..WORK_TASKS)
                    .into_par_iter()
                    .map(|_| spin_work(iters))
                    .reduce(|| 0, u64::wrapping_add)
            })
        })
    });
    drop(pool);

    let tp = threadpool::ThreadPool::new(WORKERS);
    g.bench_function("threadpool_execute_oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<_> = (0..WORK_TASKS)
                .map(|_| {
                    let (tx, rx) = oneshot::channel();
                    tp.execute(move || {
                        let _ = tx.send(spin_work(iters));
                    });
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .fold(0, u64::wrapping_add)
        })
    });
    drop(tp);
    g.finish();
}

/// Times `trip` after an untimed pause that lets the workers fall asleep.
fn idle_trips(iters: u64, mut trip: impl FnMut() -> u64) -> Duration {
    let mut total = Duration::ZERO;
    for i in 0..iters {
        thread::sleep(Duration::from_micros(300));
        let t = Instant::now();
        black_box(trip());
        total += t.elapsed();
        black_box(i);
    }
    total
}

fn round_trip_idle(c: &mut Criterion) {
    let mut g = c.benchmark_group("round_trip_idle");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(1));
    g.warm_up_time(Duration::from_millis(300));

    let ex = ThreadPoolExecutor::new(WORKERS).unwrap();
    g.bench_function("concurrent_futures", |b| {
        b.iter_custom(|n| idle_trips(n, || *ex.submit(|| 1u64).unwrap().result().unwrap()))
    });
    g.bench_function("concurrent_futures_into_result", |b| {
        b.iter_custom(|n| idle_trips(n, || ex.submit(|| 1u64).unwrap().into_result().unwrap()))
    });
    drop(ex);

    let pool = rayon_pool();
    g.bench_function("rayon_spawn_oneshot", |b| {
        b.iter_custom(|n| {
            idle_trips(n, || {
                let (tx, rx) = oneshot::channel();
                pool.spawn(move || {
                    let _ = tx.send(1u64);
                });
                rx.blocking_recv().unwrap()
            })
        })
    });
    drop(pool);

    let tp = threadpool::ThreadPool::new(WORKERS);
    g.bench_function("threadpool_execute_oneshot", |b| {
        b.iter_custom(|n| {
            idle_trips(n, || {
                let (tx, rx) = oneshot::channel();
                tp.execute(move || {
                    let _ = tx.send(1u64);
                });
                rx.blocking_recv().unwrap()
            })
        })
    });
    drop(tp);

    let rt = tokio_rt();
    g.bench_function("tokio_spawn_blocking_oneshot", |b| {
        b.iter_custom(|n| {
            idle_trips(n, || {
                let (tx, rx) = oneshot::channel();
                drop(rt.spawn_blocking(move || {
                    let _ = tx.send(1u64);
                }));
                rx.blocking_recv().unwrap()
            })
        })
    });
    drop(rt);

    let floor = ChannelFloor::new();
    g.bench_function("crossbeam_channel_floor", |b| {
        b.iter_custom(|n| idle_trips(n, || floor.round(1)))
    });
    drop(floor);
    g.finish();
}

fn map_1m(c: &mut Criterion) {
    let mut g = c.benchmark_group("map_1m");
    g.throughput(Throughput::Elements(MAP_ITEMS));
    g.sample_size(10);

    let ex = ThreadPoolExecutor::new(WORKERS).unwrap();
    g.bench_with_input(
        BenchmarkId::new("concurrent_futures_map", MAP_ITEMS),
        &MAP_ITEMS,
        |b, &n| b.iter(|| ex.map(|x: u64| x * 2, 0..n).unwrap().into_result().unwrap()),
    );
    g.bench_with_input(
        BenchmarkId::new("concurrent_futures_map_chunksize_16384", MAP_ITEMS),
        &MAP_ITEMS,
        |b, &n| {
            b.iter(|| {
                let opts = MapOptions::default().chunksize(16_384);
                ex.map_with(|x: u64| x * 2, 0..n, opts)
                    .unwrap()
                    .into_result()
                    .unwrap()
            })
        },
    );
    drop(ex);

    let pool = rayon_pool();
    g.bench_with_input(
        BenchmarkId::new("rayon_par_iter_collect", MAP_ITEMS),
        &MAP_ITEMS,
        |b, &n| {
            b.iter(|| pool.install(|| (0..n).into_par_iter().map(|x| x * 2).collect::<Vec<u64>>()))
        },
    );
    drop(pool);
    g.finish();
}

/// The same 10 µs tasks on 1, 2 and 4 workers, ours beside rayon with as many
/// threads: how per-task time falls as workers are added (2 cores here, so 4
/// workers show oversubscription, not more speed).
fn scaling_workers(c: &mut Criterion) {
    let iters = calibrate(Duration::from_micros(10));
    let mut g = c.benchmark_group("scaling_workers");
    g.throughput(Throughput::Elements(WORK_TASKS));
    g.sample_size(10);
    for workers in [1usize, 2, 4] {
        let ex = ThreadPoolExecutor::new(workers).unwrap();
        let id = BenchmarkId::new("concurrent_futures_map", format!("{workers}_workers"));
        g.bench_function(id, |b| {
            b.iter(|| {
                ex.map(move |_: u64| spin_work(iters), 0..WORK_TASKS)
                    .unwrap()
                    .map(Result::unwrap)
                    .fold(0, u64::wrapping_add)
            })
        });
        drop(ex);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        let id = BenchmarkId::new("rayon_par_iter", format!("{workers}_workers"));
        g.bench_function(id, |b| {
            b.iter(|| {
                pool.install(|| {
                    (0..WORK_TASKS)
                        .into_par_iter()
                        .map(|_| spin_work(iters))
                        .reduce(|| 0, u64::wrapping_add)
                })
            })
        });
    }
    g.finish();
}

/// One batch of a `submit_result_100k` case, timed; ns per task.
type Case<'a> = (&'static str, Box<dyn Fn() -> f64 + 'a>);

fn per_task(run: impl FnOnce() -> u64) -> f64 {
    let t = Instant::now();
    black_box(run());
    t.elapsed().as_nanos() as f64 / NOOP_TASKS as f64
}

/// The cases of `submit_result_100k`, interleaved and rotated (module docs).
fn submit_result_interleaved() {
    const ROUNDS: usize = 31;
    let ex = ThreadPoolExecutor::new(WORKERS).unwrap();
    let pool = rayon_pool();
    let tp = threadpool::ThreadPool::new(WORKERS);
    let rt = tokio_rt();
    let floor = ChannelFloor::new();
    // The peers' batch, as in `submit_result_100k`: the closure goes to the
    // pool unboxed (a macro, since each pool's spawn takes its own type).
    macro_rules! oneshot_batch {
        ($spawn:expr) => {{
            let rxs: Vec<_> = (0..NOOP_TASKS)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    $spawn(move || {
                        let _ = tx.send(i);
                    });
                    rx
                })
                .collect();
            rxs.into_iter()
                .map(|rx| rx.blocking_recv().unwrap())
                .sum::<u64>()
        }};
    }
    let submit_all = || -> Vec<_> {
        (0..NOOP_TASKS)
            .map(|i| ex.submit(move || i).unwrap())
            .collect()
    };
    let cases: Vec<Case> = vec![
        (
            "concurrent_futures_result",
            Box::new(|| per_task(|| submit_all().iter().map(|f| *f.result().unwrap()).sum())),
        ),
        (
            "concurrent_futures_into_result",
            Box::new(|| {
                per_task(|| {
                    submit_all()
                        .into_iter()
                        .map(|f| f.into_result().unwrap())
                        .sum()
                })
            }),
        ),
        (
            "rayon_spawn_oneshot",
            Box::new(|| per_task(|| oneshot_batch!(|job| pool.spawn(job)))),
        ),
        (
            "threadpool_execute_oneshot",
            Box::new(|| per_task(|| oneshot_batch!(|job| tp.execute(job)))),
        ),
        (
            "tokio_spawn_blocking_oneshot",
            Box::new(|| per_task(|| oneshot_batch!(|job| drop(rt.spawn_blocking(job))))),
        ),
        (
            "crossbeam_channel_floor",
            Box::new(|| per_task(|| floor.round(NOOP_TASKS))),
        ),
    ];
    // One untimed round warms every pool and the allocator.
    for (_, run) in &cases {
        run();
    }
    let results = rounds::interleave(ROUNDS, cases.len(), |i| (cases[i].1)());
    let med: Vec<f64> = results.iter().map(|r| r.median).collect();
    let best_peer = med[2..5].iter().copied().fold(f64::INFINITY, f64::min);
    let floor_ns = med[5];
    println!("submit_result_interleaved: {ROUNDS} rounds, rotating order, median ns/task");
    for ((name, _), m) in cases.iter().zip(&med) {
        println!(
            "  {name:<32} {m:>8.1} ns   {:>5.2}x best peer   {:>5.2}x floor",
            m / best_peer,
            m / floor_ns
        );
    }
    // For `benches/report.py` (a group of its own in docs/benchmarks.md).
    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    rounds::write_interleaved("submit_result_interleaved", &names, &results, ROUNDS);
}

fn main() {
    submit_result_interleaved();
    if std::env::var_os("CF_BENCH_INTERLEAVED_ONLY").is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(
    benches,
    submit_result,
    work_10us,
    round_trip_idle,
    map_1m,
    scaling_workers
);
