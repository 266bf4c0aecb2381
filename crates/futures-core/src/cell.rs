//! The task cell: one allocation per future, holding the state word, the
//! listener list, the outcome slot and (for a [`Task`](crate::Task)) the
//! closure, in the shape of tokio's task cell.
//!
//! ```text
//! Cell<T, B>  (repr(C); a Future<T> points at its Inner<T>)
//! ├── body: UnsafeCell<MaybeUninit<B>>     (the closure; moved out once by the task)
//! └── Inner<T>                            (at offset Cell::<T, B>::INNER)
//!     ├── Header   { state: AtomicUsize, vtable: &'static Vtable }
//!     ├── outcome: UnsafeCell<Option<Result<T, Box<TaskError>>>>
//!     ├── waiter: UnsafeCell<MaybeUninit<(WaiterRef, usize)>>  (the inline waiter, valid while `WAITER`)
//!     └── listeners: Mutex<Listeners<T>>   (touched only when someone listens)
//!         └── more: Option<Box<More<T>>>  (waiters, wakers, callbacks, and the
//!                                          condvar of threads blocked in result)
//! ```
//!
//! The order is for the caches: a worker reads the body and the vtable and
//! writes the outcome and the state, and the submitting thread then reads
//! the state and the outcome. Those fields sit side by side (40 bytes for a
//! one-word closure and a `u64`), so each side usually moves one cache line
//! per task, not two; the listeners, which nobody touches when nobody
//! listens, come last.
//!
//! The condvar and the count of blocked threads live in the boxed part, not
//! in the cell: a thread blocks only after spinning and a futex wait, so the
//! box it makes then is cheap beside the sleep, while every cell is 16 bytes
//! smaller (80 bytes for a one-word closure and a `u64`, against 96): less
//! memory to write at `submit` and to move between the cores per task.
//!
//! # Rules of the boxed part
//!
//! * It is made under the lock, on first use, and sets the sticky `BOXED`
//!   bit.
//! * It is dropped only by the completion's notification (`notify_locked`,
//!   once per future, and only when no thread is blocked on its condvar and
//!   no callback is left to run) or by `dealloc`. So a thread that counted
//!   itself in `sleepers` under the lock, and a notifier that holds a
//!   reference to the future, may use its condvar after the lock is
//!   released.
//!
//! # Rules of the outcome slot
//!
//! * It is written once, by the caller that won the `claim` (lifecycle
//!   `COMPLETING`), before the lifecycle becomes `FINISHED` with `Release`.
//! * It is read only after `FINISHED` was seen with `Acquire`.
//! * It is taken (`into_result`) only by the one user handle, after
//!   `NOTIFIED` was seen with `Acquire` (so every callback's reads happened
//!   before) and the handle count was seen at one with `Acquire` (so every
//!   dropped handle's reads happened before: drops decrement with
//!   `Release`). The executor's reference reads nothing after the
//!   completion, and after `NOTIFIED` it makes no borrowed handle either.
//!
//! # Rules of the body slot
//!
//! Written at allocation; moved out or dropped exactly once, by the owner of
//! the `TASK` reference, before that reference is released. `Future::new`
//! cells have no body (`B = NoBody`).

use std::alloc::Layout;
use std::cell::UnsafeCell as StdUnsafeCell;
use std::marker::PhantomData;
use std::mem::{needs_drop, MaybeUninit};
use std::ptr::NonNull;
use std::task::Waker;

use crate::callbacks::Callbacks;
use crate::error::TaskError;
use crate::primitives::{AtomicUsize, Condvar, Mutex, Ordering, UnsafeCell};
use crate::recycle;
use crate::state::{BOXED, WAITER};
use crate::unwind;
use crate::waiter::WaiterRef;

/// The outcome of a task, as it is handed around.
pub(crate) type Outcome<T> = Result<T, TaskError>;

/// The outcome as the slot stores it: the error boxed, so the slot costs
/// `T` plus a word (an unboxed `TaskError` would add 32 bytes to every cell,
/// and most tasks succeed).
pub(crate) type Stored<T> = Result<T, Box<TaskError>>;

/// A waiter as a future stores it, with the token to notify it with.
pub(crate) type Entry = (WaiterRef, usize);

