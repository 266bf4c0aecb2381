//! The executors of `concurrent-futures`: [`ThreadPoolExecutor`] (and, beside
//! it, the process pool), the [`Executor`] trait they share, `map` with
//! [`MapOptions`], and shutdown with Python's semantics.
//!
//! Most users depend on the `concurrent-futures` facade, which re-exports
//! this crate.
//!
//! # Modules
//!
//! * `error.rs` — [`SubmitError`], [`BuildError`];
//! * `executor.rs` — the [`Executor`] trait;
//! * `map.rs` — [`MapOptions`] and the [`Map`] iterator;
//! * [`process`] — [`ProcessPoolExecutor`] and `process::init()`.

mod error;
mod executor;
mod map;
#[cfg(target_os = "linux")]
pub mod process;

pub use error::{BuildError, SubmitError};
pub use executor::Executor;
pub use map::{Map, MapOptions};
#[cfg(target_os = "linux")]
pub use process::ProcessPoolExecutor;
