//! Diagnostics (a panicking done-callback or Timer function) reach the
//! user's hook, or with `--features tracing` a subscriber, never stderr when
//! either is there. The hook is process-global, so the tests take turns.

use concurrent_futures_core::diagnostics::{self, DiagnosticKind};
use concurrent_futures_core::sync::Timer;
use concurrent_futures_core::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One test at a time owns the global hook.
fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Seen = Arc<Mutex<Vec<(DiagnosticKind, String)>>>;

/// Sets a hook that records every diagnostic.
fn record() -> Seen {
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    diagnostics::set_hook(move |d| s.lock().unwrap().push((d.kind(), d.to_string())));
    seen
}

#[test]
fn smoke() {
    let _turn = exclusive();
    let seen = record();
    diagnostics::report(&diagnostics::Diagnostic::new(
        DiagnosticKind::WorkerStartFailed,
        format_args!("no {} left", "threads"),
    ));
    let _ = diagnostics::take_hook();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [(
            DiagnosticKind::WorkerStartFailed,
            "no threads left".to_owned()
        )]
    );
}

#[test]
fn a_panicking_callback_goes_to_the_hook_and_the_next_callback_runs() {
    let _turn = exclusive();
    let seen = record();
    let f = Future::new();
    let ran = Arc::new(Mutex::new(false));
    let r = Arc::clone(&ran);
    f.add_done_callback(|_: &Future<u8>| panic!("deliberate: a bug in a callback"));
    f.add_done_callback(move |_| *r.lock().unwrap() = true);
    f.set_result(1).unwrap();
    let _ = diagnostics::take_hook();
    assert!(*ran.lock().unwrap(), "the second callback did not run");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, DiagnosticKind::CallbackPanicked);
    assert!(
        seen[0].1.contains("deliberate: a bug in a callback"),
        "{}",
        seen[0].1
    );
}

#[test]
fn a_panicking_timer_function_goes_to_the_hook() {
    let _turn = exclusive();
    let seen = record();
    let t = Timer::start(Duration::ZERO, || {
        panic!("deliberate: the timer's function")
    });
    let joined = t
        .join_timeout(Duration::from_secs(10))
        .expect("the timer ran within 10 s");
    let _ = diagnostics::take_hook();
    assert!(joined.unwrap_err().is_panic());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, DiagnosticKind::TimerPanicked);
}

#[test]
fn a_panicking_hook_does_not_unwind_into_the_library() {
    let _turn = exclusive();
    diagnostics::set_hook(|_| panic!("deliberate: the hook itself"));
    let f = Future::new();
    f.add_done_callback(|_: &Future<u8>| panic!("deliberate: a callback"));
    // Would unwind out of `set_result` if the hook's panic escaped.
    f.set_result(1).unwrap();
    let _ = diagnostics::take_hook();
    assert_eq!(*f.result().unwrap(), 1);
}

#[test]
fn take_hook_returns_the_hook_it_removes() {
    let _turn = exclusive();
    let seen = record();
    let hook = diagnostics::take_hook();
    let f = Future::new();
    f.add_done_callback(|_: &Future<u8>| panic!("deliberate: while no hook is set"));
    // The default hook: stderr (this test's output is captured).
    f.set_result(1).unwrap();
    assert!(seen.lock().unwrap().is_empty());
    diagnostics::set_hook(hook);
    diagnostics::report(&diagnostics::Diagnostic::new(
        DiagnosticKind::WaiterPanicked,
        format_args!("through the restored hook"),
    ));
    let _ = diagnostics::take_hook();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// With the feature and no hook, a diagnostic is an `ERROR` event of target
/// `concurrent_futures`, and the executors' events arrive too.
#[cfg(feature = "tracing")]
mod with_tracing {
    use super::*;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    /// (level, target, message, `kind` field) of one event.
    type Recorded = (Level, String, String, String);

    /// Records every event.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<Recorded>>>);

    struct Fields(String, String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.0 = format!("{value:?}"),
                "kind" => self.1 = format!("{value:?}"),
                _ => {}
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "kind" {
                self.1 = value.to_owned();
            }
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new(), String::new());
            event.record(&mut fields);
            let m = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((*m.level(), m.target().to_owned(), fields.0, fields.1));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn a_diagnostic_without_a_hook_is_an_error_event() {
        let _turn = exclusive();
        let _ = diagnostics::take_hook();
        let rec = Recorder::default();
        tracing::subscriber::with_default(rec.clone(), || {
            let f = Future::new();
            f.add_done_callback(|_: &Future<u8>| panic!("deliberate: traced"));
            f.set_result(1).unwrap();
        });
        let events = rec.0.lock().unwrap();
        let diag: Vec<_> = events.iter().filter(|e| e.0 == Level::ERROR).collect();
        assert_eq!(diag.len(), 1, "{events:?}");
        assert_eq!(diag[0].1, "concurrent_futures");
        assert!(diag[0].2.contains("deliberate: traced"), "{:?}", diag[0]);
        assert_eq!(diag[0].3, "callback panicked");
    }

    #[test]
    fn futures_and_executors_emit_events_of_the_crate_target() {
        let _turn = exclusive();
        let rec = Recorder::default();
        tracing::subscriber::with_default(rec.clone(), || {
            concurrent_futures_core::trace::worker_spawned("test", 3);
            concurrent_futures_core::trace::worker_died("test", 3, &"killed by signal 9");
            let f = Future::<u8>::new();
            concurrent_futures_core::trace::submitted("test", &f);
            let _span = concurrent_futures_core::trace::task_span(&f);
            let ran = Future::new();
            assert!(ran.run(|| 1));
            let failed = Future::<u8>::new();
            failed.run(|| panic!("deliberate: a failing task"));
            Future::<u8>::new().cancel();
        });
        let events = rec.0.lock().unwrap();
        let seen: Vec<_> = events.iter().map(|e| (e.0, e.2.as_str())).collect();
        assert!(
            seen.contains(&(Level::DEBUG, "worker started")),
            "{events:?}"
        );
        assert!(seen.contains(&(Level::WARN, "worker died")), "{events:?}");
        assert!(
            seen.contains(&(Level::DEBUG, "task submitted")),
            "{events:?}"
        );
        let count = |m: &str| seen.iter().filter(|e| e.1 == m).count();
        assert_eq!(count("task started"), 2, "{events:?}");
        assert_eq!(count("task finished"), 2, "{events:?}");
        assert_eq!(count("future cancelled"), 1, "{events:?}");
        assert!(
            events.iter().all(|e| e.1 == "concurrent_futures"),
            "{events:?}"
        );
    }
}
