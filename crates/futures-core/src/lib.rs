//! `Future<T>` with the semantics of Python's `concurrent.futures.Future`,
//! the waiter hook that `wait` and `as_completed` plug into, and the
//! synchronization primitives Python's `threading` has and `std` lacks.
//!
//! This is the foundation crate of the `concurrent-futures` workspace; most
//! users depend on the `concurrent-futures` facade, which re-exports it.
//!
//! # A tour
//!
//! ```
//! use concurrent_futures_core::{Future, FutureState};
//! use std::time::Duration;
//!
//! // An executor makes a future, hands a clone to a worker, returns the other.
//! let fut = Future::new();
//! let worker_side = fut.clone();
//! fut.add_done_callback(|f: &Future<u64>| println!("done: {:?}", f.state()));
//! let worker = std::thread::spawn(move || {
//!     worker_side.run(|| (1..=20u64).product::<u64>());
//! });
//!
//! // The caller blocks for the result, borrows it, or takes it.
//! assert_eq!(*fut.result_timeout(Duration::from_secs(10)).unwrap(), 2_432_902_008_176_640_000);
//! assert_eq!(fut.state(), FutureState::Finished);
//! worker.join().unwrap();
//! let owned: u64 = fut.into_result().unwrap();
//! assert_eq!(owned, 2_432_902_008_176_640_000);
//! ```
//!
//! # Modules
//!
//! * `state.rs` — [`FutureState`], the state word and the pure transitions;
//! * `cell.rs` — the task cell: one allocation holding the state word, the
//!   listener list, the outcome and the closure;
//! * `future.rs` — [`Future`]: the handle, every transition a swap of the
//!   state word, the lock taken only when someone listens;
//! * `task.rs` — [`Task`]: the executor's reference, run, cancel or fail;
//! * `callbacks.rs` — done-callbacks, run outside the lock;
//! * `waiter.rs` — [`Waiter`] and [`Waitable`], the hook for `wait`;
//! * `awaiting.rs` — `.await` support ([`ResultFuture`]);
//! * `error.rs` — [`FutureError`], [`TaskError`], [`InvalidStateError`];
//! * `recycle.rs` — per-thread free lists of cells (no malloc per task);
//! * `unwind.rs` — panic containment; `primitives.rs` — the std/loom switch;
//! * `sync/` — `Event`, `Semaphore`, `BoundedSemaphore`, `Barrier`, `Timer`;
//! * `diagnostics.rs` — [`diagnostics`]: panics no caller receives, to a hook, `tracing` or stderr;
//! * `trace.rs` — [`trace`]: the executors' `tracing` events (feature `tracing`).

// Library code locks through `primitives` (poison-free, seen by loom):
// clippy.toml's disallowed-types.
#![cfg_attr(not(test), warn(clippy::disallowed_types))]

mod awaiting;
mod callbacks;
mod cell;
mod completer;
pub mod diagnostics;
mod error;
mod future;
#[cfg(all(test, loom))]
mod loom_tests;
mod primitives;
mod recycle;
mod reentry;
mod state;
pub mod sync;
mod task;
pub mod trace;
mod unwind;
mod waiter;

pub use awaiting::{RefResultFuture, ResultFuture};
pub use completer::Completer;
pub use error::{
    BoxError, ClusterJobError, ExitCause, FutureError, InvalidStateError, NotUniqueError,
    SharedError, TaskError, TimeoutError,
};
pub use future::Future;
pub use state::FutureState;
pub use task::{Ran, Task};
pub use unwind::panic_message;
pub use waiter::{Completion, Waitable, Waiter};

/// Not public API: the std/loom switch, the poison-free lock and the panic
/// containment helpers, shared with the workspace's other crates so there is
/// one copy of each. May change in any release.
#[doc(hidden)]
pub mod __private {
    /// The std/loom switch and the poison-free `Mutex`/`Condvar`.
    pub mod primitives {
        pub use crate::primitives::*;
    }
    /// Catching panics, containing panicking drops, aborting on unwind.
    pub mod unwind {
        pub use crate::unwind::*;
    }
}
