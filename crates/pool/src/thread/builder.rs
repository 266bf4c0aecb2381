//! [`ThreadPoolBuilder`]: Python's `ThreadPoolExecutor(max_workers,
//! thread_name_prefix, initializer)` keyword arguments.

use std::fmt;
use std::sync::Arc;

use super::ThreadPoolExecutor;
use crate::error::BuildError;

/// Runs once in each worker thread, with its index, before it takes tasks.
#[derive(Clone)]
pub(crate) struct Initializer(Arc<dyn Fn(usize) -> Result<(), String> + Send + Sync>);

impl Initializer {
    /// Runs the initializer; a panic or an error is the failure's message.
    pub(crate) fn run(&self, index: usize) -> Result<(), String> {
        crate::lifecycle::contain(|| (self.0)(index))
            .unwrap_or_else(|msg| Err(format!("panicked: {msg}")))
    }
}

/// What `build` hands the pool.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) prefix: Option<String>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) max_queued: Option<usize>,
    pub(crate) initializer: Option<Initializer>,
}

impl Config {
    /// Python's defaults.
    pub(crate) fn python() -> Self {
        Config {
            max_workers: default_max_workers(),
            ..Config::default()
        }
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
/// use concurrent_futures::ThreadPoolExecutor;
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
    stack_size: Option<usize>,
    max_queued: Option<usize>,
    initializer: Option<Initializer>,
}

impl ThreadPoolBuilder {
    /// The smallest [`stack_size`](ThreadPoolBuilder::stack_size) a pool
    /// accepts: 64 KiB, twice what a debug build's workers were measured to
    /// need.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// let small = ThreadPoolBuilder::MIN_STACK_SIZE - 1;
    /// let refused = ThreadPoolBuilder::new().stack_size(small).build().unwrap_err();
    /// assert!(refused.to_string().contains("stack_size(65535)"));
    /// ThreadPoolBuilder::new()
    ///     .stack_size(ThreadPoolBuilder::MIN_STACK_SIZE)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub const MIN_STACK_SIZE: usize = 64 * 1024;

    /// A builder with Python's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolBuilder::new().build().unwrap();
    /// assert!(ex.max_workers() >= 5);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The most threads the pool starts (default `min(32, cpus + 4)`).
    /// Threads start lazily, one per submit that finds no idle worker, and
    /// nothing is allocated per possible worker: `max_workers(usize::MAX)`
    /// costs what the threads actually started cost.
    ///
    /// # Examples
    ///
    /// ```
    /// let ex = concurrent_futures::ThreadPoolExecutor::builder().max_workers(3).build().unwrap();
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
    /// let ex = concurrent_futures::ThreadPoolExecutor::builder()
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

    /// The stack size of each worker thread, in bytes (default: `std`'s,
    /// 2 MiB or `RUST_MIN_STACK`). Deeply recursive tasks need more.
    ///
    /// At least [`MIN_STACK_SIZE`](ThreadPoolBuilder::MIN_STACK_SIZE)
    /// (64 KiB): the pool's own code runs on each worker's stack, and the
    /// OS or the thread-local destructors of a debug build overflow one of
    /// 24 KiB or less (a segfault, not a panic), so
    /// [`build`](ThreadPoolBuilder::build) refuses a smaller size with
    /// [`BuildError::InvalidOption`], as Python's `threading.stack_size`
    /// refuses one under 32 KiB with `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// fn depth(n: u64) -> u64 {
    ///     let pad = std::hint::black_box([0u8; 512]);
    ///     if n == 0 { u64::from(pad[0]) } else { 1 + depth(n - 1) }
    /// }
    /// let ex = concurrent_futures::ThreadPoolExecutor::builder()
    ///     .stack_size(64 << 20)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(ex.submit(|| depth(20_000)).unwrap().into_result().unwrap(), 20_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Bounds the tasks queued and not yet started (backpressure, as a
    /// Java pool on a bounded queue): while `n` wait, `submit` blocks until
    /// one starts, [`try_submit`](ThreadPoolExecutor::try_submit) refuses at
    /// once with [`SubmitError::Full`](crate::SubmitError::Full) and
    /// [`submit_timeout`](ThreadPoolExecutor::submit_timeout) waits at most
    /// its timeout. `map` and `scope` submit through `submit`, so they wait
    /// too. `shutdown` wakes blocked submitters, which are then refused.
    /// A task of this pool that submits to it never blocks (it could be
    /// waiting for itself): it may go past the bound. Default: unbounded.
    ///
    /// # Errors
    ///
    /// `build` returns [`BuildError::InvalidOption`] for `max_queued(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let ex = ThreadPoolExecutor::builder().max_workers(2).max_queued(4).build().unwrap();
    /// // A producer faster than the pool waits instead of queueing a million tasks.
    /// let fs: Vec<_> = (0..100).map(|i| ex.submit(move || i).unwrap()).collect();
    /// assert!(ex.stats().queued <= 4);
    /// assert_eq!(fs.into_iter().map(|f| f.into_result().unwrap()).sum::<i32>(), 4950);
    /// ```
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
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
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::cell::Cell;
    ///
    /// thread_local!(static READY: Cell<bool> = const { Cell::new(false) });
    /// let ex = ThreadPoolExecutor::builder().initializer(|| READY.set(true)).build().unwrap();
    /// assert!(ex.submit(|| READY.get()).unwrap().into_result().unwrap());
    /// ```
    pub fn initializer(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Initializer(Arc::new(move |_| {
            f();
            Ok(())
        })));
        self
    }

