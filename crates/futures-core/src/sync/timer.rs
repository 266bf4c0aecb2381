//! [`Timer`]: Python's `threading.Timer`, a function run once on its own
//! thread after an interval unless cancelled first.
//!
//! Protocol: the phase lives under one mutex. The timer's thread sleeps on
//! the condvar until its deadline, then moves `Waiting → Running` under the
//! mutex and runs the function with the lock released; `cancel()` moves
//! `Waiting → Cancelled` under the same mutex. Exactly one of the two
//! transitions wins, so `cancel()` returning `true` means the function never
//! runs, and `false` means it has run, is running, or the timer was already
//! cancelled. The function runs under `catch_unwind`: a panic is reported on
//! stderr and kept for [`Timer::join`], and poisons nothing.

use std::fmt;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

use super::{deadline, sleep_on, Sleep};
use crate::diagnostics::{diagnose, DiagnosticKind};
use crate::error::TaskError;
use crate::primitives::{Arc, Condvar, Mutex};
use crate::reentry;
use crate::unwind;

/// A function that runs once on its own thread after an interval, unless
/// [`cancel`](Timer::cancel)led first: Python's `threading.Timer`, started.
///
/// Handles are cheap to clone and may be used from any thread. Dropping
/// every handle does not cancel the timer (as dropping a
/// `std::thread::JoinHandle` detaches its thread).
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Timer;
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let timer = Timer::start(Duration::from_millis(10), move || tx.send("ding").unwrap());
/// assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("ding"));
/// assert!(!timer.cancel()); // too late: it ran
///
/// let never = Timer::start(Duration::from_secs(3600), || unreachable!());
/// assert!(never.cancel());
/// assert!(matches!(never.join(), Ok(false)));
/// ```
///
/// The function runs on another thread, so what it captures must be `Send`:
///
/// ```compile_fail
/// use concurrent_futures::sync::Timer;
/// use std::rc::Rc;
///
/// let not_send = Rc::new(1);
/// let t = Timer::start(std::time::Duration::ZERO, move || drop(not_send));
/// ```
#[derive(Clone)]
pub struct Timer {
    shared: Arc<Shared>,
    interval: Duration,
}

struct Shared {
    phase: Mutex<Phase>,
    cond: Condvar,
}

#[derive(Debug)]
enum Phase {
    /// Sleeping until the deadline.
    Waiting,
    /// The function is running.
    Running,
    /// Cancelled; the thread has yet to drop the function.
    Cancelled,
    /// The thread is done: `Ok(true)` ran, `Ok(false)` cancelled, `Err`
    /// panicked.
    Done(Result<bool, TaskError>),
}

impl Timer {
    /// Starts a timer: after `interval`, `f` runs once on a new thread,
    /// unless [`cancel`](Timer::cancel) came first. `Duration::ZERO` runs it
    /// at once; an interval too large for a deadline never fires (only a
    /// cancel ends it, and until then its thread sleeps).
    ///
    /// # Panics
    ///
    /// If the operating system cannot create the thread (see
    /// [`try_start`](Timer::try_start)).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let timer = Timer::start(Duration::ZERO, || println!("now"));
    /// assert!(matches!(timer.join(), Ok(true)));
    /// ```
    #[must_use = "dropping the Timer does not cancel it; keep it to cancel or join"]
    pub fn start(interval: Duration, f: impl FnOnce() + Send + 'static) -> Timer {
        match Timer::try_start(interval, f) {
            Ok(timer) => timer,
            Err(e) => panic!("failed to spawn a Timer thread: {e}"),
        }
    }

