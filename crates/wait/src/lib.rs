//! `wait` and `as_completed` over [`Future`](concurrent_futures_core::Future)s
//! from any executor, as Python's `concurrent.futures` has them, in linear
//! time and without hanging on cancelled futures.
//!
//! Most users reach these through the `concurrent-futures` facade
//! (`use concurrent_futures::{wait, as_completed, ReturnWhen};`).
//!
//! # A tour
//!
//! ```
//! use concurrent_futures_core::{Future, TaskError};
//! use concurrent_futures_wait::{as_completed, wait, wait_any, ReturnWhen};
//! use std::collections::HashMap;
//! use std::{thread, time::Duration};
//!
//! // Futures from any executor; here, made by hand and run on threads.
//! let pages: HashMap<Future<usize>, &str> = ["a.example", "b.example", "c.example"]
//!     .into_iter()
//!     .map(|url| {
//!         let f = Future::new();
//!         let g = f.clone();
//!         thread::spawn(move || g.run(|| url.len()));
//!         (f, url)
//!     })
//!     .collect();
//!
//! // Stream them as they complete; the map says which is which.
//! for f in as_completed(pages.keys(), Some(Duration::from_secs(10))) {
//!     let f = f.expect("every page within 10 s");
//!     println!("{} has {} bytes", pages[&f], f.result().unwrap());
//! }
//!
//! // Stop at the first failure.
//! let bad = Future::<usize>::new();
//! bad.set_exception(TaskError::panic("404")).unwrap();
//! let mut fs: Vec<Future<usize>> = pages.keys().cloned().collect();
//! fs.push(bad.clone());
//! let r = wait(&fs, None, ReturnWhen::FirstException);
//! assert!(r.done.contains(&bad));
//!
//! // Futures of different types together: positions come back.
//! let name = Future::<String>::new();
//! let r = wait_any(&[&bad, &name], Some(Duration::ZERO), ReturnWhen::AllCompleted);
//! assert_eq!((r.done, r.not_done), (vec![0], vec![1]));
//! ```
//!
//! # How it works
//!
//! Both functions plug one waiter into every future through the hook of
//! `concurrent-futures-core` ([`Waiter`](concurrent_futures_core::Waiter),
//! [`Waitable`](concurrent_futures_core::Waitable)); a future notifies it
//! once, under its own lock, when it completes. The protocol, the lock order
//! and why no wakeup is lost are written down in `src/README.md`.
//!
//! * `waiter.rs` — the waiters: `ALL_COMPLETED` (a countdown),
//!   `FIRST_COMPLETED`, `FIRST_EXCEPTION`, and the queue behind
//!   `as_completed`;
//! * `wait.rs` — [`wait`], [`wait_any`], [`ReturnWhen`], [`DoneAndNotDone`];
//! * `as_completed.rs` — [`as_completed`], [`as_completed_any`];
//! * `future_set.rs` — [`FutureSet`], the result sets' type, and its
//!   identity hasher [`IdHasher`];
//!
//! There is no `lock_order.rs`: no code here ever holds two futures' locks
//! at once (see the README), so there is no order among futures to keep.

// `unsafe` here: `unsafe impl Waiter` (waiter.rs), a promise about what
// `notify` does; and installing the waiter without a reference count
// (`waiter::install`), a promise to keep it alive until every future is done
// with it (src/README.md, "Freeing the waiter").
#![deny(unsafe_code)]
// Locks come from futures-core's shared primitives (clippy.toml).
#![cfg_attr(not(test), warn(clippy::disallowed_types))]

mod as_completed;
mod future_set;
mod wait;
mod waiter;

#[cfg(all(test, loom))]
mod loom_models;

pub use as_completed::{as_completed, as_completed_any, AsCompleted, AsCompletedAny};
pub use future_set::{BuildIdHasher, FutureSet, IdHasher};
pub use wait::{wait, wait_any, DoneAndNotDone, DoneAndNotDoneIndices, ReturnWhen};
