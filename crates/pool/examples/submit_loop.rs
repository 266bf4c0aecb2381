//! A 1-worker pool, `N` no-op tasks submitted then their results read: the
//! loop `valgrind --tool=callgrind` measures per-task instruction counts on
//! (run it for two values of `N` and divide the difference by their
//! difference, which cancels the setup).
//!
//! `cargo build --release -p concurrent-futures-pool --example submit_loop`
//! `valgrind --tool=callgrind target/release/examples/submit_loop 20000`

use concurrent_futures_pool::ThreadPoolExecutor;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let ex = ThreadPoolExecutor::new(1).expect("a pool of one");
    let fs: Vec<_> = (0..n)
        .map(|i| ex.submit(move || i).expect("accepted"))
        .collect();
    let sum: u64 = fs.iter().map(|f| *f.result().expect("ran")).sum();
    assert_eq!(sum, n * n.saturating_sub(1) / 2);
}
