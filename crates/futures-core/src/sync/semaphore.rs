//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore`
//! and `threading.BoundedSemaphore`, plus an RAII [`SemaphoreGuard`].
//!
//! Protocol: the counter and the number of sleeping acquirers live under one
//! mutex. An acquirer takes a unit if the counter is positive, otherwise it
//! counts itself as a sleeper and waits. A release adds its units and,
//! after unlocking, wakes at most one sleeper per unit (Python's
//! `notify(n)`); the sleepers it counted were asleep before its change, and
//! any later one sees the new value before sleeping. A woken acquirer
//! always re-checks the counter before it gives up on its deadline, so a
//! wakeup that races with a timeout is never lost: whoever wakes takes the
//! unit if it is still there. Both types share that core; the bounded one
//! refuses, before changing anything, a release that would lift the counter
//! past its initial value.

use std::fmt;
use std::time::{Duration, Instant};

use super::{deadline, sleep_on, Sleep};
use crate::primitives::{Condvar, Mutex};

/// The shared core: a counter under a mutex, sleepers on a condvar.
struct Core {
    state: Mutex<Counter>,
    cond: Condvar,
    /// The initial value for a bounded semaphore, `None` for an unbounded one.
    bound: Option<usize>,
}

#[derive(Debug)]
struct Counter {
    value: usize,
    /// Acquirers asleep on `cond`; a release only notifies when some are.
    sleepers: usize,
}

impl Core {
    fn new(value: usize, bound: Option<usize>) -> Self {
        Core {
            state: Mutex::new(Counter { value, sleepers: 0 }),
            cond: Condvar::new(),
            bound,
        }
    }

    fn value(&self) -> usize {
        self.state.lock().value
    }

    fn try_acquire(&self) -> bool {
        let mut counter = self.state.lock();
        take(&mut counter)
    }

    /// Takes one unit, sleeping until one is released or `deadline` passes.
    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        let mut counter = self.state.lock();
        loop {
            if take(&mut counter) {
                return true;
            }
            let sleep = Sleep::until(deadline);
            if sleep == Sleep::TimedOut {
                return false;
            }
            counter.sleepers += 1;
            counter = sleep_on(&self.cond, counter, sleep);
            counter.sleepers -= 1;
        }
    }

    /// Adds `n` units and wakes up to `n` sleepers; refuses, changing
    /// nothing, past the bound.
    fn release_n(&self, n: usize) -> Result<(), ReleaseError> {
        let mut counter = self.state.lock();
        let value = counter.value;
        let new = value
            .checked_add(n)
            .filter(|&v| self.bound.is_none_or(|b| v <= b));
        let Some(new) = new else {
            let bound = self.bound.unwrap_or(usize::MAX);
            return Err(ReleaseError { value, bound, n });
        };
        counter.value = new;
        let wake = n.min(counter.sleepers);
        // Notify after unlocking, so woken threads do not block on our lock;
        // a thread that falls asleep after the unlock saw the new value.
        drop(counter);
        for _ in 0..wake {
            self.cond.notify_one();
        }
        Ok(())
    }
}

/// Takes a unit if there is one.
fn take(counter: &mut Counter) -> bool {
    if counter.value == 0 {
        return false;
    }
    counter.value -= 1;
    true
}

/// A counting semaphore: Python's `threading.Semaphore`.
///
/// It holds a counter of available units. [`acquire`](Semaphore::acquire)
/// takes one, blocking while the counter is zero;
/// [`release`](Semaphore::release) gives one back and wakes a waiter. Any
/// thread may release, whether or not it acquired, and releases may raise
/// the counter past its initial value (use [`BoundedSemaphore`] to catch
/// that). Waiters are not served in any particular order, as in Python.
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// // At most two of the eight threads are inside at once.
/// let sem = Semaphore::new(2);
/// let inside = AtomicUsize::new(0);
/// std::thread::scope(|s| {
///     for _ in 0..8 {
///         s.spawn(|| {
///             sem.acquire();
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             inside.fetch_sub(1, Ordering::SeqCst);
///             sem.release();
///         });
///     }
/// });
/// assert_eq!(sem.value(), 2);
/// ```
pub struct Semaphore {
    core: Core,
}