    /// [`start`](Timer::start), reporting a failure to create the thread.
    ///
    /// # Errors
    ///
    /// The operating system's error if the thread cannot be created; `f` is
    /// then dropped without running.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let timer = Timer::try_start(Duration::from_millis(1), || {})?;
    /// assert!(matches!(timer.join(), Ok(true)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_start(interval: Duration, f: impl FnOnce() + Send + 'static) -> io::Result<Timer> {
        let shared = Arc::new(Shared {
            phase: Mutex::new(Phase::Waiting),
            cond: Condvar::new(),
        });
        let at = deadline(interval);
        let thread_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("concurrent-futures-timer".into())
            .spawn(move || thread_shared.run(at, f))?;
        Ok(Timer { shared, interval })
    }

    /// Stops the timer if its function has not started; returns whether
    /// this call stopped it (`false` if it has run, is running, or was
    /// already cancelled). Safe from any thread, including from the
    /// function itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start(Duration::from_secs(3600), || {});
    /// assert!(t.cancel());
    /// assert!(!t.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        let mut phase = self.shared.phase.lock();
        if !matches!(*phase, Phase::Waiting) {
            return false;
        }
        *phase = Phase::Cancelled;
        self.shared.cond.notify_all();
        true
    }

    /// Whether the timer's thread is done: the function returned or
    /// panicked, or the timer was cancelled and the function dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start(Duration::from_secs(3600), || {});
    /// assert!(!t.is_finished());
    /// t.cancel();
    /// t.join().unwrap();
    /// assert!(t.is_finished());
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(*self.shared.phase.lock(), Phase::Done(_))
    }

    /// Blocks until the timer is done (see
    /// [`is_finished`](Timer::is_finished)); returns `Ok(true)` if the
    /// function ran, `Ok(false)` if the timer was cancelled first.
    ///
    /// # Errors
    ///
    /// [`TaskError`] with the panic message if the function panicked.
    ///
    /// # Panics
    ///
    /// When called from the timer's own function, which it would wait for
    /// for ever (Python's `join` raises `RuntimeError` there). The panic
    /// becomes the function's: this timer's joins elsewhere return it as
    /// the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start(Duration::from_millis(1), || panic!("boom"));
    /// assert_eq!(t.join().unwrap_err().panic_message(), Some("boom"));
    /// ```
    pub fn join(&self) -> Result<bool, TaskError> {
        self.refuse_self_join();
        let mut phase = self.shared.phase.lock();
        loop {
            if let Phase::Done(outcome) = &*phase {
                return outcome.clone();
            }
            phase = self.shared.cond.wait(phase);
        }
    }

    /// [`join`](Timer::join), giving up after `timeout`: `None` if the
    /// timer is not done by then.
    ///
    /// # Panics
    ///
    /// When called from the timer's own function, as [`join`](Timer::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start(Duration::from_secs(3600), || {});
    /// assert!(t.join_timeout(Duration::ZERO).is_none());
    /// t.cancel();
    /// assert!(matches!(t.join_timeout(Duration::from_secs(10)), Some(Ok(false))));
    /// ```
    #[must_use = "None means the timer was not done in time"]
    pub fn join_timeout(&self, timeout: Duration) -> Option<Result<bool, TaskError>> {
        self.join_until(deadline(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Option<Result<bool, TaskError>> {
        self.refuse_self_join();
        let mut phase = self.shared.phase.lock();
        loop {
            if let Phase::Done(outcome) = &*phase {
                return Some(outcome.clone());
            }
            let sleep = Sleep::until(deadline);
            if sleep == Sleep::TimedOut {
                return None;
            }
            phase = sleep_on(&self.shared.cond, phase, sleep);
        }
    }

    /// Panics if this thread runs this timer's function (`join`'s rule).
    fn refuse_self_join(&self) {
        if reentry::inside(self.shared.key()) {
            panic!("Timer::join called from the timer's own function: it would wait for itself");
        }
    }

    /// The interval the timer was started with.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Timer;
    /// use std::time::Duration;
    ///
    /// let t = Timer::start(Duration::from_secs(5), || {});
    /// assert_eq!(t.interval(), Duration::from_secs(5));
    /// t.cancel();
    /// ```
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Shared {
    /// This timer's identity, for `reentry`.
    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The timer's thread: sleep, then run `f` unless cancelled.
    fn run(&self, at: Option<Instant>, f: impl FnOnce()) {
        let outcome = if self.sleep_then_claim(at) {
            let inside = reentry::enter(self.key());
            let ran = unwind::catch(f);
            drop(inside);
            if let Err(message) = &ran {
                diagnose(
                    DiagnosticKind::TimerPanicked,
                    format_args!("a Timer's function panicked: {message}"),
                );
            }
            ran.map(|()| true).map_err(TaskError::panic)
        } else {
            unwind::drop_reporting("the function of a cancelled Timer", f);
            Ok(false)
        };
        *self.phase.lock() = Phase::Done(outcome);
        self.cond.notify_all();
    }

    /// Sleeps until `at` or a cancel; returns whether it claimed the run
    /// (`Waiting → Running`).
    fn sleep_then_claim(&self, at: Option<Instant>) -> bool {
        let mut phase = self.phase.lock();
        loop {
            if !matches!(*phase, Phase::Waiting) {
                return false;
            }
            let sleep = Sleep::until(at);
            if sleep == Sleep::TimedOut {
                *phase = Phase::Running;
                return true;
            }
            phase = sleep_on(&self.cond, phase, sleep);
        }
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &*self.shared.phase.lock() {
            Phase::Waiting => "waiting",
            Phase::Running => "running",
            Phase::Cancelled | Phase::Done(Ok(false)) => "cancelled",
            Phase::Done(Ok(true)) => "finished",
            Phase::Done(Err(_)) => "panicked",
        };
        write!(f, "<Timer interval={:?} {phase}>", self.interval)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_phase() {
        let t = Timer::start(Duration::from_secs(3600), || {});
        assert_eq!(format!("{t:?}"), "<Timer interval=3600s waiting>");
        assert!(t.cancel());
        assert!(matches!(
            t.join_timeout(Duration::from_secs(10)),
            Some(Ok(false))
        ));
        assert_eq!(format!("{t:?}"), "<Timer interval=3600s cancelled>");
    }

    /// A join from the timer's own function would wait for itself: it
    /// panics at once (found by an adversarial probe: it hung for ever),
    /// and joins from elsewhere see that panic; nested timers still join.
    #[test]
    fn a_join_from_the_timers_own_function_is_refused() {
        use std::sync::{mpsc, OnceLock};
        let me: std::sync::Arc<OnceLock<Timer>> = std::sync::Arc::new(OnceLock::new());
        let (tx, rx) = mpsc::channel();
        let inner_me = std::sync::Arc::clone(&me);
        let t = Timer::start(Duration::from_millis(20), move || {
            let own = inner_me.wait();
            let other = Timer::start(Duration::ZERO, || {});
            let _ = tx.send(other.join_timeout(Duration::from_secs(10)).is_some());
            let _ = own.join_timeout(Duration::from_secs(3600));
        });
        assert!(me.set(t.clone()).is_ok());
        let outcome = t.join_timeout(Duration::from_secs(10));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "another timer joins"
        );
        let err = outcome
            .expect("the timer ended within 10 s instead of waiting for itself")
            .expect_err("a self-join panics");
        assert!(
            err.panic_message()
                .is_some_and(|m| m.contains("own function")),
            "{err:?}"
        );
    }
}
