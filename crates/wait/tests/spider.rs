//! The seed's spider: `{executor.submit(crawl, url): url for url in urls}`,
//! then `as_completed` over the map's keys, looking each url up by its
//! future. Futures are completed by threads, as any executor would.

mod common;

use common::LONG;
use concurrent_futures_core::Future;
use concurrent_futures_wait::{as_completed, wait, ReturnWhen};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::thread;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Url(String);

/// "Crawls" a url: sleeps a random while, returns the page, fails on `bad`.
fn crawl(url: &Url) -> Result<String, std::io::Error> {
    thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(1..30)));
    if url.0.contains("bad") {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "404"))
    } else {
        Ok(format!("<html>{}</html>", url.0))
    }
}

fn submit_all(urls: &[&str]) -> HashMap<Future<String>, Url> {
    urls.iter()
        .map(|u| {
            let url = Url(format!("https://{u}"));
            let f = Future::new();
            let (g, for_task) = (f.clone(), url.clone());
            thread::spawn(move || g.run_fallible(|| crawl(&for_task)));
            (f, url)
        })
        .collect()
}

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let tasks = submit_all(&["abc.com"]);
    assert_eq!(as_completed(tasks.keys(), Some(LONG)).count(), 1);
}

#[test]
fn spider_reports_each_url_once() {
    let _watchdog = common::watchdog("spider_reports_each_url_once");
    let names = [
        "abc.com", "efg.com", "sdf.com", "sdfs.com", "hij.com", "bad.com", "klm.com", "nop.com",
    ];
    let tasks = submit_all(&names);
    let mut pages = HashMap::new();
    let mut failures = Vec::new();
    for f in as_completed(tasks.keys(), Some(LONG)) {
        let f = f.expect("every page within the bound");
        let url = &tasks[&f];
        match f.result() {
            Ok(page) => assert!(pages.insert(url.clone(), page.clone()).is_none()),
            Err(e) => failures.push((url.clone(), e.to_string())),
        }
    }
    assert_eq!(pages.len(), names.len() - 1);
    assert_eq!(
        failures,
        [(Url("https://bad.com".into()), "task failed: 404".into())]
    );
    for (url, page) in &pages {
        assert_eq!(*page, format!("<html>{}</html>", url.0));
    }
    // The seed's second program: wait for all, then read them in any order.
    let r = wait(tasks.keys(), Some(LONG), ReturnWhen::AllCompleted);
    assert!(r.not_done.is_empty());
    let seen: HashSet<&Url> = as_completed(tasks.keys(), Some(Duration::ZERO))
        .map(|f| &tasks[&f.expect("all done already")])
        .collect();
    assert_eq!(seen.len(), names.len());
}
