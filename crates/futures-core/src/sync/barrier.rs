//! [`Barrier`]: Python's `threading.Barrier`, with its abort, reset, broken
//! state and timeouts.
//!
//! # Protocol
//!
//! One mutex holds the phase, `arrived` (the parties of the current round
//! inside `wait`) and `generation` (how many rounds were released). The
//! phases follow CPython's `Barrier` (its states 0, -1, -2), plus
//! `Tripping` for the time the action runs with the lock released. CPython's
//! "draining" state (1), in which a new round waits until every party of the
//! released one has woken up and left, is replaced by the generation
//! counter, as in `std::sync::Barrier` and Java's `CyclicBarrier`: the next
//! round can fill while the last one is still waking up.
//!
//! | phase       | meaning                                 | left for                                            |
//! |-------------|-----------------------------------------|-----------------------------------------------------|
//! | `Filling`   | parties arrive and sleep                | `Tripping` when the last arrives and there is an    |
//! |             |                                         | action (without one: a new round, still `Filling`); |
//! |             |                                         | `Broken` on a timeout or `abort`;                   |
//! |             |                                         | `Resetting` on `reset`                              |
//! | `Tripping`  | all arrived; the last runs the action   | a new round (`Filling`) when the action returns;    |
//! |             | with the lock released                  | `Broken` if it panicked, on `abort`, or when it     |
//! |             |                                         | returns after a newcomer timed out;                 |
//! |             |                                         | `Resetting` on `reset`                              |
//! | `Resetting` | `reset` broke the round; its parties    | `Filling` when the last of them has left (`Broken`  |
//! |             | leave with an error                     | if a newcomer timed out meanwhile)                  |
//! | `Broken`    | every waiter and newcomer gets an error | `Resetting` on `reset` (`Filling` if nobody is in)  |
//!
//! Why it is sound:
//!
//! * **Rounds never mix.** Releasing a round bumps `generation` and zeroes
//!   `arrived` under the mutex, in one step; a sleeper remembers the
//!   generation it arrived in, and passes as soon as it sees another. A
//!   newcomer waits while the barrier is `Tripping` (the action belongs to
//!   the round before it) or `Resetting` (the broken round's parties are
//!   still counted in `arrived`).
//! * **No release is lost.** Every change happens under the mutex and is
//!   followed by `notify_all` (for a release, right after unlocking);
//!   sleepers check the generation and phase under that mutex before each
//!   sleep, so one that sleeps after the change has already seen it.
//! * **A released round stays released.** The generation is checked before
//!   the phase, so a party of a released round passes even if an `abort` or
//!   `reset` came before it woke (CPython reports such a late waker as
//!   broken).
//! * **Distinct indices.** A party's index is `arrived` at its arrival, so
//!   the indices of a round are `0..parties`; the last to arrive gets
//!   `parties - 1` and runs the action.
//! * **Broken rounds are counted out.** A party that leaves with an error
//!   belongs to the current round (the generation did not move), so it
//!   takes itself out of `arrived`; the last one out of a `Resetting` round
//!   reopens the barrier.
//! * **Timeouts end at the trip.** A sleeper's deadline only applies while
//!   its round is `Filling`; once all parties are in, nobody can break it by
//!   timing out (in CPython the action runs under the lock, with the same
//!   effect).
//! * **A newcomer's timeout holds too.** A newcomer that arrives while the
//!   round before it trips or resets waits for that to end, but no longer
//!   than its deadline (CPython and Java wait without limit here, against
//!   our rule that a call waits only for its work and its timeout). Its
//!   timeout breaks the barrier as any other does, but not the round in
//!   progress, whose parties are all in: it sets `break_on_open`, and the
//!   barrier opens broken instead of `Filling`. A `reset` clears it.

use std::any::Any;
use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::{deadline, sleep_on, Sleep};
use crate::primitives::{Condvar, Mutex, MutexGuard};
use crate::reentry;

/// The action run by the last party to arrive, before the others are released.
type Action = Box<dyn Fn() + Send + Sync + 'static>;