    /// Like [`initializer`](ThreadPoolBuilder::initializer), given the
    /// worker's index (`0..max_workers`, the same as
    /// [`current_thread_index`](ThreadPoolExecutor::current_thread_index)):
    /// the place to set up per-worker state, such as a thread-local
    /// connection or scratch buffer that tasks then use without locking.
    /// A worker that replaces one that died gets the same index and runs
    /// the initializer again.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::cell::RefCell;
    ///
    /// thread_local!(static SCRATCH: RefCell<Option<(usize, Vec<u8>)>> = const { RefCell::new(None) });
    ///
    /// let ex = ThreadPoolExecutor::builder()
    ///     .max_workers(2)
    ///     .initializer_with_index(|i| SCRATCH.set(Some((i, Vec::with_capacity(1 << 16)))))
    ///     .build()
    ///     .unwrap();
    /// let f = ex.submit(|| {
    ///     SCRATCH.with_borrow_mut(|s| {
    ///         let (i, buf) = s.as_mut().expect("initialized");
    ///         buf.extend_from_slice(b"per-worker");
    ///         (*i, buf.len())
    ///     })
    /// });
    /// let (i, len) = f.unwrap().into_result().unwrap();
    /// assert!(i < 2 && len >= 10);
    /// ```
    pub fn initializer_with_index(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.initializer = Some(Initializer(Arc::new(move |i| {
            f(i);
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
    /// use concurrent_futures::ThreadPoolExecutor;
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
        self.initializer = Some(Initializer(Arc::new(move |_| {
            f().map_err(|e| e.to_string())
        })));
        self
    }

    /// Builds the pool. No thread starts until the first submit.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`] for `max_workers(0)`;
    /// [`BuildError::InvalidOption`] for a thread name prefix with a NUL
    /// byte (the OS cannot name a thread so) or `max_queued(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// assert!(ThreadPoolExecutor::builder().max_workers(0).build().unwrap_err().is_zero_workers());
    /// ```
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        let max_workers = self.max_workers.unwrap_or_else(default_max_workers);
        if max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if let Some(p) = self
            .thread_name_prefix
            .as_deref()
            .filter(|p| p.contains('\0'))
        {
            return Err(BuildError::InvalidOption(format!(
                "thread_name_prefix {p:?} contains a NUL byte"
            )));
        }
        if let Some(bytes) = self.stack_size.filter(|&b| b < Self::MIN_STACK_SIZE) {
            return Err(BuildError::InvalidOption(format!(
                "stack_size({bytes}) is below the {} bytes a worker needs \
                 (leave it unset for the default of 2 MiB)",
                Self::MIN_STACK_SIZE
            )));
        }
        if self.max_queued == Some(0) {
            return Err(BuildError::InvalidOption(
                "max_queued must be greater than 0".to_owned(),
            ));
        }
        Ok(ThreadPoolExecutor::from_config(Config {
            max_workers,
            prefix: self.thread_name_prefix,
            stack_size: self.stack_size,
            max_queued: self.max_queued,
            initializer: self.initializer,
        }))
    }
}
