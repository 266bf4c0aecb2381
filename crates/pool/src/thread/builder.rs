//! [`ThreadPoolBuilder`]: Python's `ThreadPoolExecutor(max_workers,
//! thread_name_prefix, initializer)` keyword arguments.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use concurrent_futures_core::TaskError;

use super::ThreadPoolExecutor;
use crate::error::BuildError;

/// Runs once in each worker thread before it takes tasks.
#[derive(Clone)]
pub(crate) struct Initializer(Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl Initializer {
    /// Runs the initializer; a panic or an error is the failure's message.
    pub(crate) fn run(&self) -> Result<(), String> {
        catch_unwind(AssertUnwindSafe(|| (self.0)())).unwrap_or_else(|payload| {
            let e = TaskError::from_panic(payload);
            Err(format!(
                "panicked: {}",
                e.panic_message().unwrap_or_default()
            ))
        })
    }
}

impl fmt::Debug for Initializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<closure>")
    }
}

/// Python's default worker count: `min(32, cpus + 4)`.
pub(crate) fn default_max_workers() -> usize {
    32.min(num_cpus::get() + 4)
}

/// Builds a [`ThreadPoolExecutor`]; made by [`ThreadPoolExecutor::builder`].
///
/// # Examples
///
/// ```
/// use concurrent_futures_pool::ThreadPoolExecutor;
///
/// let ex = ThreadPoolExecutor::builder()
///     .max_workers(2)
///     .thread_name_prefix("fetcher")
///     .initializer(|| println!("worker up"))
///     .build()
///     .unwrap();
/// let name = ex.submit(|| std::thread::current().name().unwrap().to_owned()).unwrap();
/// assert_eq!(name.into_result().unwrap(), "fetcher_0");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ThreadPoolBuilder {
    max_workers: Option<usize>,
    thread_name_prefix: Option<String>,
    initializer: Option<Initializer>,
}

impl ThreadPoolBuilder {
    /// A builder with Python's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures_pool::ThreadPoolBuilder::new().build().unwrap();
    /// assert!(ex.max_workers() >= 5);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The most threads the pool starts (default `min(32, cpus + 4)`).
    /// Threads start lazily, one per submit that finds no idle worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::builder().max_workers(3).build().unwrap();
    /// assert_eq!(ex.max_workers(), 3);
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Threads are named `{prefix}_{i}` (default prefix
    /// `ThreadPoolExecutor-{pool number}`, also taken for an empty prefix,
    /// as in Python).
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures_pool::ThreadPoolExecutor::builder()
    ///     .thread_name_prefix("io")
    ///     .build()
    ///     .unwrap();
    /// let n = ex.submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    /// assert_eq!(n.into_result().unwrap().as_deref(), Some("io_0"));
    /// ```
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = Some(prefix.into());
        self
    }

    /// Runs `f` in each worker thread before it takes tasks (Python's
    /// `initializer`). If it panics, the pool breaks: queued futures fail
    /// with a broken-executor [`TaskError`](concurrent_futures_core::TaskError)
    /// and later submits get [`SubmitError::Broken`](crate::SubmitError),
    /// both saying what the panic said.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_pool::ThreadPoolExecutor;
    /// use std::cell::Cell;
    ///
    /// thread_local!(static READY: Cell<bool> = const { Cell::new(false) });
    /// let ex = ThreadPoolExecutor::builder().initializer(|| READY.set(true)).build().unwrap();
    /// assert!(ex.submit(|| READY.get()).unwrap().into_result().unwrap());
    /// ```
    pub fn initializer(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Initializer(Arc::new(move || {
            f();
            Ok(())
        })));
        self
    }

    /// Like [`initializer`](ThreadPoolBuilder::initializer) for an
    /// initializer that can fail: `Err(e)` breaks the pool, and the broken
    /// errors carry `e`'s message.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_pool::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let ex = ThreadPoolExecutor::builder()
    ///     .try_initializer(|| Err::<(), _>("no database"))
    ///     .build()
    ///     .unwrap();
    /// let f = ex.submit(|| 1).unwrap();
    /// let err = f.exception_timeout(Duration::from_secs(10)).unwrap().unwrap();
    /// assert!(err.is_broken() && err.to_string().contains("no database"));
    /// ```
    pub fn try_initializer<E: fmt::Display>(
        mut self,
        f: impl Fn() -> Result<(), E> + Send + Sync + 'static,
    ) -> Self {
        self.initializer = Some(Initializer(Arc::new(move || {
            f().map_err(|e| e.to_string())
        })));
        self
    }

    /// Builds the pool. No thread starts until the first submit.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`] for `max_workers(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures_pool::ThreadPoolExecutor;
    /// assert!(ThreadPoolExecutor::builder().max_workers(0).build().unwrap_err().is_zero_workers());
    /// ```
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        let max_workers = self.max_workers.unwrap_or_else(default_max_workers);
        if max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        Ok(ThreadPoolExecutor::from_parts(
            max_workers,
            self.thread_name_prefix,
            self.initializer,
        ))
    }
}
