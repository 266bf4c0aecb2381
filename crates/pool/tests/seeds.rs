//! The seeds' scenarios (`/work/shared/seeds/`, Chinese tutorials on
//! `concurrent.futures` and `threading`), on the thread pool: the spider with
//! a map from futures to URLs, `done()`/`cancel()` on a one-worker pool,
//! done-callbacks reading the exception or the result, pools created inside
//! pool tasks, and threads started inside tasks.
//!
//! `as_completed` lives in another crate; here completion order comes from
//! done-callbacks feeding a channel, which is what `as_completed` builds on.

mod common;

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{Latch, T};
use concurrent_futures_core::Future;
use concurrent_futures_pool::ThreadPoolExecutor;
use rand::Rng;

#[test]
fn smoke() {
    let _watchdog = common::watchdog("smoke");
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let f = ex.submit(|| "crawler task finished").unwrap();
    assert_eq!(*f.result_timeout(T).unwrap(), "crawler task finished");
}

fn spider(url: &'static str) -> String {
    let ms = rand::thread_rng().gen_range(1..5);
    thread::sleep(Duration::from_millis(ms));
    format!("<html>{url}</html>")
}

#[test]
// A future hashes by identity, which never changes; clippy cannot know.
#[allow(clippy::mutable_key_type)]
fn spider_with_a_map_from_futures_to_urls() {
    let _watchdog = common::watchdog("spider_with_a_map_from_futures_to_urls");
    // tasks = {executor.submit(get_html, url): url for url in url_list}
    // for task in as_completed(tasks): print(tasks[task], task.result())
    let urls = [
        "https://abc.com",
        "https://efg.com",
        "https://sdf.com",
        "https://sdfs.com",
        "https://abc.com", // duplicates are separate tasks, separate futures
        "https://hij.com",
        "https://klm.com",
        "https://nop.com",
        "https://rsz.com",
    ];
    let ex = ThreadPoolExecutor::new(5).unwrap();
    let (tx, rx) = mpsc::channel::<Future<String>>();
    let mut tasks: HashMap<Future<String>, &str> = HashMap::new();
    for url in urls {
        let f = ex.submit(move || spider(url)).unwrap();
        let tx = tx.clone();
        f.add_done_callback(move |f: &Future<String>| {
            let _ = tx.send(f.clone());
        });
        tasks.insert(f, url);
    }
    assert_eq!(tasks.len(), urls.len());
    let mut seen = 0;
    while seen < urls.len() {
        let f = rx.recv_timeout(T).expect("a spider task never finished");
        let url = tasks[&f];
        assert_eq!(*f.result().unwrap(), format!("<html>{url}</html>"));
        seen += 1;
    }
}

#[test]
fn done_and_cancel_on_one_worker() {
    let _watchdog = common::watchdog("done_and_cancel_on_one_worker");
    // with ThreadPoolExecutor(1): future1 runs, future2 waits and is cancelled.
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let started = Latch::new();
    let release = Latch::new();
    let (s, r) = (started.clone(), release.clone());
    let future1 = ex
        .submit(move || {
            s.open();
            r.wait();
            "test over"
        })
        .unwrap();
    let future2 = ex.submit(|| "never").unwrap();
    started.wait();
    assert!(!future1.done() && !future2.done());
    assert!(future2.cancel());
    assert!(!future1.done() && future2.done());
    release.open();
    assert_eq!(*future1.result_timeout(T).unwrap(), "test over");
    assert!(future1.done() && future2.done());
    assert!(!future1.cancel()); // finished: cannot cancel
}

#[test]
fn callbacks_read_exception_or_result() {
    let _watchdog = common::watchdog("callbacks_read_exception_or_result");
    let out = Arc::new(Mutex::new(Vec::new()));
    {
        let ex = ThreadPoolExecutor::default();
        let f1 = ex.submit(|| format!("姓名：{}", "小明")).unwrap();
        let f2 = ex
            .submit(|| -> String { panic!("我发送异常了！") })
            .unwrap();
        for f in [f1, f2] {
            let out = out.clone();
            f.add_done_callback(move |f: &Future<String>| {
                let line = match f.exception().unwrap() {
                    Some(e) => e.panic_message().unwrap_or_default().to_owned(),
                    None => f.result().unwrap().clone(),
                };
                out.lock().unwrap().push(line);
            });
        }
    } // leaving `with`: shutdown(wait=True), so both callbacks ran
    let mut got = out.lock().unwrap().clone();
    got.sort();
    let mut want = ["我发送异常了！".to_owned(), "姓名：小明".to_owned()];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn pools_created_inside_pool_tasks() {
    let _watchdog = common::watchdog("pools_created_inside_pool_tasks");
    let outer = ThreadPoolExecutor::new(3).unwrap();
    let fs: Vec<_> = (0..3u64)
        .map(|i| {
            outer
                .submit(move || {
                    let inner = ThreadPoolExecutor::new(2).unwrap();
                    let squares: u64 = inner
                        .map(move |x: u64| x * x + i, 0..10)
                        .unwrap()
                        .map(Result::unwrap)
                        .sum();
                    // Dropping the inner pool here joins its threads from a
                    // worker of the outer pool.
                    drop(inner);
                    squares
                })
                .unwrap()
        })
        .collect();
    let got: Vec<u64> = fs.into_iter().map(|f| f.into_result().unwrap()).collect();
    assert_eq!(got, [285, 295, 305]);
}

#[test]
fn tasks_submitting_to_their_own_pool() {
    let _watchdog = common::watchdog("tasks_submitting_to_their_own_pool");
    // A task submits to its own pool (onto its worker's deque) and waits:
    // another worker steals the inner task.
    let ex = Arc::new(ThreadPoolExecutor::new(2).unwrap());
    let inner = ex.clone();
    let f = ex
        .submit(move || {
            let g = inner.submit(|| 40).unwrap();
            g.into_result().unwrap() + 2
        })
        .unwrap();
    assert_eq!(*f.result_timeout(T).unwrap(), 42);
}

#[test]
fn threads_started_inside_tasks() {
    let _watchdog = common::watchdog("threads_started_inside_tasks");
    let ex = ThreadPoolExecutor::new(2).unwrap();
    let f = ex
        .submit(|| {
            let hs: Vec<_> = (0..5)
                .map(|i| {
                    thread::Builder::new()
                        .name(format!("小明{i}"))
                        .spawn(move || (thread::current().name().unwrap().to_owned(), i * 10))
                        .unwrap()
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
    let got = f.into_result().unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got[3], ("小明3".to_owned(), 30));
}
