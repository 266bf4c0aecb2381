//! [`PoolStats`]: a snapshot of a pool's counters.

/// A snapshot of a pool: its workers and what happened to its tasks.
///
/// The counters are read one after another without stopping the pool, so a
/// snapshot of a busy pool is approximate (a task may be seen neither queued
/// nor running while it moves); once the pool is idle or shut down they are
/// exact. Tasks that are never run count as `cancelled` (their future was
/// cancelled) or `failed` (the pool broke).
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let ex = ThreadPoolExecutor::new(2).unwrap();
/// ex.submit(|| 1).unwrap().into_result().unwrap();
/// ex.submit(|| -> i32 { panic!("x") }).unwrap().exception().unwrap();
/// ex.shutdown(true, false);
/// let s = ex.stats();
/// assert_eq!((s.completed, s.failed, s.cancelled), (1, 1, 0));
/// assert!(s.shutdown && !s.broken);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Worker threads alive.
    pub workers: usize,
    /// Workers with nothing to do (spinning or asleep).
    pub idle: usize,
    /// Workers asleep (blocked until woken).
    pub sleeping: usize,
    /// Tasks queued, not yet started.
    pub queued: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked or returned an error, or that failed because the
    /// pool broke.
    pub failed: u64,
    /// Tasks whose future was cancelled before they started.
    pub cancelled: u64,
    /// Whether `shutdown` began (or the pool broke).
    pub shutdown: bool,
    /// Whether the pool is broken.
    pub broken: bool,
}
