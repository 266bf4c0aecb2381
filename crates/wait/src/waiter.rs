//! The waiters that `wait` and `as_completed` install on every future they
//! watch, through `futures-core`'s [`Waiter`] hook.
//!
//! * [`Signal`] serves `wait`: a [`StopRule`] under a lock, and a condvar on
//!   which the waiting thread sleeps until the rule says stop. The three rules
//!   are Python's `return_when` values: [`AllCompleted`] (a countdown),
//!   [`FirstCompleted`] (any completion) and [`FirstException`] (the first
//!   failure, or the countdown reaching zero).
//! * [`Queue`] serves `as_completed`: completed tokens in completion order,
//!   which the consumer takes all at once.
//!
//! Every `notify` is O(1): it locks the waiter (never a future), counts down
//! or pushes one token, and wakes the waiting thread only if it sleeps *and*
//! it has something to wake up for. The queue's buffers are allocated up
//! front for every token, so no completion allocates. See `README.md` in
//! this directory for the whole protocol.

use std::mem;
use std::sync::Arc;
use std::time::Instant;

use concurrent_futures_core::{Completion, Waitable, Waiter};

use concurrent_futures_core::__private::primitives::{AtomicBool, Condvar, Mutex, Nap, Ordering};

/// When a `wait` may return.
pub(crate) trait StopRule: Send + 'static {
    /// Records one completion of a future the wait watches (each watched
    /// future is recorded once); returns whether the wait may return now.
    fn record(&mut self, how: Completion) -> bool;

    /// Whether every watched future has been recorded (so each has notified
    /// and dropped the waiter, and none needs it removed).
    fn all_recorded(&self) -> bool;
}

/// `ALL_COMPLETED`: a countdown of the futures not done yet.
///
/// It may start unarmed, while the futures are being installed on one by
/// one and their number is not known yet: completions count below zero
/// until [`Signal::arm`] adds the number installed.
#[derive(Debug)]
pub(crate) struct AllCompleted {
    left: isize,
    armed: bool,
}

impl AllCompleted {
    /// A countdown from `pending`, the number of futures not yet done.
    pub(crate) fn new(pending: usize) -> Self {
        AllCompleted {
            left: pending as isize,
            armed: true,
        }
    }

    /// A countdown whose start is given later, by [`Signal::arm`].
    pub(crate) fn unarmed() -> Self {
        AllCompleted {
            left: 0,
            armed: false,
        }
    }
}

impl StopRule for AllCompleted {
    fn record(&mut self, _: Completion) -> bool {
        debug_assert!(!self.armed || self.left > 0, "a future was recorded twice");
        self.left -= 1;
        self.all_recorded()
    }

    fn all_recorded(&self) -> bool {
        self.armed && self.left == 0
    }
}

/// `FIRST_COMPLETED`: any completion stops the wait.
#[derive(Debug)]
pub(crate) struct FirstCompleted;

impl StopRule for FirstCompleted {
    fn record(&mut self, _: Completion) -> bool {
        true
    }

    fn all_recorded(&self) -> bool {
        false
    }
}

/// `FIRST_EXCEPTION`: the first failed future stops the wait; a cancelled or
/// successful one only counts down, so with no failure this is
/// `ALL_COMPLETED`.
#[derive(Debug)]
pub(crate) struct FirstException {
    all: AllCompleted,
}

impl FirstException {
    /// A countdown from `pending` that also stops on the first failure.
    pub(crate) fn new(pending: usize) -> Self {
        FirstException {
            all: AllCompleted::new(pending),
        }
    }
}

impl StopRule for FirstException {
    fn record(&mut self, how: Completion) -> bool {
        // Count down even on a failure, so the count stays exact.
        self.all.record(how) || how == Completion::Failed
    }

    fn all_recorded(&self) -> bool {
        self.all.all_recorded()
    }
}

/// The waiter of one `wait` call.
pub(crate) struct Signal<R> {
    state: Mutex<SignalState<R>>,
    cond: Condvar,
    /// Mirrors `state.stop`, so the installing thread can notice a stop
    /// without taking the lock: a `FIRST_COMPLETED` wait over many futures
    /// stops installing as soon as one completes.
    stopped: AtomicBool,
    canary: Canary,
}

struct SignalState<R> {
    rule: R,
    /// The rule said stop; once set, stays set.
    stop: bool,
    /// The waiting thread sleeps on `cond` (so a `notify` must wake it).
    sleeping: bool,
}

impl<R: StopRule> Signal<R> {
    /// A waiter that stops as `rule` says.
    pub(crate) fn new(rule: R) -> Self {
        Signal {
            state: Mutex::new(SignalState {
                rule,
                stop: false,
                sleeping: false,
            }),
            cond: Condvar::new(),
            stopped: AtomicBool::new(false),
            canary: Canary::default(),
        }
    }