impl Semaphore {
    /// A semaphore whose counter starts at `value` (Python's
    /// `Semaphore(value)`; [`Default`] gives Python's default of 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(3);
    /// assert_eq!(sem.value(), 3);
    /// ```
    #[must_use]
    pub fn new(value: usize) -> Self {
        Semaphore {
            core: Core::new(value, None),
        }
    }

    /// Takes one unit, blocking until one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// sem.acquire();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn acquire(&self) {
        let taken = self.core.acquire_until(None);
        debug_assert!(taken, "an acquire without deadline gave up");
    }

    /// Takes one unit if one is available now, without blocking; returns
    /// whether it did (Python's `acquire(blocking=False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire());
    /// ```
    #[must_use = "true means a unit was taken and should be released"]
    pub fn try_acquire(&self) -> bool {
        self.core.try_acquire()
    }

    /// Takes one unit, blocking at most `timeout`; returns whether it did
    /// (Python's `acquire(timeout=t)`). `Duration::ZERO` polls; a timeout
    /// too large for a deadline waits without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(1);
    /// assert!(sem.acquire_timeout(Duration::ZERO));
    /// assert!(!sem.acquire_timeout(Duration::from_millis(10)));
    /// ```
    #[must_use = "true means a unit was taken and should be released"]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.core.acquire_until(deadline(timeout))
    }

    /// Gives one unit back and wakes one waiting thread, if any.
    ///
    /// # Panics
    ///
    /// If the counter would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(0);
    /// sem.release();
    /// sem.release(); // unbounded: the counter may grow past its start
    /// assert_eq!(sem.value(), 2);
    /// ```
    pub fn release(&self) {
        self.release_n(1);
    }

    /// Gives `n` units back and wakes up to `n` waiting threads (Python
    /// 3.9's `release(n)`). Unlike Python, `n == 0` is allowed and does
    /// nothing.
    ///
    /// # Panics
    ///
    /// If the counter would overflow `usize`; the counter is left unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(0);
    /// sem.release_n(3);
    /// assert_eq!(sem.value(), 3);
    /// ```
    pub fn release_n(&self, n: usize) {
        if let Err(e) = self.core.release_n(n) {
            panic!("{e}");
        }
    }

    /// Takes one unit, blocking until one is available, and returns a guard
    /// that gives it back when dropped (Python's `with sem:`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// {
    ///     let _guard = sem.acquire_guard();
    ///     assert!(!sem.try_acquire());
    /// }
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn acquire_guard(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        SemaphoreGuard { core: &self.core }
    }

    /// [`try_acquire`](Semaphore::try_acquire) with a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// let guard = sem.try_acquire_guard();
    /// assert!(guard.is_some());
    /// assert!(sem.try_acquire_guard().is_none());
    /// ```
    #[must_use = "dropping the guard releases the unit at once"]
    pub fn try_acquire_guard(&self) -> Option<SemaphoreGuard<'_>> {
        self.try_acquire()
            .then(|| SemaphoreGuard { core: &self.core })
    }

    /// [`acquire_timeout`](Semaphore::acquire_timeout) with a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(0);
    /// assert!(sem.acquire_guard_timeout(Duration::from_millis(5)).is_none());
    /// ```
    #[must_use = "dropping the guard releases the unit at once"]
    pub fn acquire_guard_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_timeout(timeout)
            .then(|| SemaphoreGuard { core: &self.core })
    }

    /// The counter now: how many units could be taken without blocking.
    /// Other threads may change it at any moment (Python shows it in the
    /// repr only).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// assert_eq!(Semaphore::new(5).value(), 5);
    /// ```
    #[must_use]
    pub fn value(&self) -> usize {
        self.core.value()
    }
}

impl Default for Semaphore {
    /// A semaphore with one unit, as Python's `Semaphore()`.
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Semaphore: value={}>", self.value())
    }
}