/// A done-callback waiting for its future to complete.
pub(crate) type Callback<T> = Box<dyn FnOnce(&crate::Future<T>) + Send + 'static>;

/// The type-erased start of every cell.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: AtomicUsize,
    pub(crate) vtable: &'static Vtable,
}

/// What the type-erased [`Task`](crate::Task) can do with its cell.
pub(crate) struct Vtable {
    /// Runs the body (unless cancelled), completes the future and releases
    /// the task reference.
    pub(crate) run: unsafe fn(NonNull<Header>, &dyn Fn()) -> crate::Ran,
    /// Drops the body unrun, ends the future (cancelled, or failed with the
    /// error) and releases the task reference; returns whether it ended the
    /// future (not if it was cancelled already).
    pub(crate) abandon: unsafe fn(NonNull<Header>, Option<TaskError>) -> bool,
    /// Frees the cell; only when nothing references it.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
}

/// The typed part every handle sees (the header first: a pointer to it is
/// a pointer to the header).
#[repr(C)]
pub(crate) struct Inner<T> {
    pub(crate) header: Header,
    pub(crate) outcome: UnsafeCell<Option<Stored<T>>>,
    /// The inline waiter, outside the lock: initialized exactly while the
    /// state word's `WAITER` bit is set (`state.rs`, "The inline waiter").
    pub(crate) waiter: UnsafeCell<MaybeUninit<Entry>>,
    pub(crate) listeners: Mutex<Listeners<T>>,
}

/// A whole cell: the body, then the typed part (module docs: the order).
#[repr(C)]
pub(crate) struct Cell<T, B> {
    pub(crate) body: StdUnsafeCell<MaybeUninit<B>>,
    pub(crate) inner: Inner<T>,
}

impl<T, B> Cell<T, B> {
    /// Where the header (the start of `inner`) sits in the cell.
    const INNER: usize = std::mem::offset_of!(Cell<T, B>, inner);

    /// The cell whose header `header` is.
    ///
    /// # Safety
    ///
    /// `header` was returned by `allocate::<T, B>` (so it carries the whole
    /// block's provenance) and the cell is live.
    pub(crate) unsafe fn from_header(header: NonNull<Header>) -> NonNull<Cell<T, B>> {
        // SAFETY: the header sits `INNER` bytes into the block (`allocate`),
        // so stepping back stays inside the same allocation.
        unsafe { NonNull::new_unchecked(header.as_ptr().cast::<u8>().sub(Self::INNER).cast()) }
    }
}

/// The body of a cell made by `Future::new` (there is none).
pub(crate) struct NoBody;

/// Everyone who waits for the future under the lock, besides the inline
/// waiter (`Inner::waiter`), in a box made on first use.
pub(crate) struct Listeners<T> {
    pub(crate) more: Option<Boxed<T>>,
}

/// The boxed part of the listeners, made on first use: the condvar that
/// blocked threads sleep on, their count, and the listeners that need
/// storage of their own ([`More`]).
///
/// It is reached only through places of its fields, never as a whole `&` or
/// `&mut`: a thread blocked on the condvar holds a `&Condvar` while the lock
/// holder takes `&mut More`, and the two must not overlap (a `&mut` to the
/// whole box would claim the condvar too).
pub(crate) struct Boxed<T>(NonNull<Shared<T>>);

/// What a [`Boxed`] points at.
struct Shared<T> {
    /// Where blocked threads sleep (module docs: "Rules of the boxed part").
    cond: Condvar,
    /// The number of threads blocked on `cond` (in `result`,
    /// `into_result`, `remove_waiter`, ...), with [`DRAINING`] in its top
    /// bit. Beside the condvar, they keep the box at 104 bytes, a 112-byte
    /// heap chunk (at 112 bytes, a 128-byte chunk, the callback fan-in of
    /// `benches/wait.rs` ran 10 to 40% slower).
    flags: u32,
    more: More<T>,
}

/// `Shared::flags`'s top bit: a completion runs the callbacks it took from
/// the box. One added meanwhile is queued in `callbacks`, and that
/// completion runs it after them (so callbacks run in the order added even
/// when one is added while the future completes).
const DRAINING: u32 = 1 << 31;

