//! CPU-bound work (counting primes) on a `ProcessPoolExecutor` beside a sequential run and a `ThreadPoolExecutor`, with the speedups measured as it runs; a crash and a hang that fail only their own task.
//!
//! Python's usual advice about the GIL: in CPython, threads do not speed up
//! CPU-bound Python code (one thread runs bytecode at a time), so such work
//! goes to a process pool. Rust has no GIL: threads already run in
//! parallel, and the process pool is for isolation (a crash or a runaway
//! task kills a worker process, not the program) at the cost of copying
//! arguments and results between processes. This example measures all
//! three on this machine, then shows the isolation: a worker that aborts
//! and a task past its time limit fail only their own futures, and the pool
//! goes on.
//!
//! `concurrent_futures::process::init()` must be the first line of `main`
//! (Python's `if __name__ == "__main__":`): the workers are re-executions of
//! this program, and in them `init()` serves tasks and never returns.
//!
//! ```sh
//! cargo run --release --example process_pool
//! ```

use concurrent_futures::process::{self, ProcessPoolExecutor};
use concurrent_futures::{as_completed, MapOptions, TaskError, ThreadPoolExecutor};
use std::time::{Duration, Instant};

/// Counts the primes in `lo..hi` by trial division: pure CPU work.
fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Which process ran a task; it lasts a moment, so that each worker gets
/// one (an idle worker takes the next task as soon as it is free).
fn whoami(task: u32) -> (u32, u32) {
    std::thread::sleep(Duration::from_millis(100));
    (task, std::process::id())
}

/// Runs once in each worker process before its first task (Python's
/// `initializer`): one quiet line per panic instead of the default report.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("  [worker {}] a task panicked at {at}", std::process::id());
    }));
}

/// A task that kills its worker process.
fn crash(_: ()) -> u64 {
    std::process::abort()
}

/// A task that never ends on its own.
fn hang(_: ()) -> u64 {
    std::thread::sleep(Duration::from_secs(3600));
    0
}

/// A task that fails: its panic comes back as the future's exception.
fn checked_sqrt(x: i64) -> f64 {
    assert!(x >= 0, "cannot take the square root of {x}");
    (x as f64).sqrt()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    process::init(); // first: a worker process serves tasks here and never returns

    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let limit: u64 = if quick { 100_000 } else { 600_000 };
    let slices = 16u64;
    let ranges: Vec<(u64, u64)> = (0..slices)
        .map(|i| (i * limit / slices, (i + 1) * limit / slices))
        .collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("counting primes below {limit} in {slices} slices, {workers} workers per pool");
    // Speedups need idle cores: say how busy this machine is.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("  ({workers} cores; load average over the last minute: {one_minute})");
    }

    // Sequential.
    let t0 = Instant::now();
    let sequential: u64 = ranges.iter().copied().map(count_primes).sum();
    let t_seq = t0.elapsed();
    println!("  sequential:          {sequential} primes in {t_seq:?}");

    // Threads: in Rust they run in parallel.
    let threads = ThreadPoolExecutor::new(workers)?;
    let t0 = Instant::now();
    let by_threads: u64 = threads
        .map(count_primes, ranges.clone())?
        .into_result()?
        .iter()
        .sum();
    let t_thr = t0.elapsed();
    println!(
        "  ThreadPoolExecutor:  {by_threads} primes in {t_thr:?} ({:.2}x sequential, {} threads)",
        t_seq.as_secs_f64() / t_thr.as_secs_f64(),
        threads.stats().workers
    );

    // Processes: the workers start on the first submit; warm them up first
    // so the timing below is the work, not the process start.
    let procs = ProcessPoolExecutor::builder()
        .max_workers(workers)
        .initializer(quiet_panics)
        .build()?;
    let t0 = Instant::now();
    let pids: Vec<(u32, u32)> = (0..workers as u32)
        .map(|i| procs.submit(whoami, i))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|f| f.into_result())
        .collect::<Result<_, _>>()?;
    println!(
        "  ({workers} worker processes started in {:?}; (task, pid): {pids:?}; main is pid {})",
        t0.elapsed(),
        std::process::id()
    );
    let t0 = Instant::now();
    let opts = MapOptions::default()
        .chunksize(2)
        .timeout(Duration::from_secs(60));
    let by_procs: u64 = procs
        .map_with(count_primes, ranges.clone(), opts)?
        .into_result()?
        .iter()
        .sum();
    let t_proc = t0.elapsed();
    println!(
        "  ProcessPoolExecutor: {by_procs} primes in {t_proc:?} ({:.2}x sequential)",
        t_seq.as_secs_f64() / t_proc.as_secs_f64()
    );
    assert_eq!((by_threads, by_procs), (sequential, sequential));

    // Results as they complete, from submit, with the futures in a Vec.
    let futures = ranges[..4]
        .iter()
        .map(|&r| procs.submit(count_primes, r))
        .collect::<Result<Vec<_>, _>>()?;
    for f in as_completed(&futures, Some(Duration::from_secs(60))) {
        let f = f?;
        let i = futures.iter().position(|g| *g == f).expect("one of ours");
        println!("  slice {i} {:?}: {} primes", ranges[i], f.result()?);
    }

    // A crash and a hang fail only their own futures: the dead worker is
    // replaced, the hung one is killed at its time limit and replaced.
    let crashed = procs.submit(crash, ())?;
    let hung = procs.submit_with_timeout(hang, (), Duration::from_millis(300))?;
    let after = procs.submit(count_primes, ranges[0])?;
    match crashed.into_result().map_err(|e| e.into_task_error()) {
        Err(Some(TaskError::WorkerDied { pid, cause })) => {
            println!("  crash: worker {pid} {cause}")
        }
        other => println!("  crash: unexpected {other:?}"),
    }
    match hung.into_result().map_err(|e| e.into_task_error()) {
        Err(Some(e @ TaskError::TimeLimit { .. })) => println!("  hang: {e}"),
        other => println!("  hang: unexpected {other:?}"),
    }
    println!(
        "  the pool goes on: slice 0 again, {} primes",
        after.result_timeout(Duration::from_secs(60))?
    );

    // map with chunks: 100 items per task, one future per chunk, each item
    // its own outcome.
    let opts = MapOptions::default().chunksize(100);
    let squares: u64 = procs
        .map_with(|x: u64| x * x, 0..100_000, opts)?
        .into_result()?
        .iter()
        .sum();
    println!("  sum of squares below 100,000, 100 items per task: {squares}");

    // A panic in a worker process is the task's exception; the pool goes on.
    let bad = procs.submit(checked_sqrt, -4)?;
    match bad.result_timeout(Duration::from_secs(60)) {
        Ok(v) => println!("  sqrt(-4) = {v}?"),
        Err(e) => println!("  sqrt(-4) failed in its worker: {e}"),
    }
    println!(
        "  sqrt(16) = {}",
        procs
            .submit(checked_sqrt, 16)?
            .result_timeout(Duration::from_secs(60))?
    );
    Ok(())
}