    /// Whether the rule has said stop. A hint only (the lock is not taken):
    /// `false` may be stale, `true` is final. Relaxed is enough because
    /// nothing is read on the strength of it; `wait` reads `stop` under the
    /// lock.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Records a completion and returns whether the wait may stop. Called by
    /// `notify`, and by the waiting thread itself for a future that turned
    /// out to be done when it tried to install the waiter on it.
    pub(crate) fn record(&self, how: Completion) -> bool {
        let mut g = self.state.lock();
        if !g.stop && g.rule.record(how) {
            g.stop = true;
            self.stopped.store(true, Ordering::Relaxed);
            if g.sleeping {
                g.sleeping = false;
                self.cond.notify_one();
            }
        }
        g.stop
    }

    /// Whether the rule has recorded every watched future.
    pub(crate) fn all_recorded(&self) -> bool {
        self.state.lock().rule.all_recorded()
    }

    /// Blocks until the rule says stop (`true`) or `deadline` passes
    /// (`false`). `stop` is read and `sleeping` set under the lock that
    /// `record` takes, so a stop cannot slip in unseen between the check and
    /// the sleep.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut g = self.state.lock();
        loop {
            if g.stop {
                return true;
            }
            let Some(nap) = Nap::until(deadline) else {
                return false;
            };
            g.sleeping = true;
            g = self.cond.nap(g, nap);
            g.sleeping = false;
        }
    }
}

impl Signal<AllCompleted> {
    /// Starts an unarmed countdown: `installed` futures were installed on
    /// (each is counted down once, by its notify). Returns whether all of
    /// them have notified already.
    pub(crate) fn arm(&self, installed: usize) -> bool {
        let mut g = self.state.lock();
        debug_assert!(!g.rule.armed, "armed twice");
        g.rule.armed = true;
        g.rule.left += installed as isize;
        if g.rule.all_recorded() {
            g.stop = true;
            self.stopped.store(true, Ordering::Relaxed);
        }
        g.stop
    }
}

// SAFETY: `notify` takes only this waiter's own lock, for a countdown and a
// flag, and signals the condvar; it calls into no future and runs no user
// code (`StopRule`s are the three rules above, none of which can panic).
#[allow(unsafe_code)]
unsafe impl<R: StopRule> Waiter for Signal<R> {
    fn notify(&self, _token: usize, how: Completion) {
        self.canary.check();
        self.record(how);
    }
}

/// The waiter behind `as_completed`: tokens of completed futures, in the
/// order they completed.
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    cond: Condvar,
    canary: Canary,
}

struct QueueState {
    /// Completed tokens not yet taken. Allocated for every token up front.
    done: Vec<usize>,
    /// The consumer sleeps on `cond`.
    sleeping: bool,
}

impl Queue {
    /// A queue for at most `tokens` completions; it never reallocates.
    pub(crate) fn with_capacity(tokens: usize) -> Self {
        Queue {
            state: Mutex::new(QueueState {
                done: Vec::with_capacity(tokens),
                sleeping: false,
            }),
            cond: Condvar::new(),
            canary: Canary::default(),
        }
    }

    /// Moves every token completed since the last call into `into` (which
    /// must be empty), blocking until there is at least one; `false` if
    /// `deadline` passed first. The two buffers are swapped, not copied: one
    /// lock per batch, whatever the batch's size, and no allocation.
    pub(crate) fn take(&self, into: &mut Vec<usize>, deadline: Option<Instant>) -> bool {
        debug_assert!(into.is_empty());
        let mut g = self.state.lock();
        loop {
            if !g.done.is_empty() {
                mem::swap(&mut g.done, into);
                return true;
            }
            let Some(nap) = Nap::until(deadline) else {
                return false;
            };
            g.sleeping = true;
            g = self.cond.nap(g, nap);
            g.sleeping = false;
        }
    }
}

// SAFETY: `notify` takes only the queue's own lock to push a token into a
// buffer allocated up front (no allocation, no panic) and signals the
// condvar; it calls into no future and runs no user code.
#[allow(unsafe_code)]
unsafe impl Waiter for Queue {
    fn notify(&self, token: usize, _how: Completion) {
        self.canary.check();
        let mut g = self.state.lock();
        g.done.push(token);
        if g.sleeping {
            // One wake per sleep: the next pushes find `sleeping` false.
            g.sleeping = false;
            self.cond.notify_one();
        }
    }
}

/// The one reference that a `wait` or `as_completed` keeps to its waiter.
/// The futures hold plain pointers to it (installed with [`install`]), so
/// this must be dropped only after the waiter was uninstalled from every
/// future whose notify has not been seen ([`install`]'s contract); then
/// dropping it frees the waiter.
pub(crate) struct Held<W: Guarded> {
    /// The waiter, as its owner uses it.
    pub(crate) waiter: Arc<W>,
    /// The same object, as the hook takes it.
    pub(crate) hook: Arc<dyn Waiter>,
}

impl<W: Guarded> Held<W> {
    /// Holds `waiter`.
    pub(crate) fn new(waiter: W) -> Self {
        let waiter = Arc::new(waiter);
        Held {
            hook: waiter.clone(),
            waiter,
        }
    }
}

impl<W: Guarded> Drop for Held<W> {
    fn drop(&mut self) {
        self.waiter.canary().release(&self.hook);
    }
}

/// A waiter with a [`Canary`].
pub(crate) trait Guarded: Waiter + 'static {
    fn canary(&self) -> &Canary;
}

