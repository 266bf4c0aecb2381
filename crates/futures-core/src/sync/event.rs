//! [`Event`]: Python's `threading.Event`, a flag that threads wait on.
//!
//! Protocol: the flag and a generation counter live under one mutex. `set()`
//! on a clear event raises the flag, bumps the generation and wakes every
//! waiter. A waiter that finds the flag clear remembers the generation and
//! sleeps until it changes, so a `set()` followed at once by `clear()` still
//! releases everyone who was waiting (CPython issue #13502), and a waiter
//! never reports `false` unless its deadline passed with no `set()` at all.
//! The waiter checks the generation and counts itself as a sleeper under the
//! same mutex `set()` takes to bump the generation and read the sleeper
//! count, so no wakeup is lost; `set()` notifies after unlocking, which only
//! spares the woken threads a collision with its lock.

use std::fmt;
use std::time::Duration;

use super::{deadline, sleep_on, Sleep};
use crate::primitives::{Condvar, Mutex};

/// A flag that threads can wait for: Python's `threading.Event`.
///
/// The flag starts clear. [`set`](Event::set) raises it and wakes every
/// waiting thread; [`clear`](Event::clear) lowers it; [`wait`](Event::wait)
/// blocks until it is raised.
///
/// # Examples
///
/// ```
/// use concurrent_futures::sync::Event;
/// use std::time::Duration;
///
/// let started = Event::new();
/// std::thread::scope(|s| {
///     s.spawn(|| started.set());
///     assert!(started.wait_timeout(Duration::from_secs(10)));
/// });
/// assert!(started.is_set());
/// ```
pub struct Event {
    state: Mutex<State>,
    cond: Condvar,
}

#[derive(Debug)]
struct State {
    flag: bool,
    /// Bumped by each `set()` that raised the flag.
    generation: u64,
    /// Threads asleep in `wait`; `set()` only notifies when some are.
    sleepers: usize,
}

impl Event {
    /// A new event, clear.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// assert!(!Event::new().is_set());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Event {
            state: Mutex::new(State {
                flag: false,
                generation: 0,
                sleepers: 0,
            }),
            cond: Condvar::new(),
        }
    }

    /// Whether the flag is raised (Python's `is_set()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// let e = Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.state.lock().flag
    }

    /// Raises the flag and wakes every thread waiting for it. Threads that
    /// call [`wait`](Event::wait) while it stays raised do not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// let e = Event::new();
    /// e.set();
    /// e.set(); // setting a set event does nothing more
    /// assert!(e.wait_timeout(std::time::Duration::ZERO));
    /// ```
    pub fn set(&self) {
        let mut state = self.state.lock();
        if state.flag {
            return;
        }
        state.flag = true;
        state.generation = state.generation.wrapping_add(1);
        let sleepers = state.sleepers;
        // Notify after unlocking, so woken threads do not block on our lock.
        // A thread that starts sleeping after the unlock saw the new
        // generation first, so it is not among those who need this notify.
        drop(state);
        if sleepers > 0 {
            self.cond.notify_all();
        }
    }

    /// Lowers the flag: later waiters block until the next [`set`](Event::set).
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// let e = Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.lock().flag = false;
    }

    /// Blocks until the flag is raised; returns at once if it already is.
    ///
    /// Python's `wait()` returns `True` here; there is nothing to return.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// let e = Event::new();
    /// e.set();
    /// e.wait();
    /// ```
    pub fn wait(&self) {
        let raised = self.wait_until(None);
        debug_assert!(raised, "a wait without deadline ended unset");
    }

    /// Blocks until the flag is raised or `timeout` has passed; returns
    /// whether it was raised (Python's `wait(timeout)`).
    ///
    /// Returns `true` if a [`set`](Event::set) happened during the wait, even
    /// if a [`clear`](Event::clear) followed before this thread woke up.
    /// `Duration::ZERO` polls; a timeout too large for a deadline waits
    /// without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::sync::Event;
    /// use std::time::Duration;
    ///
    /// let e = Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(10)));
    /// e.set();
    /// assert!(e.wait_timeout(Duration::ZERO));
    /// ```
    #[must_use = "false means the timeout passed with the flag still clear"]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<std::time::Instant>) -> bool {
        let mut state = self.state.lock();
        if state.flag {
            return true;
        }
        let seen = state.generation;
        loop {
            let sleep = Sleep::until(deadline);
            if sleep == Sleep::TimedOut {
                return false;
            }
            state.sleepers += 1;
            state = sleep_on(&self.cond, state, sleep);
            state.sleepers -= 1;
            if state.generation != seen {
                return true;
            }
        }
    }
}

impl Default for Event {
    /// A new event, clear.
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "set" } else { "unset" };
        write!(f, "<Event: {state}>")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn debug_like_python_repr() {
        let e = Event::new();
        assert_eq!(format!("{e:?}"), "<Event: unset>");
        e.set();
        assert_eq!(format!("{e:?}"), "<Event: set>");
    }

    /// CPython issue #13502, without timing: every thread that was asleep
    /// when `set()` came returns `true`, although `clear()` followed at once.
    #[test]
    fn set_then_clear_releases_every_sleeper() {
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        let e = Arc::new(Event::new());
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let e = Arc::clone(&e);
                std::thread::spawn(move || e.wait_timeout(Duration::from_secs(30)))
            })
            .collect();
        let give_up = Instant::now() + Duration::from_secs(30);
        while e.state.lock().sleepers < 4 {
            assert!(Instant::now() < give_up, "waiters never fell asleep");
            std::thread::sleep(Duration::from_millis(1));
        }
        e.set();
        e.clear();
        for w in waiters {
            assert!(w.join().unwrap(), "a sleeper missed the set");
        }
        assert!(!e.is_set());
    }

    #[test]
    fn set_bumps_the_generation_once() {
        let e = Event::default();
        e.set();
        e.set();
        assert_eq!(e.state.lock().generation, 1);
        e.clear();
        e.set();
        assert_eq!(e.state.lock().generation, 2);
    }
}
