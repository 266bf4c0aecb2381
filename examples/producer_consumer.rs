//! Producers and consumers on a thread pool, coordinated by `Semaphore`s (a bounded buffer) and `Event`s (start, stop, and a per-item acknowledgement).
//!
//! The classic producer/consumer: consumers wait for an `Event` before they
//! start, producers block while the buffer is full (a `Semaphore` counts the
//! free places, another the filled ones), a stop `Event` tells consumers to
//! leave once the buffer is empty; then the "send the data with an `Event`"
//! pattern, where the producer waits until its item was consumed.

use concurrent_futures::sync::{Event, Semaphore};
use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A bounded buffer: `free` counts empty places, `filled` counts items.
struct Buffer {
    items: Mutex<VecDeque<String>>,
    free: Semaphore,
    filled: Semaphore,
}

impl Buffer {
    fn new(capacity: usize) -> Self {
        Buffer {
            items: Mutex::new(VecDeque::new()),
            free: Semaphore::new(capacity),
            filled: Semaphore::new(0),
        }
    }

    /// Blocks while the buffer is full.
    fn put(&self, item: String) {
        self.free.acquire();
        self.items.lock().unwrap().push_back(item);
        self.filled.release();
    }

    /// Waits up to `timeout` for an item.
    fn take(&self, timeout: Duration) -> Option<String> {
        if !self.filled.acquire_timeout(timeout) {
            return None;
        }
        let item = self.items.lock().unwrap().pop_front();
        self.free.release();
        item
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let per_producer = if quick { 5 } else { 10 };
    let pace = Duration::from_millis(if quick { 5 } else { 50 });
    let start = Instant::now();

    let buffer = Arc::new(Buffer::new(3));
    let go = Arc::new(Event::new());
    let stop = Arc::new(Event::new());
    let executor = ThreadPoolExecutor::new(5)?;

    // Two consumers: wait for `go`, then take items until `stop` is set and
    // the buffer is empty.
    let mut consumers = Vec::new();
    for c in 0..2 {
        let (buffer, go, stop) = (Arc::clone(&buffer), Arc::clone(&go), Arc::clone(&stop));
        consumers.push(executor.submit(move || {
            println!("consumer {c}: waiting for the start signal");
            go.wait();
            let mut eaten = 0;
            loop {
                match buffer.take(pace * 4) {
                    Some(item) => {
                        eaten += 1;
                        println!("consumer {c}: consumed {item}");
                        thread::sleep(pace * 2); // slower than the producers
                    }
                    None if stop.is_set() => break,
                    None => {}
                }
            }
            println!("consumer {c}: done after {eaten} items");
            eaten
        })?);
    }

    // Three producers: a full buffer blocks them (at most 3 items wait).
    let mut producers = Vec::new();
    for p in 0..3 {
        let (buffer, go) = (Arc::clone(&buffer), Arc::clone(&go));
        producers.push(executor.submit(move || {
            go.wait();
            for i in 0..per_producer {
                buffer.put(format!("p{p}-item{i}"));
                thread::sleep(pace);
            }
            println!("producer {p}: produced {per_producer} items");
        })?);
    }

    thread::sleep(pace * 4);
    println!("main: everyone is waiting; set the start event");
    go.set();
    let bound = Some(Duration::from_secs(30));
    let r = wait(&producers, bound, ReturnWhen::AllCompleted);
    assert!(r.not_done.is_empty(), "producers still running after 30 s");
    println!("main: producers finished; set the stop event");
    stop.set();
    let eaten: usize = consumers
        .into_iter()
        .map(|f| f.into_result())
        .sum::<Result<usize, _>>()?;
    println!(
        "consumed {eaten} of {} items in {:?}",
        3 * per_producer,
        start.elapsed()
    );

    // Sending each item with an Event: the producer waits until the
    // consumer says it handled that item (Python: queue.put((event, i));
    // event.wait()).
    println!("items sent with an acknowledgement event:");
    let (tx, rx) = std::sync::mpsc::channel::<(Arc<Event>, u32)>();
    let consumer = executor.submit(move || {
        for (ack, data) in rx {
            println!("  [consumer] consumed item {data}");
            ack.set();
        }
    })?;
    for i in 0..3 {
        let ack = Arc::new(Event::new());
        tx.send((Arc::clone(&ack), i))?;
        println!("  [producer] produced item {i}");
        let acked = ack.wait_timeout(Duration::from_secs(10));
        println!("  [producer] item {i} acknowledged: {acked}");
    }
    drop(tx);
    consumer.result_timeout(Duration::from_secs(10))?;
    Ok(())
}