/// A semaphore that refuses to be released past its initial value: Python's
/// `threading.BoundedSemaphore`.
///
/// Such a release is almost always a bug (a unit released twice); it is
/// reported as a [`ReleaseError`] (Python's `ValueError`) and changes
/// nothing.
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::BoundedSemaphore;
///
/// let pool_slots = BoundedSemaphore::new(2);
/// pool_slots.acquire();
/// pool_slots.release().unwrap();
/// let err = pool_slots.release().unwrap_err();
/// assert_eq!(err.to_string(), "semaphore released too many times (value 2 of 2, releasing 1)");
/// ```
pub struct BoundedSemaphore {
    core: Core,
}

impl BoundedSemaphore {
    /// A bounded semaphore whose counter starts at, and may never exceed,
    /// `value` ([`Default`] gives Python's default of 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(3);
    /// assert_eq!((sem.value(), sem.bound()), (3, 3));
    /// ```
    #[must_use]
    pub fn new(value: usize) -> Self {
        BoundedSemaphore {
            core: Core::new(value, Some(value)),
        }
    }

    /// Takes one unit, blocking until one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// sem.acquire();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn acquire(&self) {
        let taken = self.core.acquire_until(None);
        debug_assert!(taken, "an acquire without deadline gave up");
    }

    /// Takes one unit if one is available now; returns whether it did
    /// (Python's `acquire(blocking=False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire());
    /// ```
    #[must_use = "true means a unit was taken and should be released"]
    pub fn try_acquire(&self) -> bool {
        self.core.try_acquire()
    }

    /// Takes one unit, blocking at most `timeout`; returns whether it did
    /// (Python's `acquire(timeout=t)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// use std::time::Duration;
    ///
    /// let sem = BoundedSemaphore::new(1);
    /// assert!(sem.acquire_timeout(Duration::MAX));
    /// assert!(!sem.acquire_timeout(Duration::ZERO));
    /// ```
    #[must_use = "true means a unit was taken and should be released"]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.core.acquire_until(deadline(timeout))
    }

    /// Gives one unit back and wakes one waiting thread, if any.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the counter is already at its initial value
    /// (Python's `ValueError`); nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// assert!(sem.release().is_err());
    /// sem.acquire();
    /// assert!(sem.release().is_ok());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.core.release_n(1)
    }

    /// Gives `n` units back and wakes up to `n` waiting threads (Python
    /// 3.9's `release(n)`). `n == 0` does nothing.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the counter would exceed its initial value;
    /// nothing changes (no unit is released).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(3);
    /// assert!(sem.try_acquire() && sem.try_acquire());
    /// assert!(sem.release_n(3).is_err());
    /// assert_eq!(sem.value(), 1);
    /// sem.release_n(2).unwrap();
    /// assert_eq!(sem.value(), 3);
    /// ```
    pub fn release_n(&self, n: usize) -> Result<(), ReleaseError> {
        self.core.release_n(n)
    }

    /// Takes one unit, blocking until one is available, and returns a guard
    /// that gives it back when dropped (Python's `with sem:`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// drop(sem.acquire_guard());
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn acquire_guard(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        SemaphoreGuard { core: &self.core }
    }

    /// [`try_acquire`](BoundedSemaphore::try_acquire) with a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// let _g = sem.try_acquire_guard().unwrap();
    /// assert!(sem.try_acquire_guard().is_none());
    /// ```
    #[must_use = "dropping the guard releases the unit at once"]
    pub fn try_acquire_guard(&self) -> Option<SemaphoreGuard<'_>> {
        self.try_acquire()
            .then(|| SemaphoreGuard { core: &self.core })
    }

    /// [`acquire_timeout`](BoundedSemaphore::acquire_timeout) with a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// use std::time::Duration;
    ///
    /// let sem = BoundedSemaphore::new(1);
    /// assert!(sem.acquire_guard_timeout(Duration::ZERO).is_some());
    /// ```
    #[must_use = "dropping the guard releases the unit at once"]
    pub fn acquire_guard_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_timeout(timeout)
            .then(|| SemaphoreGuard { core: &self.core })
    }

    /// The counter now (racy, as any snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// assert_eq!(BoundedSemaphore::new(4).value(), 4);
    /// ```
    #[must_use]
    pub fn value(&self) -> usize {
        self.core.value()
    }

    /// The initial value, which the counter may never exceed.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::BoundedSemaphore;
    /// assert_eq!(BoundedSemaphore::new(4).bound(), 4);
    /// ```
    #[must_use]
    pub fn bound(&self) -> usize {
        self.core.bound.unwrap_or(usize::MAX)
    }
}

