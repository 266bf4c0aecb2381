//! The [`Executor`] trait: what the thread and process pools share, so code
//! can be written against either (Python's `Executor` base class).

#[cfg(feature = "process")]
use concurrent_futures_core::Future;
#[cfg(feature = "process")]
use serde::{de::DeserializeOwned, Serialize};

#[cfg(feature = "process")]
use crate::error::SubmitError;
#[cfg(feature = "process")]
use crate::map::{Map, MapOptions};
use crate::shutdown_options::ShutdownOptions;

/// What every pool offers: submit a plain function with an argument, map a
/// plain function over an input, shut down.
///
/// The bounds are the process pool's (a plain `fn` pointer, serde types for
/// the argument and the result) so that one piece of code runs on either
/// pool. The thread pool's own [`submit`](crate::ThreadPoolExecutor::submit)
/// and [`map`](crate::ThreadPoolExecutor::map) take closures and need no
/// serde; on a concrete `ThreadPoolExecutor` the inherent methods win, so call
/// the trait's as `Executor::submit(&ex, f, arg)` there. `submit` and `map`
/// come with the `process` feature (on by default); without it the trait
/// has only the shutdown methods.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor};
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// // Written once, runs on a thread pool or a process pool.
/// fn sum_of_squares<E: Executor>(ex: &E, n: u64) -> u64 {
///     let one = Executor::submit(ex, square, 3).unwrap();
///     let rest = Executor::map(ex, square, 0..n, MapOptions::default()).unwrap();
///     one.into_result().unwrap() + rest.map(|r| r.unwrap()).sum::<u64>()
/// }
///
/// let ex = ThreadPoolExecutor::new(2).unwrap();
/// assert_eq!(sum_of_squares(&ex, 4), 9 + 14);
/// Executor::shutdown(&ex, true, false);
/// ```
pub trait Executor {
    /// Schedules `f(arg)` and returns its future (Python's
    /// `executor.submit(fn, arg)`).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] after `shutdown` began,
    /// [`SubmitError::Broken`] if the pool is broken,
    /// [`SubmitError::Serialize`] if a process pool cannot serialize `arg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// let ex = ThreadPoolExecutor::new(1).unwrap();
    /// let f = Executor::submit(&ex, u32::count_ones, 7).unwrap();
    /// assert_eq!(f.into_result().unwrap(), 3);
    /// ```
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static;

    /// Maps `f` over `iter` with `options`; results come back in input order
    /// (Python's `executor.map(fn, iterable, timeout=, chunksize=,
    /// buffersize=)`).
    ///
    /// # Errors
    ///
    /// The first submit error while submitting the input (or its first
    /// `buffersize` items); what was submitted before it is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor};
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// let m = Executor::map(&ex, u8::is_power_of_two, [3u8, 4], MapOptions::default()).unwrap();
    /// assert_eq!(m.into_result().unwrap(), [false, true]);
    /// ```
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    fn map<A, R, I>(
        &self,
        f: fn(A) -> R,
        iter: I,
        options: MapOptions,
    ) -> Result<Map<R>, SubmitError>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static;

    /// Stops accepting tasks; with `cancel_futures`, cancels every task that
    /// has not started; with `wait`, returns once every accepted task is done
    /// and the workers are gone. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// let ex = ThreadPoolExecutor::new(1).unwrap();
    /// Executor::shutdown(&ex, true, false);
    /// Executor::shutdown(&ex, true, false);
    /// ```
    fn shutdown(&self, wait: bool, cancel_futures: bool);

    /// [`shutdown`](Executor::shutdown) with named options.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Executor, ShutdownOptions, ThreadPoolExecutor};
    /// fn stop_now<E: Executor>(ex: &E) {
    ///     ex.shutdown_with(ShutdownOptions::default().cancel_futures(true));
    /// }
    /// stop_now(&ThreadPoolExecutor::new(1).unwrap());
    /// ```
    fn shutdown_with(&self, options: ShutdownOptions) {
        self.shutdown(options.get_wait(), options.get_cancel_futures());
    }
}
