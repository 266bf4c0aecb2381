//! Python's `concurrent.futures`, in Rust: [`Future`], executors, `wait` and
//! `as_completed`, and the `threading` primitives `std` lacks.
//!
//! This is the one dependency users add; it re-exports the workspace's
//! crates (`concurrent-futures-core`, `-pool`, `-wait`).
//!
//! # A tour
//!
//! Submit work to a pool and take results, in submission order or as they
//! complete, exactly as with Python's module:
//!
//! ```
//! use concurrent_futures::{as_completed, wait, Future, ReturnWhen, ShutdownOptions, ThreadPoolExecutor};
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! let ex = ThreadPoolExecutor::new(4)?; // ThreadPoolExecutor(max_workers=4)
//!
//! // submit + result: a `Future<T>` borrows (`result`) or takes (`into_result`).
//! let f = ex.submit(|| (1..=10u64).product::<u64>())?;
//! assert_eq!(*f.result_timeout(Duration::from_secs(10))?, 3_628_800);
//!
//! // map: results in input order; a failed item fails only its own place.
//! let halves: Vec<_> = ex.map(|x: u32| 100 / x, [1, 0, 4])?.collect();
//! assert_eq!(*halves[0].as_ref().unwrap(), 100);
//! assert!(halves[1].as_ref().unwrap_err().task_error().unwrap().is_panic());
//!
//! // as_completed over a map from futures to inputs (the spider pattern).
//! let jobs: HashMap<Future<usize>, &str> = ["a", "bb", "ccc"]
//!     .into_iter()
//!     .map(|w| Ok((ex.submit(move || w.len())?, w)))
//!     .collect::<Result<_, concurrent_futures::SubmitError>>()?;
//! for f in as_completed(jobs.keys(), Some(Duration::from_secs(10))) {
//!     let f = f?;
//!     assert_eq!(*f.result()?, jobs[&f].len());
//! }
//!
//! // wait: stop at the first failure, cancel what has not started.
//! let fs: Vec<_> = (0..8)
//!     .map(|i| ex.submit_fallible(move || if i == 2 { Err("bad") } else { Ok(i) }))
//!     .collect::<Result<_, _>>()?;
//! let r = wait(&fs, Some(Duration::from_secs(10)), ReturnWhen::FirstException);
//! assert!(r.done.iter().any(|f| f.exception().unwrap().is_some()));
//! r.not_done.iter().for_each(|f| { f.cancel(); });
//!
//! ex.shutdown_with(ShutdownOptions::default()); // wait, cancel nothing: what dropping it does
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `.await` works from any async runtime, and [`sync`] has Python's
//! `Event`, `Semaphore`, `BoundedSemaphore`, `Barrier` and `Timer`:
//!
//! ```
//! use concurrent_futures::{sync::Event, ThreadPoolExecutor};
//! use std::sync::Arc;
//!
//! let ex = ThreadPoolExecutor::new(2)?;
//! let go = Arc::new(Event::new());
//! let g = Arc::clone(&go);
//! let f = ex.submit(move || g.wait_timeout(std::time::Duration::from_secs(10)))?;
//! go.set();
//! # let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! # rt.block_on(async {
//! assert!(f.await.unwrap()); // `.await` the pool's future
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! CPU-bound work runs in worker processes that re-execute the program
//! (Linux); `process::init()` must be the first line of `main`:
//!
//! ```no_run
//! use concurrent_futures::{process, MapOptions, ProcessPoolExecutor};
//!
//! fn count_primes((lo, hi): (u64, u64)) -> usize {
//!     (lo..hi).filter(|&n| n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     process::init(); // in a worker process this serves tasks and never returns
//!     let ex = ProcessPoolExecutor::new(4)?;
//!     let ranges: Vec<(u64, u64)> = (0..100).map(|i| (i * 10_000, (i + 1) * 10_000)).collect();
//!     let total: usize = ex
//!         .map_with(count_primes, ranges, MapOptions::default().chunksize(10))?
//!         .sum::<Result<usize, _>>()?;
//!     println!("{total} primes below 1,000,000");
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! * `process` (default): the process pool on Linux ([`process`],
//!   `ProcessPoolExecutor`) and the [`Executor`] trait's plain-function
//!   `submit` and `map`, with their serde bounds. A thread-pool-only user
//!   turns it off (`default-features = false`) and builds no serde, codec or
//!   `syn`-based derive.
//! * `slurm` (default, needs `process`): [`slurm`], the `SlurmExecutor`
//!   that runs the same plain-function tasks as Slurm batch jobs.
//! * `tracing`: the pools' `tracing` events (target `concurrent_futures`:
//!   submit, start, finish, cancel; workers started, died, replaced) and the
//!   library's [`diagnostics`] (a panicking done-callback or `Timer`) as
//!   `ERROR` events when a subscriber takes them.
//!
//! # `Future` beside `std::future::Future`
//!
//! [`Future`] shares its name with the trait in Rust's prelude. In code that
//! also uses async Rust, import the crate under a short name and write
//! `cf::Future<T>`, so `dyn Future<Output = T>` keeps meaning std's trait:
//!
//! ```
//! use concurrent_futures as cf;
//!
//! fn first_done(fs: &[cf::Future<u32>]) -> Option<u32> {
//!     fs.iter().find(|f| f.done()).and_then(|f| f.result().ok().copied())
//! }
//!
//! let ex = cf::ThreadPoolExecutor::new(2)?;
//! let f = ex.submit(|| 5)?;
//! f.result()?;
//! assert_eq!(first_done(&[f]), Some(5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A `HashMap<cf::Future<T>, _>` trips clippy's `mutable_key_type` lint: a
//! future has interior mutability, but it hashes by identity, which never
//! changes. Allow the lint (`#![allow(clippy::mutable_key_type)]`) or list
//! `concurrent_futures_core::future::Future` under
//! `ignore-interior-mutability` in `clippy.toml`.
//!
//! The [migration guide](https://github.com/concurrent-futures/concurrent-futures/blob/main/docs/python-migration.md)
//! maps every Python name to ours; the
//! [architecture page](https://github.com/concurrent-futures/concurrent-futures/blob/main/docs/architecture.md)
//! explains how it works.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use concurrent_futures_core::{
    panic_message, BoxError, ClusterJobError, Completer, Completion, ExitCause, Future,
    FutureError, FutureState, InvalidStateError, NotUniqueError, Ran, RefResultFuture,
    ResultFuture, SharedError, Task, TaskError, TimeoutError, Waitable, Waiter,
};
pub use concurrent_futures_wait::{
    as_completed, as_completed_any, wait, wait_any, AsCompleted, AsCompletedAny, BuildIdHasher,
    DoneAndNotDone, DoneAndNotDoneIndices, FutureSet, IdHasher, ReturnWhen,
};

