//! `.await` on the futures of a `ThreadPoolExecutor` from a tokio runtime: blocking work runs on the pool, async code awaits it without blocking a runtime thread.
//!
//! Python's `await asyncio.wrap_future(executor.submit(fn))`, or
//! `loop.run_in_executor(executor, fn)`: here a `Future<T>` implements
//! `IntoFuture`, so `future.await` works in any async runtime and gives the
//! value by ownership (`Result<T, FutureError>`).

use concurrent_futures::{Future, FutureError, ThreadPoolExecutor};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn count_primes(lo: u64, hi: u64) -> usize {
    (lo..hi)
        .filter(|&n| {
            n >= 2
                && (2..)
                    .take_while(|d| d * d <= n)
                    .all(|d| !n.is_multiple_of(d))
        })
        .count()
}

fn sleep_then(d: Duration, s: &'static str) -> &'static str {
    thread::sleep(d);
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let n: u64 = if quick { 20_000 } else { 200_000 };
    let nap = Duration::from_millis(if quick { 50 } else { 300 });

    // Blocking and CPU work goes to the pool; the runtime has 2 threads.
    let pool = Arc::new(ThreadPoolExecutor::new(4)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    let start = Instant::now();

    rt.block_on(async {
        // 1. Submit, then await: no runtime thread blocks meanwhile.
        let primes = pool.submit(move || count_primes(0, n))?.await?;
        println!(
            "1. {primes} primes below {n}, awaited ({:?})",
            start.elapsed()
        );

        // 2. Await several at once: tokio::join! polls the three together.
        let t0 = Instant::now();
        let fa = pool.submit(move || sleep_then(nap, "a"))?;
        let fb = pool.submit(move || sleep_then(nap * 2, "b"))?;
        let fc = pool.submit(move || sleep_then(nap, "c"))?;
        let (a, b, c) = tokio::join!(fa, fb, fc);
        println!(
            "2. join! of tasks of {nap:?}, {:?} and {nap:?}: {:?} {:?} {:?} after {:?}",
            nap * 2,
            a?,
            b?,
            c?,
            t0.elapsed()
        );

        // 3. Many async tasks, each awaiting its own pool future; the
        //    runtime's two threads stay free for other async work.
        let mut handles = Vec::new();
        for i in 0..8u64 {
            let f = pool.submit(move || count_primes(i * n / 8, (i + 1) * n / 8))?;
            handles.push(tokio::spawn(async move { (i, f.await) }));
        }
        let ticker = tokio::spawn(async move {
            let mut ticks = 0;
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ticks += 1;
            }
            ticks
        });
        let mut total = 0;
        for h in handles {
            let (i, r) = h.await?;
            let count = r?;
            println!("   slice {i}: {count} primes");
            total += count;
        }
        let ticks = ticker.await?;
        println!("3. 8 async tasks awaited 8 pool futures: {total} primes in all");
        println!("   an async ticker ran {ticks} ticks meanwhile");

        // 4. A time limit from the runtime: `tokio::time::timeout` gives up
        //    on the await (the pool task itself runs on to its end).
        let slow = pool.submit(move || sleep_then(nap * 3, "slow"))?;
        match tokio::time::timeout(nap, slow).await {
            Ok(r) => println!("4. finished in time: {r:?}"),
            Err(_) => println!("4. not done within {nap:?}: gave up waiting"),
        }

        // 5. Cancelled and failed futures come back as errors.
        let blocker = pool.submit(move || thread::sleep(nap))?;
        let queued: Vec<Future<u8>> = (0..4)
            .map(|_| pool.submit(|| 1))
            .collect::<Result<_, _>>()?;
        let last = queued.into_iter().last().expect("four");
        let cancelled = last.cancel();
        match last.await {
            Err(FutureError::Cancelled) => {
                println!("5. cancel() = {cancelled}; await gives Cancelled");
            }
            other => println!("5. cancel() = {cancelled} (it had started); await gives {other:?}"),
        }
        let failing = pool.submit_fallible(|| "x".parse::<u32>())?;
        println!("   a task returning Err: {}", failing.await.unwrap_err());
        blocker.await?;

        // 6. Any Future, not only a pool's: one completed by a plain thread.
        let f = Future::new();
        let setter = f.clone();
        thread::spawn(move || {
            thread::sleep(nap);
            setter
                .set_result(String::from("set by a plain thread"))
                .expect("pending");
        });
        println!("6. {}", f.await?);
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    println!("done in {:?}", start.elapsed());
    Ok(())
}
