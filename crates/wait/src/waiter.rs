//! The waiters that `wait` and `as_completed` install on every future they
//! watch, through `futures-core`'s [`Waiter`] hook.
//!
//! * [`Signal`] serves `wait`: a countdown of the futures not yet done (an
//!   atomic), a [`StopRule`] that may stop the wait before it reaches zero,
//!   and a condvar on which the waiting thread sleeps until it may return.
//!   The three rules are Python's `return_when` values: [`AllCompleted`]
//!   (the countdown alone), [`FirstCompleted`] (any completion) and
//!   [`FirstException`] (the first failure, or the countdown).
//! * [`Queue`] serves `as_completed`: a log of completed tokens in the order
//!   their notifies took a place in it, which the consumer reads in order.
//!
//! Every `notify` is O(1) and touches no future. A countdown `notify` is one
//! atomic decrement; only the one that stops the wait takes the waiter's
//! lock, to say so and wake the waiting thread. The queue's `notify` takes a
//! place with one `fetch_add` and writes its token there with one `swap`,
//! which tells it whether the consumer sleeps waiting for that place; only
//! then does it lock, to wake it. The log has a place for every token, so no
//! completion allocates. See `README.md` in this directory for the whole
//! protocol.

use std::sync::Arc;
use std::time::Instant;

use concurrent_futures_core::{Completion, Waitable, Waiter};

use concurrent_futures_core::__private::primitives::{
    backoff, AtomicBool, AtomicUsize, Condvar, Mutex, Nap, Ordering,
};

/// When a `wait` may return: when its countdown reaches zero, or earlier on
/// a completion the rule stops at.
pub(crate) trait StopRule: Send + Sync + 'static {
    /// Whether this completion stops the wait at once, whatever the count.
    fn stops_on(&self, how: Completion) -> bool;

    /// Where the countdown starts.
    fn start(&self) -> Start;
}

/// Where a [`Signal`]'s countdown starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// From the number of pending futures.
    At(usize),
    /// Unarmed: the number is given later, by [`Signal::arm`]; completions
    /// count below zero until then.
    Unarmed,
    /// No countdown: the rule alone stops the wait.
    Never,
}

/// `ALL_COMPLETED`: the countdown alone.
#[derive(Debug)]
pub(crate) struct AllCompleted {
    start: Start,
}

impl AllCompleted {
    /// A countdown from `pending`, the number of futures not yet done.
    pub(crate) fn new(pending: usize) -> Self {
        AllCompleted {
            start: Start::At(pending),
        }
    }

    /// A countdown whose start is given later, by [`Signal::arm`], once the
    /// futures have been installed on one by one.
    pub(crate) fn unarmed() -> Self {
        AllCompleted {
            start: Start::Unarmed,
        }
    }
}

impl StopRule for AllCompleted {
    fn stops_on(&self, _: Completion) -> bool {
        false
    }

    fn start(&self) -> Start {
        self.start
    }
}

/// `FIRST_COMPLETED`: any completion stops the wait.
#[derive(Debug)]
pub(crate) struct FirstCompleted;

impl StopRule for FirstCompleted {
    fn stops_on(&self, _: Completion) -> bool {
        true
    }

    fn start(&self) -> Start {
        Start::Never
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
    fn stops_on(&self, how: Completion) -> bool {
        how == Completion::Failed
    }

    fn start(&self) -> Start {
        self.all.start()
    }
}

/// The waiter of one `wait` call.
///
/// The countdown `left` is an atomic so that a completion that does not stop
/// the wait costs one decrement and nothing else: that decrement is the last
/// thing its `notify` does to the signal. The completion that stops the wait
/// takes the lock, sets `stop` (and `all`, if the count reached zero) and
/// wakes the waiting thread; a completion the rule stops at takes the lock
/// *before* it counts down, so that whoever sees `all` under the lock knows
/// that every `notify` is over (see `README.md`, "Freeing the waiter").
pub(crate) struct Signal<R> {
    rule: R,
    /// Futures still to record; wraps below zero while unarmed. Unused when
    /// the rule has no countdown.
    left: AtomicUsize,
    state: Mutex<SignalState>,
    cond: Condvar,
    /// Mirrors `state.stop`, so the installing thread can notice a stop
    /// without taking the lock: a `FIRST_COMPLETED` wait over many futures
    /// stops installing as soon as one completes.
    stopped: AtomicBool,
    canary: Canary,
}

struct SignalState {
    /// The wait may return; once set, stays set.
    stop: bool,
    /// The countdown reached zero: every watched future was recorded, and
    /// every `notify` is over.
    all: bool,
    /// The waiting thread sleeps on `cond` (so a `notify` must wake it).
    sleeping: bool,
}

impl<R: StopRule> Signal<R> {
    /// A waiter that stops as `rule` says.
    pub(crate) fn new(rule: R) -> Self {
        let left = match rule.start() {
            Start::At(n) => n,
            Start::Unarmed | Start::Never => 0,
        };
        let all = rule.start() == Start::At(0);
        Signal {
            rule,
            left: AtomicUsize::new(left),
            state: Mutex::new(SignalState {
                stop: all,
                all,
                sleeping: false,
            }),
            cond: Condvar::new(),
            stopped: AtomicBool::new(all),
            canary: Canary::default(),
        }
    }

