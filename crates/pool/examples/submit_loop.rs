//! A 1-worker pool, `ROUNDS` batches of `N` no-op tasks, each batch submitted
//! and then its results read: the loop `valgrind --tool=callgrind` counts
//! per-task instructions on. Run it for two round counts and divide the
//! difference of the totals by the difference of the task counts: that
//! cancels the setup and the first batch's allocations (steady state).
//!
//! `cargo build --release -p concurrent-futures-pool --example submit_loop`
//! `valgrind --tool=callgrind target/release/examples/submit_loop 10000 10`
//! (then the same with `20` rounds). With `BORROW=1` the results are read
//! with `result()` (then the handles dropped) instead of `into_result()`.

use concurrent_futures_pool::ThreadPoolExecutor;

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<u64>().ok());
    let n = args.next().flatten().unwrap_or(10_000);
    let rounds = args.next().flatten().unwrap_or(1);
    let ex = ThreadPoolExecutor::new(1).expect("a pool of one");
    for _ in 0..rounds {
        let fs: Vec<_> = (0..n)
            .map(|i| ex.submit(move || i).expect("accepted"))
            .collect();
        let sum: u64 = if std::env::var_os("BORROW").is_some() {
            fs.iter().map(|f| *f.result().expect("ran")).sum()
        } else {
            fs.into_iter().map(|f| f.into_result().expect("ran")).sum()
        };
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
    }
}