impl<R: StopRule> Guarded for Signal<R> {
    fn canary(&self) -> &Canary {
        &self.canary
    }
}

impl Guarded for Queue {
    fn canary(&self) -> &Canary {
        &self.canary
    }
}

/// Under loom, the proof that no notify reaches a waiter after its wait let
/// go of it (which would touch freed memory): [`Held`]'s drop marks the
/// waiter released and keeps it alive in a thread-local list, `notify`
/// records it if the mark is on (a panic there would be caught by the
/// future), and [`Canary::bury`] fails if one did. Without loom it is empty
/// and does nothing.
#[derive(Default)]
pub(crate) struct Canary {
    #[cfg(loom)]
    released: std::sync::atomic::AtomicBool,
}

/// A notify reached a released waiter (under loom).
#[cfg(loom)]
static LATE_NOTIFY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(loom)]
std::thread_local! {
    static KEPT: std::cell::RefCell<Vec<Arc<dyn Waiter>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Canary {
    /// Records (under loom) a notify of a released waiter.
    fn check(&self) {
        #[cfg(loom)]
        if self.released.load(std::sync::atomic::Ordering::SeqCst) {
            LATE_NOTIFY.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Marks the waiter released and (under loom) keeps `hook` alive.
    fn release(&self, hook: &Arc<dyn Waiter>) {
        #[cfg(loom)]
        {
            self.released
                .store(true, std::sync::atomic::Ordering::SeqCst);
            KEPT.with(|k| k.borrow_mut().push(hook.clone()));
        }
        let _ = hook;
    }

    /// Frees the waiters released on this thread so far (loom models call
    /// it once their threads are joined); fails if any was notified after
    /// its release.
    #[cfg(all(loom, test))]
    pub(crate) fn bury() {
        KEPT.with(|k| k.borrow_mut().clear());
        assert!(
            !LATE_NOTIFY.swap(false, std::sync::atomic::Ordering::SeqCst),
            "a notify reached a waiter after its wait let go of it"
        );
    }
}

/// Installs `waiter` on `future` with `token` without cloning it (no
/// reference count touched); returns the future's completion if it is done
/// (then nothing is installed).
///
/// # Safety
///
/// The caller keeps `waiter` alive until it has either [`uninstall`]ed it
/// from `future` or seen the notification of `token` through the waiter's
/// own lock (the last thing `notify` does to the waiter is unlocking it:
/// `Signal::record`, `Queue::notify`).
#[allow(unsafe_code)]
pub(crate) unsafe fn install<W: Waitable + ?Sized>(
    waiter: &Arc<dyn Waiter>,
    future: &W,
    token: usize,
) -> Option<Completion> {
    // SAFETY: the caller's contract is `install_waiter_unowned`'s.
    unsafe { future.install_waiter_unowned(waiter, token) }
}

/// Removes `waiter` from `future`. Even from a future that is done: its
/// notify may still be on its way (a done word comes before the notify,
/// which runs under the future's lock), and `remove_waiter` waits for it, so
/// that the waiter may be freed afterwards. A future whose notify is over
/// (`NOTIFIED`) returns without locking.
pub(crate) fn uninstall<W: Waitable + ?Sized>(waiter: &Arc<dyn Waiter>, future: &W) {
    future.remove_waiter(waiter);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn all_completed_counts_down() {
        let mut r = AllCompleted::new(2);
        assert!(!r.record(Completion::Failed));
        assert!(r.record(Completion::Cancelled));
    }

    #[test]
    fn first_exception_stops_on_failure_only() {
        let mut r = FirstException::new(3);
        assert!(!r.record(Completion::Cancelled));
        assert!(r.record(Completion::Failed));
        let mut r = FirstException::new(2);
        assert!(!r.record(Completion::Finished));
        assert!(r.record(Completion::Cancelled));
    }

    #[test]
    fn signal_stops_once_and_stays_stopped() {
        let s = Signal::new(FirstCompleted);
        assert!(!s.wait(Some(Instant::now())));
        assert!(s.record(Completion::Finished));
        assert!(s.record(Completion::Finished));
        assert!(s.wait(None));
    }

    #[test]
    fn queue_hands_over_batches_in_order() {
        let q = Queue::with_capacity(3);
        let mut got = Vec::with_capacity(3);
        assert!(!q.take(&mut got, Some(Instant::now())));
        q.notify(2, Completion::Finished);
        q.notify(0, Completion::Cancelled);
        assert!(q.take(&mut got, None));
        assert_eq!(got, [2, 0]);
        got.clear();
        q.notify(1, Completion::Failed);
        assert!(q.take(&mut got, Some(Instant::now())));
        assert_eq!(got, [1]);
    }

    #[test]
    fn queue_wakes_a_sleeping_consumer() {
        let q = Arc::new(Queue::with_capacity(1));
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            q2.notify(0, Completion::Finished);
        });
        let mut got = Vec::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        assert!(q.take(&mut got, Some(deadline)), "no token within 10 s");
        assert_eq!(got, [0]);
        t.join().unwrap();
    }
}
