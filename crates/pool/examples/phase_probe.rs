//! Times the two phases of `submit_result_100k` apart: submitting 100k
//! no-op tasks to 2 workers, then taking every result; medians of 60
//! batches. Says which side of the hot path a change moved.
//!
//! `cargo run --release -p concurrent-futures-pool --example phase_probe`
use concurrent_futures_pool::ThreadPoolExecutor;
use std::time::Instant;
fn main() {
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let n = 100_000u64;
    let mut sub = vec![];
    let mut res = vec![];
    for _ in 0..60 {
        let t = Instant::now();
        let fs: Vec<_> = (0..n).map(|i| ex.submit(move || i).unwrap()).collect();
        let t1 = Instant::now();
        let s: u64 = fs.into_iter().map(|f| f.into_result().unwrap()).sum();
        let t2 = Instant::now();
        assert_eq!(s, n * (n - 1) / 2);
        sub.push((t1 - t).as_nanos() as f64 / n as f64);
        res.push((t2 - t1).as_nanos() as f64 / n as f64);
    }
    sub.sort_by(f64::total_cmp);
    res.sort_by(f64::total_cmp);
    println!(
        "submit {:.1} ns/task, result {:.1} ns/task (medians of 60)",
        sub[30], res[30]
    );
}