    /// Whether the wait may stop. A hint only (the lock is not taken):
    /// `false` may be stale, `true` is final. Relaxed is enough because
    /// nothing is read on the strength of it; `wait` reads `stop` under the
    /// lock.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Records a completion; returns whether this one stopped the wait.
    /// Called by `notify`, and by the waiting thread itself for a future
    /// that turned out to be done when it tried to install the waiter on it.
    ///
    /// A completion that does not stop the wait touches the signal last with
    /// its decrement; one that stops it last with unlocking the lock.
    pub(crate) fn record(&self, how: Completion) -> bool {
        let counts = self.rule.start() != Start::Never;
        if self.rule.stops_on(how) {
            let mut g = self.state.lock();
            self.canary.check();
            // Counted under the lock: the `all` that a zero sets is then seen
            // only after this unlock.
            let zero = counts && self.count_down();
            self.stop(&mut g, zero);
            return true;
        }
        if counts && self.count_down() {
            let mut g = self.state.lock();
            self.canary.check();
            self.stop(&mut g, true);
            return true;
        }
        false
    }

    /// Counts one completion down; whether it brought the count to zero
    /// (only an armed count can: an unarmed one is at most zero). AcqRel:
    /// the decrement that reaches zero acquires every earlier one (an RMW
    /// chain), and with them their futures' completions, which it passes on
    /// through the lock to the waiting thread.
    fn count_down(&self) -> bool {
        self.left.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Under the lock: the wait may stop; `all`: every future was recorded.
    fn stop(&self, g: &mut SignalState, all: bool) {
        g.all |= all;
        if !g.stop {
            g.stop = true;
            self.stopped.store(true, Ordering::Relaxed);
            if g.sleeping {
                g.sleeping = false;
                self.cond.notify_one();
            }
        }
    }

    /// Whether every watched future has been recorded, and so every `notify`
    /// is over (none needs the waiter removed).
    pub(crate) fn all_recorded(&self) -> bool {
        self.state.lock().all
    }

    /// Blocks until the wait may stop (`true`) or `deadline` passes
    /// (`false`). `stop` is read and `sleeping` set under the lock that a
    /// stopping `record` takes, so a stop cannot slip in unseen between the
    /// check and the sleep.
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

    /// Starts an unarmed countdown: `installed` futures were installed on
    /// (each counts down once, in its notify). Returns whether the wait may
    /// stop already (all of them have notified, or the rule stopped it).
    pub(crate) fn arm(&self, installed: usize) -> bool {
        debug_assert_eq!(self.rule.start(), Start::Unarmed);
        // AcqRel, as `count_down`: this may be the step that reaches zero.
        let before = self.left.fetch_add(installed, Ordering::AcqRel);
        let mut g = self.state.lock();
        if before.wrapping_add(installed) == 0 {
            self.stop(&mut g, true);
        }
        g.stop
    }
}

// SAFETY: `notify` counts down an atomic and, if that stops the wait, takes
// this waiter's own lock to say so and signal the condvar; it calls into no
// future and runs no user code (`StopRule`s are the three rules above, none
// of which can panic).
#[allow(unsafe_code)]
unsafe impl<R: StopRule> Waiter for Signal<R> {
    fn notify(&self, _token: usize, how: Completion) {
        self.canary.check();
        self.record(how);
    }
}

/// The waiter behind `as_completed`: a log of the tokens of completed
/// futures, in the order their notifies took a place in it, read in that
/// order by the one consumer.
///
/// Lock-free on both sides while the consumer has something to read: a
/// notify takes the next place with one `fetch_add` and writes its token
/// there with one `swap`; the consumer reads its next place with a load.
/// Only a consumer that finds its place empty (after a short spin) parks,
/// by marking that place [`PARKED`] under the sleep lock; the notify whose
/// `swap` finds the mark is the one that wakes it, under the same lock.
/// See `README.md` in this directory, "The queue".
pub(crate) struct Queue {
    /// Place `i` holds the token of the `i`-th notify plus [`TOKEN_BASE`],
    /// [`EMPTY`] until that notify writes it, or [`PARKED`] while the
    /// consumer sleeps waiting for it. One place per watched future, so
    /// no notify allocates.
    log: Box<[AtomicUsize]>,
    /// The next place a notify takes; written by notifies only, so it sits
    /// on its own cache line, apart from the places the consumer reads.
    tail: Padded<AtomicUsize>,
    /// The consumer's sleep, and the places past the log's end.
    sleep: Mutex<Sleep>,
    cond: Condvar,
    canary: Canary,
}

/// What the queue keeps under its lock.
struct Sleep {
    /// The notify that found the consumer parked has said so.
    woken: bool,
    /// `(place, token)` of notifies past the log's end, which only a
    /// `Waitable` that breaks its contract (notifying an installation
    /// twice) makes: kept, so that its repeat cannot crowd out another
    /// future's token.
    overflow: Vec<(usize, usize)>,
}

/// A place not yet written.
const EMPTY: usize = 0;
/// A place the consumer sleeps waiting for.
const PARKED: usize = 1;
/// Tokens are stored plus this, apart from the two marks.
const TOKEN_BASE: usize = 2;

/// A value alone on its cache line (two lines: adjacent-line prefetch).
#[repr(align(128))]
struct Padded<T>(T);

impl Queue {
    /// A queue for at most `tokens` completions; it never reallocates.
    pub(crate) fn with_capacity(tokens: usize) -> Self {
        Queue {
            log: (0..tokens).map(|_| AtomicUsize::new(EMPTY)).collect(),
            tail: Padded(AtomicUsize::new(0)),
            sleep: Mutex::new(Sleep {
                woken: false,
                overflow: Vec::new(),
            }),
            cond: Condvar::new(),
            canary: Canary::default(),
        }
    }

