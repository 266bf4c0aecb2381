//! The callgrind driver for the fan-in cost of `wait` and `as_completed`
//! (`benches/wait.rs`, group `fan_in_100k`, counts instructions instead of
//! time): `n` futures, every one of them installed on before another thread
//! completes them all, then the consumer takes every completion.
//!
//! ```text
//! cargo build --release -p concurrent-futures-wait --example fan_in_count
//! for n in 20000 40000; do
//!   valgrind --tool=callgrind --callgrind-out-file=cg.%p \
//!     target/release/examples/fan_in_count as_completed $n
//! done
//! ```
//!
//! The difference between the two totals over 20,000 is the cost per
//! future (setup, thread start and process exit cancel out). Modes:
//! `as_completed`, `wait_all`, `wait_first` (`FIRST_COMPLETED`: install on
//! all, then remove from all but the first), and `channel` (a crossbeam-channel fan-in of
//! `n` integers, the floor). Making and dropping the futures is counted in
//! every mode of futures but not in `channel`; `make` does only that, to be
//! subtracted.

use concurrent_futures::{as_completed, wait, Future, ReturnWhen};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

/// Long enough, even under valgrind, for the consumer to install on every
/// future before the completer starts: the counts then cover the
/// install-then-notify path only.
fn pause(n: usize) -> Duration {
    Duration::from_millis(200 + n as u64 / 20)
}

fn complete_later(fs: &[Future<u64>]) -> thread::JoinHandle<()> {
    let work = fs.to_vec();
    // `race` as a third argument: no pause, as in the benchmark (for perf
    // and strace, not for counting: the interleaving then varies).
    let race = std::env::args().nth(3).as_deref() == Some("race");
    let pause = if race {
        Duration::ZERO
    } else {
        pause(fs.len())
    };
    thread::spawn(move || {
        thread::sleep(pause);
        for (i, f) in work.into_iter().enumerate() {
            f.set_result(i as u64).unwrap();
        }
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "as_completed".into());
    let n: usize = args.next().map_or(20_000, |s| s.parse().expect("n"));
    let fs: Vec<Future<u64>> = (0..n).map(|_| Future::new()).collect();
    let start = std::time::Instant::now();
    match mode.as_str() {
        "as_completed" => {
            let t = complete_later(&fs);
            let mut got = 0;
            for f in as_completed(&fs, None) {
                drop(black_box(f.unwrap()));
                got += 1;
            }
            assert_eq!(got, n);
            t.join().unwrap();
        }
        "wait_all" => {
            let t = complete_later(&fs);
            let r = wait(&fs, None, ReturnWhen::AllCompleted);
            assert_eq!(r.done.len(), n);
            drop(black_box(r));
            t.join().unwrap();
        }
        "wait_first" => {
            let t = complete_later(&fs);
            let r = wait(&fs, None, ReturnWhen::FirstCompleted);
            assert!(!r.done.is_empty());
            drop(black_box(r));
            t.join().unwrap();
        }
        "make" => {
            let work = fs.to_vec();
            for (i, f) in work.into_iter().enumerate() {
                f.set_result(i as u64).unwrap();
            }
        }
        "channel" => {
            let (tx, rx) = crossbeam_channel::unbounded();
            let t = thread::spawn(move || {
                for i in 0..n as u64 {
                    tx.send(i).unwrap();
                }
            });
            let mut sum = 0;
            for _ in 0..n {
                sum += rx.recv().unwrap();
            }
            black_box(sum);
            t.join().unwrap();
        }
        other => panic!("unknown mode {other}: as_completed, wait_all, wait_first, make, channel"),
    }
    if std::env::args().nth(3).as_deref() == Some("race") {
        // Wall-clock, for A/B runs (not under valgrind): ns per future.
        println!("{:.1}", start.elapsed().as_nanos() as f64 / n as f64);
    }
    drop(fs);
}