/// A meeting point for a fixed number of threads: Python's
/// `threading.Barrier`.
///
/// Each of `parties` threads calls [`wait`](Barrier::wait); all block until
/// the last one arrives, then all are released together and the barrier is
/// ready for the next round. Each gets a distinct index in `0..parties`.
///
/// Unlike `std::sync::Barrier`, this one can break: a wait that times out,
/// an [`abort`](Barrier::abort), a [`reset`](Barrier::reset) or a panicking
/// action makes the waiters of that round return [`BrokenBarrierError`]
/// instead of hanging forever; [`reset`](Barrier::reset) makes it usable
/// again.
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Barrier;
/// use std::time::Duration;
///
/// let barrier = Barrier::new(3);
/// let mut indices: Vec<usize> = std::thread::scope(|s| {
///     let handles: Vec<_> = (0..3)
///         .map(|_| s.spawn(|| barrier.wait_timeout(Duration::from_secs(10)).unwrap()))
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
pub struct Barrier {
    state: Mutex<State>,
    cond: Condvar,
    parties: usize,
    action: Option<Action>,
    /// The timeout of [`Barrier::wait`] (Python's `timeout` argument).
    timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Filling,
    Tripping,
    Resetting,
    Broken,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Parties of the current round inside `wait`.
    arrived: usize,
    /// Bumped each time a round is released.
    generation: u64,
    /// A newcomer timed out while the round before it tripped or reset: the
    /// barrier opens `Broken` instead of `Filling`.
    break_on_open: bool,
}

impl State {
    /// The round in progress is over: the barrier takes a new one, or is
    /// broken if a newcomer timed out meanwhile. The caller notifies.
    fn open(&mut self) {
        self.phase = if mem::take(&mut self.break_on_open) {
            Phase::Broken
        } else {
            Phase::Filling
        };
    }
}

/// How one party's pass through the barrier ended, before it has left.
enum Pass {
    Released(usize),
    Broken,
    /// The action panicked in this party; resumed once it has left.
    ActionPanicked(Box<dyn Any + Send + 'static>),
}

impl Barrier {
    /// A barrier for `parties` threads.
    ///
    /// # Panics
    ///
    /// If `parties` is zero (Python raises `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// let b = Barrier::new(1);
    /// assert_eq!(b.wait(), Ok(0)); // one party: never blocks
    /// ```
    #[must_use]
    pub fn new(parties: usize) -> Self {
        Barrier::builder(parties).build()
    }

    /// A barrier for `parties` threads that runs `action` once per round,
    /// in the last thread to arrive, before any thread is released (Python's
    /// `Barrier(parties, action)`).
    ///
    /// The action runs with no lock held. If it panics the barrier breaks:
    /// the other waiters get [`BrokenBarrierError`] and the panic resumes in
    /// the thread that ran it.
    ///
    /// # Panics
    ///
    /// If `parties` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rounds = Arc::new(AtomicUsize::new(0));
    /// let r = Arc::clone(&rounds);
    /// let barrier = Barrier::with_action(2, move || {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// });
    /// std::thread::scope(|s| {
    ///     s.spawn(|| barrier.wait().unwrap());
    ///     barrier.wait().unwrap();
    ///     // Whoever is released sees the action done.
    ///     assert_eq!(rounds.load(Ordering::SeqCst), 1);
    /// });
    /// ```
    #[must_use]
    pub fn with_action(parties: usize, action: impl Fn() + Send + Sync + 'static) -> Self {
        Barrier::builder(parties).action(action).build()
    }

    /// A builder for a barrier with Python's other constructor arguments:
    /// an `action` and a default `timeout` for [`wait`](Barrier::wait).
    ///
    /// # Panics
    ///
    /// If `parties` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// use std::time::Duration;
    ///
    /// // Python: threading.Barrier(2, timeout=0.01)
    /// let b = Barrier::builder(2).timeout(Duration::from_millis(10)).build();
    /// assert!(b.wait().is_err()); // nobody came: timed out, broken
    /// assert!(b.broken());
    /// ```
    pub fn builder(parties: usize) -> BarrierBuilder {
        assert!(parties > 0, "a Barrier needs at least one party");
        BarrierBuilder {
            parties,
            action: None,
            timeout: None,
        }
    }

