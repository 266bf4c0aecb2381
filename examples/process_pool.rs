//! The process pool: CPU-bound work on worker processes, a worker that
//! crashes without taking the pool down, a task past its time limit, and
//! `map` with chunks.
//!
//! ```sh
//! cargo run --release --example process_pool
//! ```

use std::time::{Duration, Instant};

use concurrent_futures::process::{self, ProcessPoolExecutor};
use concurrent_futures::MapOptions;
use concurrent_futures::TaskError;

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn crash(_: ()) -> u64 {
    std::process::abort()
}

fn hang(_: ()) -> u64 {
    std::thread::sleep(Duration::from_secs(3600));
    0
}

fn main() {
    // First line of main: in a worker process this serves tasks and never
    // returns.
    process::init();

    let ex = ProcessPoolExecutor::builder()
        .build()
        .expect("build the pool");
    let start = Instant::now();
    let ranges: Vec<(u64, u64)> = (0..8).map(|i| (i * 250_000, (i + 1) * 250_000)).collect();
    let futures: Vec<_> = ranges
        .iter()
        .map(|&r| ex.submit(count_primes, r).expect("submit"))
        .collect();

    // A crash and a hang fail only their own futures.
    let crashed = ex.submit(crash, ()).expect("submit");
    let hung = ex
        .submit_with_timeout(hang, (), Duration::from_millis(300))
        .expect("submit");

    let total: u64 = futures.into_iter().map(|f| f.into_result().unwrap()).sum();
    println!("{total} primes below 2,000,000 in {:.2?}", start.elapsed());
    match crashed.into_result().unwrap_err().into_task_error() {
        Some(TaskError::WorkerDied { pid, cause }) => println!("worker {pid} {cause}"),
        other => println!("unexpected: {other:?}"),
    }
    match hung.into_result().unwrap_err().into_task_error() {
        Some(e @ TaskError::TimeLimit { .. }) => println!("{e}"),
        other => println!("unexpected: {other:?}"),
    }

    // map with chunks: 100 items per task.
    let opts = MapOptions::default().chunksize(100);
    let squares: u64 = ex
        .map_with(|x: u64| x * x, 0..100_000, opts)
        .expect("map")
        .map(|r| r.unwrap())
        .sum();
    println!("sum of squares below 100,000: {squares}");
    ex.shutdown(true, false);
}
