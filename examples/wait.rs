//! `wait` with `FIRST_COMPLETED`, `ALL_COMPLETED` and `FIRST_EXCEPTION`: which futures are done, which are not, and cancelling the rest.
//!
//! Python's `done_set, no_done_set = wait(tasks, return_when=...)`, on
//! downloads of different lengths (simulated with sleeps) and one that fails.

// `Future<T>` hashes by identity (an address its interior mutability never
// changes), so it is a sound map key, as in Python's `{submit(..): url}`.
#![allow(clippy::mutable_key_type)]

use concurrent_futures::{wait, DoneAndNotDone, Future, FutureSet, ReturnWhen, ThreadPoolExecutor};
use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

/// A pretend download: sleeps `ms` and returns the "page" size; a name
/// starting with "broken" fails with an error.
fn download(name: &'static str, ms: u64) -> Result<usize, String> {
    thread::sleep(Duration::from_millis(ms));
    if name.starts_with("broken") {
        Err(format!("{name}: connection refused"))
    } else {
        Ok(name.len() * 1000)
    }
}

fn names(set: &FutureSet<usize>, tasks: &HashMap<Future<usize>, &str>) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|f| tasks[f].to_string()).collect();
    v.sort();
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let unit = if quick { 40 } else { 150 };
    let executor = ThreadPoolExecutor::new(4)?;
    let bound = Some(Duration::from_secs(30));
    let sites = [("baidu", 3), ("qq", 1), ("sogou", 4), ("cnblogs", 2)];

    // FIRST_COMPLETED: returns as soon as one is done.
    let t0 = Instant::now();
    let tasks: HashMap<Future<usize>, &str> = sites
        .iter()
        .map(|&(name, n)| {
            let f = executor.submit_fallible(move || download(name, n * unit))?;
            Ok((f, name))
        })
        .collect::<Result<_, concurrent_futures::SubmitError>>()?;
    let DoneAndNotDone { done, not_done } = wait(tasks.keys(), bound, ReturnWhen::FirstCompleted);
    println!("FIRST_COMPLETED after {:?}:", t0.elapsed());
    println!("  done:     {:?}", names(&done, &tasks));
    println!("  not done: {:?}", names(&not_done, &tasks));
    for f in &done {
        println!("  {} -> {:?}  {f:?}", tasks[f], f.result()?);
    }

    // ALL_COMPLETED (the default in Python): returns when every one is done.
    let r = wait(tasks.keys(), bound, ReturnWhen::AllCompleted);
    println!("ALL_COMPLETED after {:?}:", t0.elapsed());
    println!(
        "  done: {:?}, not done: {}",
        names(&r.done, &tasks),
        r.not_done.len()
    );
    for (f, name) in &tasks {
        println!("  {name}: done() = {}, {} bytes", f.done(), f.result()?);
    }

    // A timeout is not an error: what is not done yet is in `not_done`.
    let slow = executor.submit(move || thread::sleep(Duration::from_millis(5 * unit)))?;
    let r = wait(
        [&slow],
        Some(Duration::from_millis(unit)),
        ReturnWhen::AllCompleted,
    );
    println!(
        "wait with a {unit} ms timeout on a {} ms task: {} done, {} not done",
        5 * unit,
        r.done.len(),
        r.not_done.len()
    );

    // FIRST_EXCEPTION: stop a batch at its first failure, cancel the rest.
    let t0 = Instant::now();
    let two_workers = ThreadPoolExecutor::new(2)?;
    let batch = [
        ("a", 1),
        ("broken-b", 2),
        ("c", 3),
        ("d", 3),
        ("e", 3),
        ("f", 3),
    ];
    let tasks: HashMap<Future<usize>, &str> = batch
        .iter()
        .map(|&(name, n)| {
            let f = two_workers.submit_fallible(move || download(name, n * unit))?;
            Ok((f, name))
        })
        .collect::<Result<_, concurrent_futures::SubmitError>>()?;
    let DoneAndNotDone { done, not_done } = wait(tasks.keys(), bound, ReturnWhen::FirstException);
    println!(
        "FIRST_EXCEPTION after {:?} (2 workers, 6 tasks):",
        t0.elapsed()
    );
    for f in &done {
        match f.exception()? {
            Some(e) => println!("  {} failed: {e}", tasks[f]),
            None => println!("  {} ok: {}", tasks[f], f.result()?),
        }
    }
    let mut cancelled = Vec::new();
    let mut running = Vec::new();
    for f in &not_done {
        // Python: for f in not_done: f.cancel(). A running task cannot be
        // cancelled; a queued one can, and then never runs.
        if f.cancel() {
            cancelled.push(tasks[f]);
        } else {
            running.push(tasks[f]);
        }
    }
    cancelled.sort();
    running.sort();
    println!("  cancelled {cancelled:?}; still running (let finish): {running:?}");
    let r = wait(tasks.keys(), bound, ReturnWhen::AllCompleted);
    println!(
        "  after the running ones finished: {} done, {} cancelled, {:?} in all",
        r.done.len(),
        r.done.iter().filter(|f| f.cancelled()).count(),
        t0.elapsed()
    );
    Ok(())
}
