//! Both Slurm backends against a real cluster (CI starts a one-node one on
//! loopback with `ci/slurm.sh`). `harness = false`: `main` calls
//! `process::init()` first, so this binary is also the batch job and the
//! srun worker.
//!
//! Without a reachable cluster (no `SLURM_CONF`, or `sinfo` fails) it prints
//! one line and passes, unless `CF_SLURM_REQUIRED=1` (CI's Slurm step), where
//! that is a failure. Every wait is bounded and says what it waited for.
//! An argument filters the tests by name.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use concurrent_futures_core::{ExitCause, Future, FutureError, FutureState, TaskError};
use concurrent_futures_pool::process::{self, launcher::Launcher, ProcessPoolExecutor};
use concurrent_futures_pool::{Executor, MapOptions, ThreadPoolExecutor};
use concurrent_futures_slurm::{cluster_available, CommandOutput, SlurmCli, SlurmExecutor};

type TestResult = Result<(), String>;
type Test = (&'static str, fn() -> TestResult);

/// Generous bounds for one batch job (the node schedules on a 1 s tick).
const JOB: Duration = Duration::from_secs(60);

fn folder() -> PathBuf {
    std::env::var_os("CF_SLURM_TEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("cf-slurm-tests-{}", std::process::id()))
        })
}

fn executor() -> SlurmExecutor {
    SlurmExecutor::builder(folder())
        .build()
        .expect("a Slurm executor")
}

fn outcome<T>(f: &Future<T>, what: &str, within: Duration) -> Result<Option<TaskError>, String> {
    match f.exception_timeout(within) {
        Ok(e) => Ok(e.cloned()),
        Err(FutureError::Cancelled) => Err(format!("{what}: cancelled")),
        Err(e) => Err(format!(
            "{what}: not done after {within:?} ({e}); state {:?}",
            f.state()
        )),
    }
}

fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) -> TestResult {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > within {
            return Err(format!("{what}: not after {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn check(cond: bool, what: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn squeue_state(job: &str) -> String {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-j", job, "-o", "%T"])
        .output()
        .expect("squeue runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A plain job that holds others behind `--dependency=afterok:ID`; the
/// guard cancels it.
struct Blocker(String);

impl Blocker {
    fn new() -> Blocker {
        let out = Command::new("sbatch")
            .args([
                "--parsable",
                "--job-name=cf-test-blocker",
                "-o",
                "/dev/null",
                "--wrap",
                "sleep 300",
            ])
            .output()
            .expect("sbatch runs");
        assert!(
            out.status.success(),
            "sbatch of the blocker: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Blocker(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
        )
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = Command::new("scancel").arg(&self.0).status();
    }
}

// ---- the tasks (plain functions of this binary) ----

fn square(x: u64) -> u64 {
    x * x
}

fn where_am_i(_: ()) -> (String, u32) {
    (
        std::env::var("SLURM_JOB_ID").unwrap_or_default(),
        std::process::id(),
    )
}

fn panics(msg: String) -> u8 {
    panic!("{msg}")
}

fn exits(code: i32) -> u8 {
    eprintln!("about to exit with {code}");
    std::process::exit(code)
}

fn segfaults(_: ()) -> u8 {
    eprintln!("about to segfault");
    // SAFETY: none: this deliberately writes through a null pointer to kill
    // the process with SIGSEGV.
    unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };
    0
}

fn sleeps(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Holds the stdout lock while it sleeps, as a task printing progress
/// from a long loop would.
fn sleeps_holding_stdout(ms: u64) -> u64 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "working, stdout held");
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn odd_panics(x: u32) -> u32 {
    assert!(x != 777, "777 is unlucky");
    x + 1
}

// ---- Part 2: the batch executor ----

fn batch_submit_and_result() -> TestResult {
    let ex = executor();
    let job = ex.submit_job(square, 12).map_err(|e| e.to_string())?;
    check(outcome(job.future(), "square(12)", JOB)?.is_none(), || {
        "square failed".into()
    })?;
    check(*job.future().result().unwrap() == 144, || {
        "wrong square".into()
    })?;
    check(job.node().as_deref() == Some("localhost"), || {
        format!("node {:?}", job.node())
    })?;
    let w = ex.submit_job(where_am_i, ()).map_err(|e| e.to_string())?;
    let (jid, _) = w
        .future()
        .result_timeout(JOB)
        .map_err(|e| e.to_string())?
        .clone();
    check(jid == w.job_id(), || {
        format!("ran as job {jid}, submitted as {}", w.job_id())
    })
}

fn batch_panic() -> TestResult {
    let ex = executor();
    let f = ex
        .submit(panics, "boom at 3".to_owned())
        .map_err(|e| e.to_string())?;
    let e = outcome(&f, "panicking task", JOB)?.ok_or("a panic gave a value")?;
    check(e.panic_message() == Some("boom at 3"), || format!("{e}"))
}

fn batch_exit_code() -> TestResult {
    let ex = executor();
    let f = ex.submit(exits, 3).map_err(|e| e.to_string())?;
    let e = outcome(&f, "exit(3)", JOB)?.ok_or("exit(3) gave a value")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(
        j.exit() == Some(ExitCause::Code(3)) && j.state() == "FAILED",
        || format!("{e}"),
    )?;
    check(j.stderr_tail().contains("about to exit with 3"), || {
        format!("stderr tail: {e}")
    })
}

fn batch_segfault() -> TestResult {
    let ex = executor();
    let f = ex.submit(segfaults, ()).map_err(|e| e.to_string())?;
    let e = outcome(&f, "segfault", JOB)?.ok_or("a segfault gave a value")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(j.exit() == Some(ExitCause::Signal(11)), || format!("{e}"))?;
    check(j.node() == Some("localhost"), || format!("{e}"))?;
    check(j.stderr_tail().contains("about to segfault"), || {
        format!("{e}")
    })
}

fn batch_time_limit() -> TestResult {
    let ex = executor();
    let t0 = Instant::now();
    let f = ex
        .submit_with_timeout(sleeps, 120_000, Duration::from_millis(1500))
        .map_err(|e| e.to_string())?;
    let e = outcome(&f, "sleep past its limit", JOB)?.ok_or("no time limit")?;
    check(e.is_time_limit(), || format!("{e}"))?;
    check(t0.elapsed() < Duration::from_secs(30), || {
        format!("took {:?}", t0.elapsed())
    })
}

/// Past its limit a task that holds the stdout lock still ends its job:
/// the job process used to flush stdout before it exited, and waited for
/// the lock (found by a probe: the job ran on after the error said killed).
fn batch_time_limit_ends_a_task_that_holds_stdout() -> TestResult {
    let ex = executor();
    let f = ex
        .submit_with_timeout(sleeps_holding_stdout, 120_000, Duration::from_millis(1500))
        .map_err(|e| e.to_string())?;
    let e = outcome(&f, "sleep past its limit", JOB)?.ok_or("no time limit")?;
    check(e.is_time_limit(), || format!("{e}"))?;
    let name = ex.job_name().to_owned();
    wait_until("the timed-out job gone from squeue", JOB, || {
        let out = Command::new("squeue")
            .args(["-h", "--name", &name, "-o", "%i %T"])
            .output()
            .expect("squeue runs");
        String::from_utf8_lossy(&out.stdout).trim().is_empty()
    })
}

fn batch_cancel_pending() -> TestResult {
    let blocker = Blocker::new();
    let ex = SlurmExecutor::builder(folder())
        .sbatch_arg(format!("--dependency=afterok:{}", blocker.0))
        .build()
        .map_err(|e| e.to_string())?;
    let jobs: Vec<_> = (0..3).map(|i| ex.submit_job(square, i).unwrap()).collect();
    wait_until("the held jobs PENDING", JOB, || {
        jobs.iter().all(|j| squeue_state(j.job_id()) == "PENDING")
    })?;
    for j in &jobs {
        check(j.future().cancel(), || {
            "cancel() of a pending job refused".into()
        })?;
    }
    wait_until("the cancelled jobs CANCELLED in squeue", JOB, || {
        jobs.iter().all(|j| squeue_state(j.job_id()) == "CANCELLED")
    })?;
    ex.shutdown(true, false);
    Ok(())
}

fn batch_kill_workers() -> TestResult {
    let ex = executor();
    let running = ex.submit(sleeps, 300_000).map_err(|e| e.to_string())?;
    wait_until("the sleeper RUNNING", JOB, || running.running())?;
    let t0 = Instant::now();
    ex.kill_workers();
    let e = outcome(&running, "the killed sleeper", JOB)?.ok_or("a killed job gave a value")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(j.state() == "CANCELLED", || format!("{e}"))?;
    check(ex.submit(square, 1).unwrap_err().is_shutdown(), || {
        "submit after kill_workers".into()
    })?;
    println!("     kill_workers to a failed future: {:?}", t0.elapsed());
    Ok(())
}

fn batch_map_1000() -> TestResult {
    let ex = executor();
    let t0 = Instant::now();
    let m = ex
        .map_with(
            odd_panics,
            0..1000u32,
            MapOptions::default()
                .chunksize(50)
                .timeout(Duration::from_secs(120)),
        )
        .map_err(|e| e.to_string())?;
    let got: Vec<Result<u32, FutureError>> = m.collect();
    check(got.len() == 1000, || format!("{} results", got.len()))?;
    for (i, r) in got.iter().enumerate() {
        match r {
            Ok(v) => check(*v == i as u32 + 1 && i != 777, || format!("item {i}: {v}"))?,
            Err(e) => check(
                i == 777
                    && e.task_error().and_then(TaskError::panic_message) == Some("777 is unlucky"),
                || format!("item {i}: {e}"),
            )?,
        }
    }
    println!("     1,000 items in 20 array tasks: {:?}", t0.elapsed());
    // The same through the Executor trait, with the default chunking.
    let sum: u64 = Executor::map(&ex, square, 0..100u64, MapOptions::default())
        .map_err(|e| e.to_string())?
        .into_result()
        .map_err(|e| e.to_string())?
        .iter()
        .sum();
    check(sum == 328_350, || format!("sum of squares {sum}"))
}

/// `map` of 3,000 items with the default chunking (about 256 array
/// tasks): every value back, in order, within a bound. A probe saw 73 s here.
fn batch_map_3000() -> TestResult {
    let ex = executor();
    let t0 = Instant::now();
    let m = ex
        .map_with(
            square,
            0..3000u64,
            MapOptions::default().timeout(Duration::from_secs(120)),
        )
        .map_err(|e| e.to_string())?;
    let submitted = t0.elapsed();
    let got: Vec<Result<u64, FutureError>> = m.collect();
    let took = t0.elapsed();
    check(got.len() == 3000, || format!("{} results", got.len()))?;
    for (i, r) in got.iter().enumerate() {
        match r {
            Ok(v) => check(*v == (i as u64) * (i as u64), || format!("item {i}: {v}"))?,
            Err(e) => return Err(format!("item {i}: {e}")),
        }
    }
    println!(
        "     3,000 items: submitted in {submitted:?}, all back in {took:?}, {} squeue calls",
        ex.squeue_calls()
    );
    Ok(())
}

fn batch_split_past_max_array_size() -> TestResult {
    let ex = SlurmExecutor::builder(folder())
        .max_array_size(4)
        .build()
        .map_err(|e| e.to_string())?;
    let v = ex
        .map_with(square, 0..10u64, MapOptions::default().chunksize(1))
        .map_err(|e| e.to_string())?
        .into_result()
        .map_err(|e| e.to_string())?;
    check(v == (0..10u64).map(|x| x * x).collect::<Vec<_>>(), || {
        format!("{v:?}")
    })
}

fn batch_mixed_with_threads() -> TestResult {
    let ex = executor();
    let threads = ThreadPoolExecutor::new(2).map_err(|e| e.to_string())?;
    let mut futures = Vec::new();
    for i in 0..3u64 {
        futures.push(ex.submit(square, i).map_err(|e| e.to_string())?);
        futures.push(threads.submit(move || i * i).map_err(|e| e.to_string())?);
    }
    let done = concurrent_futures_wait::wait(
        &futures,
        Some(JOB),
        concurrent_futures_wait::ReturnWhen::AllCompleted,
    );
    check(done.not_done.is_empty(), || {
        format!("{} not done", done.not_done.len())
    })?;
    let mut n = 0;
    for f in concurrent_futures_wait::as_completed(&futures, Some(JOB)) {
        let f = f.map_err(|e| e.to_string())?;
        check(f.result().is_ok(), || "a failed future".into())?;
        n += 1;
    }
    check(n == 6, || format!("as_completed gave {n}"))
}

fn batch_tampered_copy_refused() -> TestResult {
    let dir = folder().join("tamper");
    let ex = SlurmExecutor::builder(&dir)
        .build()
        .map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(ex.executable())
            .map_err(|e| e.to_string())?;
        f.write_all(b"tampered").map_err(|e| e.to_string())?;
    }
    let f = ex.submit(square, 3).map_err(|e| e.to_string())?;
    let e = outcome(&f, "task of a tampered copy", JOB)?.ok_or("a tampered copy ran the task")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(j.exit() == Some(ExitCause::Code(123)), || format!("{e}"))?;
    check(j.stderr_tail().contains("SHA-256"), || format!("{e}"))?;
    drop(ex);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

fn batch_shutdown_cancel_futures() -> TestResult {
    let blocker = Blocker::new();
    let ex = SlurmExecutor::builder(folder())
        .sbatch_arg(format!("--dependency=afterok:{}", blocker.0))
        .build()
        .map_err(|e| e.to_string())?;
    let jobs: Vec<_> = (0..4).map(|i| ex.submit_job(square, i).unwrap()).collect();
    let t0 = Instant::now();
    ex.shutdown(true, true);
    check(t0.elapsed() < JOB, || {
        format!("shutdown took {:?}", t0.elapsed())
    })?;
    for j in &jobs {
        check(j.future().state() == FutureState::Cancelled, || {
            format!("{:?}", j.future().state())
        })?;
    }
    wait_until("the jobs CANCELLED in squeue", JOB, || {
        jobs.iter().all(|j| squeue_state(j.job_id()) == "CANCELLED")
    })?;
    check(ex.submit(square, 1).unwrap_err().is_shutdown(), || {
        "submit after shutdown".into()
    })
}

fn batch_cancelled_from_outside() -> TestResult {
    let ex = executor();
    let job = ex.submit_job(sleeps, 300_000).map_err(|e| e.to_string())?;
    wait_until("the sleeper RUNNING", JOB, || job.future().running())?;
    let st = Command::new("scancel")
        .arg(job.job_id())
        .status()
        .map_err(|e| e.to_string())?;
    check(st.success(), || "scancel failed".into())?;
    let e = outcome(job.future(), "the job cancelled from outside", JOB)?.ok_or("gave a value")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(
        j.state() == "CANCELLED" && j.job_id() == job.job_id(),
        || format!("{e}"),
    )
}

// ---- Worker mode without Slurm: a local stand-in for the commands ----

/// Runs each "job" as a local `sh -c SCRIPT` process, as sbatch would run
/// the batch script: the jobs are this binary entering through
/// `process::init()`, with the hash check and the result files, but no
/// Slurm. squeue reports each process's state; scancel kills; scontrol
/// reports exit codes as Slurm does (`CODE:SIGNAL`).
#[derive(Debug, Default)]
struct LocalSlurm {
    jobs: Mutex<Vec<LocalJob>>,
}

#[derive(Debug)]
struct LocalJob {
    id: String,
    child: std::process::Child,
    status: Option<std::process::ExitStatus>,
    cancelled: bool,
}

impl LocalJob {
    fn state(&mut self) -> (&'static str, String) {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        match self.status {
            None => ("RUNNING", "0:0".into()),
            Some(_) if self.cancelled => ("CANCELLED", "0:15".into()),
            Some(st) => {
                use std::os::unix::process::ExitStatusExt;
                let (code, sig) = (st.code().unwrap_or(0), st.signal().unwrap_or(0));
                let state = if code == 0 && sig == 0 {
                    "COMPLETED"
                } else {
                    "FAILED"
                };
                (state, format!("{code}:{sig}"))
            }
        }
    }
}

fn done(stdout: String) -> std::io::Result<CommandOutput> {
    Ok(CommandOutput {
        success: true,
        stdout,
        stderr: String::new(),
        exit_code: Some(0),
    })
}

impl SlurmCli for LocalSlurm {
    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> std::io::Result<CommandOutput> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut jobs = self.jobs.lock().unwrap();
        match program {
            "sbatch" => {
                let id = NEXT.fetch_add(1, Ordering::Relaxed).to_string();
                let script = stdin.unwrap_or_default();
                let err = args
                    .iter()
                    .find_map(|a| a.strip_prefix("--error="))
                    .unwrap_or("/dev/null");
                let array = args.iter().find_map(|a| a.strip_prefix("--array=0-"));
                let indices: Vec<Option<u64>> = match array {
                    Some(spec) => (0..=spec.split('%').next().unwrap().parse::<u64>().unwrap())
                        .map(Some)
                        .collect(),
                    None => vec![None],
                };
                for i in indices {
                    let (jid, errf) = match i {
                        Some(i) => (
                            format!("{id}_{i}"),
                            err.replace("%A", &id).replace("%a", &i.to_string()),
                        ),
                        None => (id.clone(), err.replace("%j", &id)),
                    };
                    let mut cmd = Command::new("sh");
                    cmd.arg("-c")
                        .arg(script)
                        .env("SLURM_JOB_ID", &jid)
                        .env("SLURMD_NODENAME", "local-node");
                    if let Some(i) = i {
                        cmd.env("SLURM_ARRAY_TASK_ID", i.to_string());
                    }
                    cmd.stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::fs::File::create(errf)?);
                    jobs.push(LocalJob {
                        id: jid,
                        child: cmd.spawn()?,
                        status: None,
                        cancelled: false,
                    });
                }
                done(format!("{id}\n"))
            }
            "squeue" => {
                let mut out = String::new();
                for j in jobs.iter_mut() {
                    let (state, _) = j.state();
                    out.push_str(&format!("{}|{state}|None|local-node\n", j.id));
                }
                done(out)
            }
            "scancel" => {
                for j in jobs.iter_mut() {
                    let by_name = args.iter().any(|a| a.starts_with("--name="));
                    if (by_name || args.contains(&j.id)) && j.state().0 == "RUNNING" {
                        j.cancelled = true;
                        let _ = j.child.kill();
                        let _ = j.child.wait();
                    }
                }
                done(String::new())
            }
            "scontrol" => {
                let id = args.last().cloned().unwrap_or_default();
                match jobs.iter_mut().find(|j| j.id == id) {
                    Some(j) => {
                        let (state, exit) = j.state();
                        done(format!("JobId={id} JobState={state} Reason=None ExitCode={exit} NodeList=local-node\n"))
                    }
                    None => Ok(CommandOutput {
                        success: false,
                        ..Default::default()
                    }),
                }
            }
            _ => Ok(CommandOutput {
                success: false,
                ..Default::default()
            }),
        }
    }
}

