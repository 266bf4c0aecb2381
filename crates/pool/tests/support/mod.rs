//! A small harness for `harness = false` process-pool tests: `main` calls
//! `process::init()` first (so the test binary serves as its own worker),
//! then runs named tests one by one, each under a watchdog that prints the
//! pools' state and the live children and aborts if the test overruns.
//! After each test it checks that no child process is left (zombies
//! included) and that the descriptor count is back where it was.

#![allow(dead_code)]

pub(crate) mod faults;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use concurrent_futures_core::{Future, FutureError, TaskError};
use concurrent_futures_pool::process::{ProcessPoolBuilder, ProcessPoolExecutor};

/// A named test, its bound (seconds, before scaling).
pub(crate) type Test = (&'static str, fn(), u64);

/// One entry of a test table: the function, named by itself, and its bound
/// in seconds: `case!(panic_same_pid, 30)`.
macro_rules! case {
    ($test:ident, $secs:expr) => {
        (stringify!($test), $test as fn(), $secs)
    };
}
pub(crate) use case;

/// Keeps the faults these suites inject on purpose (panicking tasks,
/// initializers and serde impls, aborts, stack overflows, killed workers)
/// out of the output, and says so in one line. Call it first in `main`.
///
/// * A worker process (the test binary re-executed) reports nothing: its
///   panics come back to the test as task errors, and its stderr goes to
///   `/dev/null`, since a stack overflow or a failed allocation is printed
///   by the runtime, not through the panic hook.
/// * The test runner keeps panics quiet too: `run` prints each failing
///   test with its message, and the pool contains and reports the rest.
///
/// `CF_TEST_VERBOSE=1` keeps every report (set it when a test fails).
pub(crate) fn quiet_deliberate_faults() {
    if std::env::var_os("CF_TEST_VERBOSE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
    // The variable the pool sets in the environment of its workers.
    if std::env::var_os("CONCURRENT_FUTURES_PROCESS_WORKER").is_some() {
        // SAFETY: open(2) and dup2(2) on a path we own and fd 2; this runs
        // first in `main`, before any other thread exists.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if null >= 0 {
                libc::dup2(null, 2);
                libc::close(null);
            }
        }
    } else if !std::env::args().any(|a| a == "--child-mode") {
        eprintln!(
            "note: this suite injects faults on purpose (panics, aborts, stack overflows, \
             killed workers); their reports are silenced (CF_TEST_VERBOSE=1 shows them)"
        );
    }
}

/// Delays and bounds are multiplied by `CF_TEST_SCALE` (default 1).
pub(crate) fn scale() -> f64 {
    std::env::var("CF_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// `secs` seconds, scaled.
pub(crate) fn secs(secs: f64) -> Duration {
    Duration::from_secs_f64(secs * scale())
}

/// `ms` milliseconds, scaled.
pub(crate) fn ms(ms: u64) -> Duration {
    Duration::from_secs_f64(ms as f64 / 1000.0 * scale())
}

static POOLS: Mutex<Vec<Weak<ProcessPoolExecutor>>> = Mutex::new(Vec::new());

/// Builds a pool and registers it with the watchdog.
pub(crate) fn pool(b: ProcessPoolBuilder) -> Arc<ProcessPoolExecutor> {
    let ex = Arc::new(b.build().expect("build the pool"));
    POOLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::downgrade(&ex));
    ex
}

/// A pool of `n` workers, registered with the watchdog.
pub(crate) fn pool_n(n: usize) -> Arc<ProcessPoolExecutor> {
    pool(ProcessPoolExecutor::builder().max_workers(n))
}

/// Our children: (pid, state letter) from `/proc/*/stat`, zombies included.
pub(crate) fn children() -> Vec<(u32, char)> {
    children_of(std::process::id())
}

/// The children of `parent`.
pub(crate) fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((state, ppid)) = stat(pid) {
            if ppid == parent {
                out.push((pid, state));
            }
        }
    }
    out
}

