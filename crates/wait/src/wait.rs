//! `wait`: block until futures are done, as Python's
//! `concurrent.futures.wait`; and `wait_any` for futures of mixed types.
//!
//! One pass looks at every future (no lock taken: `completion` reads an
//! atomic) and puts the done ones straight into the result; if that does not
//! settle `return_when`, one waiter is installed on the pending ones, the
//! caller sleeps until the waiter's rule says stop, and a drop guard removes
//! the waiter from every future that did not complete (none, when all did).
//! A last pass sorts the pending ones into `done` and `not_done`. Each pass
//! is O(n); each completion costs the completing thread O(1).

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concurrent_futures_core::{Completion, Future, Waitable, Waiter};

use crate::future_set::FutureSet;
use crate::waiter::{self, AllCompleted, FirstCompleted, FirstException, Held, Signal, StopRule};
use concurrent_futures_core::__private::primitives;

/// When [`wait`] returns: Python's `return_when` constants.
///
/// In every case a future that is already done counts at once, and a
/// cancelled future counts as done (as soon as it is cancelled: unlike
/// Python, no executor needs to see the cancellation first).
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, TaskError};
/// use concurrent_futures::{wait, ReturnWhen};
///
/// let ok = Future::new();
/// ok.set_result(1).unwrap();
/// let failed = Future::new();
/// failed.set_exception(TaskError::panic("boom")).unwrap();
/// let pending = Future::new();
///
/// let fs = [ok.clone(), failed.clone(), pending.clone()];
/// let r = wait(&fs, None, ReturnWhen::FirstException);
/// assert!(r.done.contains(&failed) && r.not_done.contains(&pending));
/// assert_eq!(ReturnWhen::default(), ReturnWhen::AllCompleted);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// Return as soon as any future is done (`FIRST_COMPLETED`).
    FirstCompleted,
    /// Return as soon as any future fails: it panicked, returned an `Err`
    /// (`submit_fallible`), or its executor broke (`FIRST_EXCEPTION`). A
    /// cancelled future is not a failure. With no failure, this is
    /// [`AllCompleted`](ReturnWhen::AllCompleted).
    FirstException,
    /// Return when every future is done (`ALL_COMPLETED`, the default).
    #[default]
    AllCompleted,
}

/// What [`wait`] returns: the futures that were done when it returned, and
/// the others (Python's `DoneAndNotDoneFutures` named tuple).
///
/// Duplicates in the input appear once.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::{wait, DoneAndNotDone, ReturnWhen};
/// use std::time::Duration;
///
/// let a = Future::new();
/// a.set_result("a").unwrap();
/// let b = Future::<&str>::new();
/// let DoneAndNotDone { done, not_done } =
///     wait(&[a.clone(), b.clone()], Some(Duration::ZERO), ReturnWhen::AllCompleted);
/// assert_eq!((done.len(), not_done.len()), (1, 1));
/// assert!(done.contains(&a) && not_done.contains(&b));
/// ```
#[must_use = "wait returns which futures are done; read `done` and `not_done`"]
pub struct DoneAndNotDone<T> {
    /// The futures that were done (finished or cancelled).
    pub done: FutureSet<T>,
    /// The futures that were still pending or running.
    pub not_done: FutureSet<T>,
}

impl<T> fmt::Debug for DoneAndNotDone<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneAndNotDone")
            .field("done", &self.done)
            .field("not_done", &self.not_done)
            .finish()
    }
}

impl<T> Clone for DoneAndNotDone<T> {
    fn clone(&self) -> Self {
        DoneAndNotDone {
            done: self.done.clone(),
            not_done: self.not_done.clone(),
        }
    }
}

