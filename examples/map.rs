//! `executor.map`: results in input order, `zip` with the inputs, a failed item failing only its place, `timeout` and `buffersize`.
//!
//! Python's `for url, result in zip(url_list, executor.map(get_html,
//! url_list))`, against a small web site served on loopback by this program.

#[path = "common/site.rs"]
#[allow(unreachable_pub)]
mod site;

use concurrent_futures::{MapOptions, ThreadPoolExecutor};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let site = site::Site::start(30)?;
    let executor = ThreadPoolExecutor::new(8)?;
    let start = Instant::now();

    // Page 31 does not exist: its place in the output holds its error.
    let urls: Vec<String> = [0, 1, 2, 3, 4, 31, 5, 6]
        .iter()
        .map(|&n| site.url(n))
        .collect();

    // Python: `for url, result in zip(urls, executor.map(get_html, urls)):`
    // `map` submits every item now and yields in input order, whatever the
    // order in which the pages come back (page n waits (n % 5) * 15 ms).
    println!("map over {} pages, printed in input order:", urls.len());
    let lengths = executor.map(
        |url: String| site::fetch(&url).map(|b| b.len()),
        urls.clone(),
    )?;
    for (url, outcome) in urls.iter().zip(lengths) {
        // The outer `Result` is the task's (a panic, a timeout); the inner
        // one is what `fetch` returned.
        match outcome? {
            Ok(len) => println!("  {url} {len} bytes"),
            Err(e) => println!("  {url} failed: {e}"),
        }
    }
    println!("  ({:?})", start.elapsed());

    // A panicking item fails only its own place; the others come back.
    // (A quiet panic hook: one line instead of the default report.)
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("  [panic hook] a task panicked at {at}");
    }));
    println!("map(|x| 100 / x) over [5, 0, 20]:");
    for (x, r) in [5, 0, 20]
        .into_iter()
        .zip(executor.map(|x: i32| 100 / x, [5, 0, 20])?)
    {
        match r {
            Ok(v) => println!("  100 / {x} = {v}"),
            Err(e) => println!("  100 / {x}: {e}"),
        }
    }

    // `into_result` is Python's `list(executor.map(...))`: all or the
    // first error.
    let squares: Vec<u64> = executor.map(|x: u64| x * x, 1..=10)?.into_result()?;
    println!("squares: {squares:?}");

    // `timeout` counts from the call (as Python's): the first result not
    // ready by then is a timeout error, and the rest are cancelled.
    let nap = Duration::from_millis(if quick { 100 } else { 300 });
    let opts = MapOptions::default().timeout(nap * 5 / 2);
    println!(
        "map with timeout {:?} over tasks of 0..4 naps of {nap:?}:",
        nap * 5 / 2
    );
    for (i, r) in executor
        .map_with(move |i: u32| std::thread::sleep(nap * i), 0..4, opts)?
        .enumerate()
    {
        match r {
            Ok(()) => println!("  item {i}: done"),
            Err(e) if e.is_timeout() => println!("  item {i}: timed out, {e}"),
            Err(e) => println!("  item {i}: {e}"),
        }
    }

    // `buffersize` (Python 3.14) reads a lazy input only as fast as
    // results are taken: an endless input is fine.
    let opts = MapOptions::default().buffersize(4);
    let first_odd_squares: Vec<u64> = executor
        .map_with(|x: u64| x * x, (1..).step_by(2), opts)?
        .take(6)
        .collect::<Result<_, _>>()?;
    println!("first odd squares of an endless input: {first_odd_squares:?}");
    println!("done in {:?}", start.elapsed());
    Ok(())
}
