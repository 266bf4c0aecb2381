//! A pool of `WORKERS` threads (default 1), `ROUNDS` batches of `N` no-op
//! tasks, each batch submitted and then its results read: the loop
//! `valgrind --tool=callgrind` counts per-task instructions on. Run it for
//! two round counts and divide the difference of the totals by the
//! difference of the task counts: that cancels the setup and the first
//! batch's allocations (steady state).
//!
//! `cargo build --release -p concurrent-futures-pool --example submit_loop`
//! `valgrind --tool=callgrind target/release/examples/submit_loop 10000 10`
//! (then the same with `20` rounds). With `BORROW=1` the results are read
//! with `result()` (then the handles dropped) instead of `into_result()`.
//! It prints the median and the fastest batch in ns per task (wall clock:
//! on a shared machine, compare builds with the instruction and miss
//! counts, or with the interleaved bench, rather than by these).

use std::time::Instant;

use concurrent_futures_pool::ThreadPoolExecutor;

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<u64>().ok());
    let n = args.next().flatten().unwrap_or(10_000);
    let rounds = args.next().flatten().unwrap_or(1);
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let borrow = std::env::var_os("BORROW").is_some();
    let ex = ThreadPoolExecutor::new(workers).expect("a pool");
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let fs: Vec<_> = (0..n)
            .map(|i| ex.submit(move || i).expect("accepted"))
            .collect();
        let sum: u64 = if borrow {
            let sum = fs.iter().map(|f| *f.result().expect("ran")).sum();
            drop(fs);
            sum
        } else {
            fs.into_iter().map(|f| f.into_result().expect("ran")).sum()
        };
        times.push(t.elapsed().as_nanos() as f64 / n as f64);
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
    }
    times.sort_by(f64::total_cmp);
    if let (Some(fastest), Some(median)) = (times.first(), times.get(times.len() / 2)) {
        println!(
            "{workers} workers, {rounds} x {n}: median {median:.1} ns/task, fastest {fastest:.1}"
        );
    }
}
