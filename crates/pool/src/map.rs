//! `map`: [`MapOptions`] and the [`Map`] iterator both pools return.
//!
//! A `Map` pulls futures from a *source* (a closure that submits the next
//! input item and returns its future, or `None` at the end of the input) and
//! yields their outcomes in input order:
//!
//! * without `buffersize` the whole input is submitted when `map` is called,
//!   as Python does;
//! * with `buffersize(n)` at most `n` futures are ahead of the consumer: one
//!   more item is submitted each time one is taken (before waiting on it, as
//!   CPython does), so a lazy or endless input is read only as fast as
//!   results are taken;
//! * `timeout` is one deadline counted from the call; when it passes, `next`
//!   yields `Err(FutureError::Timeout)`, cancels what is left and ends;
//! * a failed item fails only its own place (`Err(FutureError::Failed)`);
//! * each future is taken out of the map before its value is, so the map
//!   keeps no reference to results already handed out;
//! * dropping the map cancels every future that has not started;
//! * an input iterator that panics (in `map` or in a buffered map's `next`)
//!   is not read again; the panic goes on to the caller, and every future
//!   the map submitted stays in it (so in `map` the map is dropped at once
//!   and cancels them all; after a panic in `next` the map still yields
//!   the items it holds).
//!
//! The process pool's chunks (one task for `chunksize` items) are slots that
//! yield several items.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use concurrent_futures_core::{Future, FutureError, TaskError, TimeoutError};

use crate::error::SubmitError;

/// Options of `map_with`: Python's `timeout`, `buffersize` and `chunksize`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::MapOptions;
/// use std::time::Duration;
///
/// let opts = MapOptions::default()
///     .timeout(Duration::from_secs(5))
///     .buffersize(16)
///     .chunksize(4);
/// assert_eq!(opts.get_buffersize(), Some(16));
/// assert_eq!(opts.get_chunksize(), 4);
/// assert_eq!(opts.get_timeout(), Some(Duration::from_secs(5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "options do nothing until passed to map_with"]
pub struct MapOptions {
    timeout: Option<Duration>,
    buffersize: Option<usize>,
    chunksize: usize,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            timeout: None,
            buffersize: None,
            chunksize: 1,
        }
    }
}

impl MapOptions {
    /// The same as [`MapOptions::default`]: no timeout, the whole input
    /// submitted at once, one item per task.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::MapOptions::new().get_chunksize(), 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The time allowed for the whole map, counted from the call to `map_with`.
    ///
    /// It bounds the submits too, on a pool with `max_queued`: a map that
    /// submits its whole input (no `buffersize`) and still finds no room at
    /// the deadline fails with `SubmitError::Timeout`, cancelling what it
    /// submitted; a buffered map whose read-ahead finds no room yields the
    /// timeout error at the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = concurrent_futures::MapOptions::default().timeout(Duration::ZERO);
    /// assert_eq!(o.get_timeout(), Some(Duration::ZERO));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps at most `n` tasks ahead of the consumer.
    ///
    /// # Panics
    ///
    /// If `n` is zero (Python's `ValueError: buffersize must be None or > 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// let o = concurrent_futures::MapOptions::default().buffersize(2);
    /// assert_eq!(o.get_buffersize(), Some(2));
    /// ```
    ///
    /// ```should_panic
    /// concurrent_futures::MapOptions::default().buffersize(0);
    /// ```
    pub fn buffersize(mut self, n: usize) -> Self {
        assert!(n > 0, "buffersize must be greater than 0");
        self.buffersize = Some(n);
        self
    }

    /// Items per task: `n` items run as one task, one after another, each
    /// with its own result or error. Python uses it for the process pool
    /// only; the thread pool honours it too, which cuts the per-item cost of
    /// a big `map` (a future per chunk instead of per item). A chunk is
    /// cancelled as a whole; `buffersize` counts chunks.
    ///
    /// # Panics
    ///
    /// If `n` is zero (Python's `ValueError: chunksize must be >= 1`).
    ///
    /// # Examples
    ///
    /// ```
    /// let o = concurrent_futures::MapOptions::default().chunksize(8);
    /// assert_eq!(o.get_chunksize(), 8);
    /// ```
    pub fn chunksize(mut self, n: usize) -> Self {
        assert!(n > 0, "chunksize must be >= 1");
        self.chunksize = n;
        self
    }

