//! The showcase: crawls a loopback web site with a thread pool and `as_completed`, counts
//! primes sequentially, in threads and in processes, stops a batch at its first failure with
//! `wait(FIRST_EXCEPTION)`, and cancels queued work, printing what it does as it goes.
//!
//! `cargo run --release --example showcase`. With `CF_EXAMPLE_QUICK=1` (set by the test that
//! runs every example) the workloads are smaller.

#[path = "common/site.rs"]
mod site;

use concurrent_futures::{
    as_completed, process, wait, Future, MapOptions, ProcessPoolExecutor, ReturnWhen,
    ShutdownOptions, ThreadPoolExecutor,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

/// Every wait in the showcase is bounded: a hang ends with an error, not for ever.
const LIMIT: Option<Duration> = Some(Duration::from_secs(60));

fn main() -> Res<()> {
    // In a worker process this serves tasks and never returns (Python's
    // `if __name__ == "__main__":`).
    process::init();
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let start = Instant::now();
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("concurrent-futures showcase on {cpus} CPUs\n");

    crawl(if quick { 31 } else { 127 })?;
    primes(if quick { 200_000 } else { 10_000_000 }, cpus)?;
    first_exception()?;
    cancel_queued()?;

    println!("\nall done in {:.2?}", start.elapsed());
    Ok(())
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// The spider: a `HashMap` from futures to URLs, results taken as they complete.
fn crawl(pages: usize) -> Res<()> {
    println!("1. crawling a {pages}-page site on loopback with 8 threads and as_completed");
    let site = site::Site::start(pages)?;
    let ex = ThreadPoolExecutor::builder()
        .max_workers(8)
        .thread_name_prefix("spider")
        .build()?;
    let t = Instant::now();
    let mut seen: HashSet<String> = HashSet::from([site.url(0)]);
    let mut frontier: HashMap<Future<String>, String> = HashMap::new();
    let submit = |url: String, frontier: &mut HashMap<Future<String>, String>| -> Res<()> {
        let u = url.clone();
        frontier.insert(ex.submit_fallible(move || site::fetch(&u))?, url);
        Ok(())
    };
    submit(site.url(0), &mut frontier)?;
    let (mut fetched, mut broken, mut bytes) = (0, Vec::new(), 0);
    let bar = progress(pages as u64, "pages");
    while !frontier.is_empty() {
        let wave = std::mem::take(&mut frontier);
        for done in as_completed(wave.keys(), LIMIT) {
            let done = done?;
            let url = &wave[&done];
            match done.result() {
                Ok(body) => {
                    fetched += 1;
                    bytes += body.len();
                    bar.inc(1);
                    for link in site::links(url, body) {
                        if seen.insert(link.clone()) {
                            submit(link, &mut frontier)?;
                        }
                    }
                }
                Err(e) => broken.push(format!("{url}: {e}")),
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "   fetched {fetched} pages ({bytes} bytes) in {:.2?}; {} broken links, e.g. {}",
        t.elapsed(),
        broken.len(),
        broken.first().map_or("none", String::as_str)
    );
    let workers = ex.stats().workers;
    // A worker counts a task after its future completes: wait for the
    // workers, so the counts match what as_completed reported.
    ex.shutdown_with(ShutdownOptions::default());
    let s = ex.stats();
    println!(
        "   pool: {workers} threads started, {} tasks completed, {} failed\n",
        s.completed, s.failed
    );
    Ok(())
}

/// Counts the primes in `[lo, hi)`: a plain function, so it can run in a worker process.
fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// The same CPU-bound job three ways: a loop, the thread pool's `map`, the process pool.
fn primes(limit: u64, cpus: usize) -> Res<()> {
    println!("2. counting the primes below {limit}: sequential, threads, processes");
    let chunk = limit / 64;
    let ranges: Vec<(u64, u64)> = (0..64).map(|i| (i * chunk, (i + 1) * chunk)).collect();

    let t = Instant::now();
    let sequential: u64 = ranges.iter().copied().map(count_primes).sum();
    let seq_time = t.elapsed();
    println!("   sequential:        {sequential} primes in {seq_time:.2?}");

    let threads = ThreadPoolExecutor::new(cpus)?;
    let t = Instant::now();
    let by_threads: u64 = threads
        .map_with(
            count_primes,
            ranges.clone(),
            MapOptions::default().timeout(Duration::from_secs(120)),
        )?
        .sum::<Result<u64, _>>()?;
    let thread_time = t.elapsed();
    println!(
        "   thread pool ({cpus}):   {by_threads} primes in {thread_time:.2?}  (speedup {:.2}x)",
        seq_time.as_secs_f64() / thread_time.as_secs_f64()
    );

    // Worker processes are re-executions of this binary; each task is `count_primes(range)`.
    let procs = ProcessPoolExecutor::new(cpus)?;
    let t = Instant::now();
    let futures = ranges
        .iter()
        .map(|&r| procs.submit(count_primes, r))
        .collect::<Result<Vec<_>, _>>()?;
    let bar = progress(futures.len() as u64, "chunks");
    let mut by_processes = 0;
    for f in as_completed(&futures, LIMIT) {
        by_processes += *f?.result()?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let proc_time = t.elapsed();
    println!(
        "   process pool ({cpus}):  {by_processes} primes in {proc_time:.2?}  (speedup {:.2}x, \
         workers started on demand)",
        seq_time.as_secs_f64() / proc_time.as_secs_f64()
    );
    assert_eq!(sequential, by_threads);
    assert_eq!(sequential, by_processes);
    println!();
    Ok(())
}

/// Parses one record; record 13 is corrupt.
fn parse_record(i: u32) -> Result<u32, std::num::ParseIntError> {
    std::thread::sleep(Duration::from_millis(5));
    let text = if i == 13 {
        "thirteen".to_string()
    } else {
        i.to_string()
    };
    text.parse()
}

/// `wait(FIRST_EXCEPTION)` stops a batch at its first failure; the rest is cancelled.
fn first_exception() -> Res<()> {
    println!("3. validating 200 records; wait(FIRST_EXCEPTION) stops at the first bad one");
    let ex = ThreadPoolExecutor::new(2)?;
    let futures = (0..200)
        .map(|i| ex.submit_fallible(move || parse_record(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let r = wait(&futures, LIMIT, ReturnWhen::FirstException);
    let failed: Vec<_> = r
        .done
        .iter()
        .filter_map(|f| f.exception().ok().flatten())
        .collect();
    let cancelled = r.not_done.iter().filter(|f| f.cancel()).count();
    println!(
        "   {} done when the first failure came: {}",
        r.done.len(),
        failed.first().map_or("none".to_string(), |e| e.to_string())
    );
    println!(
        "   cancelled {cancelled} of the {} not yet done (the rest were already running)\n",
        r.not_done.len()
    );
    Ok(())
}

/// Queued tasks stay cancellable until a worker takes them; `shutdown_with` with `cancel_futures(true)`.
fn cancel_queued() -> Res<()> {
    println!("4. 40 slow jobs on 2 workers: cancel the queued ones, then shut down");
    let ex = ThreadPoolExecutor::new(2)?;
    let futures = (0..40)
        .map(|i| {
            ex.submit(move || {
                std::thread::sleep(Duration::from_millis(20));
                i
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    std::thread::sleep(Duration::from_millis(30));
    let cancelled = futures[20..].iter().filter(|f| f.cancel()).count();
    println!("   cancelled {cancelled} of the last 20 (none of them had started)");
    ex.shutdown_with(ShutdownOptions::default().cancel_futures(true));
    let finished = futures
        .iter()
        .filter(|f| f.done() && !f.cancelled())
        .count();
    let by_shutdown = futures[..20].iter().filter(|f| f.cancelled()).count();
    println!(
        "   shutdown(wait=true, cancel_futures=true): {finished} finished, {by_shutdown} more \
         cancelled by shutdown, none left pending: {}",
        futures.iter().all(Future::done)
    );
    Ok(())
}