// SAFETY: a `Boxed` owns its `Shared` as a `Box` would; the condvar is
// `Sync`, and the rest is reached through `&mut self` (under the future's
// lock) or `&self`.
unsafe impl<T> Send for Boxed<T> where More<T>: Send {}

impl<T> Boxed<T> {
    fn new() -> Self {
        let shared = Box::new(Shared {
            cond: Condvar::new(),
            flags: 0,
            more: More {
                waiters: Vec::new(),
                wakers: Vec::new(),
                next_key: 0,
                callbacks: Callbacks::Empty,
                owner_waker: None,
            },
        });
        Boxed(NonNull::from(Box::leak(shared)))
    }

    fn flags(&self) -> u32 {
        // SAFETY: the pointer is live while `self` is; a read of one field,
        // which only `&mut self` writes.
        unsafe { (*self.0.as_ptr()).flags }
    }

    fn flags_mut(&mut self) -> &mut u32 {
        // SAFETY: as in `flags`; `&mut self` makes the access unique (the
        // condvar, which others may use meanwhile, is another field).
        unsafe { &mut (*self.0.as_ptr()).flags }
    }

    /// The condvar, as a pointer: valid while the box is (module docs:
    /// "Rules of the boxed part").
    fn cond(&self) -> *const Condvar {
        // SAFETY: the pointer is live; no reference is made.
        unsafe { &raw const (*self.0.as_ptr()).cond }
    }

    /// The number of threads blocked on the condvar.
    pub(crate) fn sleepers(&self) -> u32 {
        self.flags() & !DRAINING
    }

    /// Whether a completion is running callbacks it took (`DRAINING`).
    pub(crate) fn draining(&self) -> bool {
        self.flags() & DRAINING != 0
    }

    /// Marks whether a completion is running callbacks it took.
    pub(crate) fn set_draining(&mut self, on: bool) {
        let flags = self.flags_mut();
        if on {
            *flags |= DRAINING;
        } else {
            *flags &= !DRAINING;
        }
    }
}

impl<T> std::ops::Deref for Boxed<T> {
    type Target = More<T>;
    fn deref(&self) -> &More<T> {
        // SAFETY: live while `self` is; a reference to one field only.
        unsafe { &(*self.0.as_ptr()).more }
    }
}

impl<T> std::ops::DerefMut for Boxed<T> {
    fn deref_mut(&mut self) -> &mut More<T> {
        // SAFETY: as in `deref`; `&mut self` makes it unique.
        unsafe { &mut (*self.0.as_ptr()).more }
    }
}

impl<T> Drop for Boxed<T> {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `new`, freed once, here; nobody
        // sleeps on the condvar any more (module docs).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// The listeners that need storage of their own.
pub(crate) struct More<T> {
    /// Waiters installed while the inline slot was taken.
    pub(crate) waiters: Vec<Entry>,
    /// Wakers of pending `.await`s, by key (an abandoned await removes its own).
    pub(crate) wakers: Vec<(u64, Waker)>,
    pub(crate) next_key: u64,
    pub(crate) callbacks: Callbacks<T>,
    /// The owned `.await` waiting for `NOTIFIED`.
    pub(crate) owner_waker: Option<Waker>,
}

impl<T> Listeners<T> {
    fn new() -> Self {
        Listeners { more: None }
    }

    /// The boxed part, made on first use; making it sets the sticky
    /// `BOXED` bit of the cell's `state` word (so `dealloc` knows whether
    /// to look here at all).
    pub(crate) fn more(&mut self, state: &AtomicUsize) -> &mut More<T> {
        self.more.get_or_insert_with(|| {
            // Relaxed: `dealloc` reads the word after the last reference's
            // `Acquire` decrement, which follows this in the word's
            // modification order (the maker held a reference).
            state.fetch_or(BOXED, Ordering::Relaxed);
            Boxed::new()
        })
    }