impl Default for BoundedSemaphore {
    /// A bounded semaphore with one unit, as Python's `BoundedSemaphore()`.
    fn default() -> Self {
        BoundedSemaphore::new(1)
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<BoundedSemaphore: value={}/{}>",
            self.value(),
            self.bound()
        )
    }
}

/// One unit taken from a [`Semaphore`] or [`BoundedSemaphore`], given back
/// when the guard is dropped (also when unwinding from a panic).
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Semaphore;
///
/// let sem = Semaphore::new(1);
/// let guard = sem.acquire_guard();
/// assert_eq!(sem.value(), 0);
/// drop(guard);
/// assert_eq!(sem.value(), 1);
/// ```
#[must_use = "dropping the guard releases the unit at once"]
pub struct SemaphoreGuard<'a> {
    core: &'a Core,
}

impl SemaphoreGuard<'_> {
    /// Keeps the unit taken: the guard goes away without releasing it
    /// (a later [`Semaphore::release`] can give it back).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// sem.acquire_guard().forget();
    /// assert_eq!(sem.value(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        // A bounded semaphore refuses only if another thread released a unit
        // it never took while this guard held ours: that release already
        // gave our unit back, and the counter is at its bound.
        let _ = self.core.release_n(1);
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<SemaphoreGuard: value={}>", self.core.value())
    }
}

/// A release that would lift a semaphore's counter past its bound: Python's
/// `ValueError: Semaphore released too many times`.
///
/// For a [`BoundedSemaphore`] the bound is its initial value; for a
/// [`Semaphore`] it is `usize::MAX` (and [`Semaphore::release`] panics
/// instead of returning this).
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::BoundedSemaphore;
/// let sem = BoundedSemaphore::new(2);
/// sem.acquire();
/// let err = sem.release_n(2).unwrap_err();
/// assert_eq!((err.value(), err.bound(), err.releasing()), (1, 2, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReleaseError {
    value: usize,
    bound: usize,
    n: usize,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ReleaseError { value, bound, n } = self;
        write!(
            f,
            "semaphore released too many times (value {value} of {bound}, releasing {n})"
        )
    }
}

impl std::error::Error for ReleaseError {}

impl ReleaseError {
    /// The counter when the release was refused.
    #[must_use]
    pub fn value(&self) -> usize {
        self.value
    }

    /// The most the counter may hold.
    #[must_use]
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// How many units the refused release tried to give back.
    #[must_use]
    pub fn releasing(&self) -> usize {
        self.n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn debug_like_python_repr() {
        let s = Semaphore::new(3);
        assert_eq!(format!("{s:?}"), "<Semaphore: value=3>");
        let b = BoundedSemaphore::new(3);
        assert!(b.try_acquire());
        assert_eq!(format!("{b:?}"), "<BoundedSemaphore: value=2/3>");
        let g = b.acquire_guard();
        assert_eq!(format!("{g:?}"), "<SemaphoreGuard: value=1>");
    }

    #[test]
    fn release_wakes_no_more_than_sleepers() {
        let s = Semaphore::new(0);
        s.release_n(5);
        assert_eq!(s.core.state.lock().sleepers, 0);
        assert_eq!(s.value(), 5);
    }

    #[test]
    fn overflow_is_refused_unchanged() {
        let core = Core::new(usize::MAX, None);
        let err = core.release_n(1).unwrap_err();
        assert_eq!(
            (err.value(), err.bound(), err.releasing()),
            (usize::MAX, usize::MAX, 1)
        );
        assert_eq!(core.value(), usize::MAX);
    }
}
