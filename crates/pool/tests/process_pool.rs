//! Process-pool tests and fault injection: the scenarios of
//! `shared/FAULTS.md`, each followed by the "nothing lost" checks (every
//! future terminal with its own error, the pool still serving, no child
//! process left, descriptors back).
//!
//! `harness = false`: `main` calls `process::init()` first, so this test
//! binary is also the workers' executable. Run one test with
//! `cargo test -p concurrent-futures-pool --test process_pool -- NAME`.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use concurrent_futures_core::{ExitCause, FutureState, TaskError};
use concurrent_futures_pool::process::{
    self, ProcessPoolExecutor, ProtocolError, SerdeError, SerdeStage,
};
use concurrent_futures_pool::{MapOptions, SubmitError};
use serde::Serialize;
use support::faults::{blob_of, bump_blob, AbortDe, AbortSer, Blob, FailDe, FailSer, PanicDe};
use support::{ms, outcome, pool, pool_n, secs, task_error, value, wait_until};

// ---------------------------------------------------------------- tasks

fn ident(x: u64) -> u64 {
    x
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn pid_after(delay_ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(delay_ms));
    std::process::id()
}

fn panics(msg: String) -> u32 {
    panic!("{msg}")
}

fn sigkill_self(_: ()) -> u32 {
    // SAFETY: test fault: the worker kills itself.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn aborts(_: ()) -> u32 {
    std::process::abort()
}

fn exits(code: i32) -> u32 {
    std::process::exit(code)
}

fn segfaults(_: ()) -> u32 {
    // SAFETY: test fault: a real invalid access, a read from a page mapped
    // without any permission (std's SIGSEGV handler sees it is not a stack
    // guard page and lets it kill the process).
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(page, libc::MAP_FAILED);
        u32::from(std::ptr::read_volatile(page.cast::<u8>()))
    }
}

fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n as u8; 4096]);
    if n == 0 {
        return u64::from(buf[0]);
    }
    recurse(n - 1) + u64::from(buf[17])
}

fn overflows_stack(_: ()) -> u64 {
    recurse(u64::MAX)
}

fn panics_while_unwinding(_: ()) -> u32 {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("second panic, in drop");
        }
    }
    let _b = Bomb;
    panic!("first panic")
}

fn allocates_until_refused(_: ()) -> u64 {
    // A 512 MiB address-space limit, so the machine is not pushed into its
    // OOM killer: the allocation failure aborts the worker.
    let lim = libc::rlimit {
        rlim_cur: 512 << 20,
        rlim_max: 512 << 20,
    };
    // SAFETY: setrlimit reads the struct we pass.
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &lim);
    }
    let mut hold: Vec<Vec<u8>> = Vec::new();
    loop {
        hold.push(vec![1u8; 16 << 20]);
    }
}

fn sleeps(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn take_fail_de(_: FailDe) -> u32 {
    1
}
fn take_abort_de(_: AbortDe) -> u32 {
    1
}
fn take_fail_ser(_: FailSer) -> u32 {
    1
}
fn give_fail_ser(_: ()) -> FailSer {
    FailSer
}
fn give_abort_ser(_: ()) -> AbortSer {
    AbortSer
}
fn give_fail_de(_: ()) -> FailDe {
    FailDe
}
fn give_panic_de(_: ()) -> PanicDe {
    PanicDe
}

// ------------------------------------------------- protocol garbage

/// The worker's connection: the one socket among its descriptors.
fn connection_fd() -> libc::c_int {
    for fd in 3..1024 {
        // SAFETY: fstat writes into the zeroed struct we own.
        let is_sock = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
        };
        if is_sock {
            return fd;
        }
    }
    panic!("no connection socket found")
}

fn write_raw(bytes: &[u8]) {
    let fd = connection_fd();
    // SAFETY: writes `bytes` to a descriptor we just found open.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

fn header(len: u32, kind: u8, id: u64) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.push(kind);
    v.extend_from_slice(&id.to_le_bytes());
    v
}

/// Test-only worker misbehaviour, chosen by `mode`.
fn garbage(mode: u8) -> u32 {
    match mode {
        // Unknown frame kind.
        0 => write_raw(&header(0, 99, 0)),
        // A length far above the limit.
        1 => write_raw(&header(u32::MAX, 4, 1)),
        // A complete reply for a task that does not exist.
        2 => {
            let mut f = header(1, 4, 999_999_999);
            f.push(0);
            write_raw(&f);
        }
        // Half a frame, then exit.
        3 => {
            write_raw(&header(100, 4, 1)[..7]);
            std::process::exit(0);
        }
        // Half a frame, then sleep.
        4 => {
            let mut f = header(100, 4, 1);
            f.extend_from_slice(&[0; 10]);
            write_raw(&f);
            std::thread::sleep(Duration::from_secs(3600));
        }
        // Half of a 50 MB reply, then exit.
        6 => {
            let len = 50u32 << 20;
            let mut f = header(len, 4, 1);
            f.resize(13 + (len as usize) / 2, 0xaa);
            write_raw(&f);
            std::process::exit(0);
        }
        // Random bytes.
        _ => write_raw(b"\x13\x37 this is not a frame at all, just noise"),
    }
    // Give the parent time to see the garbage first.
    std::thread::sleep(Duration::from_secs(3600));
    0
}

// -------------------------------------------------------- helpers

fn died(e: &TaskError) -> (u32, ExitCause) {
    match e {
        TaskError::WorkerDied { pid, cause } => (*pid, *cause),
        other => panic!("expected WorkerDied, got {other:?}"),
    }
}

fn serde_stage(e: &TaskError) -> SerdeStage {
    e.downcast_ref::<SerdeError>()
        .unwrap_or_else(|| panic!("expected a SerdeError, got {e:?}"))
        .stage()
}

/// The pool still serves: a fresh task returns its value.
fn still_serves(ex: &ProcessPoolExecutor) {
    let f = ex.submit(ident, 4242).expect("submit after the fault");
    assert_eq!(value(&f, secs(10.0)), 4242, "pool serves after the fault");
}

/// Runs `fault` on a one-worker pool between two `pid` tasks; returns the
/// fault's error and the pids before and after.
fn one_fault<A, R>(f: fn(A) -> R, arg: A) -> (TaskError, u32, u32)
where
    A: Serialize + serde::de::DeserializeOwned + 'static,
    R: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let ex = pool_n(1);
    let before = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    let bad = ex.submit(f, arg).unwrap();
    let after_f = ex.submit(pid, ()).unwrap();
    let e = task_error(&bad, secs(20.0));
    let after = value(&after_f, secs(10.0));
    still_serves(&ex);
    drop(ex);
    (e, before, after)
}

// ---------------------------------------------------------- tests

fn smoke() {
    let ex = pool_n(2);
    let f = ex.submit(ident, 7).unwrap();
    assert_eq!(value(&f, secs(10.0)), 7);
    let closure = ex
        .submit(|s: String| s.to_uppercase(), "abc".to_owned())
        .unwrap();
    assert_eq!(value(&closure, secs(10.0)), "ABC");
    let worker = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    assert_ne!(worker, std::process::id(), "tasks run in another process");
    let m = ex.map(ident, 0..100).unwrap().into_result().unwrap();
    assert_eq!(m, (0..100).collect::<Vec<_>>());
    // Code written against the `Executor` trait runs on the process pool.
    fn sum_doubled<E: concurrent_futures_pool::Executor>(ex: &E) -> u64 {
        let one = concurrent_futures_pool::Executor::submit(ex, ident, 1).unwrap();
        let rest =
            concurrent_futures_pool::Executor::map(ex, ident, 2..5u64, MapOptions::default())
                .unwrap();
        one.into_result().unwrap() + rest.map(|r| r.unwrap()).sum::<u64>()
    }
    assert_eq!(sum_doubled(&*ex), 1 + 2 + 3 + 4);
    ex.shutdown(true, false);
    assert!(matches!(ex.submit(ident, 1), Err(SubmitError::Shutdown)));
}

fn panic_keeps_the_worker() {
    let (e, before, after) = one_fault(panics, "boom 42".to_owned());
    assert_eq!(e.panic_message(), Some("boom 42"));
    assert_eq!(before, after, "the same worker serves the next task");
}

fn sigkill_fails_only_its_task() {
    let ex = pool_n(2);
    let good: Vec<_> = (0..20)
        .map(|i| ex.submit(pid_after, 10 + i % 3).unwrap())
        .collect();
    let bad = ex.submit(sigkill_self, ()).unwrap();
    let more: Vec<_> = (0..20).map(|i| ex.submit(ident, i).unwrap()).collect();
    let (pid, cause) = died(&task_error(&bad, secs(20.0)));
    assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
    assert!(pid > 0);
    for f in &good {
        assert_ne!(value(f, secs(20.0)), 0);
    }
    for (i, f) in more.iter().enumerate() {
        assert_eq!(value(f, secs(20.0)), i as u64);
    }
    let msg = task_error(&bad, secs(1.0)).to_string();
    assert!(
        msg.contains(&pid.to_string()) && msg.contains("signal 9"),
        "{msg}"
    );
    still_serves(&ex);
}

fn abort_is_sigabrt() {
    let (e, before, after) = one_fault(aborts, ());
    assert_eq!(died(&e), (before, ExitCause::Signal(libc::SIGABRT)));
    assert_ne!(before, after, "a new worker took over");
}

