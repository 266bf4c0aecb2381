//! [`ShutdownOptions`]: Python's `shutdown(wait=True, *, cancel_futures=False)`
//! with named arguments, so a call site says what it asks for.

#[cfg(all(target_os = "linux", feature = "process"))]
use crate::process::ProcessPoolExecutor;
use crate::thread::ThreadPoolExecutor;

/// How to shut a pool down, for `shutdown_with`: Python's keyword arguments
/// `wait` (default `true`) and `cancel_futures` (default `false`).
///
/// `ex.shutdown_with(ShutdownOptions::default())` is Python's
/// `ex.shutdown()` and what dropping the pool does;
/// `ShutdownOptions::default().cancel_futures(true)` is
/// `shutdown(cancel_futures=True)`; `ShutdownOptions::default().wait(false)`
/// is `shutdown(wait=False)`. `shutdown(wait, cancel_futures)` with two
/// booleans remains, under Python's name.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{ShutdownOptions, ThreadPoolExecutor};
/// use std::time::Duration;
///
/// let ex = ThreadPoolExecutor::new(1).unwrap();
/// let running = ex.submit(|| std::thread::sleep(Duration::from_millis(20))).unwrap();
/// let queued = ex.submit(|| 1).unwrap();
/// ex.shutdown_with(ShutdownOptions::default().cancel_futures(true));
/// assert!(running.done()); // waited for
/// assert!(queued.cancelled() || queued.done()); // cancelled unless already started
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "options do nothing until passed to shutdown_with"]
pub struct ShutdownOptions {
    wait: bool,
    cancel_futures: bool,
}

impl Default for ShutdownOptions {
    /// Python's defaults: wait, cancel nothing.
    fn default() -> Self {
        ShutdownOptions {
            wait: true,
            cancel_futures: false,
        }
    }
}

impl ShutdownOptions {
    /// The same as [`ShutdownOptions::default`]: wait, cancel nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = concurrent_futures::ShutdownOptions::new();
    /// assert!(o.get_wait() && !o.get_cancel_futures());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `shutdown_with` returns only once every accepted task is
    /// done and the workers are gone (`true`, the default), or at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = concurrent_futures::ShutdownOptions::default().wait(false);
    /// assert!(!o.get_wait());
    /// ```
    pub fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    /// Whether every task that has not started is cancelled (default
    /// `false`: queued tasks still run).
    ///
    /// # Examples
    ///
    /// ```
    /// let o = concurrent_futures::ShutdownOptions::default().cancel_futures(true);
    /// assert!(o.get_cancel_futures());
    /// ```
    pub fn cancel_futures(mut self, cancel_futures: bool) -> Self {
        self.cancel_futures = cancel_futures;
        self
    }

    /// See [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(concurrent_futures::ShutdownOptions::default().get_wait());
    /// ```
    #[must_use]
    pub fn get_wait(&self) -> bool {
        self.wait
    }

    /// See [`cancel_futures`](Self::cancel_futures).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!concurrent_futures::ShutdownOptions::default().get_cancel_futures());
    /// ```
    #[must_use]
    pub fn get_cancel_futures(&self) -> bool {
        self.cancel_futures
    }
}

impl ThreadPoolExecutor {
    /// [`shutdown`](Self::shutdown) with named options.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{ShutdownOptions, ThreadPoolExecutor};
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// let f = ex.submit(|| 6 * 7).unwrap();
    /// ex.shutdown_with(ShutdownOptions::default()); // waits, as Python's `shutdown()`
    /// assert_eq!(*f.result().unwrap(), 42);
    /// ```
    pub fn shutdown_with(&self, options: ShutdownOptions) {
        self.shutdown(options.wait, options.cancel_futures);
    }
}

#[cfg(all(target_os = "linux", feature = "process"))]
impl ProcessPoolExecutor {
    /// [`shutdown`](Self::shutdown) with named options.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use concurrent_futures::{process, ProcessPoolExecutor, ShutdownOptions};
    /// process::init();
    /// let ex = ProcessPoolExecutor::new(2).unwrap();
    /// ex.shutdown_with(ShutdownOptions::default().cancel_futures(true));
    /// ```
    pub fn shutdown_with(&self, options: ShutdownOptions) {
        self.shutdown(options.wait, options.cancel_futures);
    }
}
