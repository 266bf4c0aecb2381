//! `executor.scope`: tasks that borrow from the caller's stack (slices, `&mut` chunks), all finished when `scope` returns, as `std::thread::scope` but on the pool's threads.
//!
//! Python's tasks can read any object; Rust's `submit` needs `'static`
//! closures, so borrowing a local `Vec` would not compile. Inside
//! `ex.scope(|s| ...)`, `s.submit` accepts closures that borrow, because
//! `scope` does not return before every one of its tasks is done.

use concurrent_futures::ThreadPoolExecutor;
use std::collections::HashMap;
use std::time::Instant;

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let n: u64 = if quick { 20_000 } else { 200_000 };
    let executor = ThreadPoolExecutor::new(4)?;
    let start = Instant::now();

    // 1. Read-only borrows: sum and count primes over chunks of a local Vec.
    let numbers: Vec<u64> = (1..=n).collect();
    let (sum, primes) =
        executor.scope(|s| -> Result<(u64, usize), Box<dyn std::error::Error>> {
            let size = numbers.len() / 4 + 1;
            let sums = numbers
                .chunks(size)
                .map(|c| s.submit(move || c.iter().sum::<u64>()))
                .collect::<Result<Vec<_>, _>>()?;
            let counts = numbers
                .chunks(size)
                .map(|c| s.submit(move || c.iter().filter(|&&x| is_prime(x)).count()))
                .collect::<Result<Vec<_>, _>>()?;
            let mut sum = 0;
            for f in sums {
                sum += f.into_result()?;
            }
            let mut primes = 0;
            for f in counts {
                primes += f.into_result()?;
            }
            Ok((sum, primes))
        })?;
    println!(
        "1. 1..={n}: sum {sum} (expected {}), {primes} primes, from 4 borrowed chunks",
        n * (n + 1) / 2
    );

    // 2. Mutable borrows: each task squares its own chunk in place; when
    //    `scope` returns, every chunk is done and the Vec is ours again.
    let mut values: Vec<u64> = (0..12).collect();
    executor.scope(|s| {
        for (i, chunk) in values.chunks_mut(3).enumerate() {
            // The future is not needed: `scope` waits for the task anyway.
            let _ = s.submit(move || {
                for v in chunk.iter_mut() {
                    *v *= *v;
                }
                println!(
                    "   task {i} squared its chunk on {}",
                    std::thread::current().name().unwrap_or("?")
                );
            });
        }
    });
    println!("2. squared in place: {values:?}");

    // 3. Word counts over borrowed lines, merged after the scope.
    let text = "the quick brown fox jumps over the lazy dog\n\
                the dog sleeps\n\
                a fox is quick and the dog is lazy";
    let lines: Vec<&str> = text.lines().collect();
    let partial: Vec<HashMap<&str, usize>> = executor.scope(|s| {
        let futures: Vec<_> = lines
            .iter()
            .map(|line| {
                s.submit(move || {
                    let mut m = HashMap::new();
                    for w in line.split_whitespace() {
                        *m.entry(w).or_insert(0) += 1;
                    }
                    m
                })
            })
            .collect::<Result<_, _>>()
            .expect("the pool is open");
        futures
            .into_iter()
            .filter_map(|f| f.into_result().ok())
            .collect()
    });
    let mut total: HashMap<&str, usize> = HashMap::new();
    for m in partial {
        for (w, c) in m {
            *total.entry(w).or_insert(0) += c;
        }
    }
    let mut top: Vec<(&str, usize)> = total.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("3. most frequent words: {:?}", &top[..4]);

    // 4. A panic in a scoped task stays in its future; the scope still
    //    waits for the others and returns.
    std::panic::set_hook(Box::new(|_| {
        eprintln!("   [panic hook] a scoped task panicked")
    }));
    let data = [1, 2, 0, 4];
    let results: Vec<String> = executor.scope(|s| {
        let fs: Vec<_> = data
            .iter()
            .map(|&d| s.submit(move || 100 / d).expect("the pool is open"))
            .collect();
        fs.into_iter()
            .map(|f| match f.into_result() {
                Ok(v) => v.to_string(),
                Err(e) => format!("({e})"),
            })
            .collect()
    });
    println!("4. 100 / {data:?} = {results:?}");
    println!("done in {:?}", start.elapsed());
    Ok(())
}