    /// Waits until all parties have called `wait`, then returns this
    /// thread's index, distinct for each party of the round, in
    /// `0..parties` (the last to arrive gets `parties - 1`).
    ///
    /// Waits without limit, unless the barrier was built with a default
    /// [`timeout`](BarrierBuilder::timeout), which then applies as in
    /// [`wait_timeout`](Barrier::wait_timeout).
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] if the barrier is broken when this thread
    /// arrives or breaks while it waits (an [`abort`](Barrier::abort), a
    /// [`reset`](Barrier::reset), another party's timeout, a panicking
    /// action).
    ///
    /// # Panics
    ///
    /// Resumes the action's panic in the thread that ran it. Panics if
    /// called from this barrier's own action, which runs while its round
    /// trips: it would wait for itself (and hold every party of the round)
    /// for ever. That panic is the action's: it breaks the round.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// let b = Barrier::new(2);
    /// std::thread::scope(|s| {
    ///     let other = s.spawn(|| b.wait());
    ///     let mine = b.wait().unwrap();
    ///     assert_eq!(mine + other.join().unwrap().unwrap(), 1);
    /// });
    /// ```
    pub fn wait(&self) -> Result<usize, BrokenBarrierError> {
        self.wait_until(self.timeout.and_then(deadline))
    }

