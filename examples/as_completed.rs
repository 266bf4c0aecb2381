//! The spider of Python's tutorials: crawl a web site with a `ThreadPoolExecutor`, a `HashMap<Future<_>, Url>` and `as_completed`, handling each page as it arrives.
//!
//! Python: `tasks = {executor.submit(get_html, url): url for url in urls}`
//! then `for task in as_completed(tasks): url = tasks[task]`. The site is
//! served on loopback by this program: pages link to each other, some links
//! are broken (404), some pages are slow, so pages complete out of order.

// `Future<T>` hashes by identity (an address its interior mutability never
// changes), so it is a sound map key, as in Python's `{submit(..): url}`.
#![allow(clippy::mutable_key_type)]

#[path = "common/site.rs"]
#[allow(unreachable_pub)]
mod site;

use concurrent_futures::{as_completed, Future, ThreadPoolExecutor};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let pages = if quick { 40 } else { 120 };
    let site = site::Site::start(pages)?;
    let executor = ThreadPoolExecutor::new(8)?;
    let start = Instant::now();

    // Crawl breadth first: each round submits every new link, then takes
    // the pages as they complete and collects the links they hold.
    let mut seen: HashSet<String> = HashSet::new();
    let mut frontier = vec![site.url(0)];
    let (mut fetched, mut failed, mut bytes) = (0, 0, 0);
    for round in 1.. {
        frontier.retain(|url| seen.insert(url.clone()));
        if frontier.is_empty() {
            break;
        }
        println!("round {round}: {} new links", frontier.len());
        // Python: {executor.submit(get_html, url): url for url in urls}.
        // `submit_fallible` makes fetch's `Err` the future's exception.
        let tasks: HashMap<Future<String>, String> = frontier
            .drain(..)
            .map(|url| {
                let u = url.clone();
                executor
                    .submit_fallible(move || site::fetch(&u))
                    .map(|f| (f, url))
            })
            .collect::<Result<_, _>>()?;

        // Python: for task in as_completed(tasks): url = tasks[task]
        for task in as_completed(tasks.keys(), Some(Duration::from_secs(30))) {
            let task = task?; // Err only if the 30 s bound passed
            let url = &tasks[&task];
            match task.result() {
                Ok(body) => {
                    fetched += 1;
                    bytes += body.len();
                    let links = site::links(url, body);
                    println!(
                        "  {:>5} ms {url} {} bytes, {} links",
                        start.elapsed().as_millis(),
                        body.len(),
                        links.len()
                    );
                    frontier.extend(links);
                }
                Err(e) => {
                    failed += 1;
                    println!("  {:>5} ms {url} failed: {e}", start.elapsed().as_millis());
                }
            }
        }
    }
    println!(
        "crawled {fetched} pages ({bytes} bytes), {failed} broken links, in {} ms on {} threads (of 8 at most)",
        start.elapsed().as_millis(),
        executor.stats().workers
    );
    Ok(())
}