fn exit_zero_is_not_success() {
    let (e, before, _) = one_fault(exits, 0);
    assert_eq!(died(&e), (before, ExitCause::Code(0)));
    let (e, before, _) = one_fault(exits, 3);
    assert_eq!(died(&e), (before, ExitCause::Code(3)));
}

fn segfault_and_stack_overflow() {
    let (e, _, _) = one_fault(segfaults, ());
    assert_eq!(died(&e).1, ExitCause::Signal(libc::SIGSEGV));
    let (e, _, _) = one_fault(overflows_stack, ());
    let cause = died(&e).1;
    assert!(
        matches!(cause, ExitCause::Signal(s) if s == libc::SIGSEGV || s == libc::SIGABRT),
        "{cause:?}"
    );
}

fn panic_while_unwinding_aborts() {
    let (e, _, _) = one_fault(panics_while_unwinding, ());
    assert_eq!(died(&e).1, ExitCause::Signal(libc::SIGABRT));
}

fn allocation_failure_kills_only_the_worker() {
    let (e, _, _) = one_fault(allocates_until_refused, ());
    let cause = died(&e).1;
    assert!(
        matches!(cause, ExitCause::Signal(s) if s == libc::SIGABRT || s == libc::SIGKILL),
        "{cause:?}"
    );
}

fn argument_serialize_fails_in_parent() {
    let ex = pool_n(1);
    let e = ex.submit(take_fail_ser, FailSer).unwrap_err();
    assert!(e.is_serialize(), "{e}");
    assert!(e.to_string().contains("FailSer refuses"), "{e}");
    // Nothing was sent: no worker was even started.
    assert!(format!("{ex:?}").contains("workers_started: 0"), "{ex:?}");
    still_serves(&ex);
}

fn argument_deserialize_fails_in_worker() {
    let (e, before, after) = one_fault(take_fail_de, FailDe);
    assert_eq!(serde_stage(&e), SerdeStage::ArgumentDecode);
    assert!(e.to_string().contains("FailDe refuses"), "{e}");
    assert_eq!(before, after, "the worker goes on");
}

fn worker_aborts_while_deserializing() {
    let (e, before, after) = one_fault(take_abort_de, AbortDe);
    assert_eq!(died(&e), (before, ExitCause::Signal(libc::SIGABRT)));
    assert_ne!(before, after);
}

fn result_serialize_fails_in_worker() {
    let (e, before, after) = one_fault(give_fail_ser, ());
    assert_eq!(serde_stage(&e), SerdeStage::ResultEncode);
    assert!(e.to_string().contains("FailSer refuses"), "{e}");
    assert_eq!(before, after);
}

fn worker_aborts_while_serializing() {
    let (e, before, _) = one_fault(give_abort_ser, ());
    assert_eq!(died(&e), (before, ExitCause::Signal(libc::SIGABRT)));
}

fn result_deserialize_fails_in_parent() {
    let (e, before, after) = one_fault(give_fail_de, ());
    assert_eq!(serde_stage(&e), SerdeStage::ResultDecode);
    assert!(e.to_string().contains("FailDe refuses"), "{e}");
    assert_eq!(before, after);
    let (e, _, _) = one_fault(give_panic_de, ());
    assert_eq!(serde_stage(&e), SerdeStage::ResultDecode);
    assert!(e.to_string().contains("PanicDe panics"), "{e}");
}

/// A list nested `n` deep through enum and box levels, which rmp's depth
/// limit does not count.
#[derive(Serialize, serde::Deserialize)]
enum Nested {
    Nil,
    Cons(Box<Nested>),
}

fn nested(n: u32) -> Nested {
    let mut l = Nested::Nil;
    for _ in 0..n {
        l = Nested::Cons(Box::new(l));
    }
    l
}

fn depth_of(mut l: &Nested) -> u32 {
    let mut n = 0;
    while let Nested::Cons(next) = l {
        n += 1;
        l = next;
    }
    n
}

fn a_deep_result_does_not_kill_the_parent() {
    // Decoded on the parent's slot thread: with a 2 MiB stack, 5,000
    // levels (a debug build) overflowed it and aborted the whole parent.
    let ex = pool_n(1);
    let f = ex.submit(nested, 5_000).unwrap();
    let got = f.result_timeout(secs(30.0)).expect("a deep result");
    assert_eq!(depth_of(got), 5_000);
    // Dropping the value recurses too: leak the future that holds it.
    std::mem::forget(f);
    assert_eq!(value(&ex.submit(ident, 7).unwrap(), secs(30.0)), 7);
}

/// A done-callback that waits for a task another thread submits: its slot
/// must not count as ready while the callback runs, or that submit starts
/// no second worker and waits for the callback, which waits for it (found
/// by an adversarial probe: deadlocked 3 runs in 3).
fn a_blocking_done_callback_does_not_hold_back_other_submits() {
    let ex = pool_n(2);
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Option<u64>>();
    let a = ex.submit(ident, 1).unwrap();
    a.add_done_callback(move |_| {
        let _ = done_tx.send(rx.recv_timeout(secs(30.0)).ok());
    });
    assert_eq!(value(&a, secs(30.0)), 1);
    let b = ex.submit(ident, 2).unwrap();
    let got = b
        .result_timeout(secs(20.0))
        .copied()
        .expect("the second task ran while the first one's callback waited for it");
    tx.send(got).unwrap();
    assert_eq!(done_rx.recv_timeout(secs(30.0)), Ok(Some(2)));
}

fn long_string(n: usize) -> String {
    "y".repeat(n)
}

fn panics_at_length(n: usize) -> u32 {
    panic!("{}", "x".repeat(n))
}

fn init_takes_bytes(_: Vec<u8>) {}

/// `max_frame_size` bounds arguments and results, not the pool's own
/// failure messages: a long panic message or the "too large" reply under a
/// small limit once made a healthy worker look like a protocol breach, and
/// it was killed.
fn small_frame_limits_keep_failures_readable() {
    for limit in [1024usize, 64] {
        let ex = pool(
            ProcessPoolExecutor::builder()
                .max_workers(1)
                .max_frame_size(limit),
        );
        let before = value(&ex.submit(pid, ()).unwrap(), secs(20.0));
        let e = task_error(&ex.submit(panics_at_length, 4096).unwrap(), secs(20.0));
        assert_eq!(
            e.panic_message(),
            Some("x".repeat(4096).as_str()),
            "limit {limit}"
        );
        let e = task_error(&ex.submit(long_string, 4096).unwrap(), secs(20.0));
        assert!(
            e.to_string().contains("too large") || e.to_string().contains("exceeds"),
            "limit {limit}: {e}"
        );
        let after = value(&ex.submit(pid, ()).unwrap(), secs(20.0));
        assert_eq!(before, after, "limit {limit}: the same worker serves on");
    }
    // An initializer argument no worker could read is refused at build.
    let e = ProcessPoolExecutor::builder()
        .max_frame_size(1024)
        .initializer_with(init_takes_bytes, vec![0u8; 4096])
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("over max_frame_size"), "{e}");
}

fn protocol_garbage_kills_the_worker() {
    for (mode, what) in [
        (0u8, "unknown frame kind"),
        (1, "exceeds the limit"),
        (2, "for task 999999999"),
        (5, ""),
    ] {
        let (e, before, after) = one_fault(garbage, mode);
        let pe = e
            .downcast_ref::<ProtocolError>()
            .unwrap_or_else(|| panic!("mode {mode}: expected a ProtocolError, got {e:?}"));
        assert_eq!(pe.pid(), before);
        assert!(pe.message().contains(what), "mode {mode}: {pe}");
        assert_ne!(before, after, "mode {mode}: replaced");
    }
}

fn half_frame_then_exit() {
    let (e, before, _) = one_fault(garbage, 3);
    assert_eq!(died(&e), (before, ExitCause::Code(0)));
}

fn crash_half_way_through_a_big_result() {
    let ex = pool_n(2);
    let big: Vec<_> = (0..2)
        .map(|i| ex.submit(bump_blob, blob_of(50 << 20, i)).unwrap())
        .collect();
    let bad = ex.submit(garbage, 6).unwrap();
    let (_, cause) = died(&task_error(&bad, secs(60.0)));
    assert_eq!(cause, ExitCause::Code(0));
    for (i, f) in big.iter().enumerate() {
        let out = outcome(f, secs(60.0)).expect("the other big results arrive");
        let want = blob_of(50 << 20, i as u8);
        assert!(out
            .0
            .iter()
            .zip(&want.0)
            .all(|(o, w)| *o == w.wrapping_add(1)));
    }
    still_serves(&ex);
}

fn big_argument_to_a_busy_pool_does_not_block_submit() {
    let ex = pool_n(1);
    let blob = blob_of(50 << 20, 3);
    let busy = ex.submit(sleeps, 3_000).unwrap();
    wait_until(secs(10.0), "the busy task to run", || busy.running());
    let big = ex.submit(bump_blob, blob).unwrap();
    // `submit` returned while the only worker is still busy: the argument
    // waits in the parent's queue, not in a pipe.
    assert!(
        busy.running(),
        "submit returned only after the busy task ended"
    );
    assert_eq!(big.state(), FutureState::Pending);
    assert_eq!(value(&busy, secs(10.0)), 3_000);
    assert_eq!(outcome(&big, secs(60.0)).unwrap().0.len(), 50 << 20);
}

