//! The pools' `tracing` events, printed by a `tracing-subscriber`: tasks
//! submitted, started, finished and cancelled, workers started, a worker
//! process that dies and its replacement, and a panicking done-callback
//! reported as an `ERROR` event instead of a line on stderr.
//!
//! Needs the `tracing` feature:
//! `cargo run --example tracing --features tracing`. Every event has target
//! `concurrent_futures`; here a `Targets` filter shows them down to `TRACE`.

use concurrent_futures::sync::Event;
use concurrent_futures::{
    process, Future, ProcessPoolExecutor, ShutdownOptions, ThreadPoolExecutor,
};
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// A process task that kills its own worker.
fn crash(_: ()) -> u32 {
    std::process::abort()
}

/// A process task that returns.
fn double(x: u32) -> u32 {
    x * 2
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    process::init(); // first: a worker process serves tasks here and never returns

    // The panics below are on purpose: one line each, not std's report.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("  (a deliberate panic at {at})");
    }));
    let events = Targets::new().with_target("concurrent_futures", LevelFilter::TRACE);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .without_time(),
        )
        .with(events)
        .init();
    println!("a thread pool of 1: a task that panics, one cancelled while queued");
    let ex = ThreadPoolExecutor::new(1)?;
    let gate = Arc::new(Event::new());
    let g = Arc::clone(&gate);
    let busy = ex.submit(move || g.wait_timeout(Duration::from_secs(30)))?;
    let queued: Future<u32> = ex.submit(|| 1)?;
    let failing = ex.submit(|| -> u32 { panic!("deliberate: a task that fails") })?;
    queued.cancel(); // still queued behind `busy`: cancelled, never run
    failing.add_done_callback(|_: &Future<u32>| panic!("deliberate: a callback that panics"));
    gate.set();
    busy.result_timeout(Duration::from_secs(30))?;
    let _ = failing.exception_timeout(Duration::from_secs(30))?;
    ex.shutdown_with(ShutdownOptions::default());

    println!("a process pool of 1: a worker that dies is replaced");
    let procs = ProcessPoolExecutor::new(1)?;
    let died = procs.submit(crash, ())?;
    let after = procs.submit(double, 21)?;
    let cause = died
        .exception_timeout(Duration::from_secs(30))?
        .map(ToString::to_string);
    println!("  the crashed task's future: {}", cause.unwrap_or_default());
    println!(
        "  the next task, on the replacement: {}",
        after.result_timeout(Duration::from_secs(30))?
    );
    procs.shutdown_with(ShutdownOptions::default());
    Ok(())
}