    /// [`wait`](Barrier::wait), giving up after `timeout` (instead of any
    /// default timeout): a timeout breaks the barrier, so every party of the
    /// round gets the error (as in Python). Once all parties have arrived, a
    /// timeout no longer applies. A thread that arrives while the round
    /// before it is still running its action, or resetting, waits for that
    /// at most `timeout` too; if it gives up, that round is still released,
    /// and the barrier is broken after it (Python and Java wait without
    /// limit there).
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] as for [`wait`](Barrier::wait), and if the
    /// timeout passes first.
    ///
    /// # Panics
    ///
    /// Resumes the action's panic in the thread that ran it. Panics if
    /// called from this barrier's own action, which runs while its round
    /// trips: it would wait for itself (and hold every party of the round)
    /// for ever. That panic is the action's: it breaks the round.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// use std::time::Duration;
    ///
    /// let b = Barrier::new(2);
    /// assert!(b.wait_timeout(Duration::from_millis(10)).is_err());
    /// assert!(b.broken());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, BrokenBarrierError> {
        self.wait_until(deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<usize, BrokenBarrierError> {
        if reentry::inside(self.address()) {
            panic!("Barrier::wait called from the barrier's own action: it would wait for itself");
        }
        let mut state = self.enter(deadline)?;
        let index = state.arrived;
        state.arrived += 1;
        let tripper = index + 1 == self.parties;
        let (mut state, pass) = if tripper {
            self.trip(state, index)
        } else {
            self.sleep(state, index, deadline)
        };
        let released = matches!(pass, Pass::Released(_));
        if !released {
            self.leave_broken(&mut state);
        }
        drop(state);
        if tripper && released {
            // After unlocking, so the woken parties do not block on our
            // lock; sleepers check the generation under the lock before
            // sleeping, so none misses this.
            self.cond.notify_all();
        }
        match pass {
            Pass::Released(index) => Ok(index),
            Pass::Broken => Err(BrokenBarrierError::new()),
            Pass::ActionPanicked(payload) => panic::resume_unwind(payload),
        }
    }

    /// Waits out an action or a reset in progress, until `deadline`; fails
    /// if broken or if the deadline passes first (which breaks the barrier
    /// once the round in progress is over).
    fn enter(
        &self,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'_, State>, BrokenBarrierError> {
        let mut state = self.state.lock();
        while matches!(state.phase, Phase::Tripping | Phase::Resetting) {
            let sleep = Sleep::until(deadline);
            if sleep == Sleep::TimedOut {
                state.break_on_open = true;
                return Err(BrokenBarrierError::new());
            }
            state = sleep_on(&self.cond, state, sleep);
        }
        if state.phase == Phase::Broken {
            return Err(BrokenBarrierError::new());
        }
        debug_assert_eq!(state.phase, Phase::Filling);
        Ok(state)
    }

    /// The last arrival: runs the action, then releases the round.
    fn trip<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        index: usize,
    ) -> (MutexGuard<'a, State>, Pass) {
        if let Some(action) = &self.action {
            state.phase = Phase::Tripping;
            drop(state);
            let inside = reentry::enter(self.address());
            let ran = panic::catch_unwind(AssertUnwindSafe(action));
            drop(inside);
            state = self.state.lock();
            if let Err(payload) = ran {
                self.break_locked(&mut state);
                return (state, Pass::ActionPanicked(payload));
            }
            if state.phase != Phase::Tripping {
                // An abort or reset came while the action ran.
                return (state, Pass::Broken);
            }
        }
        state.open();
        state.arrived = 0;
        state.generation = state.generation.wrapping_add(1);
        // `wait_until` notifies once the lock is released.
        (state, Pass::Released(index))
    }

    /// This barrier's identity, for `reentry`.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// An early arrival: sleeps until the round is released or broken.
    fn sleep<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        index: usize,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, Pass) {
        let round = state.generation;
        loop {
            if state.generation != round {
                // Released, even if an abort or reset came before we woke.
                return (state, Pass::Released(index));
            }
            let sleep = match state.phase {
                Phase::Broken | Phase::Resetting => return (state, Pass::Broken),
                // Everyone has arrived: the deadline no longer applies.
                Phase::Tripping => Sleep::Forever,
                Phase::Filling => Sleep::until(deadline),
            };
            if sleep == Sleep::TimedOut {
                self.break_locked(&mut state);
                return (state, Pass::Broken);
            }
            state = sleep_on(&self.cond, state, sleep);
        }
    }

    /// A party of the current round leaves with an error; the last one out
    /// of a reset round reopens the barrier.
    fn leave_broken(&self, state: &mut State) {
        state.arrived -= 1;
        if state.arrived == 0 && state.phase == Phase::Resetting {
            state.open();
            self.cond.notify_all();
        }
    }

    fn break_locked(&self, state: &mut State) {
        state.phase = Phase::Broken;
        self.cond.notify_all();
    }

    /// Breaks the barrier: every thread waiting now, and every later
    /// [`wait`](Barrier::wait) until a [`reset`](Barrier::reset), gets
    /// [`BrokenBarrierError`]. Use it when one party cannot go on, so the
    /// others do not wait forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// let b = Barrier::new(2);
    /// b.abort();
    /// assert!(b.broken());
    /// assert!(b.wait().is_err());
    /// ```
    pub fn abort(&self) {
        let mut state = self.state.lock();
        self.break_locked(&mut state);
    }

    /// Returns the barrier to its empty, unbroken state. Threads waiting in
    /// the current round get [`BrokenBarrierError`]; once they have left,
    /// the barrier takes new rounds.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// let b = Barrier::new(1);
    /// b.abort();
    /// b.reset();
    /// assert!(!b.broken());
    /// assert_eq!(b.wait(), Ok(0));
    /// ```
    pub fn reset(&self) {
        let mut state = self.state.lock();
        // A newcomer's earlier timeout is reset with the rest.
        state.break_on_open = false;
        // With parties of the current round inside, they must leave (with
        // an error) before a new round may fill.
        state.phase = if state.arrived == 0 {
            Phase::Filling
        } else {
            Phase::Resetting
        };
        self.cond.notify_all();
    }

    /// Whether the barrier is broken (Python's `broken`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// assert!(!Barrier::new(3).broken());
    /// ```
    #[must_use]
    pub fn broken(&self) -> bool {
        self.state.lock().phase == Phase::Broken
    }

    /// How many threads are waiting in the current round (Python's
    /// `n_waiting`); 0 while a round is being released.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// assert_eq!(Barrier::new(3).n_waiting(), 0);
    /// ```
    #[must_use]
    pub fn n_waiting(&self) -> usize {
        let state = self.state.lock();
        if state.phase == Phase::Filling {
            state.arrived
        } else {
            0
        }
    }

    /// How many threads must call [`wait`](Barrier::wait) to pass (Python's
    /// `parties`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// assert_eq!(Barrier::new(3).parties(), 3);
    /// ```
    #[must_use]
    pub fn parties(&self) -> usize {
        self.parties
    }
}