fn local_executor(dir: &std::path::Path) -> SlurmExecutor {
    SlurmExecutor::builder(dir)
        .cli(LocalSlurm::default())
        .poll_interval(Duration::from_millis(10), Duration::from_millis(100))
        .build()
        .expect("a local Slurm stand-in executor")
}

fn local_batch_worker_mode() -> TestResult {
    let dir = folder().join("local");
    let ex = local_executor(&dir);
    let job = ex.submit_job(square, 11).map_err(|e| e.to_string())?;
    check(job.future().result_timeout(JOB).ok() == Some(&121), || {
        format!("{:?}", job.future())
    })?;
    check(job.node().as_deref() == Some("local-node"), || {
        format!("{:?}", job.node())
    })?;
    let p = ex
        .submit(panics, "local boom".to_owned())
        .map_err(|e| e.to_string())?;
    let e = outcome(&p, "local panic", JOB)?.ok_or("a panic gave a value")?;
    check(e.panic_message() == Some("local boom"), || format!("{e}"))?;
    let s = ex.submit(segfaults, ()).map_err(|e| e.to_string())?;
    let e = outcome(&s, "local segfault", JOB)?.ok_or("a segfault gave a value")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(j.exit() == Some(ExitCause::Signal(11)), || format!("{e}"))?;
    check(j.stderr_tail().contains("about to segfault"), || {
        format!("{e}")
    })?;
    let t = ex
        .submit_with_timeout(sleeps, 60_000, Duration::from_millis(300))
        .map_err(|e| e.to_string())?;
    check(
        outcome(&t, "local time limit", JOB)?.is_some_and(|e| e.is_time_limit()),
        || "no time limit".into(),
    )?;
    let m = ex
        .map_with(odd_panics, 770..780u32, MapOptions::default().chunksize(3))
        .map_err(|e| e.to_string())?;
    let got: Vec<_> = m.collect();
    check(
        got.len() == 10 && got[7].is_err() && got[8].as_ref().ok() == Some(&779),
        || format!("{got:?}"),
    )?;
    drop(ex);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

fn local_batch_tampered_copy_refused() -> TestResult {
    let dir = folder().join("local-tamper");
    let ex = local_executor(&dir);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(ex.executable())
            .map_err(|e| e.to_string())?;
        f.write_all(b"tampered").map_err(|e| e.to_string())?;
    }
    let f = ex.submit(square, 3).map_err(|e| e.to_string())?;
    let e = outcome(&f, "task of a tampered copy", JOB)?.ok_or("a tampered copy ran the task")?;
    let j = e
        .cluster_job()
        .ok_or_else(|| format!("not a cluster job error: {e}"))?;
    check(
        j.exit() == Some(ExitCause::Code(123)) && j.stderr_tail().contains("SHA-256"),
        || format!("{e}"),
    )?;
    drop(ex);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// The srun launcher's bridge, run by a stand-in `srun` that drops the
/// options and execs the executable: the hash check, the relay and the exit
/// status mapping, without Slurm.
fn local_srun_bridge() -> TestResult {
    let script = folder().join("fake-srun");
    std::fs::create_dir_all(folder()).map_err(|e| e.to_string())?;
    std::fs::write(
        &script,
        "#!/bin/sh\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\nexec \"$@\"\n",
    )
    .map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let ex = ProcessPoolExecutor::builder()
        .max_workers(1)
        .launcher(Launcher::srun().program(&script))
        .build()
        .map_err(|e| e.to_string())?;
    let f = ex.submit(square, 12).map_err(|e| e.to_string())?;
    check(f.result_timeout(JOB).ok() == Some(&144), || {
        format!("{f:?}")
    })?;
    let f = ex.submit(segfaults, ()).map_err(|e| e.to_string())?;
    let e = outcome(&f, "segfault behind the bridge", JOB)?.ok_or("gave a value")?;
    check(
        matches!(
            e,
            TaskError::WorkerDied {
                cause: ExitCause::Signal(11),
                ..
            }
        ),
        || format!("{e}"),
    )?;
    let f = ex.submit(exits, 3).map_err(|e| e.to_string())?;
    let e = outcome(&f, "exit(3) behind the bridge", JOB)?.ok_or("gave a value")?;
    check(
        matches!(
            e,
            TaskError::WorkerDied {
                cause: ExitCause::Code(3),
                ..
            }
        ),
        || format!("{e}"),
    )?;
    let f = ex.submit(square, 5).map_err(|e| e.to_string())?;
    check(f.result_timeout(JOB).ok() == Some(&25), || {
        "no recovery".into()
    })
}

// ---- Part 1: process-pool workers started with srun ----

fn srun_pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(workers)
        .launcher(Launcher::srun().job_name(format!("cf-test-srun-{}", std::process::id())))
        .build()
        .expect("an srun pool")
}

