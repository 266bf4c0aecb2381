//! The channel floor of `submit_loop`, for the same callgrind method: one
//! echo thread, `ROUNDS` batches of `N` integers sent through a crossbeam
//! channel and read back through another. Run it for two round counts and
//! divide the difference of the totals by the difference of the counts.
//!
//! `cargo build --release -p concurrent-futures-pool --example floor_loop`
//! `valgrind --tool=callgrind target/release/examples/floor_loop 10000 10`

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<u64>().ok());
    let n = args.next().flatten().unwrap_or(10_000);
    let rounds = args.next().flatten().unwrap_or(1);
    let (to, rx) = crossbeam_channel::unbounded::<u64>();
    let (tx, back) = crossbeam_channel::unbounded::<u64>();
    let echo = std::thread::spawn(move || {
        for v in rx {
            tx.send(v).expect("the reader waits");
        }
    });
    for _ in 0..rounds {
        for i in 0..n {
            to.send(i).expect("the echo thread waits");
        }
        let sum: u64 = (0..n).map(|_| back.recv().expect("echoed")).sum();
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
    }
    drop(to);
    echo.join().expect("the echo thread ends");
}
