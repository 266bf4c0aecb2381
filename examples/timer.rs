//! `Timer`: run a function once after a delay on its own thread, `cancel` it before it fires, re-arm it for a periodic job, and use it as a watchdog.
//!
//! Python's `Timer(2, test, args=("mmd",)).start()` (the main thread goes
//! on and the timer fires later), `t.cancel()`, and the timer that starts
//! the next timer ("better than a busy loop: it waits").

use concurrent_futures::sync::{Event, Timer};
use concurrent_futures::ThreadPoolExecutor;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Starts a timer that runs a tick every `period` until `stop` is set: each
/// run arms the next timer (Python's self-restarting `Timer` pattern). `current`
/// holds the armed one, so that it can be cancelled.
fn every(
    period: Duration,
    stop: Arc<Event>,
    ticks: Arc<AtomicU32>,
    current: Arc<Mutex<Option<Timer>>>,
) {
    let slot = Arc::clone(&current);
    // Held while arming, so that a quick tick's next timer is stored after
    // this one, never overwritten by it.
    let mut armed = current.lock().unwrap();
    *armed = Some(Timer::start(period, move || {
        if stop.is_set() {
            return;
        }
        let n = ticks.fetch_add(1, Ordering::SeqCst) + 1;
        println!("  tick {n}");
        every(period, stop, ticks, slot);
    }));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let unit = Duration::from_millis(if quick { 50 } else { 500 });
    let start = Instant::now();

    // 1. Fire once after a delay; main goes on meanwhile.
    let t = Timer::start(unit * 2, move || {
        println!("  [{:?}] timer starts: test('mmd')", start.elapsed());
        thread::sleep(unit);
        println!("  [{:?}] timer done", start.elapsed());
    });
    println!(
        "1. [{:?}] timer armed for {:?}; main goes on",
        start.elapsed(),
        t.interval()
    );
    // Python: t.join(); ours tells whether the function ran.
    println!(
        "   joined: ran = {:?}",
        t.join_timeout(Duration::from_secs(10))
    );

    // 2. Cancel before it fires: the function never runs.
    let fired = Arc::new(AtomicU32::new(0));
    let f = Arc::clone(&fired);
    let t = Timer::start(unit * 2, move || {
        f.fetch_add(1, Ordering::SeqCst);
    });
    thread::sleep(unit);
    println!(
        "2. cancel after {unit:?} of {:?}: {}",
        t.interval(),
        t.cancel()
    );
    println!("   cancel again: {}", t.cancel());
    println!(
        "   joined: ran = {:?}, the function ran {} times",
        t.join_timeout(Duration::from_secs(10)),
        fired.load(Ordering::SeqCst)
    );
    // A timer that already fired cannot be cancelled.
    let t = Timer::start(Duration::ZERO, || {});
    let _ = t.join_timeout(Duration::from_secs(10));
    println!("   cancel a timer that already ran: {}", t.cancel());

    // 3. A periodic job: each run arms the next; an Event stops it.
    println!("3. every {:?}, stopped after about 4 ticks:", unit / 2);
    let stop = Arc::new(Event::new());
    let ticks = Arc::new(AtomicU32::new(0));
    let current = Arc::new(Mutex::new(None));
    every(
        unit / 2,
        Arc::clone(&stop),
        Arc::clone(&ticks),
        Arc::clone(&current),
    );
    thread::sleep(unit / 2 * 4 + unit / 4);
    stop.set();
    if let Some(t) = current.lock().unwrap().take() {
        t.cancel(); // the armed one, if it has not fired yet
    }
    println!("   stopped after {} ticks", ticks.load(Ordering::SeqCst));

    // 4. A watchdog: a timer cancels a queued task that did not start in
    //    time (a future can be cancelled from any thread).
    let executor = ThreadPoolExecutor::new(1)?;
    let busy = executor.submit(move || thread::sleep(unit * 2))?;
    let queued = executor.submit(|| "ran")?;
    let watched = queued.clone();
    let watchdog = Timer::start(unit, move || {
        println!(
            "   watchdog: the task did not start within {unit:?}; cancel = {}",
            watched.cancel()
        );
    });
    println!(
        "4. one worker, busy for {:?}; a task queued behind it, watchdog {unit:?}:",
        unit * 2
    );
    println!(
        "   queued task: {:?}",
        queued.result_timeout(Duration::from_secs(10))
    );
    let _ = watchdog.join_timeout(Duration::from_secs(10));
    busy.result_timeout(Duration::from_secs(10))?;
    println!("done in {:?}", start.elapsed());
    Ok(())
}