fn srun_submit_and_result() -> TestResult {
    let ex = srun_pool(2);
    let f = ex.submit(where_am_i, ()).map_err(|e| e.to_string())?;
    let (job, pid) = f.result_timeout(JOB).map_err(|e| e.to_string())?.clone();
    check(!job.is_empty() && pid != std::process::id(), || {
        format!("job {job:?} pid {pid}")
    })?;
    let v = ex
        .map_with(square, 0..200u64, MapOptions::default().chunksize(10))
        .map_err(|e| e.to_string())?;
    check(
        v.into_result()
            .map_err(|e| e.to_string())?
            .iter()
            .sum::<u64>()
            == 2_646_700,
        || "sum".into(),
    )
}

fn srun_crash_isolation() -> TestResult {
    let ex = srun_pool(1);
    let f = ex.submit(segfaults, ()).map_err(|e| e.to_string())?;
    let e = outcome(&f, "segfault via srun", JOB)?.ok_or("a segfault gave a value")?;
    check(
        matches!(
            e,
            TaskError::WorkerDied {
                cause: ExitCause::Signal(11),
                ..
            }
        ),
        || format!("{e}"),
    )?;
    let f = ex.submit(exits, 3).map_err(|e| e.to_string())?;
    let e = outcome(&f, "exit(3) via srun", JOB)?.ok_or("exit(3) gave a value")?;
    check(
        matches!(
            e,
            TaskError::WorkerDied {
                cause: ExitCause::Code(3),
                ..
            }
        ),
        || format!("{e}"),
    )?;
    let f = ex
        .submit(panics, "p".to_owned())
        .map_err(|e| e.to_string())?;
    check(
        outcome(&f, "panic via srun", JOB)?.is_some_and(|e| e.is_panic()),
        || "panic".into(),
    )?;
    let f = ex.submit(square, 9).map_err(|e| e.to_string())?;
    check(f.result_timeout(JOB).ok() == Some(&81), || {
        "the pool did not recover".into()
    })
}

