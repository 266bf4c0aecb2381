//! With `--features tracing`, the thread pool reports its tasks and workers
//! as `tracing` events of target `concurrent_futures`, and runs each task in
//! a `task` span.
#![cfg(feature = "tracing")]

use concurrent_futures_pool::{ShutdownOptions, ThreadPoolExecutor};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Event messages and span names, in arrival order, of every thread.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "concurrent_futures"
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        self.0
            .lock()
            .unwrap()
            .push(format!("span {}", attrs.metadata().name()));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().unwrap().push(m.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn smoke() {
    let rec = Recorder::default();
    // Global: the pool's workers are other threads.
    tracing::subscriber::set_global_default(rec.clone()).expect("the only subscriber");
    let ex = ThreadPoolExecutor::new(1).unwrap();
    let f = ex.submit(|| 2 + 2).unwrap();
    assert_eq!(*f.result_timeout(Duration::from_secs(30)).unwrap(), 4);
    ex.shutdown_with(ShutdownOptions::default());
    let seen = rec.0.lock().unwrap().clone();
    for expected in [
        "task submitted",
        "worker started",
        "span task",
        "task started",
        "task finished",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "no {expected:?} in {seen:?}"
        );
    }
    let at = |m: &str| seen.iter().position(|s| s == m).unwrap();
    assert!(at("task submitted") < at("task started"), "{seen:?}");
    assert!(at("task started") < at("task finished"), "{seen:?}");
}
