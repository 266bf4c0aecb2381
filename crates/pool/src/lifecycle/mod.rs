//! The task lifecycle both executors share: admission (the gate that orders
//! submits against `shutdown`), `cancel_futures`, and breaking.
//!
//! * `gate.rs` — [`Gate`](gate::Gate): who is accepted, and when no accepted
//!   submitter is still pushing (the gate is *drained*).
//!
//! Executor-specific parts (queues, workers, stats) live beside each
//! executor: `thread/` and `process/`.

pub(crate) mod gate;