    /// The timeout, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::MapOptions::default().get_timeout(), None);
    /// ```
    #[must_use]
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The buffer size, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::MapOptions::default().get_buffersize(), None);
    /// ```
    #[must_use]
    pub fn get_buffersize(&self) -> Option<usize> {
        self.buffersize
    }

    /// The chunk size (1 unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(concurrent_futures::MapOptions::default().get_chunksize(), 1);
    /// ```
    #[must_use]
    pub fn get_chunksize(&self) -> usize {
        self.chunksize
    }
}

/// One submitted unit of a map: a task for one item, or a chunk of items run
/// as one task (process pool).
pub(crate) enum Slot<T> {
    /// One item's future.
    One(Future<T>),
    /// A chunk: each item's outcome, in order; `len` items, so that a chunk
    /// that fails as a whole fails each of its places. Built by
    /// `map_with(.., chunksize(n))` on either pool.
    Chunk {
        future: Future<Vec<Result<T, TaskError>>>,
        len: usize,
    },
}

impl<T> Slot<T> {
    /// How many items of the input this slot stands for.
    fn items(&self) -> usize {
        match self {
            Slot::One(_) => 1,
            Slot::Chunk { len, .. } => *len,
        }
    }

    fn cancel(&self) {
        match self {
            Slot::One(f) => {
                f.cancel();
            }
            Slot::Chunk { future, .. } => {
                future.cancel();
            }
        }
    }

    /// Waits until done or `deadline`; returns whether it is done.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        fn wait_one<U>(f: &Future<U>, deadline: Option<Instant>) -> bool {
            match deadline {
                None => {
                    let _ = f.exception();
                    true
                }
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    !matches!(f.exception_timeout(left), Err(FutureError::Timeout(_)))
                }
            }
        }
        match self {
            Slot::One(f) => wait_one(f, deadline),
            Slot::Chunk { future, .. } => wait_one(future, deadline),
        }
    }

    /// Takes the outcomes out of a done slot, appending them to `out`.
    fn take_into(self, out: &mut VecDeque<Result<T, FutureError>>) {
        match self {
            Slot::One(f) => out.push_back(f.into_result()),
            Slot::Chunk { future, len } => match future.into_result() {
                Ok(items) => out.extend(items.into_iter().map(|r| r.map_err(FutureError::from))),
                Err(e) => out.extend(std::iter::repeat_n(e, len).map(Err)),
            },
        }
    }
}

/// Submits the next input item, waiting for room in a bounded pool no
/// later than the map's deadline (given); `None` at the end of the input.
pub(crate) type Source<T> =
    Box<dyn FnMut(Option<Instant>) -> Option<Result<Slot<T>, SubmitError>> + Send>;

/// The iterator `map` returns: each item's `Result<T, FutureError>`, in
/// input order.
///
/// See the module docs of `map.rs` for buffering, the timeout and
/// cancellation. A submit refused while a buffered map reads more input
/// yields one `Err(FutureError::Failed(_))` and ends the map: a pool that
/// broke meanwhile gives `TaskError::Broken` with its reason; any other
/// refusal (the pool was shut down, or a bounded pool had no room by the
/// map's deadline) gives `TaskError::Error` holding the [`SubmitError`]
/// (`TaskError::downcast_ref`), so `is_broken()` is true only for a broken
/// pool.
///
/// ```
/// use concurrent_futures::{MapOptions, SubmitError, ThreadPoolExecutor};
///
/// let ex = ThreadPoolExecutor::new(1).unwrap();
/// let mut m = ex.map_with(|x: u8| x, 0..10, MapOptions::default().buffersize(1)).unwrap();
/// ex.shutdown(true, false); // the next read-ahead is refused
/// assert_eq!(m.next().unwrap().unwrap(), 0);
/// let e = m.next().unwrap().unwrap_err();
/// let e = e.task_error().unwrap();
/// assert!(!e.is_broken());
/// assert!(e.downcast_ref::<SubmitError>().unwrap().is_shutdown());
/// assert!(m.next().is_none());
/// ```
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let ex = ThreadPoolExecutor::new(2).unwrap();
/// let squares: Vec<u64> = ex.map(|x: u64| x * x, 1..=4).unwrap().into_result().unwrap();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
#[must_use = "a map yields its results only when iterated; dropping it cancels what has not started"]
pub struct Map<T> {
    slots: VecDeque<Slot<T>>,
    ready: VecDeque<Result<T, FutureError>>,
    source: Option<Source<T>>,
    buffered: bool,
    deadline: Option<Instant>,
    handed_out: usize,
    /// A refused submit, reported after the items before it.
    pending_error: Option<FutureError>,
    ended: bool,
}

