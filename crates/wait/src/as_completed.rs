//! `as_completed`: the futures in the order they complete, as Python's
//! `concurrent.futures.as_completed`; and `as_completed_any` for futures of
//! mixed types.
//!
//! The call looks at each distinct future once: a done one goes straight to
//! the ready list, the others get the [`Queue`] waiter with their position
//! as token. The iterator then hands out the ready list, then reads the
//! queue's log of completed tokens place by place (a load each; it sleeps
//! only on a place not yet written). A future is held until it is yielded,
//! then never again.

use std::collections::HashSet;
use std::fmt;
use std::iter::FusedIterator;
use std::time::{Duration, Instant};

use concurrent_futures_core::{Future, FutureError, TimeoutError, Waitable};

use crate::future_set::BuildIdHasher;
use crate::waiter::{self, Held, Queue};
use concurrent_futures_core::__private::primitives;

/// An iterator over futures as they complete; made by [`as_completed`].
///
/// Yields `Ok(future)` for each distinct future exactly once: first those
/// already done at the call, then each as it completes. If the timeout
/// passes first, it yields one `Err(FutureError::Timeout(_))` saying how
/// many futures were unfinished ("timed out: 2 (of 4) futures unfinished") and ends.
///
/// It holds no handle to a future it has yielded, and dropping it (or
/// timing out) removes its waiter from every future not yet done.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::as_completed;
///
/// let f = Future::new();
/// f.set_result(7).unwrap();
/// let mut it = as_completed(&[f.clone()], None);
/// assert_eq!(*it.next().unwrap().unwrap().result().unwrap(), 7);
/// assert!(it.next().is_none());
/// ```
#[must_use = "iterators are lazy; as_completed yields nothing unless iterated"]
pub struct AsCompleted<T: Send> {
    /// The future of each token, `None` once yielded.
    slots: Vec<Option<Future<T>>>,
    stream: Stream,
}

/// Returns an iterator over `futures` that yields each future as it
/// completes, as Python's `concurrent.futures.as_completed`.
///
/// `futures` is anything that iterates over `&Future<T>`: `&Vec`, a slice,
/// `map.keys()` of a `HashMap<Future<T>, _>` (the usual way to keep what each
/// future was for). Futures may come from any executor.
///
/// * The futures done at the call come first, then each as it completes.
/// * A future given twice is yielded once.
/// * A cancelled future counts as done at once.
/// * `timeout` counts from this call (Python counts from the first `next`):
///   when it passes, the iterator yields `Err(FutureError::Timeout(_))`
///   naming how many futures were unfinished, then ends. `None` waits for
///   ever.
///
/// It costs O(n) to set up and O(1) per future yielded.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::as_completed;
/// use std::{thread, time::Duration};
///
/// let futures: Vec<Future<usize>> = (0..3).map(|_| Future::new()).collect();
/// for (i, f) in futures.iter().cloned().enumerate() {
///     thread::spawn(move || f.run(|| i * i));
/// }
/// let mut sum = 0;
/// for f in as_completed(&futures, Some(Duration::from_secs(10))) {
///     sum += *f.expect("all three within 10 s").result().unwrap();
/// }
/// assert_eq!(sum, 0 + 1 + 4);
/// ```
pub fn as_completed<'a, T, I>(futures: I, timeout: Option<Duration>) -> AsCompleted<T>
where
    T: Send + 'a,
    I: IntoIterator<Item = &'a Future<T>>,
{
    let deadline = timeout.and_then(primitives::deadline);
    let futures: Vec<&Future<T>> = futures.into_iter().collect();
    let mut seen = Seen::for_ids(futures.iter().map(|f| Waitable::id(*f)));
    let mut it = AsCompleted {
        slots: Vec::with_capacity(futures.len()),
        stream: Stream::new(futures.len(), deadline, timeout == Some(Duration::ZERO)),
    };
    for f in futures {
        if seen.insert(Waitable::id(f)) {
            let token = it.slots.len();
            it.slots.push(Some(f.clone()));
            it.stream.watch(token, f);
        }
    }
    it
}

