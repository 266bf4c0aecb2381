//! Bank transfers between accounts on a thread pool: one lock per account, always taken in the same order, so crossed transfers never deadlock and no money is lost.
//!
//! Xiaoming and Xiaozhang, of a classic Python lesson on locks, pay each other back and forth: with a
//! lock per account, "lock mine, then lock yours" deadlocks when both pay
//! at once (each holds its own lock and waits for the other's). The usual
//! fix is to take the locks in one agreed order; here, by account number.
//! (Python's `RLock` variant has no place in Rust: a `MutexGuard` is
//! passed down instead of locking twice.)

use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Account {
    id: usize,
    owner: &'static str,
    balance: Mutex<i64>,
}

/// Locks both accounts, the lower id first, whatever the direction.
fn lock_pair<'a>(a: &'a Account, b: &'a Account) -> (MutexGuard<'a, i64>, MutexGuard<'a, i64>) {
    if a.id < b.id {
        let ga = a.balance.lock().unwrap();
        let gb = b.balance.lock().unwrap();
        (ga, gb)
    } else {
        let gb = b.balance.lock().unwrap();
        let ga = a.balance.lock().unwrap();
        (ga, gb)
    }
}

/// Moves `amount` from `from` to `to` if `from` has it; returns whether it did.
fn transfer(from: &Account, to: &Account, amount: i64) -> bool {
    let (mut f, mut t) = lock_pair(from, to);
    if *f < amount {
        return false;
    }
    *f -= amount;
    std::thread::yield_now(); // widen the window a naive order would deadlock in
    *t += amount;
    true
}

fn total(accounts: &[Arc<Account>]) -> i64 {
    accounts.iter().map(|a| *a.balance.lock().unwrap()).sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var_os("CF_EXAMPLE_QUICK").is_some();
    let rounds = if quick { 2_000 } else { 20_000 };
    let start = Instant::now();
    let accounts: Vec<Arc<Account>> = [("Xiaoming", 5000), ("Xiaozhang", 8000), ("Xiaozhou", 5000)]
        .into_iter()
        .enumerate()
        .map(|(id, (owner, balance))| {
            Arc::new(Account {
                id,
                owner,
                balance: Mutex::new(balance),
            })
        })
        .collect();
    let before = total(&accounts);
    for a in &accounts {
        println!("before: {} has {}", a.owner, a.balance.lock().unwrap());
    }

    // Six tasks pay back and forth in both directions at once, the
    // pattern that deadlocks with "my lock first".
    let executor = ThreadPoolExecutor::new(4)?;
    let pairs = [(0, 1), (1, 0), (1, 2), (2, 1), (2, 0), (0, 2)];
    let tasks: Vec<_> = pairs
        .iter()
        .map(|&(f, t)| {
            let (from, to) = (Arc::clone(&accounts[f]), Arc::clone(&accounts[t]));
            executor.submit(move || {
                let done = (0..rounds)
                    .filter(|i| transfer(&from, &to, 1 + i % 20))
                    .count();
                format!(
                    "{} -> {}: {done} of {rounds} transfers",
                    from.owner, to.owner
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let r = wait(
        &tasks,
        Some(Duration::from_secs(60)),
        ReturnWhen::AllCompleted,
    );
    assert!(
        r.not_done.is_empty(),
        "transfers still running after 60 s: a deadlock?"
    );
    for t in &tasks {
        println!("  {}", t.result()?);
    }
    for a in &accounts {
        println!("after:  {} has {}", a.owner, a.balance.lock().unwrap());
    }
    let after = total(&accounts);
    println!(
        "total before {before}, after {after}: {}",
        if before == after {
            "no money lost"
        } else {
            "MONEY LOST"
        }
    );
    println!("done in {:?}", start.elapsed());
    Ok(())
}