impl<T> Map<T> {
    /// Starts a map over `source` with `options`: submits everything (no
    /// `buffersize`) or the first `buffersize` items.
    ///
    /// # Errors
    ///
    /// The first submit error; every future submitted before it is cancelled.
    pub(crate) fn start(source: Source<T>, options: MapOptions) -> Result<Self, SubmitError> {
        let limit = options.buffersize.unwrap_or(usize::MAX);
        // The map exists before the first submit: if a submit is refused or
        // the input panics, dropping it cancels what was submitted so far.
        let mut map = Map::new(Some(source), options);
        while map.slots.len() < limit {
            match map.pull() {
                Some(Ok(slot)) => map.slots.push_back(slot),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(map)
    }

    /// A map whose whole input is submitted now, from `slots` (the thread
    /// pool's eager path: the input need not be `Send` or `'static`).
    ///
    /// # Errors
    ///
    /// The first submit error; every future submitted before it is cancelled.
    pub(crate) fn submitted(
        slots: impl Iterator<Item = Result<Slot<T>, SubmitError>>,
        options: MapOptions,
    ) -> Result<Self, SubmitError> {
        // As in `start`: a refusal or a panic of the input drops the map,
        // which cancels every future submitted before it.
        let mut map = Map::new(None, options);
        for slot in slots {
            map.slots.push_back(slot?);
        }
        Ok(map)
    }

    /// An empty map; its deadline counts from now.
    fn new(source: Option<Source<T>>, options: MapOptions) -> Self {
        Map {
            slots: VecDeque::new(),
            ready: VecDeque::new(),
            source,
            buffered: options.buffersize.is_some(),
            deadline: options.timeout.and_then(|t| Instant::now().checked_add(t)),
            handed_out: 0,
            pending_error: None,
            ended: false,
        }
    }

    /// Reads and submits the next input item. The source is held outside
    /// the map while it runs, so an input that panics is not read again;
    /// `None` at the end of the input (the source is then dropped).
    fn pull(&mut self) -> Option<Result<Slot<T>, SubmitError>> {
        let mut source = self.source.take()?;
        let next = source(self.deadline);
        if next.is_some() {
            self.source = Some(source);
        }
        next
    }

    /// A map over futures that an executor outside this crate submitted,
    /// one per item, in input order (how the Slurm executor builds its
    /// `map`). `options`' timeout counts from now; dropping the map cancels
    /// what has not finished.
    ///
    /// Each value is taken out of its future, as
    /// [`Future::into_result`] takes it: an item whose future still has
    /// another handle alive when it is done comes out as
    /// `Err(FutureError::NotUnique(..))` (the value stays for that handle).
    /// Give the map the only handles, or read the values through yours with
    /// [`Future::result`].
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::Future;
    /// use concurrent_futures::{Map, MapOptions};
    ///
    /// let futures: Vec<Future<u8>> = (0..3).map(|_| Future::new()).collect();
    /// for (i, f) in futures.iter().enumerate() {
    ///     f.set_result(i as u8).unwrap();
    /// }
    /// let m = Map::from_futures(futures, MapOptions::default());
    /// assert_eq!(m.into_result().unwrap(), [0, 1, 2]);
    ///
    /// // A handle kept beside the map's keeps the value.
    /// let f = Future::new();
    /// f.set_result(9u8).unwrap();
    /// let mut m = Map::from_futures([f.clone()], MapOptions::default());
    /// assert!(matches!(m.next(), Some(Err(concurrent_futures::FutureError::NotUnique(_)))));
    /// assert_eq!(*f.result().unwrap(), 9);
    /// ```
    pub fn from_futures(futures: impl IntoIterator<Item = Future<T>>, options: MapOptions) -> Self {
        Self::submitted(futures.into_iter().map(|f| Ok(Slot::One(f))), options)
            .unwrap_or_else(|_| unreachable!("no slot is an error"))
    }

    /// A map over chunks that an executor outside this crate submitted:
    /// each future yields the outcomes of `len` consecutive items, and a
    /// chunk that fails as a whole fails each of its `len` places.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::{Future, TaskError};
    /// use concurrent_futures::{Map, MapOptions};
    ///
    /// let a = Future::new();
    /// a.set_result(vec![Ok(1u8), Ok(2)]).unwrap();
    /// let b = Future::new();
    /// b.set_exception(TaskError::broken("node lost")).unwrap();
    /// let m = Map::from_chunks([(a, 2), (b, 2)], MapOptions::default());
    /// let got: Vec<_> = m.collect();
    /// assert_eq!(got.len(), 4);
    /// assert!(got[3].is_err());
    /// ```
    pub fn from_chunks(
        chunks: impl IntoIterator<Item = (Future<Vec<Result<T, TaskError>>>, usize)>,
        options: MapOptions,
    ) -> Self {
        Self::submitted(
            chunks
                .into_iter()
                .map(|(future, len)| Ok(Slot::Chunk { future, len })),
            options,
        )
        .unwrap_or_else(|_| unreachable!("no slot is an error"))
    }

    /// Collects every result, stopping at the first error (Python's
    /// `list(ex.map(...))` raising); what has not started then is cancelled.
    ///
    /// # Errors
    ///
    /// The first item's error in input order, or the map's timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let ex = ThreadPoolExecutor::new(2).unwrap();
    /// let m = ex.map(|x: i32| if x == 2 { panic!("two") } else { x }, 0..4).unwrap();
    /// let err = m.into_result().unwrap_err();
    /// assert_eq!(err.task_error().unwrap().panic_message(), Some("two"));
    /// ```
    pub fn into_result(self) -> Result<Vec<T>, FutureError> {
        self.collect()
    }

    /// Reads one more input item, if the map is buffered and input is left.
    fn refill(&mut self) {
        if !self.buffered {
            return;
        }
        match self.pull() {
            Some(Ok(slot)) => self.slots.push_back(slot),
            Some(Err(SubmitError::Timeout { .. })) => {
                // No room in the pool before the map's deadline: the map
                // times out there, after the items already submitted (each
                // still comes back if it is done by then). The item read for
                // this submit was dropped unsubmitted.
                self.source = None;
                let unfinished = 1 + self.slots.iter().map(Slot::items).sum::<usize>();
                let total = unfinished + self.handed_out;
                self.pending_error =
                    Some(FutureError::Timeout(TimeoutError::new(unfinished, total)));
            }
            Some(Err(e)) => {
                self.source = None;
                self.ready_error_after_slots(e);
            }
            None => {}
        }
    }

    /// A submit was refused mid-way: the items before it still come back,
    /// then its place fails and the map ends.
    fn ready_error_after_slots(&mut self, e: SubmitError) {
        let error = match e {
            SubmitError::Broken { reason } => TaskError::broken(reason),
            refused => TaskError::error(refused),
        };
        self.pending_error = Some(FutureError::Failed(error));
    }

    /// Ends the map: cancels everything not yet started.
    fn end(&mut self) {
        self.ended = true;
        self.source = None;
        for slot in self.slots.drain(..) {
            slot.cancel();
        }
        self.ready.clear();
    }

    /// The timeout error, counted in items (a chunk counts its items),
    /// `current` the items of the slot that timed out.
    fn timeout_error(&mut self, current: usize) -> FutureError {
        let unfinished = current + self.slots.iter().map(Slot::items).sum::<usize>();
        let total = unfinished + self.handed_out;
        self.end();
        FutureError::Timeout(TimeoutError::new(unfinished, total))
    }
}

impl<T> Iterator for Map<T> {
    type Item = Result<T, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(r) = self.ready.pop_front() {
                self.handed_out += 1;
                return Some(r);
            }
            if self.slots.is_empty() {
                let last = self.pending_error.take();
                self.end();
                return last.map(Err);
            }
            // Read one more item before taking this one out (CPython's
            // order), so that an input that panics here leaves every
            // submitted future in the map, which cancels them when dropped.
            self.refill();
            let slot = self
                .slots
                .pop_front()
                .expect("a slot was there before the refill, which only adds");
            if !slot.wait(self.deadline) {
                slot.cancel();
                return Some(Err(self.timeout_error(slot.items())));
            }
            slot.take_into(&mut self.ready);
        }
    }
}