impl<T: Send> AsCompleted<T> {
    /// Removes the waiter from every future not yet yielded, and lets go of
    /// them.
    fn release(&mut self) {
        if self.stream.unyielded == 0 {
            return;
        }
        for f in self.slots.iter().flatten() {
            waiter::uninstall(&self.stream.queue.hook, f);
        }
        self.slots = Vec::new();
    }
}

impl<T: Send> Iterator for AsCompleted<T> {
    type Item = Result<Future<T>, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.stream.next_token()? {
                Ok(token) => match self.slots[token].take() {
                    Some(f) => return Some(Ok(f)),
                    // Only a `Waitable` that notifies twice repeats a token:
                    // it did not count, read on.
                    None => self.stream.unyielded += 1,
                },
                Err(timeout) => {
                    self.release();
                    return Some(Err(FutureError::Timeout(timeout)));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl<T: Send> FusedIterator for AsCompleted<T> {}

impl<T: Send> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<T: Send> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.stream.fmt_fields(f.debug_struct("AsCompleted"))
    }
}

/// [`as_completed`] for futures of different result types: takes them as
/// [`&dyn Waitable`](Waitable) and yields positions in `futures`; made by
/// [`as_completed_any`].
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::as_completed_any;
///
/// let a = Future::<u8>::new();
/// let b = Future::<Vec<u8>>::new();
/// b.set_result(vec![1]).unwrap();
/// let mut it = as_completed_any(&[&a, &b], None);
/// assert_eq!(it.next().unwrap().unwrap(), 1);
/// a.set_result(0).unwrap();
/// assert_eq!(it.next().unwrap().unwrap(), 0);
/// assert!(it.next().is_none());
/// ```
#[must_use = "iterators are lazy; as_completed_any yields nothing unless iterated"]
pub struct AsCompletedAny<'a> {
    /// The position and future of each token, `None` once yielded.
    slots: Vec<Option<(usize, &'a dyn Waitable)>>,
    stream: Stream,
}

/// [`as_completed`] for futures of different result types: yields the
/// position in `futures` of each future as it completes (the first position
/// of a future given twice). Every `Future<T>` with `T: Send` is a
/// [`Waitable`], so `&[&a, &b]` works for futures of two types; look the
/// future up by its position.
///
/// The rules are those of [`as_completed`]; only the positions are kept, and
/// the slice of references need not outlive the call.
///
/// # Examples
///
/// ```
/// use concurrent_futures::Future;
/// use concurrent_futures::as_completed_any;
/// use std::{thread, time::Duration};
///
/// let size = Future::<u64>::new();
/// let body = Future::<String>::new();
/// let b = body.clone();
/// let t = thread::spawn(move || b.run(|| "<html>".to_string()));
/// let mut order = Vec::new();
/// for i in as_completed_any(&[&size, &body], Some(Duration::from_millis(50))) {
///     match i {
///         Ok(i) => order.push(i),
///         Err(e) => assert_eq!(e.to_string(), "timed out: 1 (of 2) futures unfinished"),
///     }
/// }
/// assert_eq!(order, [1]);
/// t.join().unwrap();
/// ```
pub fn as_completed_any<'a>(
    futures: &[&'a dyn Waitable],
    timeout: Option<Duration>,
) -> AsCompletedAny<'a> {
    let deadline = timeout.and_then(primitives::deadline);
    let mut seen = Seen::for_ids(futures.iter().map(|f| f.id()));
    let mut it = AsCompletedAny {
        slots: Vec::with_capacity(futures.len()),
        stream: Stream::new(futures.len(), deadline, timeout == Some(Duration::ZERO)),
    };
    for (i, f) in futures.iter().copied().enumerate() {
        if seen.insert(f.id()) {
            let token = it.slots.len();
            it.slots.push(Some((i, f)));
            it.stream.watch(token, f);
        }
    }
    it
}

impl AsCompletedAny<'_> {
    fn release(&mut self) {
        if self.stream.unyielded == 0 {
            return;
        }
        for (_, f) in self.slots.iter().flatten() {
            waiter::uninstall(&self.stream.queue.hook, *f);
        }
        self.slots = Vec::new();
    }
}

