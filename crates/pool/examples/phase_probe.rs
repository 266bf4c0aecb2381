//! Times the parts of `submit_result_100k` apart, on a pool of `WORKERS`
//! threads (default 2), 100k no-op tasks per batch, medians of 40 batches.
//! Says which side of the hot path a change moved.
//!
//! * *Together*, as the benchmark runs: the submit phase, how many tasks were
//!   still pending when it ended, then the `into_result` phase.
//! * *Apart*: the same submits while every worker is held by a task of its
//!   own (no worker touches a queue or a cell meanwhile), then the drain of
//!   the whole batch once they are let go, while the submitting thread
//!   sleeps in `result` on the last task. The first is the submitting
//!   thread's own cost per task; the second is the workers' cost per task,
//!   on cells written a batch earlier.
//!
//! `cargo run --release -p concurrent-futures-pool --example phase_probe`
//!
//! On the 2-core VM (2026-12-05, four runs with two workers), together:
//! submit 32–42 ns/task, 31–44k of the 100k still pending when it returned,
//! results 16–22 ns/task. Apart: submit 26.5–28 ns/task, drain 40–47
//! ns/task (until the last task is done). With one worker: submit 35, drain
//! 50. So the workers, not the submitting thread, set the pace of the
//! batch: two of them share the core the submitter leaves, and the drain of
//! two is barely faster than that of one.

use std::time::{Duration, Instant};

use concurrent_futures_core::Future;
use concurrent_futures_pool::ThreadPoolExecutor;

const N: u64 = 100_000;
const BATCHES: usize = 40;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn per_task(d: Duration) -> f64 {
    d.as_nanos() as f64 / N as f64
}

fn submit_batch(ex: &ThreadPoolExecutor) -> Vec<Future<u64>> {
    (0..N)
        .map(|i| ex.submit(move || i).expect("accepted"))
        .collect()
}

fn main() {
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let ex = ThreadPoolExecutor::new(workers).expect("a pool");

    let (mut sub, mut pending, mut res) = (vec![], vec![], vec![]);
    for _ in 0..BATCHES {
        let t = Instant::now();
        let fs = submit_batch(&ex);
        let t1 = Instant::now();
        pending.push(fs.iter().filter(|f| !f.done()).count() as f64);
        let t2 = Instant::now();
        let s: u64 = fs.into_iter().map(|f| f.into_result().expect("ran")).sum();
        let t3 = Instant::now();
        assert_eq!(s, N * (N - 1) / 2);
        sub.push(per_task(t1 - t));
        res.push(per_task(t3 - t2));
    }
    println!(
        "{workers} workers, together: submit {:.1} ns/task, {:.0} of {N} pending after it, results {:.1} ns/task",
        median(sub),
        median(pending),
        median(res)
    );

    let (mut alone, mut drain) = (vec![], vec![]);
    for _ in 0..BATCHES {
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let holds: Vec<_> = (0..workers)
            .map(|_| {
                let held = held.clone();
                ex.submit(move || held.recv_timeout(Duration::from_secs(60)).is_err())
                    .expect("accepted")
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !holds.iter().all(|h| h.running()) {
            assert!(
                Instant::now() < deadline,
                "the holding tasks never all started"
            );
            std::thread::yield_now();
        }
        let t = Instant::now();
        let fs = submit_batch(&ex);
        alone.push(per_task(t.elapsed()));
        let t = Instant::now();
        drop(release);
        let last = fs.last().expect("a batch");
        last.result_timeout(Duration::from_secs(60))
            .expect("the batch drained");
        drain.push(per_task(t.elapsed()));
        for h in holds {
            assert!(*h.result().expect("ran"), "a holding task was released");
        }
        let s: u64 = fs.iter().map(|f| *f.result().expect("ran")).sum();
        assert_eq!(s, N * (N - 1) / 2);
    }
    println!(
        "{workers} workers, apart: submit {:.1} ns/task with the workers held, drain {:.1} ns/task",
        median(alone),
        median(drain)
    );
}