/// Waits until futures are done, as Python's `concurrent.futures.wait`.
///
/// `futures` is anything that iterates over `&Future<T>`: `&Vec`, a slice,
/// an array, `map.keys()` of a `HashMap<Future<T>, _>`. Futures may come
/// from any executor, or be made by hand with [`Future::new`].
///
/// * Futures already done count at once; if that satisfies `return_when`,
///   `wait` returns without installing anything.
/// * `timeout`: `None` waits for ever; `Some(Duration::ZERO)` only looks;
///   otherwise `wait` returns when `return_when` is satisfied or the time is
///   up, whichever comes first. A timeout is not an error: the futures not
///   done are in `not_done`.
/// * A cancelled future counts as done at once (Python waits for an
///   executor to notice the cancellation, and can hang: cpython gh-92001).
/// * Duplicates collapse; an empty input returns at once.
///
/// It costs O(n) to look, install and remove, and O(1) per completion; the
/// waiter is removed from every future on every return path, unwinding
/// included.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::{wait, ReturnWhen};
/// use std::{thread, time::Duration};
///
/// let futures: Vec<Future<u64>> = (0..4).map(|_| Future::new()).collect();
/// let workers: Vec<_> = futures
///     .iter()
///     .cloned()
///     .enumerate()
///     .map(|(i, f)| thread::spawn(move || f.run(|| i as u64 * 10)))
///     .collect();
///
/// let r = wait(&futures, Some(Duration::from_secs(10)), ReturnWhen::AllCompleted);
/// assert_eq!(r.done.len(), 4);
/// assert!(r.not_done.is_empty());
/// for w in workers {
///     w.join().unwrap();
/// }
/// ```
pub fn wait<'a, T, I>(
    futures: I,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> DoneAndNotDone<T>
where
    T: Send + 'a,
    I: IntoIterator<Item = &'a Future<T>>,
{
    let deadline = timeout.and_then(primitives::deadline);
    let futures = futures.into_iter();
    if return_when == ReturnWhen::AllCompleted && timeout != Some(Duration::ZERO) {
        return wait_all(futures, deadline);
    }
    // One pass over the futures: each is touched once while its memory is
    // at hand; the done ones go straight to the result.
    let mut done = FutureSet::with_capacity_and_hasher(futures.size_hint().0, Default::default());
    let mut pending = Vec::new();
    let mut look = Look::default();
    for f in futures {
        match f.completion() {
            Some(how) => {
                look.saw(how);
                done.insert(f.clone());
            }
            None => pending.push(f.clone()),
        }
    }
    if look.must_block(pending.len(), timeout, return_when) {
        block(&pending, return_when, deadline);
    }
    let mut not_done = FutureSet::default();
    for f in pending {
        if f.done() {
            done.insert(f);
        } else {
            not_done.insert(f);
        }
    }
    if done.len() < done.capacity() / 4 {
        done.shrink_to_fit();
    }
    DoneAndNotDone { done, not_done }
}

/// `wait(.., ALL_COMPLETED)` with a timeout that is not zero, in one pass:
/// each future is looked at, installed on if it is pending, and put in
/// `done` at once, done or not, while its memory is at hand. The hashing
/// thus overlaps the completions instead of following them, and when every
/// future completes in time (the usual end) there is no second pass at all.
/// Only after a timeout are the futures not done moved to `not_done`.
///
/// The countdown starts unarmed, since the number of pending futures is
/// known only at the end of the pass ([`Signal::arm`]).
fn wait_all<'a, T: Send + 'a>(
    futures: impl Iterator<Item = &'a Future<T>>,
    deadline: Option<Instant>,
) -> DoneAndNotDone<T> {
    let mut done = FutureSet::with_capacity_and_hasher(futures.size_hint().0, Default::default());
    let held = Held::new(Signal::new(AllCompleted::unarmed()));
    let mut watched = Watched {
        futures: Vec::new(),
        held: &held,
    };
    for f in futures {
        // SAFETY: `held` outlives `watched`, whose release uninstalls the
        // waiter from every future it was installed on unless every one of
        // them has notified: then each notify was seen under the signal's
        // lock, and unlocking it was the last thing it did to the signal.
        #[allow(unsafe_code)]
        let installed =
            f.completion().is_none() && unsafe { waiter::install(&held.hook, f, 0) }.is_none();
        if installed {
            watched.futures.push(f);
        }
        done.insert(f.clone());
    }
    let signal = &*held.waiter;
    let all = signal.arm(watched.futures.len()) || signal.wait(deadline);
    let watched = watched.release();
    let mut not_done = FutureSet::default();
    if !all {
        for f in watched {
            if !f.done() {
                not_done.extend(done.take(f));
            }
        }
        if done.len() < done.capacity() / 4 {
            done.shrink_to_fit();
        }
    }
    DoneAndNotDone { done, not_done }
}