pub use concurrent_futures_pool::{
    BuildError, Executor, Map, MapOptions, PoolStats, Scope, ShutdownOptions, ShutdownTimeout,
    SubmitError, ThreadPoolBuilder, ThreadPoolExecutor,
};

pub use concurrent_futures_core::{diagnostics, trace};

/// Python's `threading` primitives `std` lacks: `Event`, `Semaphore`,
/// `BoundedSemaphore`, `Barrier`, `Timer`.
pub use concurrent_futures_core::sync;

/// The process pool: `process::init()` (first line of `main`),
/// [`ProcessPoolExecutor`] and its errors.
#[cfg(all(target_os = "linux", feature = "process"))]
#[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "process"))))]
pub use concurrent_futures_pool::process;
#[cfg(all(target_os = "linux", feature = "process"))]
#[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "process"))))]
pub use concurrent_futures_pool::{process_test_main, ProcessPoolBuilder, ProcessPoolExecutor};

/// The Slurm backends: [`SlurmExecutor`](slurm::SlurmExecutor) (batch jobs)
/// and its state table; process-pool workers on a cluster are
/// `process::launcher::Launcher::srun()`. See `docs/cluster.md`.
#[cfg(all(target_os = "linux", feature = "slurm"))]
#[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "slurm"))))]
pub use concurrent_futures_slurm as slurm;

/// The crate README's examples (its crates.io page), run as doctests so they
/// cannot rot. The repository's README and migration guide are doc-tested by
/// the workspace's root package, so this crate's tarball builds on its own.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
