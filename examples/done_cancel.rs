//! `done()`, `cancel()`, `cancelled()`, `running()`: a queued task can be cancelled and never runs, a running one cannot; `shutdown_with(ShutdownOptions::default().cancel_futures(true))` cancels the queue.
//!
//! Python's classic example: a pool of one worker, two tasks; the second is still
//! queued when it is cancelled.

use concurrent_futures::{FutureError, FutureState, ShutdownOptions, ThreadPoolExecutor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let work = Duration::from_millis(if quick { 200 } else { 2000 });
    let bound = Duration::from_secs(30);

    // Python: with ThreadPoolExecutor(1) as executor:
    let executor = ThreadPoolExecutor::new(1)?;
    let test = move |name: &'static str, age: u32| {
        move || {
            println!("  [task] {name} {age}");
            thread::sleep(work);
            "test over"
        }
    };
    let future1 = executor.submit(test("Xiaoming", 23))?;
    let future2 = executor.submit(test("Xiaozhang", 25))?;
    while !future1.running() {
        thread::yield_now(); // until the one worker has taken task 1
    }

    println!(
        "task 1 done: {}, task 2 done: {}",
        future1.done(),
        future2.done()
    );
    println!(
        "task 1 state: {}, task 2 state: {}",
        future1.state(),
        future2.state()
    );
    println!("cancel task 2 (queued): {}", future2.cancel());
    println!("cancel task 1 (running): {}", future1.cancel());
    println!(
        "task 1 done: {}, task 2 done: {}",
        future1.done(),
        future2.done()
    );
    println!("task 2 cancelled: {}, {future2:?}", future2.cancelled());
    // Cancelling again still says true, as Python does.
    println!("cancel task 2 again: {}", future2.cancel());

    println!("task 1 result: {:?}", future1.result_timeout(bound)?);
    println!(
        "task 1 done: {}, task 2 done: {}",
        future1.done(),
        future2.done()
    );
    match future2.result() {
        Err(FutureError::Cancelled) => println!("task 2 result: cancelled (it never ran)"),
        other => println!("task 2 result: {other:?}"),
    }
    assert_eq!(future2.state(), FutureState::Cancelled);

    // shutdown(wait, cancel_futures = true): the queued tasks are cancelled,
    // the running one finishes.
    let ran = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..5)
        .map(|i| {
            let ran = Arc::clone(&ran);
            executor.submit(move || {
                thread::sleep(work / 4);
                ran.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect::<Result<_, _>>()?;
    while !futures.iter().any(|f| f.running()) {
        thread::yield_now();
    }
    executor.shutdown_with(ShutdownOptions::default().cancel_futures(true));
    let states: Vec<String> = futures.iter().map(|f| f.state().to_string()).collect();
    println!("after shutdown(wait = true, cancel_futures = true): {states:?}");
    println!(
        "{} of 5 tasks ran; {} were cancelled",
        ran.load(Ordering::SeqCst),
        futures.iter().filter(|f| f.cancelled()).count()
    );

    // A future made by hand: cancel before anyone runs it, and the task
    // given to `run` is skipped.
    let by_hand = concurrent_futures::Future::<u32>::new();
    println!("by hand: cancel = {}", by_hand.cancel());
    let ran = by_hand.run(|| unreachable!("a cancelled future never runs its task"));
    println!("by hand: run() ran the task: {ran}; {by_hand:?}");
    Ok(())
}
