//! Submit a task to a `ThreadPoolExecutor` and wait for its result, as Python's `executor.submit(fn, *args).result()`.
//!
//! Python's classic first example: `test(name, age)` sleeps, then returns; the
//! future prints like Python's repr, `running` while the task runs and
//! `finished returned ...` after.

use concurrent_futures::{FutureError, ShutdownOptions, ThreadPoolExecutor};
use std::thread;
use std::time::{Duration, Instant};

/// Python's `test(name, age)`: prints its arguments, works, returns.
fn test(name: &str, age: u32, work: Duration) -> String {
    println!("  [task] {name} {age}");
    thread::sleep(work);
    format!("test over: {name} is {age}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let work = Duration::from_millis(if quick { 200 } else { 1000 });
    let start = Instant::now();

    // Python: `with ThreadPoolExecutor() as executor:`; the default size is
    // Python's `min(32, cpus + 4)`. Dropping the pool is `shutdown(wait=True)`.
    let executor = ThreadPoolExecutor::default();
    println!("default pool: {} workers at most", executor.max_workers());

    // Python: `future = executor.submit(test, "Xiaoming", 23)`
    let future = executor.submit(move || test("Xiaoming", 23, work))?;
    thread::sleep(Duration::from_millis(50)); // let a worker take it
    println!("submitted: {future:?}, done() = {}", future.done());

    // Python: `future.result()` blocks until the task is done; here with a
    // bound, so that a stuck task cannot hang the program.
    let result = future.result_timeout(Duration::from_secs(10))?;
    println!("result: {result:?} after {:?}", start.elapsed());
    println!("now:       {future:?}, done() = {}", future.done());

    // `result` borrows and may be called again, from any thread;
    // `into_result` takes the value out of the last handle.
    let again = future.clone();
    let from_thread = thread::spawn(move || again.result().map(|s| s.len()));
    println!(
        "length read from another thread: {:?}",
        from_thread.join().unwrap()?
    );
    let owned: String = future.into_result()?;
    println!("owned result: {owned}");

    // A timeout is an error value, not a panic; the task goes on.
    let slow = executor.submit(move || test("Xiaozhang", 25, work))?;
    match slow.result_timeout(Duration::from_millis(10)) {
        Err(FutureError::Timeout(e)) => println!("waited 10 ms: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    println!(
        "waiting again: {:?}",
        slow.result_timeout(Duration::from_secs(10))?
    );

    // Several tasks at once: each gets a future at once; the pool starts
    // threads as needed, up to `max_workers`.
    let t0 = Instant::now();
    let futures: Vec<_> = (0..4u32)
        .map(|i| executor.submit(move || test("worker", 20 + i, work)))
        .collect::<Result<_, _>>()?;
    for f in &futures {
        f.result_timeout(Duration::from_secs(10))?;
    }
    println!(
        "4 tasks of {work:?} each finished in {:?} on {} threads",
        t0.elapsed(),
        executor.stats().workers
    );

    // Python: leaving `with` calls shutdown(wait=True); here, explicitly.
    executor.shutdown_with(ShutdownOptions::default());
    match executor.submit(|| ()) {
        Err(e) => println!("submit after shutdown: {e}"),
        Ok(_) => println!("submit after shutdown was accepted?"),
    }
    println!("done in {:?}", start.elapsed());
    Ok(())
}
