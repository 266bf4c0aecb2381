//! Pools inside threads and pool tasks, and threads started inside pool tasks: two questions Python users ask.
//!
//! "Can a single thread create its own ThreadPoolExecutor?" Yes. "Can a pool
//! task start a thread?" Yes, and whoever joins it decides when it is done.
//! And a pool task may run a whole pool of its own (a crawler per site).

use concurrent_futures::{as_completed, Future, ThreadPoolExecutor};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let unit = Duration::from_millis(if quick { 40 } else { 300 });
    let bound = Some(Duration::from_secs(30));
    let start = Instant::now();

    // 3. A plain thread that makes its own pool; leaving the closure drops
    //    the pool, which waits for its tasks (Python's `with`).
    println!("3. a thread with its own pool:");
    let t = thread::spawn(move || -> Result<(), concurrent_futures::SubmitError> {
        let executor = ThreadPoolExecutor::new(5).expect("5 workers");
        for n in [10, 5, 3] {
            // The future is not needed: dropping it does not cancel the task.
            let _ = executor.submit(move || {
                thread::sleep(unit * n / 10);
                println!("  slept {:?}", unit * n / 10);
            })?;
        }
        println!("  all submitted; dropping the pool waits for them");
        Ok(())
    });
    t.join().expect("the thread did not panic")?;
    println!("  thread joined after {:?}", start.elapsed());

    // 4. Pool tasks that start threads and hand back their JoinHandle; the
    //    main thread joins them (the task itself is done at once).
    println!("4. pool tasks that start threads:");
    let executor = ThreadPoolExecutor::new(3)?;
    let tasks: Vec<Future<JoinHandle<u32>>> = [1u32, 3, 5, 7]
        .into_iter()
        .map(|s| {
            executor.submit(move || {
                println!("  task {s}: starting a thread");
                thread::spawn(move || {
                    thread::sleep(unit * s / 2);
                    println!("  thread of task {s}: done");
                    s
                })
            })
        })
        .collect::<Result<_, _>>()?;
    for f in as_completed(&tasks, bound) {
        // Each task is done as soon as its thread started.
        println!("  task done: {:?}", f?);
    }
    for f in tasks {
        // `into_result` takes the JoinHandle out of the future.
        let handle = f.into_result()?;
        let s = handle.join().expect("the thread did not panic");
        println!("  joined the thread of task {s}");
    }

    // A pool inside a pool task: each outer task crawls one "site" with a
    // pool of its own, and returns a summary. The outer pool never waits on
    // its own futures from inside its tasks (with every worker waiting, no
    // one would be left to run them); each inner pool is separate.
    println!("a pool inside each pool task:");
    let outer = ThreadPoolExecutor::new(2)?;
    let sites: Vec<Future<String>> = ["site-a", "site-b", "site-c"]
        .into_iter()
        .map(|site| {
            outer.submit(move || {
                let inner = ThreadPoolExecutor::builder()
                    .max_workers(3)
                    .thread_name_prefix(format!("{site}-pool"))
                    .build()
                    .expect("3 workers");
                let pages = inner
                    .map(
                        move |page: u32| {
                            thread::sleep(unit / 4);
                            format!(
                                "{site}/page/{page} on {}",
                                thread::current().name().unwrap_or("?")
                            )
                        },
                        0..4,
                    )
                    .expect("the inner pool is open");
                let fetched: Vec<String> = pages.filter_map(Result::ok).collect();
                format!("{site}: {} pages, e.g. {}", fetched.len(), fetched[0])
            })
        })
        .collect::<Result<_, _>>()?;
    for f in as_completed(&sites, bound) {
        println!("  {}", f?.result()?);
    }
    println!("done in {:?}", start.elapsed());
    Ok(())
}
