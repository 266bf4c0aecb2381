//! The executors of `concurrent-futures`: [`ThreadPoolExecutor`], the
//! [`Executor`] trait the pools share, `map` with [`MapOptions`], scoped
//! tasks, and shutdown with Python's semantics.
//!
//! Most users depend on the `concurrent-futures` facade, which re-exports
//! this crate.
//!
//! # A tour
//!
//! ```
//! use concurrent_futures_pool::{MapOptions, ThreadPoolExecutor};
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! let ex = ThreadPoolExecutor::new(4).unwrap();
//!
//! // submit: a future per task; futures key a map, as in Python.
//! let mut jobs = HashMap::new();
//! for url in ["a.example", "bb.example"] {
//!     jobs.insert(ex.submit(move || url.len()).unwrap(), url);
//! }
//! for (f, url) in &jobs {
//!     assert_eq!(*f.result_timeout(Duration::from_secs(10)).unwrap(), url.len());
//! }
//!
//! // map: results in input order, a timeout counted from the call.
//! let opts = MapOptions::default().timeout(Duration::from_secs(10));
//! let squares: Vec<u32> = ex.map_with(|x: u32| x * x, 1..4, opts).unwrap().into_result().unwrap();
//! assert_eq!(squares, [1, 4, 9]);
//!
//! // scope: tasks borrow from the stack.
//! let v = vec![1, 2, 3];
//! let sum = ex.scope(|s| s.submit(|| v.iter().sum::<i32>()).unwrap().into_result().unwrap());
//! assert_eq!(sum, 6);
//!
//! ex.shutdown(true, false); // also what dropping `ex` does
//! ```
//!
//! # Modules
//!
//! * `error.rs` — [`SubmitError`], [`BuildError`];
//! * `executor.rs` — the [`Executor`] trait;
//! * `map.rs` — [`MapOptions`] and the [`Map`] iterator;
//! * `work_item.rs` — a queued task: closure + future, one allocation;
//! * `lifecycle/` — what both pools share: admission (the gate that orders
//!   submits against shutdown), `cancel_futures`, breaking;
//! * `thread/` — [`ThreadPoolExecutor`], its queues, workers, sleep protocol
//!   (`thread/README.md`), [`ThreadPoolBuilder`], [`Scope`] and
//!   [`PoolStats`];
//! * `process/` — `ProcessPoolExecutor` and `process::init()` (Linux, the
//!   `process` feature, on by default).
//!
//! # Features
//!
//! * `process` (default): the process pool on Linux, and the [`Executor`]
//!   trait's `submit` and `map` (their serde bounds are the process pool's).
//!   Without it the crate builds no serde, codec or libc.
//! * `tracing`: `tracing` events of both pools (see
//!   `concurrent_futures_core::trace`) and diagnostics through `tracing`.

#![cfg_attr(docsrs, feature(doc_cfg))]
// std's locks poison and are invisible to loom: library code uses the
// shared ones (clippy.toml).
#![cfg_attr(not(test), warn(clippy::disallowed_types))]

mod error;
mod executor;
mod lifecycle;
mod map;
/// The workspace's std/loom switch and poison-free lock (futures-core's).
use concurrent_futures_core::__private::primitives;
#[cfg(all(target_os = "linux", feature = "process"))]
#[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "process"))))]
pub mod process;
mod shutdown_options;
mod thread;
mod work_item;

pub use error::{BuildError, ShutdownTimeout, SubmitError};
pub use executor::Executor;
pub use map::{Map, MapOptions};
#[cfg(all(target_os = "linux", feature = "process"))]
pub use process::{ProcessPoolBuilder, ProcessPoolExecutor};
pub use shutdown_options::ShutdownOptions;
pub use thread::{PoolStats, Scope, ThreadPoolBuilder, ThreadPoolExecutor};