/// (state, ppid) of `pid`, if it exists.
pub(crate) fn stat(pid: u32) -> Option<(char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut it = rest.split(' ');
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Open descriptors of this process.
pub(crate) fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Threads of this process.
pub(crate) fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Waits until `cond` holds, or panics with `what` after `limit`.
pub(crate) fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for no child process to be left.
pub(crate) fn assert_no_children(limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let kids = children();
        if kids.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "child processes left after {limit:?}: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The outcome of a future, waited for at most `limit`.
pub(crate) fn outcome<T: Send + Sync>(f: &Future<T>, limit: Duration) -> Result<&T, FutureError> {
    match f.result_timeout(limit) {
        Err(FutureError::Timeout(_)) => panic!("future not done after {limit:?}: {f:?}"),
        r => r,
    }
}

/// The value of a future that must succeed within `limit`.
pub(crate) fn value<T: Send + Sync + Clone>(f: &Future<T>, limit: Duration) -> T {
    match outcome(f, limit) {
        Ok(v) => v.clone(),
        Err(e) => panic!("expected a value, got {e}"),
    }
}

/// The task error of a future that must fail within `limit`.
pub(crate) fn task_error<T: Send + Sync>(f: &Future<T>, limit: Duration) -> TaskError {
    match outcome(f, limit) {
        Ok(_) => panic!("expected the task to fail, it succeeded"),
        Err(FutureError::Failed(e)) => e,
        Err(e) => panic!("expected a task error, got {e}"),
    }
}

fn watchdog(name: &'static str, bound: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(bound) {
            eprintln!("\nWATCHDOG: test `{name}` exceeded {bound:?}");
            for p in POOLS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if let Some(p) = p.upgrade() {
                    eprintln!("  pool: {p:?}");
                }
            }
            eprintln!("  children: {:?}", children());
            let _ = std::io::stderr().flush();
            std::process::abort();
        }
    });
    tx
}

/// Runs the tests whose names contain the first non-flag argument (all if
/// none), prints `N passed, N failed`, and exits non-zero on failure.
///
/// Speaks enough of libtest's command line for `cargo nextest`: `--list`
/// (`--ignored` lists nothing) and `--exact NAME`.
pub(crate) fn run(tests: &[Test]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    if flag("--list") {
        if !flag("--ignored") {
            for (name, _, _) in tests {
                println!("{name}: test");
            }
        }
        return;
    }
    let exact = flag("--exact");
    let filter: Option<&str> = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    let (mut passed, mut failed) = (0, 0);
    for &(name, f, bound) in tests {
        let selected = match filter {
            None => true,
            Some(flt) if exact => name == flt,
            Some(flt) => name.contains(flt),
        };
        if !selected {
            continue;
        }
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        let fds = fd_count();
        let threads = thread_count();
        let start = Instant::now();
        let dog = watchdog(name, secs(bound as f64));
        let r = catch_unwind(AssertUnwindSafe(|| {
            f();
            POOLS.lock().unwrap_or_else(|e| e.into_inner()).clear();
            assert_no_children(secs(5.0));
            wait_until(secs(2.0), "the descriptor count to come back", || {
                fd_count() <= fds
            });
            // The watchdog of this test may still be on its way out.
            wait_until(secs(2.0), "the thread count to come back", || {
                thread_count() <= threads + 1
            });
        }));
        drop(dog);
        POOLS.lock().unwrap_or_else(|e| e.into_inner()).clear();
        match r {
            Ok(()) => {
                passed += 1;
                println!("ok ({:.2?})", start.elapsed());
            }
            Err(p) => {
                failed += 1;
                let msg = concurrent_futures_core::panic_message(p.as_ref());
                println!("FAILED: {msg}");
                // Leave no child behind for the next test.
                let _ = assert_no_children_quietly();
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0));
}

fn assert_no_children_quietly() -> bool {
    catch_unwind(|| assert_no_children(secs(5.0))).is_ok()
}