/// Builds a [`Barrier`] with Python's optional constructor arguments
/// (`Barrier(parties, action=None, timeout=None)`); made by
/// [`Barrier::builder`].
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Barrier;
/// use std::time::Duration;
///
/// let b = Barrier::builder(1)
///     .action(|| println!("all here"))
///     .timeout(Duration::from_secs(10))
///     .build();
/// assert_eq!(b.wait(), Ok(0));
/// ```
#[must_use = "a builder does nothing until `build()`"]
pub struct BarrierBuilder {
    parties: usize,
    action: Option<Action>,
    timeout: Option<Duration>,
}

impl BarrierBuilder {
    /// Runs `action` once per round, in the last thread to arrive, before
    /// any thread is released (see [`Barrier::with_action`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// let b = Barrier::builder(1).action(|| println!("tripped")).build();
    /// b.wait().unwrap();
    /// ```
    pub fn action(mut self, action: impl Fn() + Send + Sync + 'static) -> Self {
        self.action = Some(Box::new(action));
        self
    }

    /// The timeout of every [`Barrier::wait`] (Python's `timeout`
    /// argument); [`Barrier::wait_timeout`] still uses its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// use std::time::Duration;
    ///
    /// let b = Barrier::builder(2).timeout(Duration::ZERO).build();
    /// assert!(b.wait().is_err());
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Barrier;
    /// assert_eq!(Barrier::builder(4).build().parties(), 4);
    /// ```
    #[must_use]
    pub fn build(self) -> Barrier {
        Barrier {
            state: Mutex::new(State {
                phase: Phase::Filling,
                arrived: 0,
                generation: 0,
                break_on_open: false,
            }),
            cond: Condvar::new(),
            parties: self.parties,
            action: self.action,
            timeout: self.timeout,
        }
    }
}

impl fmt::Debug for BarrierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierBuilder")
            .field("parties", &self.parties)
            .field("action", &self.action.as_ref().map(|_| "<closure>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        let action = if self.action.is_some() {
            " action=<closure>"
        } else {
            ""
        };
        match state.phase {
            Phase::Broken => write!(f, "<Barrier: broken{action}>"),
            Phase::Filling => write!(
                f,
                "<Barrier: waiters={}/{}{action}>",
                state.arrived, self.parties
            ),
            _ => write!(f, "<Barrier: waiters=0/{}{action}>", self.parties),
        }
    }
}

/// A [`Barrier`] was broken (aborted, reset, timed out, or its action
/// panicked) while or before this thread waited: Python's
/// `threading.BrokenBarrierError`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Barrier;
/// let b = Barrier::new(2);
/// b.abort();
/// assert_eq!(b.wait().unwrap_err().to_string(), "barrier is broken");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BrokenBarrierError {}

impl fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("barrier is broken")
    }
}

impl std::error::Error for BrokenBarrierError {}

impl BrokenBarrierError {
    fn new() -> Self {
        BrokenBarrierError {}
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn debug_like_python_repr() {
        let b = Barrier::new(3);
        assert_eq!(format!("{b:?}"), "<Barrier: waiters=0/3>");
        b.abort();
        assert_eq!(format!("{b:?}"), "<Barrier: broken>");
        let a = Barrier::with_action(2, || {});
        assert_eq!(format!("{a:?}"), "<Barrier: waiters=0/2 action=<closure>>");
    }

    #[test]
    fn reset_with_nobody_inside_fills() {
        let b = Barrier::new(2);
        b.abort();
        b.reset();
        assert_eq!(b.state.lock().phase, Phase::Filling);
    }
}