fn refuse_start_if_asked() -> Result<(), String> {
    match std::env::var_os("CF_TEST_REFUSE_START") {
        Some(_) => Err("refused to start".to_owned()),
        None => Ok(()),
    }
}

fn replacement_that_cannot_start_breaks_the_pool() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .try_initializer(refuse_start_if_asked),
    );
    assert_eq!(value(&ex.submit(ident, 1).unwrap(), secs(10.0)), 1);
    // Workers inherit the parent's environment when they are spawned.
    std::env::set_var("CF_TEST_REFUSE_START", "1");
    let crash = ex.submit(sigkill_self, ()).unwrap();
    let queued: Vec<_> = (0..5).map(|i| ex.submit(ident, i)).collect();
    let (_, cause) = died(&task_error(&crash, secs(10.0)));
    assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
    for q in queued.into_iter().flatten() {
        assert!(task_error(&q, secs(10.0)).is_broken());
    }
    std::env::remove_var("CF_TEST_REFUSE_START");
    let e = ex.submit(ident, 1).unwrap_err();
    assert!(
        e.broken_reason().unwrap().contains("refused to start"),
        "{e}"
    );
    let start = Instant::now();
    ex.shutdown(true, false);
    assert!(start.elapsed() < secs(5.0));
}

fn callbacks_run_once_each_through_crashes() {
    let ex = pool_n(2);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut futures = Vec::new();
    for i in 0..30u64 {
        let f = match i % 5 {
            0 => ex.submit(|_: u64| -> u64 { std::process::abort() }, i),
            1 => ex.submit(|x: u64| -> u64 { panic!("p{x}") }, i),
            _ => ex.submit(ident, i),
        }
        .unwrap();
        let c = calls.clone();
        f.add_done_callback(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        futures.push(f);
    }
    for (i, f) in futures.iter().enumerate() {
        match i % 5 {
            0 => assert!(task_error(f, secs(20.0)).is_worker_died()),
            1 => assert_eq!(
                task_error(f, secs(20.0)).panic_message(),
                Some(format!("p{i}").as_str())
            ),
            _ => assert_eq!(value(f, secs(20.0)), i as u64),
        }
    }
    // A callback runs right after its future completes, in the completing
    // thread: wait for the last ones.
    wait_until(secs(10.0), "every callback", || {
        calls.load(Ordering::SeqCst) >= 30
    });
    assert_eq!(calls.load(Ordering::SeqCst), 30);
    // Each failed future has its own error, naming its own worker.
    let pids: std::collections::HashSet<u32> = futures
        .iter()
        .step_by(5)
        .map(|f| died(&task_error(f, secs(1.0))).0)
        .collect();
    assert_eq!(pids.len(), 6, "each crash was its own worker");
}

fn half_frame_then_sleep_hits_the_time_limit() {
    let ex = pool_n(1);
    let f = ex.submit_with_timeout(garbage, 4, ms(500)).unwrap();
    let e = task_error(&f, secs(20.0));
    assert!(e.is_time_limit(), "{e:?}");
    still_serves(&ex);
}

fn time_limit_kills_and_replaces() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .task_timeout(ms(400)),
    );
    let before = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    let start = Instant::now();
    let slow = ex.submit(sleeps, 60_000).unwrap();
    let queued = ex.submit(pid, ()).unwrap();
    let e = task_error(&slow, secs(20.0));
    match e {
        TaskError::TimeLimit { limit, pid } => {
            assert_eq!(limit, ms(400));
            assert_eq!(pid, before);
        }
        other => panic!("expected TimeLimit, got {other:?}"),
    }
    assert!(start.elapsed() >= ms(400));
    let after = value(&queued, secs(10.0));
    assert_ne!(after, before, "a new worker took over");
    // Per-call limit overrides the pool's.
    let quick = ex.submit_with_timeout(sleeps, 1_000, ms(100)).unwrap();
    assert!(task_error(&quick, secs(20.0)).is_time_limit());
    let fine = ex.submit_with_timeout(sleeps, 10, secs(30.0)).unwrap();
    assert_eq!(value(&fine, secs(20.0)), 10);
}

fn queued_tasks_stay_pending_and_cancellable() {
    let ex = pool_n(1);
    let busy = ex.submit(sleeps, 300).unwrap();
    wait_until(secs(10.0), "the first task to run", || busy.running());
    let queued: Vec<_> = (0..5).map(|i| ex.submit(ident, i).unwrap()).collect();
    for q in &queued {
        assert_eq!(q.state(), FutureState::Pending);
    }
    assert!(queued[2].cancel());
    assert_eq!(value(&busy, secs(10.0)), 300);
    for (i, q) in queued.iter().enumerate() {
        if i == 2 {
            assert!(outcome(q, secs(1.0)).unwrap_err().is_cancelled());
        } else {
            assert_eq!(value(q, secs(10.0)), i as u64);
        }
    }
}

fn max_tasks_per_child_one() {
    let n = 1000;
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .max_tasks_per_child(1),
    );
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let live = support::children().len();
                peak.fetch_max(live, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    let futures: Vec<_> = (0..n).map(|_| ex.submit(pid, ()).unwrap()).collect();
    let mut pids: Vec<u32> = futures.iter().map(|f| value(f, secs(60.0))).collect();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), n, "a new pid for each task");
    let peak = peak.load(Ordering::Relaxed);
    assert!(peak <= 2, "at most 2 live workers, saw {peak}");
    let m = ex
        .map_with(ident, 0..200, MapOptions::default().chunksize(7))
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(m, (0..200).collect::<Vec<_>>());
}

fn fifty_megabytes_each_way() {
    let ex = pool_n(2);
    let len = 50 << 20;
    let inputs: Vec<Blob> = (0..3).map(|i| blob_of(len, i)).collect();
    let futures: Vec<_> = inputs
        .iter()
        .map(|b| ex.submit(bump_blob, b.clone()).unwrap())
        .collect();
    for (b, f) in inputs.iter().zip(&futures) {
        let out = outcome(f, secs(60.0)).expect("50 MB round trip");
        assert_eq!(out.0.len(), len);
        assert!(out.0.iter().zip(&b.0).all(|(o, i)| *o == i.wrapping_add(1)));
    }
    still_serves(&ex);
}

fn shutdown_cancel_futures() {
    let ex = pool_n(1);
    let running = ex.submit(sleeps, 300).unwrap();
    wait_until(secs(10.0), "the first task to run", || running.running());
    let queued: Vec<_> = (0..50).map(|i| ex.submit(ident, i).unwrap()).collect();
    ex.shutdown(true, true);
    assert_eq!(value(&running, secs(1.0)), 300);
    for q in &queued {
        assert!(q.cancelled(), "{q:?}");
    }
    assert!(ex.submit(ident, 1).unwrap_err().is_shutdown());
}

fn drop_while_running_waits() {
    let ex = pool_n(2);
    let futures: Vec<_> = (0..6)
        .map(|i| ex.submit(sleeps, 50 + i * 10).unwrap())
        .collect();
    drop(ex);
    for (i, f) in futures.iter().enumerate() {
        assert_eq!(value(f, Duration::ZERO.max(ms(1))), 50 + i as u64 * 10);
    }
}

fn shutdown_while_a_task_crashes() {
    fn crash_later(ms: u64) -> u32 {
        std::thread::sleep(Duration::from_millis(ms));
        std::process::abort()
    }
    let ex = pool_n(2);
    let bad = ex.submit(crash_later, 100).unwrap();
    let good = ex.submit(sleeps, 150).unwrap();
    ex.shutdown(true, false);
    assert!(task_error(&bad, secs(1.0)).is_worker_died());
    assert_eq!(value(&good, secs(1.0)), 150);
}

fn kill_workers_fails_running_tasks() {
    let ex = pool_n(2);
    let running: Vec<_> = (0..2).map(|_| ex.submit(sleeps, 60_000).unwrap()).collect();
    let queued = ex.submit(ident, 1).unwrap();
    wait_until(secs(10.0), "both tasks to run", || {
        running.iter().all(|f| f.running())
    });
    ex.kill_workers();
    for f in &running {
        let (_, cause) = died(&task_error(f, secs(5.0)));
        assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
    }
    assert!(queued.cancelled());
    assert!(ex.submit(ident, 1).unwrap_err().is_shutdown());
}

fn terminate_workers_sends_sigterm() {
    let ex = pool_n(1);
    let running = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(10.0), "the task to run", || running.running());
    ex.terminate_workers();
    let (_, cause) = died(&task_error(&running, secs(5.0)));
    assert_eq!(cause, ExitCause::Signal(libc::SIGTERM));
}

fn failing_initializer() -> Result<(), String> {
    Err("no database here".to_owned())
}

fn panicking_initializer() {
    panic!("initializer exploded")
}

fn initializer_failure_breaks_the_pool() {
    for ex in [
        pool(
            ProcessPoolExecutor::builder()
                .max_workers(2)
                .try_initializer(failing_initializer),
        ),
        pool(
            ProcessPoolExecutor::builder()
                .max_workers(2)
                .initializer(panicking_initializer),
        ),
    ] {
        let futures: Vec<_> = (0..5).map(|i| ex.submit(ident, i)).collect();
        let mut broken = 0;
        for f in futures {
            match f {
                Ok(f) => {
                    let e = task_error(&f, secs(20.0));
                    assert!(e.is_broken(), "{e:?}");
                    broken += 1;
                }
                Err(e) => assert!(e.is_broken(), "{e}"),
            }
        }
        assert!(broken > 0);
        let e = ex.submit(ident, 9).unwrap_err();
        assert!(e.is_broken(), "{e}");
        let reason = e.broken_reason().unwrap().to_owned();
        assert!(
            reason.contains("no database here") || reason.contains("initializer exploded"),
            "{reason}"
        );
        let start = Instant::now();
        ex.shutdown(true, false);
        assert!(start.elapsed() < secs(5.0));
    }
}

