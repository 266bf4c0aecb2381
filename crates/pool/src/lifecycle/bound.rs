//! Backpressure: an optional bound on the tasks queued and not yet started
//! (`max_queued`), as Java's bounded work queues give it.
//!
//! A submitter reserves room *before* it enters the gate (so `shutdown`
//! never waits for a blocked submitter), and gives it back if the gate
//! refuses it; a worker gives it back when it takes the job, and so does
//! every job abandoned by `cancel_futures` or a break. The count is one
//! atomic word; the lock and condvar are touched only when the bound is
//! reached (a submitter blocks) or someone is blocked (a release wakes it).

use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::primitives::{AtomicUsize, Condvar, Mutex, Ordering};

/// How long a submitter may wait for room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Not at all (`try_submit`).
    No,
    /// Until there is room or the pool shuts down (`submit`).
    Forever,
    /// Until this instant (`submit_timeout`).
    Until(Instant),
    /// Never blocks, never refuses: takes room even past the bound (a task
    /// of the pool submitting to it, which must not wait for itself).
    Overdraw,
}

/// Why no room was reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// Full, and the caller would not wait.
    Full,
    /// Still full at the deadline.
    Timeout,
    /// The pool closed while the caller waited.
    Closed,
}

/// The bound on queued tasks.
#[derive(Debug)]
pub(crate) struct Bound {
    max: usize,
    queued: CachePadded<AtomicUsize>,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl Bound {
    pub(crate) fn new(max: usize) -> Self {
        Bound {
            max,
            queued: CachePadded::new(AtomicUsize::new(0)),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    fn try_take(&self) -> bool {
        let mut n = self.queued.load(Ordering::Relaxed);
        while n < self.max {
            match self
                .queued
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(m) => n = m,
            }
        }
        false
    }

    /// Reserves room for one task, waiting as `wait` says; `closed` is
    /// checked while waiting (shutdown wakes waiters through `wake_all`).
    pub(crate) fn reserve(&self, wait: Wait, closed: impl Fn() -> bool) -> Result<(), NoRoom> {
        if wait == Wait::Overdraw {
            self.queued.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        loop {
            if self.try_take() {
                return Ok(());
            }
            if wait == Wait::No {
                return Err(NoRoom::Full);
            }
            let mut g = self.lock.lock();
            self.waiters.fetch_add(1, Ordering::SeqCst);
            // Pairs with `release`: its decrement, then its load of
            // `waiters` (all SeqCst): either we see the room here, or it
            // sees us and notifies under the lock we hold until we wait.
            let outcome = loop {
                if closed() {
                    break Some(Err(NoRoom::Closed));
                }
                if self.queued.load(Ordering::SeqCst) < self.max {
                    break None;
                }
                match wait {
                    Wait::Until(d) => {
                        let now = Instant::now();
                        if now >= d {
                            break Some(Err(NoRoom::Timeout));
                        }
                        g = self.room.wait_timeout(g, d - now);
                    }
                    _ => g = self.room.wait(g),
                }
            };
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            drop(g);
            if let Some(r) = outcome {
                return r;
            }
        }
    }

    /// Gives one task's room back.
    pub(crate) fn release(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock();
            self.room.notify_all();
        }
    }

    /// Wakes every blocked submitter (shutdown, a break).
    pub(crate) fn wake_all(&self) {
        let _g = self.lock.lock();
        self.room.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn full_timeout_overdraw() {
        let b = Bound::new(1);
        assert_eq!(b.reserve(Wait::No, || false), Ok(()));
        assert_eq!(b.reserve(Wait::No, || false), Err(NoRoom::Full));
        let d = Instant::now() + Duration::from_millis(20);
        assert_eq!(b.reserve(Wait::Until(d), || false), Err(NoRoom::Timeout));
        assert!(Instant::now() >= d);
        assert_eq!(b.reserve(Wait::Forever, || true), Err(NoRoom::Closed));
        assert_eq!(b.reserve(Wait::Overdraw, || false), Ok(()));
        b.release();
        b.release();
        assert_eq!(b.reserve(Wait::No, || false), Ok(()));
    }

    #[test]
    fn a_release_wakes_a_blocked_submitter() {
        let b = std::sync::Arc::new(Bound::new(1));
        b.reserve(Wait::No, || false).unwrap();
        let b2 = b.clone();
        let t = std::thread::spawn(move || {
            b2.reserve(
                Wait::Until(Instant::now() + Duration::from_secs(20)),
                || false,
            )
        });
        std::thread::sleep(Duration::from_millis(10));
        b.release();
        assert_eq!(t.join().unwrap(), Ok(()));
    }
}
