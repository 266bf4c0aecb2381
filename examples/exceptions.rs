//! A task's failure as data: a panic or a returned `Err` becomes the future's exception, read through `result`/`exception` or in a done-callback.
//!
//! Python's two ways to see a worker's exception: `try: future.result()
//! except Exception as e` inside `as_completed`, and
//! `future.add_done_callback(executor_callback)` reading `future.exception()`.

use concurrent_futures::{as_completed, Future, FutureError, TaskError, ThreadPoolExecutor};
use std::num::ParseIntError;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Python's `error(t)`: sleeps, then raises.
fn error(t: Duration) -> u32 {
    thread::sleep(t);
    panic!("This is Error");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let t = Duration::from_millis(if quick { 50 } else { 500 });
    let bound = Some(Duration::from_secs(30));
    // Tasks below panic on purpose: one quiet line each instead of the
    // default report (the panic is caught and kept in the future anyway).
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("    [panic hook] a panic at {at}");
    }));

    let executor = ThreadPoolExecutor::new(5)?;

    // 1. Through `result`: a panic in the task is the future's exception,
    //    with its message; the worker thread lives on.
    println!("1. five tasks that panic, read with as_completed + result:");
    let tasks: Vec<Future<u32>> = (0..5)
        .map(|_| executor.submit(move || error(t)))
        .collect::<Result<_, _>>()?;
    for future in as_completed(&tasks, bound) {
        match future?.result() {
            Ok(data) => println!("  result {data}"),
            Err(e) => println!("  work thread error: {e}"),
        }
    }

    // 2. A task that returns `Err`: `submit_fallible` makes it the
    //    exception, and the original error is still there to downcast.
    println!("2. a task returning Err:");
    let parse = executor.submit_fallible(|| "12x".parse::<u32>())?;
    let err = parse
        .exception_timeout(Duration::from_secs(30))?
        .expect("it failed");
    println!("  exception: {err}");
    println!(
        "  is a panic: {}, is an error: {}",
        err.is_panic(),
        err.is_error()
    );
    if let Some(e) = err.downcast_ref::<ParseIntError>() {
        println!("  downcast to ParseIntError: {e:?}");
    }
    // `result` returns the same failure as `FutureError::Failed`.
    match parse.result() {
        Err(FutureError::Failed(TaskError::Error(e))) => println!("  result(): Failed(Error({e}))"),
        other => println!("  result(): {other:?}"),
    }

    // 3. Through done-callbacks (Python's executor_callback): each runs in
    //    the thread that completes the future, once, in the order added.
    println!("3. done-callbacks reading exception():");
    let (tx, rx) = mpsc::channel::<String>();
    for (i, name) in ["Xiaoming", "Xiaozhang"].into_iter().enumerate() {
        let f = executor.submit(move || {
            thread::sleep(t);
            if i == 1 {
                panic!("an exception was raised!");
            }
            format!("name: {name}")
        })?;
        let tx = tx.clone();
        f.add_done_callback(move |f: &Future<String>| {
            let line = match f.exception() {
                Ok(Some(e)) => format!(
                    "  callback on {:?}: worker error: {e}",
                    thread::current().name()
                ),
                Ok(None) => format!(
                    "  callback on {:?}: {}",
                    thread::current().name(),
                    f.result().unwrap()
                ),
                Err(e) => format!("  callback: {e}"),
            };
            let _ = tx.send(line);
        });
    }
    drop(tx);
    for line in rx.iter().take(2) {
        println!("{line}");
    }

    // 4. A callback that panics is reported and does not stop the others,
    //    nor the worker thread that ran it.
    println!("4. a panicking callback:");
    let f = Future::<u8>::new();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    f.add_done_callback(move |_| tx.send("first callback ran").unwrap());
    f.add_done_callback(|_| panic!("callback failed"));
    f.add_done_callback(move |_| tx2.send("third callback ran").unwrap());
    f.set_result(7)?;
    for line in rx.iter().take(2) {
        println!("  {line}");
    }
    // A callback added to a finished future runs at once, in this thread.
    f.add_done_callback(|f| println!("  late callback, at once: {:?}", f.result()));

    // 5. Cancelled is not an exception: `exception()` says Cancelled.
    let c = Future::<u8>::new();
    c.cancel();
    println!(
        "5. exception() of a cancelled future: {:?}",
        c.exception().map(|e| e.is_some())
    );

    // The pool survived every panic above.
    let ok = executor.submit(|| 40 + 2)?;
    println!(
        "the pool still works: {}",
        ok.result_timeout(Duration::from_secs(30))?
    );
    Ok(())
}