static INITIALIZED: AtomicUsize = AtomicUsize::new(0);

fn set_initialized() {
    INITIALIZED.store(77, Ordering::SeqCst);
}

fn read_initialized(_: ()) -> usize {
    INITIALIZED.load(Ordering::SeqCst)
}

fn set_initialized_to(v: usize) {
    INITIALIZED.store(v, Ordering::SeqCst);
}

fn init_takes_fail_de(_: FailDe) {}

/// Python's `initargs`: the argument reaches every worker; one that cannot
/// be decoded there breaks the pool like a failing initializer.
fn initializer_with_an_argument() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .initializer_with(set_initialized_to, 4242),
    );
    let futures: Vec<_> = (0..6)
        .map(|_| ex.submit(read_initialized, ()).unwrap())
        .collect();
    for f in &futures {
        assert_eq!(value(f, secs(10.0)), 4242);
    }
    let bad = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .initializer_with(init_takes_fail_de, FailDe),
    );
    if let Ok(f) = bad.submit(ident, 1) {
        assert!(task_error(&f, secs(10.0)).is_broken());
    }
    let e = bad.submit(ident, 1).unwrap_err();
    assert!(e.broken_reason().unwrap().contains("FailDe refuses"), "{e}");
    let unencodable = ProcessPoolExecutor::builder()
        .initializer_with(|_: FailSer| (), FailSer)
        .build();
    assert!(matches!(
        unencodable,
        Err(concurrent_futures_pool::BuildError::InvalidOption(_))
    ));
}

fn initializer_runs_in_each_worker() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .initializer(set_initialized),
    );
    let futures: Vec<_> = (0..8)
        .map(|_| ex.submit(read_initialized, ()).unwrap())
        .collect();
    for f in &futures {
        assert_eq!(value(f, secs(10.0)), 77);
    }
    assert_eq!(INITIALIZED.load(Ordering::SeqCst), 0, "not in the parent");
}

fn sigint_is_ignored_by_workers() {
    let ex = pool_n(1);
    let worker = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    let f = ex.submit(pid_after, 200).unwrap();
    wait_until(secs(10.0), "the task to run", || f.running());
    // SAFETY: signals our own child.
    unsafe {
        libc::kill(worker as libc::pid_t, libc::SIGINT);
    }
    assert_eq!(value(&f, secs(10.0)), worker);
}

fn print_lots(n: usize) -> usize {
    use std::io::Write;
    let line = [b'x'; 1023];
    let mut out = std::io::stdout().lock();
    for _ in 0..n / 1024 {
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    n
}

/// Child mode `print`: prints megabytes from a worker; the test counts them.
fn child_print() {
    let ex = ProcessPoolExecutor::new(1).unwrap();
    let n = 4 << 20;
    let f = ex.submit(print_lots, n).unwrap();
    assert_eq!(f.into_result().unwrap(), n);
    drop(ex);
    println!("DONE");
}

/// `--child-mode closed-stdio OUT FD...`: closes the descriptors `FD...`,
/// runs one task on a new pool, and writes its outcome to the file `OUT`.
fn child_closed_stdio(out: &str, fds: &[i32]) {
    for &fd in fds {
        // SAFETY: closes a standard descriptor this test program owns and
        // no longer uses (it reports through `out`).
        unsafe { libc::close(fd) };
    }
    let outcome = ProcessPoolExecutor::new(1)
        .map_err(|e| e.to_string())
        .and_then(|ex| {
            ex.submit(ident, 41)
                .map_err(|e| e.to_string())?
                .result_timeout(secs(30.0))
                .copied()
                .map_err(|e| e.to_string())
        });
    std::fs::write(out, format!("{outcome:?}")).unwrap();
}

fn a_parent_with_closed_stdio_still_starts_workers() {
    // Its sockets then land on 0, 1 or 2: a worker once inherited one as
    // its stdio, or refused its own end ("exited with code 121").
    for fds in [&["0", "1"][..], &["1", "2"], &["0", "2"], &["0", "1", "2"]] {
        let out = std::env::temp_dir().join(format!(
            "cf-closed-stdio-{}-{}",
            std::process::id(),
            fds.join("")
        ));
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--child-mode", "closed-stdio", out.to_str().unwrap()])
            .args(fds)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let got = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        assert!(status.success(), "closed {fds:?}: {status:?}");
        assert_eq!(got, "Ok(41)", "closed {fds:?}");
    }
}

fn printing_megabytes_corrupts_nothing() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--child-mode", "print"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(out.len(), (4 << 20) + "DONE\n".len());
    assert!(out.ends_with(b"DONE\n"));
}

/// Child modes `orphan` and `sigint`: starts two busy workers, prints their
/// pids, waits to be killed (by SIGKILL, or by Ctrl-C to its process group).
fn child_busy_pool() {
    let ex = ProcessPoolExecutor::new(2).unwrap();
    let fs: Vec<_> = (0..2)
        .map(|_| ex.submit(pid_after, 60_000).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs.iter().all(|f| f.running()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let kids: Vec<String> = support::children()
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    println!("{}", kids.join(" "));
    std::thread::sleep(Duration::from_secs(60));
}

fn parent_sigkill_leaves_no_orphans() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--child-mode", "orphan"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut line).unwrap();
    }
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "two workers: {line:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    // Each worker gets SIGKILL from the parent-death signal: gone, or a
    // zombie waiting for its new parent to reap it.
    wait_until(secs(2.0), "the orphaned workers to exit", || {
        workers
            .iter()
            .all(|&p| support::stat(p).is_none_or(|(s, _)| s == 'Z' || s == 'X'))
    });
}

fn make_blob(len: usize) -> Blob {
    blob_of(len, 9)
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Child mode `bigresult`: a fresh process (so its peak memory says
/// something) takes one 50 MB result and prints how much its peak grew.
fn child_big_result() {
    let ex = ProcessPoolExecutor::new(1).unwrap();
    ex.submit(ident, 1).unwrap().into_result().unwrap();
    let before = vm_hwm_kib();
    let f = ex.submit(make_blob, 50 << 20).unwrap();
    let blob = f.into_result().unwrap();
    assert_eq!(blob.0.len(), 50 << 20);
    let after = vm_hwm_kib();
    println!("{}", after.saturating_sub(before));
}

/// A 50 MB result costs the parent about one to two times its size at
/// peak (the frame, then the decoded value), not more.
fn big_result_peak_memory() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--child-mode", "bigresult"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let grew_kib: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let payload_kib = 50 * 1024;
    assert!(
        grew_kib <= payload_kib * 5 / 2,
        "peak grew by {grew_kib} KiB for a {payload_kib} KiB result"
    );
    print!(
        "(peak grew by {:.2}x the payload) ",
        grew_kib as f64 / payload_kib as f64
    );
}

/// Ctrl-C to the whole process group: the parent (default action) dies;
/// the workers ignore SIGINT themselves and go with their parent.
fn ctrl_c_to_the_process_group() {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--child-mode", "sigint"])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut line).unwrap();
    }
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "two workers: {line:?}");
    // SAFETY: signals the child's own process group (it is its leader).
    unsafe {
        libc::killpg(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    wait_until(secs(2.0), "the workers to exit with their parent", || {
        workers
            .iter()
            .all(|&p| support::stat(p).is_none_or(|(s, _)| s == 'Z' || s == 'X'))
    });
}

fn not_initialized_is_an_error() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--child-mode", "no-init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "NotInitialized\n");
}

fn chunked_map_keeps_item_errors_apart() {
    fn odd_panics(x: u32) -> u32 {
        assert!(x % 2 == 0, "odd {x}");
        x
    }
    let ex = pool_n(2);
    let out: Vec<_> = ex
        .map_with(odd_panics, 0..10, MapOptions::default().chunksize(3))
        .unwrap()
        .collect();
    assert_eq!(out.len(), 10);
    for (i, r) in out.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(*r.as_ref().unwrap(), i as u32);
        } else {
            let e = r.as_ref().unwrap_err();
            assert_eq!(
                e.task_error().unwrap().panic_message(),
                Some(format!("odd {i}").as_str())
            );
        }
    }
    // A crash fails only its chunk's places.
    fn crash_on_five(x: u32) -> u32 {
        if x == 5 {
            std::process::abort();
        }
        x
    }
    let out: Vec<_> = ex
        .map_with(crash_on_five, 0..10, MapOptions::default().chunksize(3))
        .unwrap()
        .collect();
    for (i, r) in out.iter().enumerate() {
        if (3..6).contains(&i) {
            assert!(r
                .as_ref()
                .unwrap_err()
                .task_error()
                .unwrap()
                .is_worker_died());
        } else {
            assert_eq!(*r.as_ref().unwrap(), i as u32);
        }
    }
}

fn abort_on_37s(x: u32) -> u32 {
    if x % 37 == 0 && x > 0 {
        std::process::abort();
    }
    if x == 100 {
        std::thread::sleep(Duration::from_secs(60));
    }
    x * 2
}