/// The futures `wait_all` installed its signal on; releasing it (or dropping
/// it, on unwinding) uninstalls the signal from each of them, unless all
/// have notified.
struct Watched<'a, 'f, T: Send> {
    futures: Vec<&'f Future<T>>,
    held: &'a Held<Signal<AllCompleted>>,
}

impl<'f, T: Send> Watched<'_, 'f, T> {
    /// Uninstalls the signal where needed; returns the futures.
    fn release(&mut self) -> Vec<&'f Future<T>> {
        if !self.held.waiter.all_recorded() {
            for f in &self.futures {
                waiter::uninstall(&self.held.hook, *f);
            }
        }
        mem::take(&mut self.futures)
    }
}

impl<T: Send> Drop for Watched<'_, '_, T> {
    fn drop(&mut self) {
        self.release();
    }
}

/// What [`wait_any`] returns: positions in its input slice, in increasing
/// order.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, Waitable};
/// use concurrent_futures::{wait_any, ReturnWhen};
/// use std::time::Duration;
///
/// let n = Future::<u32>::new();
/// let s = Future::<String>::new();
/// s.set_result("ready".into()).unwrap();
/// let r = wait_any(&[&n, &s], Some(Duration::ZERO), ReturnWhen::AllCompleted);
/// assert_eq!((r.done, r.not_done), (vec![1], vec![0]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "wait_any returns which futures are done; read `done` and `not_done`"]
pub struct DoneAndNotDoneIndices {
    /// Positions of the futures that were done.
    pub done: Vec<usize>,
    /// Positions of the futures that were not done.
    pub not_done: Vec<usize>,
}

/// [`wait`] for futures of different result types: takes them as
/// [`&dyn Waitable`](Waitable) and reports positions in `futures`.
///
/// Every `Future<T>` (with `T: Send`) is a [`Waitable`], so
/// `&[&a, &b, &c]` works for futures of three types. The rules are those of
/// [`wait`]; a future given twice has both its positions reported, in the
/// same set.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::{wait_any, ReturnWhen};
/// use std::{thread, time::Duration};
///
/// let count = Future::<usize>::new();
/// let name = Future::<String>::new();
/// let worker = {
///     let name = name.clone();
///     thread::spawn(move || name.run(|| "ferris".to_string()))
/// };
/// let r = wait_any(&[&count, &name], Some(Duration::from_secs(10)), ReturnWhen::FirstCompleted);
/// assert_eq!(r.done, [1]);
/// assert_eq!(name.result().unwrap(), "ferris");
/// worker.join().unwrap();
/// ```
pub fn wait_any(
    futures: &[&dyn Waitable],
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> DoneAndNotDoneIndices {
    let deadline = timeout.and_then(primitives::deadline);
    let mut pending = Vec::new();
    let mut look = Look::default();
    for f in futures {
        match f.completion() {
            Some(how) => look.saw(how),
            None => pending.push(Dyn(*f)),
        }
    }
    if look.must_block(pending.len(), timeout, return_when) {
        block(&pending, return_when, deadline);
    }
    let mut r = DoneAndNotDoneIndices::default();
    for (i, f) in futures.iter().enumerate() {
        let set = if f.completion().is_some() {
            &mut r.done
        } else {
            &mut r.not_done
        };
        set.push(i);
    }
    r
}

/// What the first look at the futures found.
#[derive(Default)]
struct Look {
    any_done: bool,
    any_failed: bool,
}

impl Look {
    fn saw(&mut self, how: Completion) {
        self.any_done = true;
        self.any_failed |= how == Completion::Failed;
    }

    /// Whether the caller must install a waiter and block: `return_when` is
    /// not satisfied by the done futures, some are pending, and the timeout
    /// is not zero (zero only looks).
    fn must_block(&self, pending: usize, timeout: Option<Duration>, rw: ReturnWhen) -> bool {
        let satisfied = match rw {
            ReturnWhen::FirstCompleted => self.any_done,
            ReturnWhen::FirstException => self.any_failed,
            ReturnWhen::AllCompleted => false,
        };
        !satisfied && pending > 0 && timeout != Some(Duration::ZERO)
    }
}

/// A `&dyn Waitable` as a `Waitable`, so `wait_any` shares [`block`].
pub(crate) struct Dyn<'a>(pub(crate) &'a dyn Waitable);

