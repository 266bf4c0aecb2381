//! The same futures on a Slurm cluster.
//!
//! [`SlurmExecutor`] runs each task as a Slurm batch job (`sbatch`; `map`
//! as job arrays of chunks), with the argument, the result and the
//! executable in a folder every node sees. It implements
//! [`Executor`](concurrent_futures_pool::Executor), and its futures are the
//! pools' [`Future`](concurrent_futures_core::Future)s, so `wait` and
//! `as_completed` mix them with local ones. For many short tasks, run
//! process-pool workers on the cluster instead:
//! `ProcessPoolExecutor::builder().launcher(Launcher::srun())` (in
//! `concurrent_futures_pool::process::launcher`). `docs/cluster.md` says
//! which to use when, with the per-task costs measured side by side.
//!
//! `process::init()` must be the first line of `main`: a job is the same
//! program, and runs its task from there.
//!
//! # Examples
//!
//! ```no_run
//! use concurrent_futures::process;
//! use concurrent_futures::slurm::SlurmExecutor;
//!
//! fn heavy(n: u64) -> u64 {
//!     (0..n).map(|k| k * k % 7).sum()
//! }
//!
//! fn main() {
//!     process::init();
//!     let ex = SlurmExecutor::builder("/shared/scratch/cf").partition("debug").build().unwrap();
//!     let job = ex.submit_job(heavy, 1_000_000).unwrap();
//!     println!("job {}: {}", job.job_id(), job.future().result().unwrap());
//! }
//! ```

// The examples show `fn main` on purpose: `init()` must be its first line.
#![allow(clippy::needless_doctest_main)]

mod cli;
mod code;
mod executor;
mod reaper;
mod state;
mod worker;

pub use cli::{cluster_available, CommandOutput, SlurmCli, SystemCli};
pub use executor::{SlurmBuilder, SlurmExecutor, SlurmJob};
pub use state::{Phase, SlurmState};