impl Iterator for AsCompletedAny<'_> {
    type Item = Result<usize, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.stream.next_token()? {
                Ok(token) => match self.slots[token].take() {
                    Some((i, _)) => return Some(Ok(i)),
                    // Only a `Waitable` that notifies twice repeats a token:
                    // it did not count, read on.
                    None => self.stream.unyielded += 1,
                },
                Err(timeout) => {
                    self.release();
                    return Some(Err(FutureError::Timeout(timeout)));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl FusedIterator for AsCompletedAny<'_> {}

impl Drop for AsCompletedAny<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl fmt::Debug for AsCompletedAny<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.stream.fmt_fields(f.debug_struct("AsCompletedAny"))
    }
}

/// The engine shared by both iterators: which tokens are ready, the queue
/// that reports the others, and the deadline.
struct Stream {
    /// The queue; dropped last, after the iterator's `release`.
    queue: Held<Queue>,
    /// Tokens done at the call, yielded first: `ready[cursor..]`.
    ready: Vec<usize>,
    cursor: usize,
    /// Places of the queue's log read so far.
    taken: usize,
    deadline: Option<Instant>,
    /// A zero timeout only looks: no waiter is installed.
    look_only: bool,
    /// Tokens not yet yielded.
    unyielded: usize,
    total: usize,
    ended: bool,
}

impl Stream {
    /// A stream for at most `capacity` futures.
    fn new(capacity: usize, deadline: Option<Instant>, look_only: bool) -> Self {
        let queue = Held::new(Queue::with_capacity(if look_only { 0 } else { capacity }));
        Stream {
            queue,
            ready: Vec::new(),
            cursor: 0,
            taken: 0,
            deadline,
            look_only,
            unyielded: 0,
            total: 0,
            ended: false,
        }
    }

    /// Looks at the future of `token` (the next one): ready now if done,
    /// else watched.
    fn watch<W: Waitable + ?Sized>(&mut self, token: usize, f: &W) {
        debug_assert_eq!(token, self.total);
        self.total += 1;
        self.unyielded += 1;
        let done = match f.completion() {
            Some(how) => Some(how),
            None if self.look_only => None,
            // SAFETY: the stream keeps the queue until it is dropped, and
            // its owner's `release` uninstalls it first from every future
            // whose token it has not yielded; a yielded token was read from
            // the queue's log with Acquire (or under its lock, if the
            // consumer was parked), after the last thing the notify of it
            // did to the queue.
            #[allow(unsafe_code)]
            None => unsafe { waiter::install(&self.queue.hook, f, token) },
        };
        if done.is_some() {
            self.ready.push(token);
        }
    }