/// `map` jobs are sent ahead while a worker is busy; a crash or a time
/// limit fails only the chunk that was running, and the chunk sent ahead of
/// it goes back to the queue and runs elsewhere.
fn map_prefetch_survives_crashes_and_time_limits() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .task_timeout(ms(1_000)),
    );
    let out: Vec<_> = ex
        .map_with(abort_on_37s, 0..300u32, MapOptions::default().chunksize(5))
        .unwrap()
        .collect();
    assert_eq!(out.len(), 300);
    let bad_chunk = |i: u32| (1..300u32).any(|x| (x % 37 == 0 || x == 100) && x / 5 == i / 5);
    for (i, r) in out.iter().enumerate() {
        let i = i as u32;
        if bad_chunk(i) {
            let e = r.as_ref().unwrap_err().task_error().unwrap().clone();
            if (100..105).contains(&i) {
                assert!(e.is_time_limit(), "item {i}: {e:?}");
            } else {
                assert!(e.is_worker_died(), "item {i}: {e:?}");
            }
        } else {
            assert_eq!(*r.as_ref().unwrap(), i * 2, "item {i}");
        }
    }
    still_serves(&ex);
}

// ------------------------------------------------- issue 11 (FAULTS 25-30)

/// Kills a process on drop (a grandchild a test made, not our child).
struct KillOnDrop(Option<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) touches no memory; `pid` is the grandchild the
            // test's task forked (it sleeps until killed, so it is alive).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Forks a child without exec (it inherits the worker's socket and sleeps
/// for a minute), writes its pid to `path`, then aborts the worker.
fn fork_daemon_then_abort(path: String) -> u32 {
    // SAFETY: test fault. The worker is single-threaded, and the child
    // only calls sleep(3) and _exit(2), both async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            libc::sleep(60);
            libc::_exit(0);
        }
    }
    std::fs::write(&path, pid.to_string()).expect("write the grandchild's pid");
    std::process::abort()
}

/// FAULTS 25: the worker's death is seen from its pidfd at once, although a
/// forked grandchild keeps the socket open (no end-of-file for a minute).
fn forked_grandchild_does_not_hide_a_worker_death() {
    let path = std::env::temp_dir().join(format!("cf-i11-grandchild-{}", std::process::id()));
    let path = path.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&path);
    let mut grandchild = KillOnDrop(None);
    let ex = pool_n(1);
    let start = Instant::now();
    let f = ex.submit(fork_daemon_then_abort, path.clone()).unwrap();
    let outcome = f.result_timeout(secs(10.0));
    grandchild.0 = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.parse().ok());
    let _ = std::fs::remove_file(&path);
    let e = match outcome {
        Err(concurrent_futures_core::FutureError::Failed(e)) => e,
        other => panic!("the worker's death was not seen within 10 s: {other:?}"),
    };
    assert!(grandchild.0.is_some(), "the task forked no grandchild");
    let (_, cause) = died(&e);
    assert_eq!(cause, ExitCause::Signal(libc::SIGABRT));
    assert!(
        start.elapsed() < secs(5.0),
        "the death took {:?} to be seen",
        start.elapsed()
    );
    still_serves(&ex);
    let t = Instant::now();
    drop(ex);
    assert!(t.elapsed() < secs(5.0), "drop took {:?}", t.elapsed());
}

/// The outcome of each item of a map, waited for at most 10 s each.
fn map_outcomes(m: concurrent_futures_pool::Map<u64>) -> Vec<Result<u64, String>> {
    m.map(|r| match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_cancelled() => Err("cancelled".to_owned()),
        Err(e) => match e.task_error() {
            Some(TaskError::WorkerDied { cause, .. }) => Err(format!("died {cause:?}")),
            _ => Err(format!("other: {e}")),
        },
    })
    .collect()
}

/// FAULTS 26: one worker, items [300 ms, 4 s x 4], kill after 900 ms: the
/// call returns at once, the running item and the one sent ahead fail with
/// the death, the rest are cancelled; nothing runs after the call (before:
/// 4 s and `[ok, killed, ok(4000), cancelled, cancelled]`).
fn kill_workers_during_a_map_ends_it_at_once() {
    for sig in [libc::SIGKILL, libc::SIGTERM] {
        let ex = pool_n(1);
        let m = ex.map(sleeps, [300, 4000, 4000, 4000, 4000]).unwrap();
        std::thread::sleep(ms(900));
        let t = Instant::now();
        if sig == libc::SIGKILL {
            ex.kill_workers();
        } else {
            ex.terminate_workers();
        }
        let took = t.elapsed();
        let death = format!("died {:?}", ExitCause::Signal(sig));
        let got = map_outcomes(m);
        assert_eq!(
            got,
            [
                Ok(300),
                Err(death.clone()),
                Err(death),
                Err("cancelled".into()),
                Err("cancelled".into())
            ],
            "signal {sig}"
        );
        assert!(took < secs(2.0), "signal {sig}: the call took {took:?}");
        assert_eq!(ex.stats().workers, 0);
        assert!(ex.submit(ident, 1).unwrap_err().is_shutdown());
    }
}

/// FAULTS 26, two workers: a map of 6 s tasks, both running with one sent
/// ahead each: kill returns promptly (before: 12 s), no worker starts after
/// it, the four sent fail with their worker's death.
fn kill_workers_during_a_two_worker_map() {
    let ex = pool_n(2);
    let m = ex.map(pid_after, [6000u64; 6]).unwrap();
    wait_until(secs(10.0), "both workers to run", || {
        ex.stats().running == 2
    });
    let pids: Vec<u32> = support::children().iter().map(|c| c.0).collect();
    let t = Instant::now();
    ex.kill_workers();
    assert!(
        t.elapsed() < secs(2.0),
        "kill_workers took {:?}",
        t.elapsed()
    );
    let mut died_pids = Vec::new();
    let mut cancelled = 0;
    for r in m {
        match r {
            Ok(pid) => panic!("an item ran to the end in worker {pid}"),
            Err(e) if e.is_cancelled() => cancelled += 1,
            Err(e) => {
                let (pid, cause) = died(e.task_error().expect("a task error"));
                assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
                died_pids.push(pid);
            }
        }
    }
    // Each worker died with its running item, and with the item sent ahead
    // to it if its slot had sent one by the kill (a slot sends it just after
    // the first, so a kill right after both run may find one unsent): that
    // one comes back cancelled with the rest.
    assert_eq!(died_pids.len() + cancelled, 6, "an item was lost");
    assert!(
        (2..=4).contains(&died_pids.len()),
        "died {} (2 running, up to 2 sent ahead), cancelled {cancelled}",
        died_pids.len()
    );
    assert!(
        died_pids.iter().all(|p| pids.contains(p)),
        "a worker started after the kill: {died_pids:?} vs {pids:?}"
    );
}

fn ignores_sigterm(ms: u64) -> u64 {
    // SAFETY: test fault: the task ignores SIGTERM (no handler code).
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// FAULTS 27: `terminate_workers` escalates to SIGKILL after its grace:
/// a 20 s and a 3 s task that ignore SIGTERM both fail, promptly (before:
/// still blocked after 10 s; the 3 s task came back `Ok`).
fn terminate_workers_escalates_to_sigkill() {
    let ex = pool_n(2);
    let long = ex.submit(ignores_sigterm, 20_000).unwrap();
    let short = ex.submit(ignores_sigterm, 3_000).unwrap();
    wait_until(secs(10.0), "both tasks to run", || {
        long.running() && short.running()
    });
    // Let the tasks install their SIG_IGN.
    std::thread::sleep(ms(200));
    let t = Instant::now();
    ex.terminate_workers();
    let took = t.elapsed();
    for f in [&long, &short] {
        let (_, cause) = died(&task_error(f, secs(1.0)));
        assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
    }
    assert!(took < secs(2.5), "terminate_workers took {took:?}");
    assert!(took >= Duration::from_millis(400), "no grace: {took:?}");
}

fn parent_pid(_: u64) -> u32 {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() as u32 }
}

/// A task that builds a pool of its own: the sum of `0..n` computed by it,
/// this worker's pid, and the parent pids its workers report.
fn nested_pool(n: u64) -> (u64, u32, Vec<u32>) {
    let inner = ProcessPoolExecutor::new(2).expect("a pool inside a worker");
    let sum = inner.map(ident, 0..n).unwrap().map(|r| r.unwrap()).sum();
    let parents = inner
        .map(parent_pid, 0..4u64)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    (sum, std::process::id(), parents)
}

/// FAULTS 28: a pool built inside a worker task works; its workers are that
/// worker's children (before: `NotInitialized`).
fn pool_inside_a_worker_task() {
    let ex = pool_n(1);
    let (sum, worker, parents) = value(&ex.submit(nested_pool, 100).unwrap(), secs(30.0));
    assert_eq!(sum, 4950);
    assert!(
        parents.iter().all(|&p| p == worker),
        "nested workers' parents {parents:?}, the worker is {worker}"
    );
    still_serves(&ex);
}

/// FAULTS 30 (CPython's test_idle_process_reuse_one, scaled): 3000
/// sequential submit + result on a pool of 4 use one worker (before: two
/// in every run).
fn sequential_work_reuses_one_idle_worker() {
    let ex = pool_n(4);
    let first = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    for i in 0..3000 {
        let f = ex.submit(pid, ()).unwrap();
        let p = value(&f, secs(10.0));
        assert_eq!(p, first, "task {i} ran in another worker");
    }
    // A reply is counted after its future completes: wait for the last.
    wait_until(secs(10.0), "the last task to be counted", || {
        ex.stats().completed == 3001
    });
    let s = ex.stats();
    assert_eq!(s.workers, 1, "{s:?}");
    assert_eq!((s.completed, s.failed), (3001, 0));
}

