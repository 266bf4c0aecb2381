//! Reentry: which objects' user code this thread is running now, so a call
//! from inside that code that would wait for the code itself is refused
//! instead of hanging.
//!
//! Three places need it: a future's done-callbacks (taking that future's
//! value would wait for the callbacks), a [`Timer`](crate::sync::Timer)'s
//! function (`join` would wait for the function) and a
//! [`Barrier`](crate::sync::Barrier)'s action (`wait` would wait for the
//! trip). Each enters with its own address as the key; the addresses of
//! live objects differ, so one list serves all three.
//!
//! The list is a stack, outermost first: a callback of future A that
//! completes B runs B's callbacks inside A's, and one of those taking A's
//! value would wait for itself too, so `inside` looks at every level.
//!
//! User code may run while the thread exits, from another thread-local's
//! destructor (an executor's queue of tasks dropped then), after this list
//! is gone. It still runs, unrecorded: a panic from the missing
//! thread-local would abort the process.

use std::cell::RefCell;

#[cfg(not(loom))]
std::thread_local! {
    /// The keys of the objects whose user code this thread runs, outermost
    /// first.
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

// Loom runs its threads on one OS thread: a `std` thread-local would be
// shared by all of them.
#[cfg(loom)]
loom::thread_local! {
    static INSIDE: RefCell<Vec<usize>> = RefCell::new(Vec::new());
}

/// Proof that this thread is inside the user code of one object; leaves it
/// when dropped, however that code ends.
#[must_use = "the thread leaves the object's code when this is dropped"]
pub(crate) struct Inside {
    recorded: bool,
}

/// Records that this thread now runs the user code of the object `key`.
pub(crate) fn enter(key: usize) -> Inside {
    let recorded = INSIDE.try_with(|s| s.borrow_mut().push(key)).is_ok();
    Inside { recorded }
}

impl Drop for Inside {
    fn drop(&mut self) {
        if self.recorded {
            // Alive: it was when `enter` pushed, and is not destroyed while
            // another destructor of this thread runs.
            let _ = INSIDE.try_with(|s| s.borrow_mut().pop());
        }
    }
}

/// Whether this thread runs the user code of the object `key`, at any
/// depth (`false` once the thread's list is gone, as it exits).
pub(crate) fn inside(key: usize) -> bool {
    INSIDE
        .try_with(|s| s.borrow().contains(&key))
        .unwrap_or(false)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{enter, inside};

    #[test]
    fn levels_nest_and_unwind() {
        assert!(!inside(1));
        let outer = enter(1);
        {
            let _inner = enter(2);
            assert!(inside(1) && inside(2));
        }
        assert!(inside(1) && !inside(2));
        drop(outer);
        assert!(!inside(1));
    }

    #[test]
    fn a_panic_leaves_the_level() {
        let caught = std::panic::catch_unwind(|| {
            let _level = enter(7);
            panic!("user code");
        });
        assert!(caught.is_err());
        assert!(!inside(7));
    }
}
