//! Backpressure: an optional bound on the tasks queued and not yet started
//! (`max_queued`), as Java's bounded work queues give it.
//!
//! A submitter reserves room *before* it checks the gate, and gives it back
//! if the check refuses it; a worker gives it back when it takes the job,
//! and so does every job abandoned by `cancel_futures`, a break or a sweep
//! (a job revoked at its confirm keeps its room until one of those takes
//! it out of the queue). The count is one
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

/// One queued task in [`Bound`]'s word (bit 0 is [`WAITERS`]).
const ONE: usize = 2;
/// Set while a submitter may be blocked: the next release takes the lock
/// and notifies.
const WAITERS: usize = 1;

/// The bound on queued tasks.
#[derive(Debug)]
pub(crate) struct Bound {
    max: usize,
    /// Tasks holding room, times [`ONE`], plus the [`WAITERS`] bit: one
    /// word, so that a release learns whether to notify from its own RMW
    /// and a blocking submitter learns whether room appeared from the RMW
    /// that announces it (no Dekker pair of SeqCst loads).
    word: CachePadded<AtomicUsize>,
    lock: Mutex<()>,
    room: Condvar,
}

impl Bound {
    pub(crate) fn new(max: usize) -> Self {
        Bound {
            max,
            word: CachePadded::new(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The tasks that hold room now: every queued task holds one until a
    /// worker takes it, so this bounds the queue's true length.
    pub(crate) fn reserved(&self) -> usize {
        self.word.load(Ordering::Relaxed) / ONE
    }

    fn has_room(&self, word: usize) -> bool {
        word / ONE < self.max
    }

    fn try_take(&self) -> bool {
        let mut w = self.word.load(Ordering::Relaxed);
        while self.has_room(w) {
            match self
                .word
                .compare_exchange_weak(w, w + ONE, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
        false
    }

    /// Reserves room for one task, waiting as `wait` says; `closed` is
    /// checked while waiting (shutdown wakes waiters through `wake_all`).
    pub(crate) fn reserve(&self, wait: Wait, closed: impl Fn() -> bool) -> Result<(), NoRoom> {
        if wait == Wait::Overdraw {
            self.word.fetch_add(ONE, Ordering::AcqRel);
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
            loop {
                if closed() {
                    return Err(NoRoom::Closed);
                }
                // Announce under the lock. A release whose RMW comes after
                // this one sees the bit and notifies under the lock, which
                // we hold until we wait; one that comes before made room
                // that this RMW sees.
                let w = self.word.fetch_or(WAITERS, Ordering::AcqRel);
                if self.has_room(w) {
                    break;
                }
                match wait {
                    Wait::Until(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Err(NoRoom::Timeout);
                        }
                        g = self.room.wait_timeout(g, d - now);
                    }
                    _ => g = self.room.wait(g),
                }
            }
            drop(g);
        }
    }

    /// Gives one task's room back.
    pub(crate) fn release(&self) {
        let prev = self.word.fetch_sub(ONE, Ordering::AcqRel);
        if prev & WAITERS != 0 {
            self.wake_all();
        }
    }

    /// Wakes every blocked submitter (shutdown, a break, a release that
    /// saw the bit). The bit is cleared under the lock: a submitter still
    /// blocked after this sets it again before it waits again.
    pub(crate) fn wake_all(&self) {
        let _g = self.lock.lock();
        self.word.fetch_and(!WAITERS, Ordering::AcqRel);
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

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// A submitter blocked on a full queue is woken by the release that
    /// makes room (no lost wakeup between its check and its wait).
    #[test]
    fn loom_bound_release_wakes_a_blocked_submitter() {
        loom::model(|| {
            let b = Arc::new(Bound::new(1));
            b.reserve(Wait::No, || false).unwrap();
            let b2 = Arc::clone(&b);
            let t = thread::spawn(move || b2.reserve(Wait::Forever, || false));
            b.release();
            assert_eq!(t.join().unwrap(), Ok(()));
        });
    }

    /// Shutdown racing a blocked submitter: it either got room or saw the
    /// pool closed; it never sleeps for ever.
    #[test]
    fn loom_bound_shutdown_wakes_a_blocked_submitter() {
        loom::model(|| {
            let b = Arc::new(Bound::new(1));
            let closed = Arc::new(AtomicBool::new(false));
            b.reserve(Wait::No, || false).unwrap();
            let (b2, c2) = (Arc::clone(&b), Arc::clone(&closed));
            let t = thread::spawn(move || b2.reserve(Wait::Forever, || c2.load(Ordering::SeqCst)));
            closed.store(true, Ordering::SeqCst);
            b.wake_all();
            assert_eq!(t.join().unwrap(), Err(NoRoom::Closed));
        });
    }
}