    /// The token of the `place`-th completion (places are read in order,
    /// from 0, by one consumer), blocking until that notify has written it;
    /// `None` if `deadline` passed first. A place that is filled is read
    /// even after the deadline.
    pub(crate) fn take(&self, place: usize, deadline: Option<Instant>) -> Option<usize> {
        let Some(slot) = self.log.get(place) else {
            return self.take_overflow(place, deadline);
        };
        // Acquire: pairs with the notify's `swap`, so everything that notify
        // did to the queue comes before whatever the consumer does next
        // (freeing it, at the end).
        let filled = || {
            let v = slot.load(Ordering::Acquire);
            (v >= TOKEN_BASE).then(|| v - TOKEN_BASE)
        };
        if let Some(token) = filled() {
            return Some(token);
        }
        // Usually the notify is a moment away: spin before sleeping.
        if backoff(|| slot.load(Ordering::Relaxed) >= TOKEN_BASE) {
            return filled();
        }
        let mut g = self.sleep.lock();
        // Park on this place. Only this thread writes `PARKED`, so the
        // compare-and-swap fails only if the notify wrote its token first.
        if let Err(v) = slot.compare_exchange(EMPTY, PARKED, Ordering::Acquire, Ordering::Acquire) {
            return Some(v - TOKEN_BASE);
        }
        loop {
            if g.woken {
                // The notify that found the mark has unlocked (it set
                // `woken` under the lock this thread now holds): it is over.
                g.woken = false;
                return filled();
            }
            let Some(nap) = Nap::until(deadline) else {
                // Time is up. Take the mark back, unless a notify has
                // replaced it: that notify will lock and say so, soon (it
                // runs no user code), and must be waited for before the
                // queue may be freed.
                if slot
                    .compare_exchange(PARKED, EMPTY, Ordering::Acquire, Ordering::Acquire)
                    .is_ok()
                {
                    return None;
                }
                while !g.woken {
                    g = self.cond.wait(g);
                }
                g.woken = false;
                return filled();
            };
            g = self.cond.nap(g, nap);
        }
    }