#[derive(Debug, PartialEq, Clone, Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Shape {
    Count(u64),
    Named { name: String, tags: Vec<String> },
}

#[derive(Debug, PartialEq, Clone, Serialize, serde::Deserialize)]
struct Meta {
    version: u32,
}

#[derive(Debug, PartialEq, Clone, Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    #[serde(flatten)]
    meta: Meta,
    #[serde(flatten)]
    extra: std::collections::BTreeMap<String, serde_json::Value>,
}

fn json_echo(v: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "got": v, "worker": std::process::id() })
}

fn shape_echo(s: Shape) -> Shape {
    match s {
        Shape::Count(n) => Shape::Count(n + 1),
        Shape::Named { name, mut tags } => {
            tags.push("seen".into());
            Shape::Named { name, tags }
        }
    }
}

fn record_echo(mut r: Record) -> Record {
    r.meta.version += 1;
    r
}

/// The serde shapes bincode could not carry cross to a worker and back.
fn self_describing_values_cross_the_boundary() {
    let ex = pool_n(1);
    let v = serde_json::json!({"a": [1, -2, 3.5, null, "s"], "b": {"c": true}});
    let back = value(&ex.submit(json_echo, v.clone()).unwrap(), secs(10.0));
    assert_eq!(back["got"], v);
    for s in [
        Shape::Count(41),
        Shape::Named {
            name: "n".into(),
            tags: vec!["t".into()],
        },
    ] {
        let want = shape_echo(s.clone());
        assert_eq!(value(&ex.submit(shape_echo, s).unwrap(), secs(10.0)), want);
    }
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("free".to_owned(), serde_json::json!({"k": [1, 2]}));
    let r = Record {
        id: 9,
        meta: Meta { version: 1 },
        extra,
    };
    let back = value(&ex.submit(record_echo, r.clone()).unwrap(), secs(10.0));
    assert_eq!(back, record_echo(r));
    // A custom Deserialize error keeps its words across the boundary.
    let e = task_error(&ex.submit(take_fail_de, FailDe).unwrap(), secs(10.0));
    let serde = e.downcast_ref::<SerdeError>().expect("a SerdeError");
    assert_eq!(serde.stage(), SerdeStage::ArgumentDecode);
    assert!(serde.message().contains("refuses"), "{serde}");
}

/// `stats()` and `max_workers()`, as the thread pool has them.
fn stats_and_max_workers() {
    let ex = pool_n(3);
    assert_eq!(ex.max_workers(), 3);
    assert_eq!(ex.stats().workers, 0);
    value(&ex.submit(ident, 1).unwrap(), secs(10.0));
    task_error(&ex.submit(panics, "p".to_owned()).unwrap(), secs(10.0));
    let running = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(10.0), "the task to run", || running.running());
    let queued: Vec<_> = (0..3).map(|_| ex.submit(sleeps, 60_000).unwrap()).collect();
    wait_until(secs(10.0), "three running", || ex.stats().running == 3);
    let s = ex.stats();
    assert_eq!((s.running, s.queued, s.workers), (3, 1, 3), "{s:?}");
    ex.kill_workers();
    let s = ex.stats();
    assert_eq!((s.completed, s.failed, s.cancelled), (1, 4, 1), "{s:?}");
    assert!(s.shutdown && !s.broken);
    assert_eq!((s.workers, s.running, s.queued), (0, 0, 0));
    drop(queued);
}

/// `into_result()` takes the value at once: the pool's reference to the
/// future is core's uncounted `Completer`, never "another handle" (with a
/// `Future` clone in the job, a caller woken by the completion could see it
/// still alive and get `NotUnique`; the map bench did).
fn into_result_never_sees_the_pool_as_a_handle() {
    let ex = pool_n(2);
    for i in 0..2000u64 {
        let f = ex.submit(ident, i).unwrap();
        assert_eq!(f.into_result_timeout(secs(10.0)).unwrap(), i);
    }
    let opts = MapOptions::default().chunksize(10);
    for _ in 0..20 {
        let m = ex.map_with(ident, 0..1000u64, opts).unwrap();
        assert_eq!(m.into_result().unwrap().iter().sum::<u64>(), 499_500);
    }
}