    /// Counts a thread that is about to block, and returns the condvar to
    /// block on: valid until the thread uncounts itself with
    /// [`remove_sleeper`](Self::remove_sleeper) (module docs: "Rules of the
    /// boxed part"), which the raw pointer leaves to the caller.
    pub(crate) fn add_sleeper(&mut self, state: &AtomicUsize) -> *const Condvar {
        self.more(state);
        let boxed = self.more.as_mut().expect("made above");
        // Each sleeper is a thread: the count stays far below `DRAINING`.
        assert!(boxed.sleepers() < DRAINING - 1, "too many blocked threads");
        *boxed.flags_mut() += 1;
        boxed.cond()
    }

    /// Uncounts a thread that [`add_sleeper`](Self::add_sleeper) counted.
    pub(crate) fn remove_sleeper(&mut self) {
        let boxed = self.more.as_mut().expect("a sleeper's box stays");
        *boxed.flags_mut() -= 1;
    }

    /// The condvar of the threads blocked now, if any (valid while the
    /// caller holds a reference to the future: module docs).
    pub(crate) fn sleepers_cond(&self) -> Option<*const Condvar> {
        self.more
            .as_ref()
            .filter(|m| m.sleepers() > 0)
            .map(Boxed::cond)
    }

    /// Whether nobody listens any more.
    pub(crate) fn is_empty(&self) -> bool {
        self.more.as_ref().is_none_or(|m| {
            m.sleepers() == 0
                && m.waiters.is_empty()
                && m.wakers.is_empty()
                && m.callbacks.is_empty()
                && m.owner_waker.is_none()
        })
    }
}

/// Allocates a cell with `body`, the state word `state`, and the vtable of
/// `(T, B)`.
pub(crate) fn allocate<T, B>(body: B, state: usize, vtable: &'static Vtable) -> NonNull<Header> {
    let cell = Cell::<T, B> {
        body: StdUnsafeCell::new(MaybeUninit::new(body)),
        inner: Inner {
            header: Header {
                state: AtomicUsize::new(state),
                vtable,
            },
            outcome: UnsafeCell::new(None),
            waiter: UnsafeCell::new(MaybeUninit::uninit()),
            listeners: Mutex::new(Listeners::new()),
        },
    };
    let block = recycle::allocate(Layout::new::<Cell<T, B>>()).cast::<Cell<T, B>>();
    // SAFETY: `block` is fresh memory with the layout of `Cell<T, B>`; the
    // header is `INNER` bytes into it (`repr(C)`, `Inner` starts with it).
    unsafe {
        block.as_ptr().write(cell);
        NonNull::new_unchecked(block.as_ptr().cast::<u8>().add(Cell::<T, B>::INNER).cast())
    }
}

/// Frees a cell of `(T, B)`. The outcome, and whatever listeners a future
/// that never completed still had, are user values: their drops are
/// contained. The body was moved out or dropped already (module docs).
///
/// # Safety
///
/// `header` was made by `allocate::<T, B>` and nothing references it any
/// more (the state word said so, read with `Acquire` ordering).
pub(crate) unsafe fn dealloc<T, B>(header: NonNull<Header>) {
    // SAFETY: the caller's contract (a header from `allocate::<T, B>`).
    let block = unsafe { Cell::<T, B>::from_header(header) };
    // SAFETY: the caller's contract: the pointer is a `Cell<T, B>` written by
    // `allocate`, and this is the last reference.
    let cell = unsafe { &mut *block.as_ptr() };
    // A waiter still installed: the future never completed (a completion
    // or a removal clears `WAITER` and takes the entry; `SLOT` without
    // `WAITER` is an install in progress, whose caller holds a handle). Unique access, and
    // the caller's `Acquire` ordered every earlier write of the word.
    let word = cell.inner.header.state.load(Ordering::Relaxed);
    if word & WAITER != 0 {
        let entry = cell.inner.waiter.with_mut(|slot| {
            // SAFETY: `WAITER` set: the slot holds an entry, which nobody
            // else owns any more (last reference).
            unsafe { (*slot).assume_init_read() }
        });
        unwind::drop_reporting("a waiter of a future that never completed", entry);
    }
    // The common end of a cell: its value was taken (or it had none, or it
    // is a value with no drop glue, as after `result()`) and nobody ever
    // listened. Then only the lock is left to drop, and on
    // most targets it has nothing to drop: this skips the drop glue of
    // every field (about 60 instructions per task, callgrind; a task read
    // with `result()`, whose `u64` value stays: 620 to 524 instructions per
    // task). Whether anyone listened is the word's sticky `BOXED` bit (no
    // sleeper is left: each held a handle), not a look at the listeners:
    // they sit on the cell's last cache line, which nothing else here
    // touches (-0.49 last-level misses per task of `submit_loop`'s
    // `result()` batches, cachegrind with a 1 MiB last level).
    let bare = word & BOXED == 0
        && cell.inner.outcome.with(|slot| {
            // SAFETY: unique access (last reference, see above).
            match unsafe { &*slot } {
                None => true,
                Some(Ok(_)) => !needs_drop::<T>(),
                Some(Err(_)) => false,
            }
        });
    debug_assert!(
        !bare || cell.inner.listeners.get_mut().more.is_none(),
        "a cell without BOXED has bare listeners"
    );
    if !bare || needs_drop::<Mutex<()>>() {
        let outcome = cell.inner.outcome.with_mut(|slot| {
            // SAFETY: unique access (last reference, see above).
            unsafe { (*slot).take() }
        });
        if outcome.is_some() {
            unwind::drop_reporting("the result of a future", outcome);
        }
        let listeners = std::mem::replace(cell.inner.listeners.get_mut(), Listeners::new());
        if !listeners.is_empty() {
            unwind::drop_reporting("a listener of a future that never completed", listeners);
        }
        // SAFETY: the cell is live and dropped once, here (the body was moved
        // out or dropped already and is `MaybeUninit`, so it is not dropped
        // again).
        unsafe { std::ptr::drop_in_place(block.as_ptr()) };
    }
    // SAFETY: the memory goes back where `allocate` took it from, with its
    // layout; nothing in it needs dropping any more (above).
    unsafe { recycle::free(block.cast(), Layout::new::<Cell<T, B>>()) };
}

/// The vtable of `Future::new` cells: no body, so no task ever uses it.
pub(crate) struct NoBodyVtable<T>(PhantomData<T>);

impl<T> NoBodyVtable<T> {
    pub(crate) const VTABLE: Vtable = Vtable {
        run: no_task_run,
        abandon: no_task_abandon,
        dealloc: dealloc::<T, NoBody>,
    };
}

unsafe fn no_task_run(_: NonNull<Header>, _: &dyn Fn()) -> crate::Ran {
    unreachable!("a Future::new cell has no task")
}

unsafe fn no_task_abandon(_: NonNull<Header>, _: Option<TaskError>) -> bool {
    unreachable!("a Future::new cell has no task")
}

#[cfg(all(test, not(loom)))]
mod tests {
    /// The cell of a `u64` task capturing one word, as the memory target
    /// (at most 144 bytes per queued task, queue slot included; 128 now)
    /// counts it.
    #[test]
    fn a_small_task_cell_fits_in_80_bytes() {
        let size = std::mem::size_of::<super::Cell<u64, [usize; 1]>>();
        assert!(size <= 80, "{size} bytes");
    }

    /// The boxed part of a future that is listened to stays within a
    /// 112-byte heap chunk (`Shared::flags`).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_boxed_part_fits_in_104_bytes() {
        let size = std::mem::size_of::<super::Shared<u64>>();
        assert!(size <= 104, "{size} bytes");
    }

    /// `dealloc` looks at the listeners only when the word says the box was
    /// made (`BOXED`): a pending future dropped with a callback still
    /// registered drops the callback with it; a future nobody listened to
    /// keeps the bit clear, and its value (a `u64` after `result()`) stays
    /// on the fast path.
    #[test]
    fn listeners_left_in_a_cell_are_dropped_with_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let f = crate::Future::<u64>::new();
        let held = Counted(Arc::clone(&drops));
        f.add_done_callback(move |_| drop(held));
        assert!(f.word().has(super::BOXED));
        drop(f);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the callback was dropped");

        // Never listened: the bit stays clear and nothing is dropped twice.
        let g = crate::Future::<u64>::new();
        g.set_result(7).unwrap();
        assert_eq!(*g.result().unwrap(), 7);
        assert!(!g.word().has(super::BOXED));
        drop(g);
    }
}
