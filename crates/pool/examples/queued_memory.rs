//! Memory per queued task: a 1-worker pool whose worker is blocked, 1M
//! no-op tasks (a `u64` result, one captured word) submitted behind it; the
//! growth of the resident set divided by the task count, futures included.
//!
//! `cargo run --release -p concurrent-futures-pool --example queued_memory`

use concurrent_futures_pool::ThreadPoolExecutor;
use std::sync::mpsc;
use std::time::Duration;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

fn main() {
    const N: u64 = 1_000_000;
    let ex = ThreadPoolExecutor::new(1).expect("a pool of one");
    let (tx, rx) = mpsc::channel::<()>();
    let gate = ex
        .submit(move || rx.recv_timeout(Duration::from_secs(60)))
        .expect("accepted");
    while !gate.running() {
        std::thread::yield_now();
    }
    let mut fs = Vec::with_capacity(N as usize);
    let before = resident_bytes();
    for i in 0..N {
        fs.push(ex.submit(move || i).expect("accepted"));
    }
    let after = resident_bytes();
    let vec_bytes = fs.capacity() * std::mem::size_of_val(&fs[0]);
    let grown = (after - before) as f64;
    println!(
        "{:.0} bytes per queued task in the pool (cell and queue slot); {:.0} with the caller's Vec of handles",
        (grown - vec_bytes as f64) / N as f64,
        grown / N as f64,
    );
    tx.send(()).expect("the gate task waits");
    let sum: u64 = fs.into_iter().map(|f| f.into_result().expect("ran")).sum();
    assert_eq!(sum, N * (N - 1) / 2);
}
