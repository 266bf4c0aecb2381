//! The showcase: counts primes in ranges on worker threads through futures,
//! streams results as they complete, and shows cancellation and failure.

use concurrent_futures::Future;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn main() {
    let start = Instant::now();
    let (done_tx, done_rx) = mpsc::channel();
    let mut futures = Vec::new();
    for i in 0..8u64 {
        let fut = Future::new();
        let tx = done_tx.clone();
        fut.add_done_callback(move |_: &Future<u64>| tx.send(i).unwrap());
        futures.push(fut);
    }
    drop(done_tx);
    // A cancelled future never runs, and counts as done at once.
    assert!(futures[7].cancel());
    let workers: Vec<_> = futures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = f.clone();
            let lo = i as u64 * 50_000;
            thread::spawn(move || {
                if i == 6 {
                    f.run(|| panic!("range {lo} rejected"))
                } else {
                    f.run(|| count_primes(lo, lo + 50_000))
                }
            })
        })
        .collect();
    for i in done_rx.iter().take(futures.len()) {
        let f = &futures[i as usize];
        match f.result_timeout(Duration::from_secs(30)) {
            Ok(n) => println!("range {i}: {n} primes ({:?})", start.elapsed()),
            Err(e) => println!("range {i}: {e}"),
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    let total: u64 = futures
        .into_iter()
        .filter_map(|f| f.into_result().ok())
        .sum();
    println!(
        "{total} primes below 300000 in the finished ranges, {:?} in all",
        start.elapsed()
    );
}