    /// [`take`](Queue::take) for a place past the log's end (see
    /// [`Sleep::overflow`]); all under the lock, on a path that a `Waitable`
    /// keeping its contract never takes.
    #[cold]
    fn take_overflow(&self, place: usize, deadline: Option<Instant>) -> Option<usize> {
        let mut g = self.sleep.lock();
        loop {
            if let Some(i) = g.overflow.iter().position(|&(p, _)| p == place) {
                return Some(g.overflow.swap_remove(i).1);
            }
            g = self.cond.nap(g, Nap::until(deadline)?);
        }
    }
}

// SAFETY: `notify` takes a place in a log allocated up front (no
// allocation, no panic: there are as many places as tokens; only a
// `Waitable` that notifies twice goes past the end, onto a list under the
// queue's lock) and writes its token there; only if the
// consumer is parked there does it take the queue's own lock, to say so and
// signal the condvar. It calls into no future and runs no user code.
#[allow(unsafe_code)]
unsafe impl Waiter for Queue {
    fn notify(&self, token: usize, _how: Completion) {
        self.canary.check();
        // Relaxed: the count only hands out distinct places.
        let place = self.tail.0.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.log.get(place) else {
            // Only if a `Waitable` notified an installation twice: the
            // consumer skips the token it has yielded and reads on.
            let mut g = self.sleep.lock();
            self.canary.check();
            g.overflow.push((place, token));
            self.cond.notify_one();
            return;
        };
        // Release: publishes this notify's touches of the queue to the
        // consumer's Acquire read of the place. The last touch, unless the
        // consumer is parked here.
        let was = slot.swap(token + TOKEN_BASE, Ordering::AcqRel);
        if was == PARKED {
            let mut g = self.sleep.lock();
            self.canary.check();
            g.woken = true;
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
/// own synchronization (the last thing `notify` does to the waiter is the
/// step the caller sees: unlocking its lock in `Signal::record`; in
/// `Queue::notify`, the `swap` that writes the token, read with Acquire, or
/// unlocking the queue's lock after saying so, if the consumer was parked).
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
/// notify may still be on its way (a done word comes before the notify),
/// and `remove_waiter` waits for it, so
/// that the waiter may be freed afterwards. A future whose notify is over
/// (`NOTIFIED`) returns without locking.
pub(crate) fn uninstall<W: Waitable + ?Sized>(waiter: &Arc<dyn Waiter>, future: &W) {
    future.remove_waiter(waiter);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A deadline for waits that must return at once: a bug fails the
    /// test instead of hanging it.
    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(10))
    }

    #[test]
    fn all_completed_counts_down() {
        let s = Signal::new(AllCompleted::new(2));
        assert!(!s.record(Completion::Failed));
        assert!(!s.all_recorded() && !s.stopped());
        assert!(s.record(Completion::Cancelled));
        assert!(s.all_recorded() && s.wait(soon()));
    }

    #[test]
    fn first_exception_stops_on_failure_only() {
        let s = Signal::new(FirstException::new(3));
        assert!(!s.record(Completion::Cancelled));
        assert!(s.record(Completion::Failed));
        assert!(s.wait(soon()) && !s.all_recorded());
        let s = Signal::new(FirstException::new(2));
        assert!(!s.record(Completion::Finished));
        assert!(s.record(Completion::Cancelled));
        assert!(s.all_recorded());
    }

    #[test]
    fn an_unarmed_countdown_counts_below_zero_until_armed() {
        let s = Signal::new(AllCompleted::unarmed());
        assert!(!s.record(Completion::Finished));
        assert!(!s.record(Completion::Finished));
        assert!(!s.stopped());
        assert!(s.arm(2), "both notified before the arming");
        assert!(s.all_recorded());
        let s = Signal::new(AllCompleted::unarmed());
        assert!(!s.record(Completion::Finished));
        assert!(!s.arm(2));
        assert!(!s.wait(Some(Instant::now())));
        assert!(s.record(Completion::Cancelled));
        assert!(s.all_recorded() && s.wait(soon()));
    }

    #[test]
    fn signal_stops_once_and_stays_stopped() {
        let s = Signal::new(FirstCompleted);
        assert!(!s.wait(Some(Instant::now())));
        assert!(s.record(Completion::Finished));
        assert!(s.record(Completion::Finished));
        assert!(s.wait(soon()));
    }

    #[test]
    fn queue_hands_out_tokens_in_notify_order() {
        let q = Queue::with_capacity(3);
        assert_eq!(q.take(0, Some(Instant::now())), None);
        q.notify(2, Completion::Finished);
        q.notify(0, Completion::Cancelled);
        assert_eq!(q.take(0, None), Some(2));
        assert_eq!(
            q.take(1, Some(Instant::now())),
            Some(0),
            "filled: read after the deadline"
        );
        assert_eq!(q.take(2, Some(Instant::now())), None);
        q.notify(1, Completion::Failed);
        assert_eq!(q.take(2, Some(Instant::now())), Some(1));
    }

    #[test]
    fn queue_wakes_a_parked_consumer() {
        let q = Arc::new(Queue::with_capacity(2));
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            q2.notify(1, Completion::Finished);
            std::thread::sleep(std::time::Duration::from_millis(20));
            q2.notify(0, Completion::Finished);
        });
        let deadline = soon();
        assert_eq!(q.take(0, deadline), Some(1), "no token within 10 s");
        assert_eq!(q.take(1, deadline), Some(0), "no second token within 10 s");
        t.join().unwrap();
    }

    #[test]
    fn queue_timeout_takes_its_mark_back() {
        let q = Queue::with_capacity(1);
        let short = Some(Instant::now() + std::time::Duration::from_millis(5));
        assert_eq!(q.take(0, short), None);
        assert_eq!(q.log[0].load(Ordering::Relaxed), EMPTY);
        // A later notify finds no mark and wakes nobody.
        q.notify(0, Completion::Finished);
        assert!(!q.sleep.lock().woken);
        assert_eq!(q.take(0, None), Some(0));
    }
}
