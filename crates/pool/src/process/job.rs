//! A queued process task: its encoded `TASK` frame, its time limit, and the
//! typed future its reply completes (behind the object-safe [`Sink`]).

use std::time::Duration;

use concurrent_futures_core::{Completer, FutureState, TaskError};
use serde::de::DeserializeOwned;

use super::chunk;
use super::codec::{self, SerdeError, SerdeStage};
use super::protocol::{FailCode, Reply, ReplyBody};

/// The typed side of a job: the completer of the future it ends. The
/// completer is core's uncounted executor reference, so the caller's
/// `into_result()` never sees the pool's side as another handle.
pub(crate) trait Sink: Send {
    /// `set_running_or_notify_cancel`: whether the task should run.
    fn start(&self) -> bool;
    /// Cancels a task that never started.
    fn cancel(self: Box<Self>);
    /// Fails the task.
    fn fail(self: Box<Self>, e: TaskError);
    /// Completes the task with an `OK` payload (decoded here, in the
    /// parent; a decode failure or panic fails the task): whether it got
    /// its value.
    fn finish(self: Box<Self>, payload: &[u8]) -> bool;
    /// The future's state (for `Debug`).
    fn state(&self) -> FutureState;
    /// Whether completing would run done-callbacks on this thread now.
    fn has_done_callbacks(&self) -> bool;
}

/// One task's future. Dropped without an outcome (only if a slot thread
/// unwinds from a bug), the completer still fails it, so no caller waits
/// forever.
pub(crate) struct One<R>(pub(crate) Completer<R>);

impl<R: DeserializeOwned + Send + 'static> Sink for One<R> {
    fn start(&self) -> bool {
        self.0.set_running_or_notify_cancel()
    }
    fn cancel(self: Box<Self>) {
        self.0.cancel();
    }
    fn fail(self: Box<Self>, e: TaskError) {
        self.0.complete(Err(e));
    }
    fn finish(self: Box<Self>, payload: &[u8]) -> bool {
        match codec::decode::<R>(payload, SerdeStage::ResultDecode) {
            Ok(r) => self.0.complete(Ok(r)),
            Err(e) => {
                self.0.complete(Err(TaskError::error(e)));
                false
            }
        }
    }
    fn state(&self) -> FutureState {
        self.0.state()
    }
    fn has_done_callbacks(&self) -> bool {
        self.0.has_done_callbacks()
    }
}

/// A chunk of `map` items run as one task (its wire form: `chunk.rs`).
pub(crate) struct Chunk<R>(pub(crate) Completer<Vec<Result<R, TaskError>>>);

impl<R: DeserializeOwned + Send + 'static> Sink for Chunk<R> {
    fn start(&self) -> bool {
        self.0.set_running_or_notify_cancel()
    }
    fn cancel(self: Box<Self>) {
        self.0.cancel();
    }
    fn fail(self: Box<Self>, e: TaskError) {
        self.0.complete(Err(e));
    }
    fn finish(self: Box<Self>, payload: &[u8]) -> bool {
        match chunk::decode_results::<R>(payload) {
            Ok(items) => self.0.complete(Ok(items)),
            Err(e) => {
                self.0.complete(Err(TaskError::error(e)));
                false
            }
        }
    }
    fn state(&self) -> FutureState {
        self.0.state()
    }
    fn has_done_callbacks(&self) -> bool {
        self.0.has_done_callbacks()
    }
}

/// A task waiting for a worker.
pub(crate) struct Job {
    pub(crate) id: u64,
    /// The complete `TASK` frame, taken when it is sent.
    pub(crate) frame: Vec<u8>,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) sink: Box<dyn Sink>,
    /// A `map` task: its future is internal to the `Map` iterator, so it
    /// may be sent to a worker ahead of time (marked running when sent).
    pub(crate) prefetch: bool,
    /// Marked running already (a prefetched job handed back by a worker
    /// that died before reaching it).
    pub(crate) started: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("bytes", &self.frame.len())
            .field("time_limit", &self.time_limit)
            .field("state", &self.sink.state())
            .finish()
    }
}

impl Job {
    /// Marks the job running once: whether it should run (false if it was
    /// cancelled while queued).
    pub(crate) fn start(&mut self) -> bool {
        if !self.started {
            self.started = self.sink.start();
        }
        self.started
    }

    /// Completes the future from the worker's reply: whether the task got
    /// its value.
    pub(crate) fn complete(self, reply: Reply) -> bool {
        let e = match reply.body {
            ReplyBody::Ok(payload) => return self.sink.finish(&payload),
            ReplyBody::Failed { code, message } => match code {
                FailCode::Panic => TaskError::panic(message),
                FailCode::ArgDecode => {
                    TaskError::error(SerdeError::new(SerdeStage::ArgumentDecode, message))
                }
                FailCode::ResultEncode => {
                    TaskError::error(SerdeError::new(SerdeStage::ResultEncode, message))
                }
            },
        };
        self.sink.fail(e);
        false
    }
}