/// A done-callback (on the slot thread) that submits to its own pool of 2
/// and waits: a second worker takes it (the completing slot, counted ready
/// for idle reuse, is not counted for its own callback's submit).
fn callback_that_submits_and_waits_does_not_deadlock() {
    let ex = pool_n(2);
    let (tx, rx) = std::sync::mpsc::channel();
    let inner = ex.clone();
    let f = ex.submit(ident, 1).unwrap();
    f.add_done_callback(move |_| {
        let g = inner.submit(ident, 2).expect("submit from a callback");
        let _ = tx.send(g.result_timeout(Duration::from_secs(10)).ok().copied());
    });
    let got = rx.recv_timeout(secs(20.0)).expect("the callback finished");
    assert_eq!(got, Some(2), "the callback's task did not run");
    assert_eq!(value(&f, secs(10.0)), 1);
    // And one that submits to another pool (whose counts it must not touch).
    let other = pool_n(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let f = ex.submit(ident, 3).unwrap();
    f.add_done_callback(move |_| {
        let g = other.submit(ident, 4).expect("submit to another pool");
        let _ = tx.send(g.result_timeout(Duration::from_secs(10)).ok().copied());
    });
    assert_eq!(
        rx.recv_timeout(secs(20.0)).expect("the callback finished"),
        Some(4)
    );
}

/// Done-callbacks on two slot threads that both shut the pool down and
/// wait (or both kill its workers), at the same time: each waits for the
/// other slots but not for one whose callback waits too, so both return
/// (they waited for each other for ever; found by a probe).
fn two_callbacks_that_shut_down_and_wait_both_return() {
    for kill in [false, true] {
        let ex = pool_n(2);
        // Both workers up, so the two tasks run on two slots at once.
        let warm: Vec<_> = (0..2).map(|_| ex.submit(sleeps, 100).unwrap()).collect();
        for f in &warm {
            value(f, secs(20.0));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let fs: Vec<_> = (0..2).map(|_| ex.submit(sleeps, 100).unwrap()).collect();
        for f in &fs {
            let (ex, tx, barrier) = (ex.clone(), tx.clone(), barrier.clone());
            f.add_done_callback(move |_| {
                // Both callbacks are running before either waits.
                barrier.wait();
                if kill {
                    ex.kill_workers();
                } else {
                    ex.shutdown(true, false);
                }
                let _ = tx.send(());
            });
        }
        for i in 0..2 {
            rx.recv_timeout(secs(20.0)).unwrap_or_else(|_| {
                panic!("callback {i} of 2 never returned from its shutdown (kill: {kill})")
            });
        }
        for f in &fs {
            assert_eq!(value(f, secs(10.0)), 100);
        }
        ex.shutdown(true, false);
        assert_eq!(ex.stats().workers, 0);
    }
}

/// `kill_workers` returns once the workers are dead, not when a slow
/// done-callback on one slot's thread returns (it waited for it).
fn kill_workers_does_not_wait_for_a_slow_callback() {
    for terminate in [false, true] {
        let ex = pool_n(2);
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let f = ex.submit(ident, 1).unwrap();
        f.add_done_callback(move |_| {
            let _ = entered_tx.send(());
            // Held until the test has seen kill_workers return.
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        });
        entered_rx
            .recv_timeout(secs(20.0))
            .expect("the callback started");
        let g = ex.submit(sleeps, 20_000).unwrap();
        wait_until(secs(20.0), "the long task running", || {
            g.state() == FutureState::Running
        });
        let pids = listed_pids(&ex);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let killer = {
            let ex = ex.clone();
            std::thread::spawn(move || {
                if terminate {
                    ex.terminate_workers();
                } else {
                    ex.kill_workers();
                }
                let _ = done_tx.send(());
            })
        };
        let returned = done_rx.recv_timeout(secs(20.0)).is_ok();
        let _ = release_tx.send(());
        assert!(
            returned,
            "kill_workers waited for a done-callback (terminate: {terminate})"
        );
        killer.join().unwrap();
        assert!(matches!(
            task_error(&g, secs(10.0)),
            TaskError::WorkerDied { .. }
        ));
        assert_eq!(value(&f, secs(10.0)), 1);
        ex.shutdown(true, false);
        for pid in pids {
            assert!(reaped(pid), "worker {pid} left behind");
        }
    }
}

// ------------------------------------------------------- idle workers

fn sigkill(pid: u32) {
    // SAFETY: kill(2) touches no memory; `pid` is a worker of ours that the
    // pool has not reaped (it lists it), so it names no other process.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Whether our child `pid` is gone: reaped, not a zombie of ours.
fn reaped(pid: u32) -> bool {
    support::stat(pid).is_none_or(|(state, ppid)| ppid != std::process::id() || state == 'X')
}

/// The worker pids the pool lists as live (its `Debug` picture).
fn listed_pids(ex: &ProcessPoolExecutor) -> Vec<u32> {
    let picture = format!("{ex:?}");
    picture
        .split(" pid ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// Every pid the pool lists is a live child of ours (not a zombie).
fn listed_pids_are_live(ex: &ProcessPoolExecutor) -> bool {
    listed_pids(ex).iter().all(|&p| {
        support::stat(p).is_some_and(|(state, ppid)| ppid == std::process::id() && state != 'Z')
    })
}

/// A worker `SIGKILL`ed while idle is noticed without a job: reaped at once
/// (no zombie), no longer counted or listed, replaced (it had run a task);
/// nothing fails; later submits run; and a shutdown right after an idle
/// death is prompt. Before: the zombie stayed, counted live, until a job
/// came.
fn idle_worker_death_is_noticed_without_a_job() {
    let ex = pool_n(2);
    let a = ex.submit(pid_after, 200).unwrap();
    let b = ex.submit(pid_after, 200).unwrap();
    let (a, b) = (value(&a, secs(10.0)), value(&b, secs(10.0)));
    assert_ne!(a, b, "two workers");
    wait_until(secs(5.0), "both slots to sleep", || {
        ex.stats().sleeping == 2
    });
    sigkill(a);
    wait_until(
        secs(2.0),
        &format!("worker {a}, killed while idle, to be reaped"),
        || reaped(a),
    );
    wait_until(secs(2.0), "the pool to stop listing the dead pid", || {
        !listed_pids(&ex).contains(&a)
    });
    wait_until(secs(5.0), "a replacement for the dead worker", || {
        ex.stats().workers == 2 && listed_pids_are_live(&ex)
    });
    let s = ex.stats();
    assert_eq!((s.completed, s.failed, s.broken), (2, 0, false), "{s:?}");
    let later: Vec<_> = (0..6).map(|_| ex.submit(pid_after, 20).unwrap()).collect();
    for f in &later {
        assert_ne!(value(f, secs(10.0)), a, "a dead worker ran a task");
    }
    // A death just before shutdown: shutdown still returns at once.
    wait_until(secs(5.0), "both slots to sleep again", || {
        ex.stats().sleeping == 2
    });
    for p in listed_pids(&ex) {
        sigkill(p);
    }
    let t = Instant::now();
    ex.shutdown(true, false);
    assert!(t.elapsed() < secs(1.0), "shutdown took {:?}", t.elapsed());
    let s = ex.stats();
    assert_eq!((s.workers, s.failed), (0, 0), "{s:?}");
}

fn exit_soon() {
    std::thread::spawn(|| {
        std::thread::sleep(ms(300));
        std::process::exit(7);
    });
}

/// A worker that dies idle before it ran anything (here: its initializer
/// leaves a thread that exits 300 ms later) is replaced only when a job
/// comes, not in a loop. The first worker ran a task, so it is replaced at
/// once; its replacement dies too and is left dead until the next submit.
fn a_worker_that_dies_idle_unused_is_replaced_on_demand() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .initializer(exit_soon),
    );
    let first = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    wait_until(secs(5.0), "the first worker to exit and be reaped", || {
        reaped(first)
    });
    let started = |ex: &ProcessPoolExecutor| -> u64 {
        let picture = format!("{ex:?}");
        let n = picture
            .split("workers_started: ")
            .nth(1)
            .expect("workers_started");
        n.split(',').next().unwrap().parse().unwrap()
    };
    wait_until(secs(5.0), "the replacement to die unused", || {
        started(&ex) == 2 && ex.stats().workers == 0
    });
    std::thread::sleep(ms(1000));
    let s = ex.stats();
    assert_eq!((started(&ex), s.workers, s.failed), (2, 0, 0), "{ex:?}");
    // A job brings a worker back (it runs before its 300 ms are up).
    let again = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    assert_ne!(again, first);
    assert_eq!(started(&ex), 3, "{ex:?}");
    ex.shutdown(true, false);
}

/// Sets `CF_TEST_REFUSE_START` (workers inherit it) until dropped.
struct RefuseStart;

impl RefuseStart {
    fn new() -> Self {
        std::env::set_var("CF_TEST_REFUSE_START", "1");
        RefuseStart
    }
}

impl Drop for RefuseStart {
    fn drop(&mut self) {
        std::env::remove_var("CF_TEST_REFUSE_START");
    }
}

/// An idle death whose replacement cannot start breaks nothing by itself
/// (it lost no task): the pool stays usable until a job needs a worker,
/// and that start failing breaks it, as it would have without the death.
fn an_idle_death_whose_replacement_cannot_start_breaks_nothing() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .try_initializer(refuse_start_if_asked),
    );
    let w = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    wait_until(secs(5.0), "the slot to sleep", || ex.stats().sleeping == 1);
    let refuse = RefuseStart::new();
    sigkill(w);
    wait_until(secs(2.0), "the idle worker to be reaped", || reaped(w));
    // The replacement's start (which fails) takes a moment.
    std::thread::sleep(ms(500));
    let s = ex.stats();
    assert!(!s.broken && s.failed == 0 && s.workers == 0, "{s:?}");
    let f = ex.submit(pid, ()).expect("not broken yet");
    let e = task_error(&f, secs(10.0));
    assert!(
        e.is_broken() && e.to_string().contains("refused to start"),
        "{e}"
    );
    drop(refuse);
    assert!(ex.submit(pid, ()).unwrap_err().is_broken());
    let t = Instant::now();
    ex.shutdown(true, false);
    assert!(t.elapsed() < secs(1.0), "shutdown took {:?}", t.elapsed());
}

/// Leaves a thread in the worker that, `after_ms` after the reply, writes a
/// frame header nobody asked for (mode 0) or shuts the connection down
/// (mode 1; the worker then reads end-of-file and exits 0).
fn misbehave_later((mode, after_ms): (u8, u64)) -> u32 {
    let fd = connection_fd();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(after_ms));
        match mode {
            0 => write_raw(&header(0, 4, 12345)),
            // SAFETY: shutdown(2) of the worker's own socket.
            _ => unsafe {
                libc::shutdown(fd, libc::SHUT_RDWR);
            },
        }
    });
    std::process::id()
}

/// An idle worker that writes out of turn, or hangs up, is reaped (killed
/// if it wrote) without a job, and replaced; nothing fails.
fn an_idle_worker_that_speaks_or_hangs_up_is_replaced() {
    for mode in [0u8, 1] {
        let ex = pool_n(1);
        let w = value(
            &ex.submit(misbehave_later, (mode, 100)).unwrap(),
            secs(10.0),
        );
        wait_until(
            secs(3.0),
            &format!("worker {w} (mode {mode}) to be reaped without a job"),
            || reaped(w),
        );
        wait_until(secs(5.0), "a replacement", || {
            ex.stats().workers == 1 && listed_pids_are_live(&ex) && !listed_pids(&ex).contains(&w)
        });
        let s = ex.stats();
        assert_eq!((s.completed, s.failed), (1, 0), "{s:?}");
        assert_ne!(value(&ex.submit(pid, ()).unwrap(), secs(10.0)), w);
    }
}

/// The pid of the worker running a task (the pool's `Debug` picture).
fn running_pid(ex: &ProcessPoolExecutor) -> Option<u32> {
    let picture = format!("{ex:?}");
    picture.split(" pid ").skip(1).find_map(|rest| {
        let mut it = rest.split(' ');
        let pid = it.next()?.parse().ok()?;
        let job: u64 = it
            .nth(1)?
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()?;
        (job != 0).then_some(pid)
    })
}

/// After `shutdown(wait=false)`: an idle worker killed is reaped at once and
/// not replaced (nothing is queued); a busy one killed fails its task with
/// the death; a task still queued runs on a replacement; every process is
/// reaped in the end.
fn worker_deaths_after_shutdown_without_wait() {
    let ex = pool_n(2);
    let (a, b) = (
        ex.submit(pid_after, 200).unwrap(),
        ex.submit(pid_after, 200).unwrap(),
    );
    let (a, b) = (value(&a, secs(10.0)), value(&b, secs(10.0)));
    wait_until(secs(5.0), "both slots to sleep", || {
        ex.stats().sleeping == 2
    });
    let busy = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(10.0), "the long task to run", || {
        busy.running() && running_pid(&ex).is_some()
    });
    let busy_pid = running_pid(&ex).unwrap();
    let idle = if busy_pid == a { b } else { a };
    ex.shutdown(false, false);
    sigkill(idle);
    wait_until(
        secs(2.0),
        "the idle worker, killed after shutdown, to be reaped",
        || reaped(idle),
    );
    wait_until(secs(2.0), "the pool to list only the busy worker", || {
        listed_pids(&ex) == [busy_pid]
    });
    std::thread::sleep(ms(300));
    assert_eq!(
        listed_pids(&ex),
        [busy_pid],
        "replaced after shutdown: {ex:?}"
    );
    sigkill(busy_pid);
    assert_eq!(
        died(&task_error(&busy, secs(5.0))),
        (busy_pid, ExitCause::Signal(libc::SIGKILL))
    );
    wait_until(secs(5.0), "every worker to be reaped", || {
        ex.stats().workers == 0 && support::children().is_empty()
    });
    // A task queued behind a worker that dies after shutdown(wait=false)
    // still runs, on a replacement.
    let ex = pool_n(1);
    let busy = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(10.0), "the long task to run", || {
        busy.running() && running_pid(&ex).is_some()
    });
    let busy_pid = running_pid(&ex).unwrap();
    let queued = ex.submit(pid, ()).unwrap();
    ex.shutdown(false, false);
    sigkill(busy_pid);
    assert_eq!(died(&task_error(&busy, secs(5.0))).0, busy_pid);
    assert_ne!(value(&queued, secs(10.0)), busy_pid);
    wait_until(secs(5.0), "every worker to be reaped", || {
        ex.stats().workers == 0 && support::children().is_empty()
    });
}