impl Waitable for Dyn<'_> {
    fn install_waiter(&self, waiter: &Arc<dyn Waiter>, token: usize) -> Option<Completion> {
        self.0.install_waiter(waiter, token)
    }
    #[allow(unsafe_code)]
    unsafe fn install_waiter_unowned(
        &self,
        waiter: &Arc<dyn Waiter>,
        token: usize,
    ) -> Option<Completion> {
        // SAFETY: the same contract, passed on.
        unsafe { self.0.install_waiter_unowned(waiter, token) }
    }
    fn remove_waiter(&self, waiter: &Arc<dyn Waiter>) {
        self.0.remove_waiter(waiter);
    }
    fn completion(&self) -> Option<Completion> {
        self.0.completion()
    }
    fn id(&self) -> usize {
        self.0.id()
    }
}

/// Blocks on the `pending` futures until `return_when` is satisfied or
/// `deadline` passes, with the waiter for `return_when`.
fn block<W: Waitable>(pending: &[W], return_when: ReturnWhen, deadline: Option<Instant>) {
    let n = pending.len();
    match return_when {
        ReturnWhen::AllCompleted => block_on(pending, AllCompleted::new(n), deadline),
        ReturnWhen::FirstCompleted => block_on(pending, FirstCompleted, deadline),
        ReturnWhen::FirstException => block_on(pending, FirstException::new(n), deadline),
    };
}

/// Installs a [`Signal`] with `rule` on each of `pending` (its position as
/// token), sleeps until the rule says stop or `deadline` passes, and removes
/// it again. Returns whether the rule said stop.
pub(crate) fn block_on<W: Waitable, R: StopRule>(
    pending: &[W],
    rule: R,
    deadline: Option<Instant>,
) -> bool {
    let held = Held::new(Signal::new(rule));
    let (signal, waiter) = (&*held.waiter, &held.hook);
    let mut installed = Installed {
        pending,
        count: 0,
        waiter,
        signal,
    };
    for (token, f) in pending.iter().enumerate() {
        // A completion may already have said stop (`FirstCompleted`,
        // `FirstException`): then installing on the rest is wasted work.
        // Looked at every 64 futures, to keep off the line `notify` writes.
        if token % 64 == 63 && signal.stopped() {
            return true;
        }
        // SAFETY: `held` outlives `installed`, whose drop uninstalls it
        // from every future it was installed on, unless every one of them
        // has been recorded: then each notify was seen under the signal's
        // lock, and unlocking it was the last thing it did to the signal.
        #[allow(unsafe_code)]
        let early = unsafe { waiter::install(waiter, f, token) };
        installed.count += 1;
        // Done since the first look: nothing was installed; record it here.
        if let Some(how) = early {
            if signal.record(how) {
                return true; // `installed` removes what is installed so far
            }
        }
    }
    signal.wait(deadline)
}

/// The waiter as installed on `pending[..count]`; dropping this removes it
/// from each of those futures that is not done, on every return path. When
/// every one of them has been recorded, they have all notified the waiter
/// and dropped it, and there is nothing to remove.
struct Installed<'a, W: Waitable, R: StopRule> {
    pending: &'a [W],
    count: usize,
    waiter: &'a Arc<dyn Waiter>,
    signal: &'a Signal<R>,
}

impl<W: Waitable, R: StopRule> Drop for Installed<'_, W, R> {
    fn drop(&mut self) {
        if self.signal.all_recorded() {
            return;
        }
        for f in &self.pending[..self.count] {
            waiter::uninstall(self.waiter, f);
        }
    }
}