fn srun_time_limit_and_cancel() -> TestResult {
    let ex = srun_pool(1);
    let slow = ex
        .submit_with_timeout(sleeps, 120_000, Duration::from_millis(800))
        .map_err(|e| e.to_string())?;
    let queued = ex.submit(square, 5).map_err(|e| e.to_string())?;
    let queued2 = ex.submit(square, 6).map_err(|e| e.to_string())?;
    check(queued2.cancel(), || {
        "cancel of a queued task refused".into()
    })?;
    let e = outcome(&slow, "task past its limit via srun", JOB)?.ok_or("no time limit")?;
    check(e.is_time_limit(), || format!("{e}"))?;
    check(queued.result_timeout(JOB).ok() == Some(&25), || {
        "the queued task did not run".into()
    })?;
    check(queued2.cancelled(), || "the cancelled task ran".into())
}

fn srun_max_tasks_per_child() -> TestResult {
    let ex = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(1)
        .launcher(Launcher::srun())
        .build()
        .map_err(|e| e.to_string())?;
    let a = ex.submit(where_am_i, ()).map_err(|e| e.to_string())?;
    let b = ex.submit(where_am_i, ()).map_err(|e| e.to_string())?;
    let a = a.result_timeout(JOB).map_err(|e| e.to_string())?.clone();
    let b = b.result_timeout(JOB).map_err(|e| e.to_string())?.clone();
    check(a.0 != b.0 && a.1 != b.1, || {
        format!("one worker ran both: {a:?} {b:?}")
    })
}