/// The child mode `sigchld-ignored`: with `SIGCHLD` set to `SIG_IGN` (the
/// kernel reaps children itself and `waitpid` gives `ECHILD`), worker
/// deaths say so, and nothing hangs or is lost. Prints `ok` or the failure.
fn child_sigchld_ignored() {
    // SAFETY: installs no handler, only the disposition; this process is
    // ours (a child of the test), so the setting leaks into no other test.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
    }
    let r = std::panic::catch_unwind(sigchld_ignored_scenario);
    match r {
        Ok(()) => println!("ok"),
        Err(p) => {
            let msg = concurrent_futures_core::panic_message(p.as_ref());
            println!("FAILED: {msg}");
        }
    }
}

/// Starts `sh -c 'exit 3'` and waits for it: its exit code, or the error
/// (`ECHILD` where `SIGCHLD` is ignored).
fn child_status(_: ()) -> Result<Option<i32>, String> {
    std::process::Command::new("sh")
        .args(["-c", "exit 3"])
        .status()
        .map(|s| s.code())
        .map_err(|e| e.to_string())
}

fn sigchld_ignored_scenario() {
    let ex = ProcessPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let first = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    // A crash while running: the task fails with a true reason.
    let bad = ex.submit(sigkill_self, ()).unwrap();
    let after = ex.submit(pid, ()).unwrap();
    let e = task_error(&bad, secs(10.0));
    assert_eq!(died(&e), (first, ExitCause::SigchldIgnored), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&first.to_string()) && msg.contains("SIGCHLD is ignored"),
        "{msg}"
    );
    let second = value(&after, secs(10.0));
    assert_ne!(second, first);
    // The ignored SIGCHLD does not reach the workers: a task that starts
    // and waits for a child of its own gets its exit status.
    let status = value(&ex.submit(child_status, ()).unwrap(), secs(10.0));
    assert_eq!(status, Ok(Some(3)), "a task's own child, in a worker");
    // A time limit still ends its task.
    let slow = ex.submit_with_timeout(sleeps, 60_000, ms(200)).unwrap();
    assert!(task_error(&slow, secs(10.0)).is_time_limit());
    // An idle death is noticed and replaced; nothing fails.
    let w = value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    let failed = ex.stats().failed;
    sigkill(w);
    wait_until(secs(2.0), "the pool to stop listing the dead pid", || {
        !listed_pids(&ex).contains(&w)
    });
    assert_eq!(ex.stats().failed, failed);
    assert_ne!(value(&ex.submit(pid, ()).unwrap(), secs(10.0)), w);
    // kill_workers and shutdown return.
    let long = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(10.0), "the long task to run", || long.running());
    let t = Instant::now();
    ex.kill_workers();
    let (_, cause) = died(&task_error(&long, secs(5.0)));
    assert_eq!(cause, ExitCause::SigchldIgnored);
    ex.shutdown(true, false);
    assert!(
        t.elapsed() < secs(2.0),
        "kill_workers + shutdown took {:?}",
        t.elapsed()
    );
    // Drop (shutdown(wait)) of a pool with an idle worker returns too.
    let ex = ProcessPoolExecutor::new(2).unwrap();
    value(&ex.submit(pid, ()).unwrap(), secs(10.0));
    let t = Instant::now();
    drop(ex);
    assert!(t.elapsed() < secs(2.0), "drop took {:?}", t.elapsed());
}

/// With `SIGCHLD` ignored in the parent (checked in a child process of
/// the test, so the setting reaches no other test): a worker's death says
/// its exit status is unavailable because of that (before: "ended for an
/// unknown reason"), and crashes, time limits, idle deaths, `kill_workers`
/// and shutdown all end, losing nothing.
fn sigchld_ignored_in_the_parent() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--child-mode", "sigchld-ignored"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + secs(30.0);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the SIGCHLD-ignoring child did not finish within {:?}",
                secs(30.0)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status:?}: {out}");
    assert_eq!(out.trim(), "ok", "{out}");
}

fn main() {
    support::quiet_deliberate_faults();
    // Only this check runs before `init()`: a pool in a program that never
    // called it must be refused, not hang.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv == ["--child-mode", "no-init"] {
        match ProcessPoolExecutor::new(1) {
            Err(concurrent_futures_pool::BuildError::NotInitialized) => println!("NotInitialized"),
            other => println!("unexpected: {other:?}"),
        }
        return;
    }
    process::init();
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--child-mode") {
        match args.next().as_deref() {
            Some("print") => child_print(),
            Some("closed-stdio") => {
                let out = args.next().expect("an output file");
                let fds: Vec<i32> = args.map(|s| s.parse().expect("a descriptor")).collect();
                child_closed_stdio(&out, &fds);
            }
            Some("orphan" | "sigint") => child_busy_pool(),
            Some("bigresult") => child_big_result(),
            Some("sigchld-ignored") => child_sigchld_ignored(),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    support::run(&[
        support::case!(smoke, 30),
        support::case!(map_prefetch_survives_crashes_and_time_limits, 60),
        support::case!(panic_keeps_the_worker, 30),
        support::case!(sigkill_fails_only_its_task, 60),
        support::case!(abort_is_sigabrt, 30),
        support::case!(exit_zero_is_not_success, 30),
        support::case!(segfault_and_stack_overflow, 60),
        support::case!(panic_while_unwinding_aborts, 30),
        support::case!(allocation_failure_kills_only_the_worker, 60),
        support::case!(argument_serialize_fails_in_parent, 30),
        support::case!(argument_deserialize_fails_in_worker, 30),
        support::case!(worker_aborts_while_deserializing, 30),
        support::case!(result_serialize_fails_in_worker, 30),
        support::case!(worker_aborts_while_serializing, 30),
        support::case!(result_deserialize_fails_in_parent, 30),
        support::case!(a_deep_result_does_not_kill_the_parent, 60),
        support::case!(
            a_blocking_done_callback_does_not_hold_back_other_submits,
            60
        ),
        support::case!(two_callbacks_that_shut_down_and_wait_both_return, 60),
        support::case!(kill_workers_does_not_wait_for_a_slow_callback, 60),
        support::case!(a_parent_with_closed_stdio_still_starts_workers, 60),
        support::case!(small_frame_limits_keep_failures_readable, 60),
        support::case!(protocol_garbage_kills_the_worker, 60),
        support::case!(half_frame_then_exit, 30),
        support::case!(crash_half_way_through_a_big_result, 120),
        support::case!(big_argument_to_a_busy_pool_does_not_block_submit, 60),
        support::case!(replacement_that_cannot_start_breaks_the_pool, 30),
        support::case!(callbacks_run_once_each_through_crashes, 60),
        support::case!(half_frame_then_sleep_hits_the_time_limit, 30),
        support::case!(time_limit_kills_and_replaces, 60),
        support::case!(queued_tasks_stay_pending_and_cancellable, 30),
        support::case!(max_tasks_per_child_one, 180),
        support::case!(fifty_megabytes_each_way, 120),
        support::case!(shutdown_cancel_futures, 30),
        support::case!(drop_while_running_waits, 30),
        support::case!(shutdown_while_a_task_crashes, 30),
        support::case!(kill_workers_fails_running_tasks, 30),
        support::case!(terminate_workers_sends_sigterm, 30),
        support::case!(initializer_failure_breaks_the_pool, 60),
        support::case!(initializer_runs_in_each_worker, 30),
        support::case!(initializer_with_an_argument, 30),
        support::case!(sigint_is_ignored_by_workers, 30),
        support::case!(printing_megabytes_corrupts_nothing, 60),
        support::case!(parent_sigkill_leaves_no_orphans, 60),
        support::case!(big_result_peak_memory, 120),
        support::case!(ctrl_c_to_the_process_group, 60),
        support::case!(not_initialized_is_an_error, 30),
        support::case!(chunked_map_keeps_item_errors_apart, 60),
        support::case!(forked_grandchild_does_not_hide_a_worker_death, 30),
        support::case!(kill_workers_during_a_map_ends_it_at_once, 30),
        support::case!(kill_workers_during_a_two_worker_map, 30),
        support::case!(terminate_workers_escalates_to_sigkill, 30),
        support::case!(pool_inside_a_worker_task, 60),
        support::case!(sequential_work_reuses_one_idle_worker, 120),
        support::case!(self_describing_values_cross_the_boundary, 30),
        support::case!(stats_and_max_workers, 30),
        support::case!(into_result_never_sees_the_pool_as_a_handle, 60),
        support::case!(callback_that_submits_and_waits_does_not_deadlock, 60),
        support::case!(idle_worker_death_is_noticed_without_a_job, 30),
        support::case!(a_worker_that_dies_idle_unused_is_replaced_on_demand, 30),
        support::case!(an_idle_worker_that_speaks_or_hangs_up_is_replaced, 30),
        support::case!(
            an_idle_death_whose_replacement_cannot_start_breaks_nothing,
            30
        ),
        support::case!(worker_deaths_after_shutdown_without_wait, 30),
        support::case!(sigchld_ignored_in_the_parent, 60),
    ]);
}
