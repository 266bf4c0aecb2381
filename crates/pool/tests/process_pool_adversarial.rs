//! Adversarial cases of the process pool, in the manner of loky's and
//! pebble's suites: paths the existing
//! suites (`process_pool.rs`, `process_pool_cpython.rs`) do not take.
//! Each test states what the contract (shared/API.md, shared/FAULTS.md,
//! docs/process-pool.md) says, and is bounded: every wait has a timeout and
//! the harness's watchdog aborts a test that overruns.
//!
//! `harness = false`: `main` calls `process::init()` first, so this binary is
//! also the workers' executable.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concurrent_futures::{as_completed, wait, ReturnWhen, ThreadPoolExecutor};
use concurrent_futures_core::{ExitCause, Future, FutureError, TaskError};
use concurrent_futures_pool::process::{self, ProcessPoolExecutor, SerdeError, SerdeStage};
use concurrent_futures_pool::{MapOptions, SubmitError};
use serde::de::{self, Deserializer};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};
use support::faults::{blob_of, Blob};
use support::{ms, outcome, pool, pool_n, secs, task_error, value, wait_until};

// ---------------------------------------------------------------- tasks

fn ident(x: u64) -> u64 {
    x
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn sleeps(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn sigkill_self() -> ! {
    // SAFETY: kill(2) on our own pid touches no memory.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Negative: SIGKILL itself; 1000 or more: sleep that many ms and return
/// it; otherwise return it.
fn crash_or_sleep(x: i64) -> i64 {
    if x < 0 {
        sigkill_self();
    }
    if x >= 1000 {
        std::thread::sleep(Duration::from_millis(x as u64));
    }
    x
}

/// Returns (x, pid); SIGKILLs itself when x % 3 == 2.
fn crash_every_third(x: u64) -> (u64, u32) {
    if x % 3 == 2 {
        sigkill_self();
    }
    (x, std::process::id())
}

/// Sleeps a little and returns (x, pid).
fn tagged(x: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(3));
    (x, std::process::id())
}

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

/// 0: close the worker's socket; 1: dup2 /dev/null over it; 2: shut down
/// its write side and sleep. Then return 7.
fn mangle_socket(mode: u8) -> u32 {
    let fd = connection_fd();
    // SAFETY: plain descriptor calls on descriptors we found open.
    unsafe {
        match mode {
            0 => {
                libc::close(fd);
            }
            1 => {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                libc::dup2(null, fd);
                libc::close(null);
            }
            _ => {
                libc::shutdown(fd, libc::SHUT_WR);
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
    7
}

/// fork(2) without exec; the child writes its pid to `path` and *returns*
/// (1) into the worker's serve loop; the worker returns 2 a moment later.
fn fork_and_both_return(path: String) -> u32 {
    // SAFETY: the worker's main thread forks; the child only returns into
    // the serve loop (single-threaded worker).
    let child = unsafe { libc::fork() };
    if child == 0 {
        let _ = std::fs::write(&path, std::process::id().to_string());
        return 1;
    }
    std::thread::sleep(Duration::from_millis(50));
    2
}

/// A panic payload whose `Drop` panics.
struct BadDrop;
impl Drop for BadDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("BadDrop's drop panics");
        }
    }
}

fn panics_with_bad_payload(_: ()) -> u32 {
    std::panic::panic_any(BadDrop)
}

fn blob_len(b: Blob) -> usize {
    b.0.len()
}

/// Serializes as a u32, except 13, which refuses to serialize.
#[derive(Debug, Clone, PartialEq)]
struct SerIf(u32);
impl Serialize for SerIf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            return Err(ser::Error::custom("SerIf(13) refuses to serialize"));
        }
        self.0.serialize(s)
    }
}
impl<'de> Deserialize<'de> for SerIf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(SerIf)
    }
}

/// A u32 on the wire; 13 refuses to deserialize.
#[derive(Debug, Clone, PartialEq)]
struct DeIf(u32);
impl Serialize for DeIf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
impl<'de> Deserialize<'de> for DeIf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v == 13 {
            return Err(de::Error::custom("DeIf(13) refuses to deserialize"));
        }
        Ok(DeIf(v))
    }
}

fn give_ser_if(x: u32) -> SerIf {
    SerIf(x)
}
fn take_de_if(x: DeIf) -> u32 {
    x.0
}
fn give_de_if(x: u32) -> DeIf {
    DeIf(x)
}

/// Initializer: the first worker to run it creates `path` and succeeds;
/// any later one misbehaves as `mode` says ("panic", "exit0", "hang").
fn init_second_misbehaves((path, mode): (String, String)) {
    let first = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .is_ok();
    if first {
        return;
    }
    match mode.as_str() {
        "panic" => panic!("the second initializer panics"),
        "exit0" => std::process::exit(0),
        _ => std::thread::sleep(Duration::from_secs(3600)),
    }
}

// -------------------------------------------------------- helpers

fn died(e: &TaskError) -> (u32, ExitCause) {
    match e {
        TaskError::WorkerDied { pid, cause } => (*pid, *cause),
        other => panic!("expected WorkerDied, got {other:?}"),
    }
}

fn serde_stage(e: &TaskError) -> Option<SerdeStage> {
    e.downcast_ref::<SerdeError>().map(SerdeError::stage)
}

fn still_serves(ex: &ProcessPoolExecutor) {
    let f = ex.submit(ident, 4242).expect("submit after the fault");
    assert_eq!(value(&f, secs(15.0)), 4242, "pool serves after the fault");
}