impl<T> Drop for Map<T> {
    fn drop(&mut self) {
        for slot in self.slots.drain(..) {
            slot.cancel();
        }
    }
}

impl<T> fmt::Debug for Map<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.slots.len())
            .field("input_left", &self.source.is_some())
            .field("deadline", &self.deadline)
            .field("ended", &self.ended)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn done<T>(v: T) -> Slot<T> {
        let f = Future::new();
        f.set_result(v).unwrap();
        Slot::One(f)
    }

    #[test]
    fn chunks_flatten_in_order_and_fail_per_place() {
        let chunk = Future::new();
        chunk
            .set_result(vec![Ok(2), Err(TaskError::panic("p")), Ok(4)])
            .unwrap();
        let failed = Future::<Vec<Result<i32, TaskError>>>::new();
        failed.set_exception(TaskError::broken("gone")).unwrap();
        let slots = vec![
            Ok(done(1)),
            Ok(Slot::Chunk {
                future: chunk,
                len: 3,
            }),
            Ok(Slot::Chunk {
                future: failed,
                len: 2,
            }),
            Ok(done(7)),
        ];
        let out: Vec<_> = Map::submitted(slots.into_iter(), MapOptions::default())
            .unwrap()
            .collect();
        assert_eq!(out.len(), 7);
        assert_eq!(*out[0].as_ref().unwrap(), 1);
        assert_eq!(*out[1].as_ref().unwrap(), 2);
        assert!(out[2]
            .as_ref()
            .unwrap_err()
            .task_error()
            .unwrap()
            .is_panic());
        assert_eq!(*out[3].as_ref().unwrap(), 4);
        assert!(out[4]
            .as_ref()
            .unwrap_err()
            .task_error()
            .unwrap()
            .is_broken());
        assert!(out[5]
            .as_ref()
            .unwrap_err()
            .task_error()
            .unwrap()
            .is_broken());
        assert_eq!(*out[6].as_ref().unwrap(), 7);
    }

    #[test]
    fn submit_error_cancels_what_was_submitted() {
        let pending = Future::<i32>::new();
        let slots = vec![Ok(Slot::One(pending.clone())), Err(SubmitError::Shutdown)];
        let err = Map::submitted(slots.into_iter(), MapOptions::default()).unwrap_err();
        assert!(err.is_shutdown());
        assert!(pending.cancelled());
    }

    #[test]
    fn buffered_source_reads_ahead_by_buffersize() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let read = Arc::new(AtomicUsize::new(0));
        let r = read.clone();
        let source: Source<usize> = Box::new(move |_| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            Some(Ok(done(n)))
        });
        let mut m = Map::start(source, MapOptions::default().buffersize(3)).unwrap();
        assert_eq!(read.load(Ordering::SeqCst), 3);
        assert_eq!(m.next().unwrap().unwrap(), 0);
        assert_eq!(read.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn refused_refill_fails_its_place_then_ends() {
        let mut n = 0;
        let source: Source<i32> = Box::new(move |_| {
            n += 1;
            Some(if n <= 2 {
                Ok(done(n))
            } else {
                Err(SubmitError::Shutdown)
            })
        });
        let out: Vec<_> = Map::start(source, MapOptions::default().buffersize(2))
            .unwrap()
            .collect();
        assert_eq!(out.len(), 3);
        assert_eq!(*out[1].as_ref().unwrap(), 2);
        let e = out[2].as_ref().unwrap_err().task_error().unwrap();
        assert!(!e.is_broken() && e.to_string().contains("after shutdown"));
    }

    #[test]
    fn huge_timeout_means_no_deadline() {
        let slots = vec![Ok(done(1)), Ok(done(2))];
        let m = Map::submitted(
            slots.into_iter(),
            MapOptions::default().timeout(Duration::MAX),
        )
        .unwrap();
        assert_eq!(m.into_result().unwrap(), [1, 2]);
    }

    #[test]
    fn timeout_cancels_the_rest() {
        let slow = Future::<i32>::new();
        let later = Future::<i32>::new();
        let slots = vec![
            Ok(done(1)),
            Ok(Slot::One(slow.clone())),
            Ok(Slot::One(later.clone())),
        ];
        let mut m = Map::submitted(
            slots.into_iter(),
            MapOptions::default().timeout(Duration::ZERO),
        )
        .unwrap();
        assert_eq!(m.next().unwrap().unwrap(), 1);
        let e = m.next().unwrap().unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "timed out: 2 (of 3) futures unfinished");
        assert!(m.next().is_none());
        assert!(slow.cancelled() && later.cancelled());
    }
}
