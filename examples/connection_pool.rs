//! A pool of database connections guarded by a `BoundedSemaphore`: at most N tasks hold a connection at once, the others wait (or give up after a timeout).
//!
//! A Python-style connection pool (`Pool.get` acquires the semaphore and pops a
//! connection, `Pool.set` pushes it back and releases), run by eight tasks
//! on a `ThreadPoolExecutor`; and the point of `BoundedSemaphore`:
//! releasing more than was acquired is an error, not a silent extra slot.

use concurrent_futures::sync::BoundedSemaphore;
use concurrent_futures::{as_completed, ThreadPoolExecutor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Conn {
    name: String,
    queries: usize,
}

/// The `Pool`: a semaphore counts the free connections.
struct ConnPool {
    sema: BoundedSemaphore,
    conns: Mutex<Vec<Conn>>,
    in_use: AtomicUsize,
    most_in_use: AtomicUsize,
}

impl ConnPool {
    fn new(n: usize) -> Self {
        ConnPool {
            sema: BoundedSemaphore::new(n),
            conns: Mutex::new(
                (0..n)
                    .map(|i| Conn {
                        name: format!("conn-{i}"),
                        queries: 0,
                    })
                    .collect(),
            ),
            in_use: AtomicUsize::new(0),
            most_in_use: AtomicUsize::new(0),
        }
    }

    /// Waits up to `timeout` for a free connection.
    fn get(&self, timeout: Duration) -> Option<Conn> {
        if !self.sema.acquire_timeout(timeout) {
            return None;
        }
        let n = self.in_use.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_use.fetch_max(n, Ordering::SeqCst);
        let conn = self.conns.lock().unwrap().pop();
        Some(conn.expect("a unit of the semaphore means a free connection"))
    }

    fn put(&self, conn: Conn) {
        self.conns.lock().unwrap().push(conn);
        self.in_use.fetch_sub(1, Ordering::SeqCst);
        self.sema.release().expect("one release per get");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let query = Duration::from_millis(if quick { 60 } else { 500 });
    let start = Instant::now();

    let pool = Arc::new(ConnPool::new(3));
    let executor = ThreadPoolExecutor::new(8)?;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let pool = Arc::clone(&pool);
            executor.submit(move || {
                let mut conn = pool
                    .get(Duration::from_secs(10))
                    .expect("a connection within 10 s");
                println!(
                    "{:>5} ms task {i}: got {}",
                    start.elapsed().as_millis(),
                    conn.name
                );
                thread::sleep(query); // the query
                conn.queries += 1;
                let name = conn.name.clone();
                pool.put(conn);
                format!("task {i} ran its query on {name}")
            })
        })
        .collect::<Result<_, _>>()?;
    for f in as_completed(&tasks, Some(Duration::from_secs(30))) {
        println!("{:>5} ms {}", start.elapsed().as_millis(), f?.result()?);
    }
    println!(
        "8 tasks on 8 threads, 3 connections: at most {} in use at once, {:?} in all",
        pool.most_in_use.load(Ordering::SeqCst),
        start.elapsed()
    );
    for c in pool.conns.lock().unwrap().iter() {
        println!("  {} ran {} queries", c.name, c.queries);
    }

    // Giving up: with every connection taken, `get` times out.
    let held: Vec<Conn> = (0..3).filter_map(|_| pool.get(Duration::ZERO)).collect();
    let t0 = Instant::now();
    let none = pool.get(query / 2);
    println!(
        "all {} connections held: get() with a {:?} timeout gave {:?} after {:?}",
        held.len(),
        query / 2,
        none.map(|c| c.name),
        t0.elapsed()
    );
    for c in held {
        pool.put(c);
    }

    // A bounded semaphore refuses a release it did not hand out (Python's
    // ValueError), where a plain `Semaphore` would grow a fourth slot.
    match pool.sema.release() {
        Err(e) => println!("an extra release is refused: {e}"),
        Ok(()) => println!("an extra release was accepted?"),
    }
    Ok(())
}
