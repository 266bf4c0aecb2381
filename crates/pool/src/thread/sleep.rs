//! Sleeping and waking workers; the protocol and its proof sketch are in
//! `README.md` beside this file.

use crate::primitives::{fence, AtomicUsize, Condvar, Mutex, Ordering};

/// Where idle workers sleep.
///
/// `sleepers` counts workers that announced they sleep and were not yet
/// handed a wake token; it changes only under `tokens`' lock but is read
/// without it by submitters (the fast path: no lock, no syscall when it is
/// zero). `tokens` counts wakeups handed out and not yet taken.
#[derive(Debug)]
pub(crate) struct Sleep {
    sleepers: AtomicUsize,
    tokens: Mutex<usize>,
    cond: Condvar,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            sleepers: AtomicUsize::new(0),
            tokens: Mutex::new(0),
            cond: Condvar::new(),
        }
    }

    /// Called after pushing a job: wakes one sleeping worker, if any.
    /// Returns whether it woke one. No lock, no syscall when nobody sleeps.
    /// (The pool's submit fences itself and calls
    /// [`wake_one_fenced`](Sleep::wake_one_fenced); this is the protocol's
    /// plain form, for its tests and models.)
    #[cfg(test)]
    pub(crate) fn wake_one(&self) -> bool {
        fence(Ordering::SeqCst);
        self.wake_one_fenced()
    }

    /// [`wake_one`](Sleep::wake_one) for a caller that issued the `SeqCst`
    /// fence itself, after its push (`Shared::push`, whose one fence also
    /// serves the admission gate's confirm).
    #[inline]
    pub(crate) fn wake_one_fenced(&self) -> bool {
        // Pairs with the fence in `sleep`: either this load sees the
        // sleeper's announcement, or the sleeper's check sees our job.
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.wake_one_sleeping()
    }

    /// `wake_one` when someone announced sleep (out of line: the submit
    /// that finds no sleeper stays short).
    #[cold]
    #[inline(never)]
    fn wake_one_sleeping(&self) -> bool {
        let mut tokens = self.tokens.lock();
        // Under the lock the count is exact: a worker that announced has
        // either left again (found work) or is blocked in `wait`.
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        *tokens += 1;
        drop(tokens);
        // Signal after unlocking, so the woken worker does not block at once
        // on `tokens`; it re-checks `tokens` under the lock before leaving.
        self.cond.notify_one();
        true
    }

    /// Wakes every sleeping worker (shutdown, a broken pool, a drained gate).
    pub(crate) fn wake_all(&self) {
        let mut tokens = self.tokens.lock();
        let n = self.sleepers.swap(0, Ordering::SeqCst);
        *tokens += n;
        self.cond.notify_all();
    }

    /// Sleeps until woken, unless `ready` (checked after announcing) says
    /// there is something to do. May return spuriously never: each return
    /// after blocking consumed one token.
    pub(crate) fn sleep(&self, ready: impl Fn() -> bool) {
        let mut tokens = self.tokens.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence in `wake_one` (Dekker): see README.md.
        fence(Ordering::SeqCst);
        if ready() {
            // No submitter took our announcement: that needs the lock.
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        while *tokens == 0 {
            tokens = self.cond.wait(tokens);
        }
        *tokens -= 1;
    }

    /// Workers asleep now (for `stats`).
    pub(crate) fn sleepers(&self) -> usize {
        self.sleepers.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ready_skips_sleep() {
        let s = Sleep::new();
        s.sleep(|| true);
        assert_eq!(s.sleepers(), 0);
        assert!(!s.wake_one());
    }

    #[test]
    fn wake_one_wakes_a_sleeper() {
        let s = std::sync::Arc::new(Sleep::new());
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.sleep(|| false));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !s.wake_one() {
            assert!(std::time::Instant::now() < deadline, "sleeper never slept");
            std::thread::yield_now();
        }
        t.join().unwrap();
        assert_eq!(s.sleepers(), 0);
    }
}
