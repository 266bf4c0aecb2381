//! `Barrier`: runners wait at the start line and start together, a flash sale opens for everyone at once, and `abort`/`reset`/timeouts break and mend a barrier.
//!
//! Python's `threading.Barrier` as tutorials show it: "like a race, everyone gets ready (all call
//! `wait`), then all run"; the 1000 shoppers released together on 100 items
//! (with a pool, give it at least as many threads as the barrier has
//! parties, or the last parties never get a thread); and `abort()` /
//! `reset()` with `BrokenBarrierError`.

use concurrent_futures::sync::Barrier;
use concurrent_futures::{as_completed, ThreadPoolExecutor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let unit = Duration::from_millis(if quick { 20 } else { 100 });
    let bound = Duration::from_secs(10);
    let start = Instant::now();

    // 1. A race: each runner gets ready in its own time, waits at the
    //    barrier; the last to arrive runs the action (the starting gun),
    //    then all are released together.
    println!("1. the race:");
    let runners = 5;
    let t_gun = Arc::new(std::sync::OnceLock::new());
    let gun = Arc::clone(&t_gun);
    let barrier = Arc::new(Barrier::with_action(runners, move || {
        let _ = gun.set(Instant::now());
        println!("   BANG! everyone is ready, the race starts");
    }));
    let executor = ThreadPoolExecutor::new(runners)?; // one thread per party
    let race: Vec<_> = (0..runners)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            executor.submit(move || {
                thread::sleep(unit * (i as u32 * 3 % 5)); // getting ready
                println!(
                    "   runner {i} at the start line ({} waiting)",
                    barrier.n_waiting()
                );
                let index = barrier
                    .wait_timeout(bound)
                    .expect("all runners within 10 s");
                let released = Instant::now();
                thread::sleep(unit * (1 + (i as u32 * 7) % 4)); // the run
                (i, index, released)
            })
        })
        .collect::<Result<_, _>>()?;
    for (place, f) in as_completed(&race, Some(bound)).enumerate() {
        let (i, index, released) = *f?.result()?;
        let after_gun = released.duration_since(*t_gun.get().expect("the gun fired"));
        println!(
            "   place {}: runner {i} (barrier index {index}, left the line {} µs after the gun)",
            place + 1,
            after_gun.as_micros()
        );
    }

    // 2. A flash sale: 20 shoppers, 10 items; nobody may buy before the
    //    sale opens, then all try at once. The stock is taken with an atomic
    //    compare-and-swap, so exactly 10 shoppers get one.
    println!("2. the flash sale:");
    let shoppers = 20;
    let stock = Arc::new(AtomicUsize::new(10));
    let open = Arc::new(Barrier::new(shoppers));
    let executor = ThreadPoolExecutor::new(shoppers)?;
    let buys: Vec<_> = (0..shoppers)
        .map(|i| {
            let (stock, open) = (Arc::clone(&stock), Arc::clone(&open));
            executor.submit(move || {
                open.wait_timeout(bound).expect("all shoppers within 10 s");
                let got = stock
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                (i, got)
            })
        })
        .collect::<Result<_, _>>()?;
    let mut winners: Vec<usize> = buys
        .into_iter()
        .map(|f| f.into_result())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(i, got)| got.then_some(i))
        .collect();
    winners.sort_unstable();
    println!(
        "   {} shoppers got an item: {winners:?}; stock left: {}",
        winners.len(),
        stock.load(Ordering::SeqCst)
    );

    // 3. abort and reset (Python's `Barrier(3)` example with abort at thread 2 and
    //    reset at thread 4, on plain threads as there): waiting parties and
    //    later ones get BrokenBarrierError until `reset`.
    println!("3. abort and reset:");
    let barrier = Arc::new(Barrier::new(3));
    let waiter = |name: &'static str| {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || match barrier.wait_timeout(bound) {
            Ok(index) => format!("{name}: passed with index {index}"),
            Err(e) => format!("{name}: {e}"),
        })
    };
    let a = waiter("thread 0");
    let b = waiter("thread 1");
    while barrier.n_waiting() < 2 {
        thread::yield_now();
    }
    println!("   2 of 3 waiting; abort()");
    barrier.abort();
    println!("   {}", a.join().expect("no panic"));
    println!("   {}", b.join().expect("no panic"));
    println!("   broken: {}", barrier.broken());
    println!("   {}", waiter("thread 2").join().expect("no panic"));
    println!("   reset()");
    barrier.reset();
    println!("   broken: {}", barrier.broken());
    let round: Vec<_> = ["thread 3", "thread 4", "thread 5"]
        .into_iter()
        .map(waiter)
        .collect();
    for t in round {
        println!("   {}", t.join().expect("no panic"));
    }

    // 4. A timeout breaks the barrier too (Python: Barrier(2, timeout=...)).
    let lonely = Barrier::builder(2).timeout(unit).build();
    println!(
        "4. one party of two waits {unit:?}: {:?}; broken: {}",
        lonely.wait(),
        lonely.broken()
    );
    println!("done in {:?}", start.elapsed());
    Ok(())
}