fn scratch(name: &str) -> String {
    let p = std::env::temp_dir().join(format!(
        "cf-adversarial-{}-{name}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

fn ok<T: Clone>(r: &Result<T, FutureError>) -> Option<T> {
    r.as_ref().ok().cloned()
}

fn alive(pid: u32) -> bool {
    support::stat(pid).is_some_and(|(s, _)| s != 'Z' && s != 'X')
}

/// Polls `cond` for up to `limit`; whether it came true.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

// ---------------------------------------------------------- tests

/// API.md: "A failing initializer still breaks the pool, as in Python."
/// Only the *second* worker's initializer fails (panics / exit(0)) while the
/// first runs a task. Expect: the running task keeps its value; queued
/// futures fail `Broken`; `submit` is refused `Broken` at once; shutdown is
/// prompt; no child left.
fn initializer_fails_on_second_worker_only() {
    for mode in ["panic", "exit0"] {
        let path = scratch("init2");
        let ex = pool(
            ProcessPoolExecutor::builder()
                .max_workers(2)
                .initializer_with(init_second_misbehaves, (path.clone(), mode.to_owned())),
        );
        let first = ex.submit(sleeps, 600).unwrap();
        wait_until(secs(15.0), "the first task to run", || first.running());
        // The queue is longer than the idle slots: a second worker starts.
        let queued: Vec<_> = (0..3).map(|i| ex.submit(ident, i).unwrap()).collect();
        wait_until(secs(15.0), "the pool to break", || ex.stats().broken);
        for f in &queued {
            // Either the first worker took it before the break, or it is
            // failed by the break.
            match outcome(f, secs(15.0)) {
                Ok(_) => {}
                Err(FutureError::Failed(e)) => assert!(e.is_broken(), "{mode}: {e:?}"),
                Err(e) => panic!("{mode}: unexpected {e:?}"),
            }
        }
        assert_eq!(
            value(&first, secs(15.0)),
            600,
            "{mode}: the running task keeps its value"
        );
        let e = ex.submit(ident, 1).unwrap_err();
        assert!(e.is_broken(), "{mode}: {e:?}");
        let t = Instant::now();
        ex.shutdown(true, false);
        assert!(
            t.elapsed() < secs(5.0),
            "{mode}: shutdown took {:?}",
            t.elapsed()
        );
        drop(ex);
        let _ = std::fs::remove_file(&path);
    }
}

/// The second worker's initializer hangs. Python hangs too, but
/// `kill_workers` must not: docs say a worker that is still starting is
/// killed (its cell is doomed). Expect: kill_workers returns within about a
/// second; the running task fails WorkerDied; the queued ones are cancelled
/// (or broken); no child left.
fn initializer_hangs_on_second_worker_kill_workers_returns() {
    let path = scratch("inithang");
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .initializer_with(init_second_misbehaves, (path.clone(), "hang".to_owned())),
    );
    let first = ex.submit(sleeps, 60_000).unwrap();
    wait_until(secs(15.0), "the first task to run", || first.running());
    let queued: Vec<_> = (0..3).map(|i| ex.submit(ident, i).unwrap()).collect();
    // Let the second worker get into its initializer.
    wait_until(secs(15.0), "a second child process", || {
        support::children().len() >= 2
    });
    std::thread::sleep(ms(200));
    let t = Instant::now();
    ex.kill_workers();
    assert!(
        t.elapsed() < secs(3.0),
        "kill_workers took {:?}",
        t.elapsed()
    );
    let e = task_error(&first, secs(5.0));
    assert!(e.is_worker_died(), "{e:?}");
    for f in &queued {
        match outcome(f, secs(5.0)) {
            Err(FutureError::Cancelled) => {}
            Err(FutureError::Failed(e)) if e.is_broken() || e.is_worker_died() => {}
            other => panic!("queued task: unexpected {other:?}"),
        }
    }
    drop(ex);
    let _ = std::fs::remove_file(&path);
}

/// `shutdown(wait=false, cancel_futures=true)` while a map is half
/// consumed. Expect: the rest of the map yields values or `Cancelled`, at
/// least one cancelled, ends within a bound; no hang, no child left.
fn shutdown_nowait_cancel_while_map_half_consumed() {
    let ex = pool_n(2);
    let mut m = ex.map(sleeps, std::iter::repeat_n(30u64, 40)).unwrap();
    for _ in 0..4 {
        assert_eq!(m.next().unwrap().unwrap(), 30);
    }
    ex.shutdown(false, true);
    let t = Instant::now();
    let (mut ok, mut cancelled) = (4, 0);
    for r in m.by_ref() {
        match r {
            Ok(30) => ok += 1,
            Err(FutureError::Cancelled) => cancelled += 1,
            other => panic!("unexpected {other:?}"),
        }
        assert!(t.elapsed() < secs(10.0), "the map did not end");
    }
    assert_eq!(ok + cancelled, 40);
    assert!(cancelled > 0, "nothing was cancelled ({ok} ran)");
    assert!(matches!(ex.submit(ident, 1), Err(SubmitError::Shutdown)));
    drop(m);
    drop(ex);
}

/// Dropping the executor (Drop = shutdown(true, false)) while other threads
/// block in `result()`: every queued task still runs, every waiter gets its
/// value.
fn drop_executor_while_threads_block_on_result() {
    let ex = pool_n(1);
    let futures: Vec<Future<u64>> = (0..8).map(|_| ex.submit(sleeps, 40).unwrap()).collect();
    let waiters: Vec<_> = futures
        .iter()
        .cloned()
        .map(|f| std::thread::spawn(move || f.result_timeout(secs(30.0)).copied()))
        .collect();
    let t = Instant::now();
    drop(ex);
    assert!(t.elapsed() < secs(20.0));
    for (i, w) in waiters.into_iter().enumerate() {
        assert_eq!(w.join().unwrap().ok(), Some(40), "waiter {i}");
    }
}

/// Done-callbacks that submit to their own pool while `shutdown(true,
/// false)` runs: each submit is accepted (and then runs to its value) or
/// refused with `Shutdown`; nothing accepted is left pending after
/// shutdown returns.
fn submit_from_callbacks_during_shutdown() {
    let ex = pool_n(1);
    type Submits = Vec<Result<Future<u64>, SubmitError>>;
    let got: Arc<Mutex<Submits>> = Arc::default();
    let weak = Arc::downgrade(&ex);
    let mut fs = Vec::new();
    for _ in 0..10 {
        let f = ex.submit(sleeps, 20).unwrap();
        let (got, weak) = (got.clone(), weak.clone());
        f.add_done_callback(move |_| {
            if let Some(ex) = weak.upgrade() {
                let r = ex.submit(ident, 77);
                got.lock().unwrap().push(r);
            }
        });
        fs.push(f);
    }
    std::thread::sleep(ms(60));
    let t = Instant::now();
    ex.shutdown(true, false);
    assert!(t.elapsed() < secs(15.0));
    for f in &fs {
        assert!(f.done(), "an original task is not done after shutdown");
    }
    let got = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(got.len(), 10, "every callback ran once");
    let (mut accepted, mut refused) = (0, 0);
    for r in &got {
        match r {
            Ok(f) => {
                accepted += 1;
                assert!(
                    f.done(),
                    "an accepted submit is pending after shutdown: {f:?}"
                );
                assert_eq!(value(f, secs(1.0)), 77);
            }
            Err(SubmitError::Shutdown) => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        refused > 0,
        "no callback saw the shutdown ({accepted} accepted)"
    );
    drop(ex);
}

/// `map` with a timeout where workers die: the crashes fail their places
/// with WorkerDied, the map's own timeout comes at its deadline (counted
/// from the call), and the map ends there.
fn map_timeout_with_dying_workers() {
    let ex = pool_n(2);
    let t = Instant::now();
    let limit = secs(1.5);
    let m = ex
        .map_with(
            crash_or_sleep,
            [-1, 5, -1, 6, 20_000, 7, 8],
            MapOptions::default().timeout(limit),
        )
        .unwrap();
    let got: Vec<Result<i64, FutureError>> = m.collect();
    let elapsed = t.elapsed();
    assert!(elapsed < limit + secs(2.0), "the map took {elapsed:?}");
    assert!(
        elapsed >= limit - ms(50),
        "the map ended early: {elapsed:?}"
    );
    assert_eq!(got.len(), 5, "{got:?}");
    for i in [0, 2] {
        match &got[i] {
            Err(FutureError::Failed(e)) => {
                assert_eq!(died(e).1, ExitCause::Signal(libc::SIGKILL), "{e:?}")
            }
            other => panic!("place {i}: {other:?}"),
        }
    }
    assert_eq!(got[1].as_ref().ok(), Some(&5));
    assert_eq!(got[3].as_ref().ok(), Some(&6));
    assert!(
        matches!(&got[4], Err(FutureError::Timeout(_))),
        "{:?}",
        got[4]
    );
    ex.kill_workers();
    drop(ex);
}

/// `wait` and `as_completed` over process futures mixed with thread-pool
/// futures, with workers crashing: FIRST_EXCEPTION returns at the first
/// worker death, long before the slow thread tasks; `as_completed` yields
/// each future once; every done-callback runs once.
fn wait_and_as_completed_mixed_with_crashes() {
    let ex = pool_n(2);
    let tp = ThreadPoolExecutor::new(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut all: Vec<Future<i64>> = Vec::new();
    for _ in 0..2 {
        all.push(
            tp.submit(|| {
                std::thread::sleep(Duration::from_millis(1500));
                100
            })
            .unwrap(),
        );
    }
    for x in [1, -1, 2, -1, 3] {
        all.push(ex.submit(crash_or_sleep, x).unwrap());
    }
    for f in &all {
        let c = calls.clone();
        f.add_done_callback(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
    }
    let t = Instant::now();
    let r = wait(&all, Some(secs(20.0)), ReturnWhen::FirstException);
    assert!(
        t.elapsed() < secs(1.4),
        "FIRST_EXCEPTION took {:?}",
        t.elapsed()
    );
    assert!(
        r.done.iter().any(
            |f| matches!(f.exception_timeout(Duration::ZERO), Ok(Some(e)) if e.is_worker_died())
        ),
        "no worker death among done"
    );
    let mut seen = HashSet::new();
    for f in as_completed(all.iter().chain(all.iter()), Some(secs(20.0))) {
        let f = f.expect("as_completed timed out");
        assert!(seen.insert(f.clone()), "yielded twice: {f:?}");
    }
    assert_eq!(seen.len(), all.len());
    wait_until(secs(5.0), "every callback", || {
        calls.load(Ordering::SeqCst) == all.len()
    });
    std::thread::sleep(ms(50));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        all.len(),
        "a callback ran twice"
    );
    let deaths = all
        .iter()
        .filter(|f| {
            f.exception()
                .unwrap()
                .is_some_and(TaskError::is_worker_died)
        })
        .count();
    assert_eq!(deaths, 2);
    still_serves(&ex);
    drop(tp);
    drop(ex);
}

/// `max_tasks_per_child = 2` racing with crashes on 2 workers: every
/// future terminal and right; never more than 2 child processes (zombies
/// included); no pid serves more than 2 tasks.
fn max_tasks_per_child_races_crashes() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(2)
            .max_tasks_per_child(2),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(support::children().len(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let fs: Vec<_> = (0..60)
        .map(|x| ex.submit(crash_every_third, x).unwrap())
        .collect();
    let mut per_pid = std::collections::HashMap::<u32, usize>::new();
    for (x, f) in fs.iter().enumerate() {
        let x = x as u64;
        match outcome(f, secs(60.0)) {
            Ok(&(v, p)) => {
                assert_eq!(v, x);
                assert_ne!(x % 3, 2);
                *per_pid.entry(p).or_default() += 1;
            }
            Err(FutureError::Failed(e)) => {
                assert_eq!(x % 3, 2, "task {x} failed: {e:?}");
                let (p, cause) = died(&e);
                assert_eq!(cause, ExitCause::Signal(libc::SIGKILL));
                *per_pid.entry(p).or_default() += 1;
            }
            Err(e) => panic!("task {x}: {e:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert!(
        peak.load(Ordering::Relaxed) <= 2,
        "{} child processes at once",
        peak.load(Ordering::Relaxed)
    );
    for (p, n) in &per_pid {
        assert!(*n <= 2, "pid {p} served {n} tasks");
    }
    assert!(!ex.stats().broken);
    still_serves(&ex);
    drop(ex);
}

/// One worker, one crash, then 1,000 tiny tasks: the pool is not broken
/// (our semantics: the dead worker is replaced) and all 1,000 succeed.
fn one_worker_a_crash_then_a_thousand_tiny_tasks() {
    let ex = pool_n(1);
    let e = task_error(&ex.submit(crash_or_sleep, -1).unwrap(), secs(15.0));
    assert_eq!(died(&e).1, ExitCause::Signal(libc::SIGKILL));
    let fs: Vec<_> = (0..1000).map(|x| ex.submit(ident, x).unwrap()).collect();
    for (x, f) in fs.iter().enumerate() {
        assert_eq!(value(f, secs(30.0)), x as u64);
    }
    let m: Vec<u64> = ex
        .map(ident, 0..1000)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(m, (0..1000).collect::<Vec<_>>());
    assert!(!ex.stats().broken);
    drop(ex);
}

/// A worker SIGKILLed (from outside) while it receives a large (128 MB)
/// argument: that future fails WorkerDied(SIGKILL), the slot never blocks
/// on the half-written frame, the pool serves on.
fn sigkill_while_receiving_a_large_argument() {
    let ex = pool_n(1);
    let warm = value(&ex.submit(pid, ()).unwrap(), secs(15.0));
    let f = ex.submit(blob_len, blob_of(128 << 20, 3)).unwrap();
    wait_until(secs(15.0), "the big task to start", || f.running());
    // SAFETY: kill(2); `warm` is our live, unreaped worker.
    unsafe {
        libc::kill(warm as libc::pid_t, libc::SIGKILL);
    }
    let e = task_error(&f, secs(15.0));
    assert_eq!(died(&e), (warm, ExitCause::Signal(libc::SIGKILL)), "{e:?}");
    still_serves(&ex);
    drop(ex);
}

/// An outside killer SIGKILLs workers (only ones that have served a task,
/// so never one still starting) while 2 workers run 300 submits and a
/// 300-item map (with its send-ahead). Every future terminal; each failure
/// is a SIGKILL death; every value right; the pool is not broken.
fn outside_killer_during_submits_and_map() {
    let ex = pool_n(2);
    let served: Arc<Mutex<HashSet<u32>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (served, stop, kills) = (served.clone(), stop.clone(), kills.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(25));
                let kids: HashSet<u32> = support::children()
                    .into_iter()
                    .filter(|&(_, s)| s != 'Z')
                    .map(|(p, _)| p)
                    .collect();
                let target = served
                    .lock()
                    .unwrap()
                    .iter()
                    .copied()
                    .find(|p| kids.contains(p));
                if let Some(p) = target {
                    served.lock().unwrap().remove(&p);
                    // SAFETY: kill(2) on a live, unreaped child of ours.
                    unsafe {
                        libc::kill(p as libc::pid_t, libc::SIGKILL);
                    }
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let mut fs = Vec::new();
    for x in 0..300u64 {
        let f = ex.submit(tagged, x).unwrap();
        let s = served.clone();
        f.add_done_callback(move |f| {
            if let Ok((_, p)) = f.result_timeout(Duration::ZERO) {
                s.lock().unwrap().insert(*p);
            }
        });
        fs.push(f);
    }
    let mut failed = 0;
    for (x, f) in fs.iter().enumerate() {
        match outcome(f, secs(60.0)) {
            Ok(&(v, _)) => assert_eq!(v, x as u64),
            Err(FutureError::Failed(e)) => {
                assert_eq!(died(&e).1, ExitCause::Signal(libc::SIGKILL), "task {x}");
                failed += 1;
            }
            Err(e) => panic!("task {x}: {e:?}"),
        }
    }
    let t = Instant::now();
    for (x, r) in ex.map(tagged, 0..300u64).unwrap().enumerate() {
        assert!(t.elapsed() < secs(60.0), "the map is stuck at {x}");
        match r {
            Ok((v, p)) => {
                assert_eq!(v, x as u64);
                served.lock().unwrap().insert(p);
            }
            Err(FutureError::Failed(e)) => {
                assert_eq!(died(&e).1, ExitCause::Signal(libc::SIGKILL), "map item {x}");
                failed += 1;
            }
            Err(e) => panic!("map item {x}: {e:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    eprintln!(
        "killer: {} kills, {failed} failures",
        kills.load(Ordering::Relaxed)
    );
    assert!(kills.load(Ordering::Relaxed) > 0, "the killer never fired");
    assert!(
        failed <= kills.load(Ordering::Relaxed),
        "{failed} failures from {} kills",
        kills.load(Ordering::Relaxed)
    );
    assert!(!ex.stats().broken, "{:?}", ex.stats());
    // A SIGKILL sent in the killer's last round may still be on its way
    // (kill(2) is asynchronous): let the pool see that death first.
    std::thread::sleep(ms(300));
    still_serves(&ex);
    drop(ex);
}

/// A task that closes its worker's socket, or puts /dev/null over it, and
/// returns: the reply cannot reach the parent. docs: a worker that hangs
/// up is reaped; "exit 0 is not success". Expect: WorkerDied, the pool
/// replaces it. Mode 2 shuts down the write side and lives on: killed
/// after the 2 s grace, WorkerDied.
fn a_task_that_mangles_its_socket() {
    for mode in [0u8, 1, 2] {
        let ex = pool_n(1);
        let before = value(&ex.submit(pid, ()).unwrap(), secs(15.0));
        let e = task_error(&ex.submit(mangle_socket, mode).unwrap(), secs(15.0));
        let (p, _cause) = died(&e);
        assert_eq!(p, before, "mode {mode}");
        still_serves(&ex);
        drop(ex);
    }
}

/// A task that forks and whose child *returns* into the worker's serve
/// loop (both processes then share the socket). No contract row says what
/// it returns, but the pool must not hang: the future resolves, the pool
/// serves on, and the grandchild is gone once the pool is.
fn a_task_whose_forked_child_returns() {
    let path = scratch("forkret");
    let ex = pool_n(1);
    let f = ex.submit(fork_and_both_return, path.clone()).unwrap();
    let r = outcome(&f, secs(15.0)).copied();
    eprintln!("fork: the future got {r:?}");
    assert!(
        matches!(r, Ok(1 | 2) | Err(FutureError::Failed(_))),
        "unexpected {r:?}"
    );
    for i in 0..20 {
        let g = ex.submit(ident, i).unwrap();
        match outcome(&g, secs(15.0)) {
            Ok(&v) => assert_eq!(v, i),
            Err(e) => panic!("task {i} after the fork: {e:?}"),
        }
    }
    drop(ex);
    let grandchild: Option<u32> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let _ = std::fs::remove_file(&path);
    eprintln!("fork: grandchild {grandchild:?}");
    if let Some(g) = grandchild {
        let gone = eventually(secs(5.0), || !alive(g));
        if !gone {
            // SAFETY: kill(2) on the grandchild we forked (it wrote its pid).
            unsafe {
                libc::kill(g as libc::pid_t, libc::SIGKILL);
            }
            panic!("the forked grandchild {g} outlived the pool by 5 s");
        }
    }
}

/// A task panics with a payload whose own `Drop` panics. FAULTS (thread
/// counterpart): the future still ends, the worker lives or is replaced,
/// the pool serves on.
fn panic_payload_whose_drop_panics() {
    let ex = pool_n(1);
    let e = task_error(&ex.submit(panics_with_bad_payload, ()).unwrap(), secs(15.0));
    assert!(e.is_panic() || e.is_worker_died(), "{e:?}");
    still_serves(&ex);
    drop(ex);
}

/// API.md: "map goes on after a failed item: each item's result or error
/// comes back at its place". docs: "chunksize sends that many items per
/// task (each item's panic still fails only its own place; a worker death
/// or time limit fails the whole chunk)". With chunksize 1, an item whose
/// result fails to serialize fails only its place. With chunksize 4 it
/// should too: the other three items ran and have values.
fn chunked_map_result_encode_failure_stays_in_its_place() {
    let ex = pool_n(1);
    let one: Vec<_> = ex.map(give_ser_if, [11u32, 12, 13, 14]).unwrap().collect();
    assert_eq!(one[0].as_ref().ok(), Some(&SerIf(11)));
    assert!(one[2].is_err());
    assert_eq!(one[3].as_ref().ok(), Some(&SerIf(14)), "chunksize 1");
    let four: Vec<_> = ex
        .map_with(
            give_ser_if,
            [11u32, 12, 13, 14],
            MapOptions::default().chunksize(4),
        )
        .unwrap()
        .collect();
    let stage = match &four[2] {
        Err(FutureError::Failed(e)) => serde_stage(e),
        other => panic!("item 13: {other:?}"),
    };
    assert_eq!(stage, Some(SerdeStage::ResultEncode));
    assert_eq!(
        (ok(&four[0]), ok(&four[1]), ok(&four[3])),
        (Some(SerIf(11)), Some(SerIf(12)), Some(SerIf(14))),
        "chunksize 4: one item's result encode failure took the values of the others"
    );
    drop(ex);
}

/// As above for an argument that fails to deserialize in the worker.
fn chunked_map_argument_decode_failure_stays_in_its_place() {
    let ex = pool_n(1);
    let items = || [11u32, 12, 13, 14].map(DeIf);
    let one: Vec<_> = ex.map(take_de_if, items()).unwrap().collect();
    assert_eq!(
        (ok(&one[0]), ok(&one[3])),
        (Some(11), Some(14)),
        "chunksize 1"
    );
    let four: Vec<_> = ex
        .map_with(take_de_if, items(), MapOptions::default().chunksize(4))
        .unwrap()
        .collect();
    assert!(four[2].is_err());
    assert_eq!(
        (ok(&four[0]), ok(&four[1]), ok(&four[3])),
        (Some(11), Some(12), Some(14)),
        "chunksize 4: one item's argument decode failure took the others: {four:?}"
    );
    drop(ex);
}

/// As above for a result that fails to deserialize in the parent.
fn chunked_map_result_decode_failure_stays_in_its_place() {
    let ex = pool_n(1);
    let one: Vec<_> = ex.map(give_de_if, [11u32, 12, 13, 14]).unwrap().collect();
    assert_eq!(
        (ok(&one[0]), ok(&one[3])),
        (Some(DeIf(11)), Some(DeIf(14))),
        "chunksize 1"
    );
    let four: Vec<_> = ex
        .map_with(
            give_de_if,
            [11u32, 12, 13, 14],
            MapOptions::default().chunksize(4),
        )
        .unwrap()
        .collect();
    assert!(four[2].is_err());
    assert_eq!(
        (ok(&four[0]), ok(&four[1]), ok(&four[3])),
        (Some(DeIf(11)), Some(DeIf(12)), Some(DeIf(14))),
        "chunksize 4: one item's result decode failure took the others: {four:?}"
    );
    drop(ex);
}

// ------------------------------------------------------- more cases

fn block_on<F: std::future::IntoFuture>(fut: F, limit: Duration) -> Option<F::Output> {
    let fut = fut.into_future();
    struct W(std::thread::Thread);
    impl std::task::Wake for W {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(W(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let deadline = Instant::now() + limit;
    loop {
        if let std::task::Poll::Ready(v) = std::future::Future::poll(fut.as_mut(), &mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// API.md: a `Future<T>` can be awaited; owned `.await` waits for the task
/// only (the pool's own reference never counts). A process future whose
/// worker dies resolves to the death; one abandoned mid-await leaves the
/// future usable.
fn await_process_futures_through_crashes() {
    let ex = pool_n(1);
    let ok = ex.submit(sleeps, 50).unwrap();
    let bad = ex.submit(crash_or_sleep, -1).unwrap();
    let after = ex.submit(ident, 9).unwrap();
    let r = block_on(ok, secs(15.0)).expect("owned await of a good task hung");
    assert_eq!(r.unwrap(), 50);
    let r = block_on(bad, secs(15.0)).expect("owned await of a crashed task hung");
    match r {
        Err(FutureError::Failed(e)) => assert!(e.is_worker_died(), "{e:?}"),
        other => panic!("unexpected {other:?}"),
    }
    // Abandon an await on a pending future, then await it for real.
    let slow = ex.submit(sleeps, 200).unwrap();
    {
        let fut = std::future::IntoFuture::into_future(&slow);
        assert!(block_on(fut, ms(10)).is_none(), "done too early");
    }
    assert_eq!(*block_on(&slow, secs(15.0)).unwrap().unwrap(), 200);
    assert_eq!(block_on(after, secs(15.0)).unwrap().unwrap(), 9);
    drop(ex);
}

/// The last handle of the pool is dropped inside a done-callback of one of
/// its own futures (on a slot thread): Drop = shutdown(true, false) from
/// the slot cannot wait for that slot; it must return, and every task
/// queued behind it must still run. No child, no thread left afterwards.
fn drop_the_last_handle_in_its_own_callback() {
    let ex = pool_n(2);
    let first = ex.submit(sleeps, 50).unwrap();
    let rest: Vec<_> = (0..6).map(|_| ex.submit(sleeps, 30).unwrap()).collect();
    let dropped = Arc::new(AtomicBool::new(false));
    let holder = Mutex::new(Some(ex));
    let holder = Arc::new(holder);
    {
        let (holder, dropped) = (holder.clone(), dropped.clone());
        first.add_done_callback(move |_| {
            let ex = holder.lock().unwrap().take();
            drop(ex); // the last handle
            dropped.store(true, Ordering::SeqCst);
        });
    }
    // The callback may have run here already if `first` was done.
    wait_until(secs(15.0), "the callback to drop the pool", || {
        dropped.load(Ordering::SeqCst)
    });
    for (i, f) in rest.iter().enumerate() {
        assert_eq!(value(f, secs(15.0)), 30, "queued task {i}");
    }
}

/// Build, use and drop 40 pools in a row: no descriptor, thread or child
/// growth (the harness checks the counts after the test too).
fn many_pools_in_a_row_leak_nothing() {
    let fds = support::fd_count();
    for i in 0..40u64 {
        let ex = pool_n(2);
        let a = ex.submit(ident, i).unwrap();
        let b = ex
            .submit(crash_or_sleep, if i % 5 == 0 { -1 } else { 1 })
            .unwrap();
        assert_eq!(value(&a, secs(15.0)), i);
        let _ = outcome(&b, secs(15.0));
        drop(ex);
    }
    assert!(
        support::fd_count() <= fds + 2,
        "descriptors grew from {fds} to {}",
        support::fd_count()
    );
}

/// Serializes as a u32, except 13, whose `Serialize` panics.
#[derive(Debug, Clone)]
struct PanicSerIf(u32);
impl Serialize for PanicSerIf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        assert!(self.0 != 13, "PanicSerIf(13) panics in Serialize");
        self.0.serialize(s)
    }
}
impl<'de> Deserialize<'de> for PanicSerIf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(PanicSerIf)
    }
}

fn slow_take_panic_ser_if(x: PanicSerIf) -> u32 {
    std::thread::sleep(Duration::from_millis(100));
    x.0
}

/// An argument whose `Serialize` *panics* in the caller, in `submit`, in
/// `map` and in a chunked `map`: either the panic reaches the caller or it
/// is a `SubmitError::Serialize` (FAULTS 6: "that submit fails; nothing
/// written"); nothing is left pending; the pool is not broken and serves
/// on; shutdown is prompt.
fn argument_serialize_panics_in_the_caller() {
    let ex = pool_n(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ex.submit(slow_take_panic_ser_if, PanicSerIf(13))
            .map(|_| ())
    }));
    match r {
        Err(_) | Ok(Err(SubmitError::Serialize(_))) => {}
        Ok(other) => panic!("submit: {other:?}"),
    }
    still_serves(&ex);
    for chunk in [1usize, 2] {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ex.map_with(
                slow_take_panic_ser_if,
                [1, 2, 13, 4].map(PanicSerIf),
                MapOptions::default().chunksize(chunk),
            )
            .map(|m| m.count())
        }));
        match r {
            Err(_) | Ok(Err(SubmitError::Serialize(_))) => {}
            Ok(other) => panic!("chunk {chunk}: map gave {other:?}"),
        }
        still_serves(&ex);
    }
    let s = ex.stats();
    assert!(!s.broken && s.queued == 0, "{s:?}");
    let t = Instant::now();
    ex.shutdown(true, false);
    assert!(t.elapsed() < secs(5.0));
    drop(ex);
}

/// `kill_workers` racing worker recycling (`max_tasks_per_child = 1`:
/// workers start and retire all the time, so some are being started at
/// the call): it returns promptly, every future is terminal, no child is
/// left; 15 rounds with different delays.
fn kill_workers_races_recycling() {
    for round in 0..15u64 {
        let ex = pool(
            ProcessPoolExecutor::builder()
                .max_workers(2)
                .max_tasks_per_child(1),
        );
        let fs: Vec<_> = (0..200).map(|x| ex.submit(ident, x).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(round * 3));
        let t = Instant::now();
        ex.kill_workers();
        assert!(
            t.elapsed() < secs(3.0),
            "round {round}: kill_workers took {:?}",
            t.elapsed()
        );
        for (x, f) in fs.iter().enumerate() {
            match outcome(f, secs(5.0)) {
                Ok(&v) => assert_eq!(v, x as u64),
                Err(FutureError::Cancelled) => {}
                Err(FutureError::Failed(e)) if e.is_worker_died() || e.is_broken() => {}
                Err(e) => panic!("round {round} task {x}: {e:?}"),
            }
        }
        assert!(
            eventually(secs(3.0), || support::children().is_empty()),
            "round {round}: children left {:?}",
            support::children()
        );
        drop(ex);
    }
}

fn init_ignores_sigterm_and_sleeps() {
    // SAFETY: signal(2) with SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    std::thread::sleep(Duration::from_secs(3600));
}

/// `terminate_workers` while the only worker is still in an initializer
/// that ignores SIGTERM: docs say it escalates to SIGKILL after 500 ms, and
/// a starting worker is killed too. Expect: returns within about a second,
/// the queued future is cancelled or broken, no child left.
fn terminate_workers_during_a_stubborn_initializer() {
    let ex = pool(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .initializer(init_ignores_sigterm_and_sleeps),
    );
    let f = ex.submit(ident, 1).unwrap();
    wait_until(secs(15.0), "the worker to start", || {
        !support::children().is_empty()
    });
    std::thread::sleep(ms(100));
    let t = Instant::now();
    ex.terminate_workers();
    assert!(
        t.elapsed() < secs(2.5),
        "terminate_workers took {:?}",
        t.elapsed()
    );
    match outcome(&f, secs(5.0)) {
        Err(FutureError::Cancelled) => {}
        Err(FutureError::Failed(e)) if e.is_broken() || e.is_worker_died() => {}
        other => panic!("unexpected {other:?}"),
    }
    drop(ex);
}

/// `shutdown(true)`, `kill_workers` and `submit` from three threads at once,
/// while tasks run: every call returns, every accepted future is terminal,
/// no child left; 10 rounds.
fn shutdown_kill_and_submit_race() {
    for round in 0..10 {
        let ex = pool_n(2);
        let fs: Vec<_> = (0..20).map(|_| ex.submit(sleeps, 5).unwrap()).collect();
        let barrier = Arc::new(std::sync::Barrier::new(3));
        let h1 = {
            let (ex, b) = (ex.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                ex.shutdown(true, false);
            })
        };
        let h2 = {
            let (ex, b) = (ex.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                std::thread::sleep(Duration::from_millis(round));
                ex.kill_workers();
            })
        };
        barrier.wait();
        let mut late = Vec::new();
        for _ in 0..20 {
            if let Ok(f) = ex.submit(ident, 3) {
                late.push(f);
            }
        }
        let t = Instant::now();
        for h in [h1, h2] {
            while !h.is_finished() {
                assert!(
                    t.elapsed() < secs(10.0),
                    "round {round}: a call hung: {ex:?}"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            h.join().unwrap();
        }
        for f in fs.iter().chain(late.iter()) {
            let _ = outcome(f, secs(5.0));
        }
        drop(ex);
        assert!(
            eventually(secs(3.0), || support::children().is_empty()),
            "round {round}: children left"
        );
    }
}

/// A worker SIGKILLed from outside while it starts (no initializer): docs
/// say "a worker that dies before READY breaks the pool as in Python",
/// while API.md promises "a process pool that keeps going" and FAULTS.md
/// "Only a failing initializer, or workers that cannot be started at all,
/// break the whole pool". One outside kill in the few milliseconds of a
/// start is neither. Up to 30 fresh pools, each with a killer that SIGKILLs
/// the first child it sees: every future must end, shutdown must be
/// prompt, and (asserted last) no pool may break.
fn a_worker_killed_while_it_starts() {
    let mut broke = None;
    for attempt in 0..30 {
        let ex = pool_n(1);
        let stop = Arc::new(AtomicBool::new(false));
        let killer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(&(p, _)) = support::children().first() {
                        // SAFETY: kill(2) on our own, unreaped child.
                        unsafe {
                            libc::kill(p as libc::pid_t, libc::SIGKILL);
                        }
                        return;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        let f = ex.submit(ident, 5).unwrap();
        let r = outcome(&f, secs(15.0)).copied();
        stop.store(true, Ordering::Relaxed);
        killer.join().unwrap();
        let broken = ex.stats().broken;
        let t = Instant::now();
        ex.shutdown(true, false);
        assert!(t.elapsed() < secs(5.0));
        drop(ex);
        if broken {
            broke = Some((attempt, format!("{r:?}")));
            break;
        }
    }
    if let Some((attempt, r)) = broke {
        panic!("attempt {attempt}: one outside SIGKILL during a worker's start broke the whole pool: {r}");
    }
}

/// docs/process-pool.md: `stats()` gives "the completed / failed /
/// cancelled counts". A map dropped half-way cancels its queued jobs; once
/// the pool is idle every one of the 100 tasks is counted exactly once
/// (completed + failed + cancelled == 100), the prefetched ones included.
fn stats_count_every_task_of_a_dropped_map() {
    let ex = pool_n(1);
    let mut m = ex.map(sleeps, std::iter::repeat_n(5u64, 100)).unwrap();
    for _ in 0..3 {
        assert_eq!(m.next().unwrap().unwrap(), 5);
    }
    drop(m);
    // The cancelled jobs are counted as slots pop them: let the queue drain.
    let counted = |s: concurrent_futures_pool::PoolStats| s.completed + s.failed + s.cancelled;
    let settled = eventually(secs(10.0), || {
        let s = ex.stats();
        s.queued == 0 && s.running == 0 && counted(s) == 100
    });
    let s = ex.stats();
    assert!(settled, "100 tasks, counted {}: {s:?}", counted(s));
    drop(ex);
}

fn big_result_after(ms: u64) -> Blob {
    std::thread::sleep(Duration::from_millis(ms));
    blob_of(100 << 20, 5)
}

/// A 100 MB result comes back whole; then a worker SIGKILLed (from outside)
/// around the time it encodes and sends another 100 MB result: that future
/// fails with SIGKILL (or has its whole value, if the kill came late); no
/// hang; the pool serves on.
fn sigkill_while_sending_a_large_result() {
    let ex = pool_n(1);
    let b = value(&ex.submit(big_result_after, 0).unwrap(), secs(60.0));
    assert_eq!(b.0.len(), 100 << 20);
    assert!(
        b.0 == blob_of(100 << 20, 5).0,
        "the 100 MB result is corrupt"
    );
    drop(b);
    for delay in [60u64, 120, 200] {
        let p = value(&ex.submit(pid, ()).unwrap(), secs(15.0));
        let f = ex.submit(big_result_after, 50).unwrap();
        wait_until(secs(15.0), "the big task to start", || f.running());
        std::thread::sleep(Duration::from_millis(delay));
        // SAFETY: kill(2) on our own worker, alive until the slot reaps it.
        unsafe {
            libc::kill(p as libc::pid_t, libc::SIGKILL);
        }
        match outcome(&f, secs(30.0)) {
            Ok(b) => assert_eq!(b.0.len(), 100 << 20, "delay {delay}"),
            Err(FutureError::Failed(e)) => {
                assert_eq!(
                    died(&e),
                    (p, ExitCause::Signal(libc::SIGKILL)),
                    "delay {delay}"
                )
            }
            Err(e) => panic!("delay {delay}: {e:?}"),
        }
        still_serves(&ex);
    }
    drop(ex);
}

fn exit0_on_7(x: u64) -> u64 {
    if x == 7 {
        std::process::exit(0);
    }
    std::thread::sleep(Duration::from_millis(2));
    x
}

/// FAULTS 4 inside a map with send-ahead: `exit(0)` in item 7 fails only
/// place 7 with WorkerDied (code 0, not success); the job sent ahead goes
/// to the replacement; every other place has its value.
fn exit_zero_mid_map_fails_only_its_place() {
    let ex = pool_n(1);
    let got: Vec<_> = ex.map(exit0_on_7, 0..20u64).unwrap().collect();
    for (i, r) in got.iter().enumerate() {
        if i == 7 {
            match r {
                Err(FutureError::Failed(e)) => assert_eq!(died(e).1, ExitCause::Code(0)),
                other => panic!("place 7: {other:?}"),
            }
        } else {
            assert_eq!(ok(r), Some(i as u64), "place {i}: {r:?}");
        }
    }
    drop(ex);
}

fn main() {
    support::quiet_deliberate_faults();
    process::init();
    support::run(&[
        support::case!(initializer_fails_on_second_worker_only, 60),
        support::case!(initializer_hangs_on_second_worker_kill_workers_returns, 60),
        support::case!(shutdown_nowait_cancel_while_map_half_consumed, 60),
        support::case!(drop_executor_while_threads_block_on_result, 60),
        support::case!(submit_from_callbacks_during_shutdown, 60),
        support::case!(map_timeout_with_dying_workers, 60),
        support::case!(wait_and_as_completed_mixed_with_crashes, 60),
        support::case!(max_tasks_per_child_races_crashes, 120),
        support::case!(one_worker_a_crash_then_a_thousand_tiny_tasks, 120),
        support::case!(sigkill_while_receiving_a_large_argument, 60),
        support::case!(outside_killer_during_submits_and_map, 180),
        support::case!(a_task_that_mangles_its_socket, 60),
        support::case!(a_task_whose_forked_child_returns, 60),
        support::case!(panic_payload_whose_drop_panics, 30),
        support::case!(chunked_map_result_encode_failure_stays_in_its_place, 30),
        support::case!(chunked_map_argument_decode_failure_stays_in_its_place, 30),
        support::case!(chunked_map_result_decode_failure_stays_in_its_place, 30),
        support::case!(await_process_futures_through_crashes, 30),
        support::case!(drop_the_last_handle_in_its_own_callback, 30),
        support::case!(many_pools_in_a_row_leak_nothing, 120),
        support::case!(argument_serialize_panics_in_the_caller, 30),
        support::case!(kill_workers_races_recycling, 120),
        support::case!(terminate_workers_during_a_stubborn_initializer, 30),
        support::case!(shutdown_kill_and_submit_race, 120),
        support::case!(a_worker_killed_while_it_starts, 30),
        support::case!(stats_count_every_task_of_a_dropped_map, 30),
        support::case!(sigkill_while_sending_a_large_result, 120),
        support::case!(exit_zero_mid_map_fails_only_its_place, 30),
    ]);
}