    /// The next token to yield, or the timeout. Tokens already at hand are
    /// yielded even after the deadline; the deadline is checked only when
    /// none is left and none has completed since.
    #[inline]
    fn next_token(&mut self) -> Option<Result<usize, TimeoutError>> {
        if self.ended {
            return None;
        }
        if let Some(&token) = self.ready.get(self.cursor) {
            self.cursor += 1;
            self.unyielded -= 1;
            return Some(Ok(token));
        }
        if self.unyielded == 0 {
            self.ended = true;
            return None;
        }
        // Every token not yet yielded was installed on, and comes through
        // the queue (unless the zero timeout installed nothing).
        let next = if self.look_only {
            None
        } else {
            self.queue.waiter.take(self.taken, self.deadline)
        };
        match next {
            Some(token) => {
                self.taken += 1;
                self.unyielded -= 1;
                Some(Ok(token))
            }
            None => {
                self.ended = true;
                Some(Err(TimeoutError::new(self.unyielded, self.total)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match (self.ended, self.deadline) {
            (true, _) => (0, Some(0)),
            // Without a deadline, every future comes.
            (false, None) => (self.unyielded, Some(self.unyielded)),
            // With one, the timeout error may take the place of the rest.
            (false, Some(_)) => (self.unyielded.min(1), Some(self.unyielded)),
        }
    }

    fn fmt_fields(&self, mut d: fmt::DebugStruct<'_, '_>) -> fmt::Result {
        d.field("total", &self.total)
            .field("unyielded", &self.unyielded)
            .field("ended", &self.ended)
            .finish()
    }
}

/// The ids seen so far, to drop duplicates from the input.
///
/// Ids are addresses, and futures made one after another sit close
/// together, so usually a bitmap over the range of ids does: one bit per
/// possible position, set in address order (about as cache-friendly as
/// reading the futures themselves). If the ids are spread out, a hash set
/// with [`IdHasher`](crate::IdHasher) takes over.
enum Seen {
    Bits {
        base: usize,
        /// Every id has the same low `shift` bits: `(id - base) >> shift`
        /// is a distinct bit per distinct id.
        shift: u32,
        words: Vec<u64>,
    },
    Hashed(HashSet<usize, BuildIdHasher>),
}

impl Seen {
    /// A set for the ids of `ids`, none of them inserted yet.
    fn for_ids(ids: impl ExactSizeIterator<Item = usize>) -> Self {
        let n = ids.len();
        let (mut lo, mut hi, mut first, mut differ) = (usize::MAX, 0, None, 0);
        for id in ids {
            lo = lo.min(id);
            hi = hi.max(id);
            differ |= id ^ *first.get_or_insert(id);
        }
        if n == 0 {
            return Seen::Hashed(HashSet::default());
        }
        let shift = differ.trailing_zeros().min(usize::BITS - 1);
        let words = ((hi - lo) >> shift) / 64 + 1;
        if words <= n {
            // At most 8 bytes per future: no more than a hash table takes.
            Seen::Bits {
                base: lo,
                shift,
                words: vec![0; words],
            }
        } else {
            Seen::Hashed(HashSet::with_capacity_and_hasher(n, Default::default()))
        }
    }

    /// Inserts `id`; returns whether it was new. `id` should be one of
    /// those the set was made for; one that is not (a hand-written
    /// `Waitable` whose `id` changed between the two calls) counts as new.
    #[inline]
    fn insert(&mut self, id: usize) -> bool {
        match self {
            Seen::Bits { base, shift, words } => {
                let bit = id.wrapping_sub(*base) >> *shift;
                let Some(word) = words.get_mut(bit / 64) else {
                    return true;
                };
                let mask = 1u64 << (bit % 64);
                let new = *word & mask == 0;
                *word |= mask;
                new
            }
            Seen::Hashed(set) => set.insert(id),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn iterators_and_results_cross_threads() {
        assert_send_sync::<AsCompleted<i32>>();
        assert_send_sync::<AsCompletedAny<'static>>();
        assert_send_sync::<crate::DoneAndNotDone<String>>();
        assert_send_sync::<crate::DoneAndNotDoneIndices>();
    }

    #[test]
    fn debug_shows_progress() {
        let f = Future::new();
        f.set_result(1u8).unwrap();
        let mut it = as_completed([&f], None);
        assert_eq!(
            format!("{it:?}"),
            "AsCompleted { total: 1, unyielded: 1, ended: false }"
        );
        let _ = it.next();
        assert!(format!("{it:?}").contains("unyielded: 0"));
    }

    fn distinct(ids: &[usize]) -> Vec<usize> {
        let mut seen = Seen::for_ids(ids.iter().copied());
        ids.iter().copied().filter(|id| seen.insert(*id)).collect()
    }

    #[test]
    fn seen_drops_duplicates_with_bits_or_hash() {
        // Close together: bits. Odd ids (shift 0) and aligned ones.
        assert!(matches!(
            Seen::for_ids([5usize, 3, 7].into_iter()),
            Seen::Bits { .. }
        ));
        assert_eq!(distinct(&[5, 3, 5, 8, 3, 1]), [5, 3, 8, 1]);
        assert_eq!(distinct(&[4096, 4264, 4096, 4432]), [4096, 4264, 4432]);
        // Spread out: a hash set.
        let far = [1usize << 40, 8, 1 << 40, 16];
        assert!(matches!(
            Seen::for_ids(far.iter().copied()),
            Seen::Hashed(_)
        ));
        assert_eq!(distinct(&far), [1 << 40, 8, 16]);
        assert!(distinct(&[]).is_empty());
        // An id outside the range the set was made for counts as new
        // (a `Waitable` whose id changed between the two looks).
        let mut seen = Seen::for_ids([4096usize, 4264].into_iter());
        assert!(seen.insert(8) && seen.insert(1 << 40));
        assert_eq!(distinct(&[usize::MAX, 0, usize::MAX]), [usize::MAX, 0]);
    }
}