fn srun_kill_workers_no_orphans() -> TestResult {
    let name = format!("cf-test-kill-{}", std::process::id());
    let ex = ProcessPoolExecutor::builder()
        .max_workers(2)
        .launcher(Launcher::srun().job_name(name.clone()))
        .build()
        .map_err(|e| e.to_string())?;
    let fs: Vec<_> = (0..2)
        .map(|_| ex.submit(sleeps, 300_000).unwrap())
        .collect();
    wait_until("both sleepers running", JOB, || {
        fs.iter().all(Future::running)
    })?;
    ex.kill_workers();
    for f in &fs {
        let e = outcome(f, "a killed srun worker", JOB)?.ok_or("gave a value")?;
        check(e.is_worker_died(), || format!("{e}"))?;
    }
    wait_until(
        "no job step of the pool left in squeue",
        Duration::from_secs(30),
        || {
            let out = Command::new("squeue")
                .args([
                    "-h",
                    &format!("--name={name}"),
                    "-t",
                    "PENDING,RUNNING,COMPLETING",
                    "-o",
                    "%i",
                ])
                .output()
                .expect("squeue runs");
            out.stdout.is_empty()
        },
    )
}

/// The child of `srun_parent_killed_leaves_no_step`: an srun pool running
/// a long task; prints the job name once the task runs, then waits to be
/// killed.
fn orphan_child(name: &str) {
    let ex = ProcessPoolExecutor::builder()
        .max_workers(1)
        .launcher(Launcher::srun().job_name(name))
        .build()
        .expect("an srun pool");
    let f = ex.submit(sleeps, 300_000).expect("submit");
    while !f.running() {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("running");
    std::thread::sleep(Duration::from_secs(300));
}

fn srun_parent_killed_leaves_no_step() -> TestResult {
    use std::io::BufRead;
    let name = format!("cf-test-orphan-{}", std::process::id());
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env("CF_SLURM_TEST_ORPHAN", &name)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let running = || {
        let out = Command::new("squeue")
            .args([
                "-h",
                &format!("--name={name}"),
                "-t",
                "PENDING,RUNNING,COMPLETING",
                "-o",
                "%i",
            ])
            .output()
            .expect("squeue runs");
        !out.stdout.is_empty()
    };
    check(line.trim() == "running" && running(), || {
        format!("the child said {line:?}")
    })?;
    child.kill().map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    wait_until(
        "the step of a SIGKILLed parent gone from squeue",
        Duration::from_secs(30),
        || !running(),
    )
}

/// The child of `local_reaper_cancels_after_the_parent_dies`: two
/// executors with the default CLI (so each has a reaper) in `dir`; one is
/// dropped (its reaper disarmed), the other kept. Prints both names and the
/// kept one's folder, then waits to be killed.
fn reaper_child(dir: &str) {
    let kept = SlurmExecutor::builder(dir).build().expect("an executor");
    let ended = SlurmExecutor::builder(dir).build().expect("an executor");
    let ended_name = ended.job_name().to_owned();
    drop(ended);
    println!(
        "{} {} {}",
        kept.job_name(),
        ended_name,
        kept.folder().display()
    );
    std::thread::sleep(Duration::from_secs(300));
}

/// A SIGKILLed submitter's reaper runs `scancel --name` of its executor and
/// removes that executor's folder; the reaper of an executor dropped
/// before does nothing. `scancel` and `squeue` are stand-in scripts on
/// `PATH` that log their calls (`squeue` lists nothing), so this runs
/// without Slurm.
fn local_reaper_cancels_after_the_parent_dies() -> TestResult {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let dir = folder().join("local-reaper");
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    let log = dir.join("calls.log");
    for program in ["scancel", "squeue"] {
        let path = bin.join(program);
        let script = format!("#!/bin/sh\necho \"{program} $*\" >> '{}'\n", log.display());
        std::fs::write(&path, script).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env("CF_SLURM_TEST_REAPER", dir.join("executors"))
        .env("PATH", path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let [kept, ended, kept_folder] = words[..] else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("the child said {line:?}"));
    };
    let kept_folder = PathBuf::from(kept_folder);
    let calls = || std::fs::read_to_string(&log).unwrap_or_default();
    check(kept_folder.is_dir() && calls().is_empty(), || {
        format!(
            "before the kill: folder {kept_folder:?}, calls {:?}",
            calls()
        )
    })?;
    child.kill().map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    wait_until(
        "the reaper's scancel, squeue and removal of the folder",
        Duration::from_secs(20),
        || calls().contains(&format!("squeue -h --name={kept}")) && !kept_folder.exists(),
    )?;
    let calls = calls();
    check(
        calls.contains(&format!("scancel --quiet --name={kept}")) && !calls.contains(ended),
        || format!("calls: {calls:?}"),
    )?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// The child of `batch_parent_killed_cancels_its_jobs`: a batch executor
/// named `name` with two long tasks; prints "running" once one runs, then
/// waits to be killed.
fn batch_orphan_child(name: &str) {
    let ex = SlurmExecutor::builder(folder())
        .job_name(name)
        .build()
        .expect("a Slurm executor");
    let fs: Vec<_> = (0..2)
        .map(|_| ex.submit(sleeps, 300_000).expect("submit"))
        .collect();
    let start = Instant::now();
    while !fs.iter().any(Future::running) && start.elapsed() < JOB {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("running {}", ex.folder().display());
    std::thread::sleep(Duration::from_secs(300));
}

/// FAULTS 16 for the batch executor: the jobs of a SIGKILLed submitter are
/// cancelled (by its reaper), and its folder goes.
fn batch_parent_killed_cancels_its_jobs() -> TestResult {
    use std::io::BufRead;
    let name = format!("cf-test-batch-orphan-{}", std::process::id());
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env("CF_SLURM_TEST_BATCH_ORPHAN", &name)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let listed = || {
        let out = Command::new("squeue")
            .args(["-h", &format!("--name={name}"), "-o", "%i"])
            .output()
            .expect("squeue runs");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .count()
    };
    let folder = line.trim().strip_prefix("running ").map(PathBuf::from);
    let before = listed();
    let killed = child.kill().and_then(|()| child.wait());
    let folder = folder.ok_or_else(|| format!("the child said {line:?}"))?;
    killed.map_err(|e| e.to_string())?;
    check(before == 2 && folder.is_dir(), || {
        format!("before the kill: {before} jobs listed, folder {folder:?}")
    })?;
    wait_until(
        "the jobs of a SIGKILLed submitter gone from squeue",
        JOB,
        || listed() == 0,
    )?;
    wait_until("its folder removed", Duration::from_secs(10), || {
        !folder.exists()
    })
}

fn main() {
    process::init();
    if let Ok(name) = std::env::var("CF_SLURM_TEST_ORPHAN") {
        orphan_child(&name);
        return;
    }
    if let Ok(dir) = std::env::var("CF_SLURM_TEST_REAPER") {
        reaper_child(&dir);
        return;
    }
    if let Ok(name) = std::env::var("CF_SLURM_TEST_BATCH_ORPHAN") {
        batch_orphan_child(&name);
        return;
    }
    let required = std::env::var("CF_SLURM_REQUIRED").is_ok_and(|v| v == "1");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    // Worker mode without Slurm: runs everywhere.
    let mut tests: Vec<Test> = vec![
        ("local_batch_worker_mode", local_batch_worker_mode),
        (
            "local_batch_tampered_copy_refused",
            local_batch_tampered_copy_refused,
        ),
        ("local_srun_bridge", local_srun_bridge),
        (
            "local_reaper_cancels_after_the_parent_dies",
            local_reaper_cancels_after_the_parent_dies,
        ),
    ];
    if cluster_available() {
        tests.extend([
            (
                "batch_submit_and_result",
                batch_submit_and_result as fn() -> TestResult,
            ),
            ("batch_panic", batch_panic),
            ("batch_exit_code", batch_exit_code),
            ("batch_segfault", batch_segfault),
            ("batch_time_limit", batch_time_limit),
            (
                "batch_time_limit_ends_a_task_that_holds_stdout",
                batch_time_limit_ends_a_task_that_holds_stdout,
            ),
            ("batch_cancel_pending", batch_cancel_pending),
            ("batch_kill_workers", batch_kill_workers),
            ("batch_map_1000", batch_map_1000),
            ("batch_map_3000", batch_map_3000),
            (
                "batch_split_past_max_array_size",
                batch_split_past_max_array_size,
            ),
            ("batch_mixed_with_threads", batch_mixed_with_threads),
            ("batch_tampered_copy_refused", batch_tampered_copy_refused),
            (
                "batch_shutdown_cancel_futures",
                batch_shutdown_cancel_futures,
            ),
            ("batch_cancelled_from_outside", batch_cancelled_from_outside),
            ("srun_submit_and_result", srun_submit_and_result),
            ("srun_crash_isolation", srun_crash_isolation),
            ("srun_time_limit_and_cancel", srun_time_limit_and_cancel),
            ("srun_max_tasks_per_child", srun_max_tasks_per_child),
            ("srun_kill_workers_no_orphans", srun_kill_workers_no_orphans),
            (
                "srun_parent_killed_leaves_no_step",
                srun_parent_killed_leaves_no_step,
            ),
            (
                "batch_parent_killed_cancels_its_jobs",
                batch_parent_killed_cancels_its_jobs,
            ),
        ]);
    } else if required {
        eprintln!("cluster tests: CF_SLURM_REQUIRED=1 but no Slurm cluster answers (SLURM_CONF unset or sinfo fails)");
        std::process::exit(1);
    } else {
        println!("cluster tests: the 22 cluster tests skipped, no Slurm cluster here (start one: bash ci/slurm.sh start DIR; eval \"$(bash ci/slurm.sh env DIR)\")");
    }
    let selected: Vec<_> = tests
        .into_iter()
        .filter(|(n, _)| filter.as_deref().is_none_or(|f| n.contains(f)))
        .collect();
    // The local tests first, one after another: they write executables and
    // exec them at once in this process tree, where a child forked by
    // another test thread (holding a write descriptor between its fork and
    // exec) would make the exec fail with ETXTBSY. Then the cluster tests
    // in parallel (the cluster oversubscribes its cores), each on its own
    // thread; each reports how long it took.
    let t0 = Instant::now();
    let run_one = |name: &'static str, f: fn() -> TestResult| {
        let start = Instant::now();
        let r = std::panic::catch_unwind(f).unwrap_or_else(|p| {
            Err(format!(
                "panicked: {}",
                concurrent_futures_core::panic_message(p.as_ref())
            ))
        });
        (name, start.elapsed(), r)
    };
    let (local, remote): (Vec<Test>, Vec<Test>) = selected
        .into_iter()
        .partition(|(n, _)| n.starts_with("local_"));
    let mut results: Vec<(&str, Duration, TestResult)> =
        local.into_iter().map(|(n, f)| run_one(n, f)).collect();
    results.extend(std::thread::scope(|s| {
        let handles: Vec<_> = remote
            .iter()
            .map(|&(name, f)| s.spawn(move || run_one(name, f)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("joined"))
            .collect::<Vec<_>>()
    }));
    let mut failed = 0;
    for (name, took, r) in &results {
        match r {
            Ok(()) => println!("test {name} ... ok ({:.1} s)", took.as_secs_f64()),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED ({:.1} s): {e}", took.as_secs_f64());
            }
        }
    }
    let _ = std::fs::remove_dir_all(folder());
    println!(
        "cluster tests: {} passed, {failed} failed in {:.1} s",
        results.len() - failed,
        t0.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
