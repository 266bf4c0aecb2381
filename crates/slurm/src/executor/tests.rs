//! The executor against a fake Slurm: scripted job states, recorded calls.
//! The tests play the jobs' part by writing result files themselves.

use super::*;
use crate::cli::CommandOutput;
use crate::code::{encode, Outcome, ResultFile};
use concurrent_futures_core::{ExitCause, FutureError};

/// One fake job (or array element).
#[derive(Clone, Debug)]
struct FakeJob {
    state: String,
    reason: String,
    node: String,
    /// What `scontrol show job` prints; `None`: "Invalid job id".
    scontrol: Option<String>,
    /// Whether squeue still lists it (false: aged out).
    listed: bool,
}

#[derive(Debug, Default)]
struct FakeState {
    next_id: u64,
    jobs: Vec<(String, FakeJob)>,
    calls: Vec<(String, Vec<String>, Option<String>)>,
    /// `sbatch` fails with this message.
    sbatch_error: Option<String>,
    /// `scancel` fails with this message (and cancels nothing).
    scancel_error: Option<String>,
    max_array: usize,
    /// squeue prints an array's pending elements as one range line
    /// (`100_[0-2]`), as it does without `-r`.
    collapse_pending: bool,
}

#[derive(Clone, Debug, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn new() -> Fake {
        let f = Fake::default();
        f.state().next_id = 100;
        f.state().max_array = 1001;
        f
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    fn set(&self, id: &str, state: &str, node: &str) {
        let mut g = self.state();
        let j = &mut g
            .jobs
            .iter_mut()
            .find(|(i, _)| i == id)
            .expect("a fake job")
            .1;
        j.state = state.into();
        j.node = node.into();
    }

    fn with_job(&self, id: &str, f: impl FnOnce(&mut FakeJob)) {
        let mut g = self.state();
        f(&mut g
            .jobs
            .iter_mut()
            .find(|(i, _)| i == id)
            .expect("a fake job")
            .1);
    }

    /// How many jobs are still pending or running.
    fn live_jobs(&self) -> usize {
        self.state()
            .jobs
            .iter()
            .filter(|(_, j)| matches!(j.state.as_str(), "PENDING" | "RUNNING"))
            .count()
    }

    fn calls(&self, program: &str) -> Vec<(Vec<String>, Option<String>)> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.0 == program)
            .map(|c| (c.1.clone(), c.2.clone()))
            .collect()
    }
}

fn ok(stdout: impl Into<String>) -> io::Result<CommandOutput> {
    Ok(CommandOutput {
        success: true,
        stdout: stdout.into(),
        stderr: String::new(),
        exit_code: Some(0),
    })
}

fn failed(stderr: &str) -> io::Result<CommandOutput> {
    Ok(CommandOutput {
        success: false,
        stdout: String::new(),
        stderr: stderr.into(),
        exit_code: Some(1),
    })
}

impl SlurmCli for Fake {
    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> io::Result<CommandOutput> {
        let mut g = self.state();
        g.calls
            .push((program.to_owned(), args.to_vec(), stdin.map(str::to_owned)));
        let job = |state: &str| FakeJob {
            state: state.into(),
            reason: "None".into(),
            node: String::new(),
            scontrol: None,
            listed: true,
        };
        match program {
            "sbatch" => {
                if let Some(e) = g.sbatch_error.clone() {
                    return failed(&e);
                }
                let id = g.next_id;
                g.next_id += 1;
                match args.iter().find_map(|a| a.strip_prefix("--array=0-")) {
                    Some(spec) => {
                        let last: u64 = spec.split('%').next().unwrap().parse().unwrap();
                        for i in 0..=last {
                            g.jobs.push((format!("{id}_{i}"), job("PENDING")));
                        }
                    }
                    None => g.jobs.push((id.to_string(), job("PENDING"))),
                }
                ok(format!("{id}\n"))
            }
            "squeue" => {
                let mut ranges: Vec<(String, Vec<String>)> = Vec::new();
                let mut text = String::new();
                for (id, j) in g.jobs.iter().filter(|(_, j)| j.listed) {
                    match id.split_once('_') {
                        Some((array, i)) if g.collapse_pending && j.state == "PENDING" => {
                            match ranges.iter_mut().find(|r| r.0 == array) {
                                Some(r) => r.1.push(i.to_owned()),
                                None => ranges.push((array.to_owned(), vec![i.to_owned()])),
                            }
                        }
                        _ => text.push_str(&format!("{id}|{}|{}|{}\n", j.state, j.reason, j.node)),
                    }
                }
                for (array, ids) in ranges {
                    text.push_str(&format!("{array}_[{}]|PENDING|Priority|\n", ids.join(",")));
                }
                ok(text)
            }
            "scancel" => {
                if let Some(e) = g.scancel_error.clone() {
                    return failed(&e);
                }
                let by_name = args.iter().any(|a| a.starts_with("--name="));
                for (id, j) in &mut g.jobs {
                    let named = args.contains(id);
                    let live = matches!(j.state.as_str(), "PENDING" | "RUNNING");
                    if (by_name || named) && live {
                        j.state = "CANCELLED".into();
                    }
                }
                ok("")
            }
            "scontrol" if args.first().map(String::as_str) == Some("show") => {
                if args.get(1).map(String::as_str) == Some("config") {
                    return ok(format!("MaxArraySize            = {}\n", g.max_array));
                }
                let id = args.last().unwrap();
                match g
                    .jobs
                    .iter()
                    .find(|(i, _)| i == id)
                    .and_then(|(_, j)| j.scontrol.clone())
                {
                    Some(text) => ok(text),
                    None => failed("slurm_load_jobs error: Invalid job id specified"),
                }
            }
            "sacct" => failed("Slurm accounting storage is disabled"),
            other => failed(&format!("fake: no {other}")),
        }
    }
}

/// How long this test binary may run (its tests take about a second in
/// all): past it, a test is waiting for something that never comes (a
/// drop's `shutdown(wait)` for a result never written), and the watchdog
/// aborts the run with a message rather than hold CI until its timeout.
const WATCHDOG: Duration = Duration::from_secs(120);

fn folder(test: &str) -> PathBuf {
    static WATCHING: std::sync::Once = std::sync::Once::new();
    WATCHING.call_once(|| {
        std::thread::spawn(|| {
            std::thread::sleep(WATCHDOG);
            eprintln!(
                "slurm executor unit tests still running after {WATCHDOG:?}: one of them \
                 waits for something that never comes; aborting"
            );
            std::process::abort();
        });
    });
    let d = std::env::temp_dir().join(format!("cf-slurm-unit-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

/// An executor whose folder is removed after it is dropped.
struct Ex {
    ex: Option<SlurmExecutor>,
    dir: PathBuf,
}

impl std::ops::Deref for Ex {
    type Target = SlurmExecutor;
    fn deref(&self) -> &SlurmExecutor {
        self.ex.as_ref().expect("alive")
    }
}

impl Drop for Ex {
    fn drop(&mut self) {
        drop(self.ex.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn executor(fake: &Fake, test: &str) -> Ex {
    executor_with(fake, test, |b| b)
}

/// A builder on `cli` in `dir` that polls every 5 to 20 ms.
fn fast_builder(dir: &Path, cli: impl SlurmCli + 'static) -> SlurmBuilder {
    SlurmExecutor::builder(dir)
        .cli(cli)
        .poll_interval(Duration::from_millis(5), Duration::from_millis(20))
        .result_grace(Duration::from_millis(50))
}

fn executor_with(fake: &Fake, test: &str, f: impl FnOnce(SlurmBuilder) -> SlurmBuilder) -> Ex {
    let dir = folder(test);
    let b = fast_builder(&dir, fake.clone());
    Ex {
        ex: Some(f(b).build_unchecked().expect("a fake executor")),
        dir,
    }
}

/// Plays the job of task `index`: writes its result file.
fn write_result(ex: &SlurmExecutor, index: u64, outcome: Outcome) {
    write_result_in(ex.folder(), index, outcome);
}

/// [`write_result`] into the folder of an executor no longer at hand.
fn write_result_in(folder: &Path, index: u64, outcome: Outcome) {
    let r = ResultFile {
        node: "n1".into(),
        pid: 4242,
        outcome,
    };
    worker::write_atomically(&worker::result_path(folder, index), &r.to_bytes()).unwrap();
}

fn value<T: Serialize>(v: &T) -> Outcome {
    Outcome::Ok(encode(v).unwrap())
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn square(x: u64) -> u64 {
    x * x
}

#[test]
fn a_job_name_squeue_would_split_is_refused() {
    let fake = Fake::new();
    for bad in ["a,b", "", "..", "has space", "x/y", "p%u"] {
        let dir = folder("bad-name");
        let err = SlurmExecutor::builder(&dir)
            .cli(fake.clone())
            .job_name(bad)
            .build_unchecked()
            .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidOption(m) if m.contains("job_name")),
            "{bad:?}: {err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
    let ex = executor_with(&fake, "good-name", |b| b.job_name("nightly_7.b+c-d"));
    assert_eq!(ex.job_name(), "nightly_7.b+c-d");
}

#[test]
fn default_names_carry_a_random_part() {
    let (a, b) = (unique_name(), unique_name());
    let random = |n: &str| n.rsplit('-').next().unwrap().to_owned();
    assert_eq!(random(&a).len(), 8, "{a}");
    assert!(random(&a).chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_ne!(a, b);
    assert!(check_job_name(&a).is_ok(), "{a}");
}

/// An executor named as an earlier one whose task or result files are
/// still there (it crashed, or its jobs still run) is refused: task indices
/// start at 0 in every executor, so a stale result would be taken for the
/// new task's (found by a probe: `Ok(1111)` for `square(3)`).
#[test]
fn a_folder_with_an_earlier_executors_files_is_refused() {
    let fake = Fake::new();
    let dir = folder("stale");
    let build = || {
        SlurmExecutor::builder(&dir)
            .cli(fake.clone())
            .job_name("same-name")
            .build_unchecked()
    };
    let ex = build().unwrap();
    let own = ex.folder().to_owned();
    drop(ex);
    // A clean earlier run leaves nothing in the way.
    drop(build().unwrap());
    for sub in ["results", "tasks"] {
        fs::create_dir_all(own.join(sub)).unwrap();
        fs::write(own.join(sub).join("0.stale"), b"x").unwrap();
        let err = build().unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidOption(m) if m.contains("earlier executor")),
            "{sub}: {err}"
        );
        fs::remove_file(own.join(sub).join("0.stale")).unwrap();
    }
    drop(build().unwrap());
    let _ = fs::remove_dir_all(&dir);
}

/// `--output` / `--error` are filename patterns: a `%` of the folder's
/// path is escaped, or Slurm expands it and the job cannot open its log.
#[test]
fn a_percent_in_the_folder_is_escaped_in_the_log_patterns() {
    let fake = Fake::new();
    let ex = executor(&fake, "pct%u");
    let _f = ex.submit(square, 1).unwrap();
    let calls = fake.calls("sbatch");
    let (args, _) = &calls[0];
    let output = args.iter().find(|a| a.starts_with("--output=")).unwrap();
    assert!(output.contains("pct%%u"), "{output}");
    assert!(!output.contains("pct%u"), "{output}");
    ex.kill_workers();
}

#[test]
fn sbatch_gets_the_options_and_the_script() {
    let fake = Fake::new();
    let ex = executor_with(&fake, "options", |b| {
        b.partition("debug")
            .time_limit(Duration::from_secs(90))
            .cpus_per_task(2)
            .memory_mb(512)
            .sbatch_arg("--qos=short")
            .job_name("cf-unit-options")
    });
    let f = ex.submit(square, 7).unwrap();
    let calls = fake.calls("sbatch");
    assert_eq!(calls.len(), 1);
    let (args, script) = &calls[0];
    for want in [
        "--parsable",
        "--job-name=cf-unit-options",
        "--partition=debug",
        "--time=3",
        "--cpus-per-task=2",
        "--mem=512M",
        "--qos=short",
    ] {
        assert!(
            args.iter().any(|a| a == want),
            "{want} missing from {args:?}"
        );
    }
    let script = script.as_deref().unwrap();
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(script.contains("CF_SLURM_TASK=0\n"), "{script}");
    assert!(
        script.contains(&format!("CF_SLURM_SHA256='{}'", ex.shared.sha)),
        "{script}"
    );
    assert!(
        script.ends_with(&format!("exec '{}'\n", ex.executable().display())),
        "the job must exec the copy: {script}"
    );
    // The task file is there for the job; the copy is named by its hash.
    assert!(worker::task_path(ex.folder(), 0).exists());
    assert!(ex
        .executable()
        .ends_with(format!("bin/{}.exe", ex.shared.sha)));
    write_result(&ex, 0, value(&49u64));
    fake.set("100", "COMPLETED", "n1");
    assert_eq!(f.result_timeout(Duration::from_secs(10)).unwrap(), &49);
    assert!(
        !worker::task_path(ex.folder(), 0).exists(),
        "task file left behind"
    );
}

#[test]
fn the_state_table_drives_the_future() {
    let fake = Fake::new();
    let ex = executor(&fake, "states");
    let job = ex.submit_job(square, 3).unwrap();
    let f = job.future().clone();
    wait_for("a round", || ex.squeue_calls() >= 2);
    assert_eq!(f.state(), FutureState::Pending);
    for s in ["CONFIGURING", "REQUEUED", "PENDING"] {
        fake.set("100", s, "");
        let before = ex.squeue_calls();
        wait_for("a round", || ex.squeue_calls() >= before + 2);
        assert_eq!(f.state(), FutureState::Pending, "{s}");
    }
    fake.set("100", "RUNNING", "n1");
    wait_for("Running", || f.running());
    assert_eq!(job.node().as_deref(), Some("n1"));
    // Suspended, preempted, completing: still running.
    for s in ["SUSPENDED", "PREEMPTED", "COMPLETING"] {
        fake.set("100", s, "n1");
        let before = ex.squeue_calls();
        wait_for("a round", || ex.squeue_calls() >= before + 2);
        assert_eq!(f.state(), FutureState::Running, "{s}");
        assert_eq!(job.slurm_state().unwrap().name(), s);
    }
    // A result file wins over any state, even a failed one.
    write_result(&ex, 0, value(&9u64));
    fake.set("100", "NODE_FAIL", "n1");
    assert_eq!(f.result_timeout(Duration::from_secs(10)).unwrap(), &9);
    assert!(
        fake.calls("scontrol").is_empty(),
        "scontrol asked for a job with a result"
    );
}

#[test]
fn a_job_ended_without_a_result_fails_with_its_details() {
    let fake = Fake::new();
    let ex = executor(&fake, "failed");
    let ok = ex.submit(square, 2).unwrap();
    let bad = ex.submit(square, 3).unwrap();
    fs::write(
        ex.folder().join("logs/101.err"),
        "line 1\nSegmentation fault\n",
    )
    .unwrap();
    fake.with_job("101", |j| {
        j.state = "FAILED".into();
        j.reason = "JobLaunchFailure".into();
        j.scontrol = Some(
            "JobId=101 JobName=x JobState=FAILED Reason=JobLaunchFailure ExitCode=0:11 NodeList=n7\n"
                .into(),
        );
    });
    write_result(&ex, 0, value(&4u64));
    fake.set("100", "COMPLETED", "n7");
    assert_eq!(ok.result_timeout(Duration::from_secs(10)).unwrap(), &4);
    let e = bad
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    let j = e.cluster_job().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(j.job_id(), "101");
    assert_eq!(j.state(), "FAILED");
    assert_eq!(j.exit(), Some(ExitCause::Signal(11)));
    assert_eq!(j.reason(), Some("JobLaunchFailure"));
    assert_eq!(j.node(), Some("n7"));
    assert_eq!(j.stderr_tail(), "line 1\nSegmentation fault");
    let asked: Vec<String> = fake
        .calls("scontrol")
        .into_iter()
        .map(|c| c.0.last().unwrap().clone())
        .collect();
    assert_eq!(asked, ["101"], "scontrol only for the job without a result");
}

#[test]
fn each_ended_state_without_a_result_fails() {
    let fake = Fake::new();
    let ex = executor(&fake, "ended");
    let states = [
        "COMPLETED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    ];
    let futures: Vec<_> = states
        .iter()
        .map(|_| ex.submit(square, 1).unwrap())
        .collect();
    for (i, s) in states.iter().enumerate() {
        fake.set(&(100 + i).to_string(), "RUNNING", "n1");
        let _ = s;
    }
    wait_for("all running", || futures.iter().all(Future::running));
    for (i, s) in states.iter().enumerate() {
        fake.set(&(100 + i).to_string(), s, "n1");
    }
    for (f, s) in futures.iter().zip(states) {
        let e = f
            .exception_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(e.cluster_job().map(ClusterJobError::state), Some(s), "{e}");
    }
}

#[test]
fn cancel_of_pending_futures_is_one_scancel() {
    let fake = Fake::new();
    let ex = executor(&fake, "cancel");
    let futures: Vec<_> = (0..5).map(|i| ex.submit(square, i).unwrap()).collect();
    ex.shutdown(true, true);
    assert!(futures.iter().all(Future::cancelled));
    let calls = fake.calls("scancel");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let mut ids = calls[0].0.clone();
    ids.retain(|a| !a.starts_with('-'));
    ids.sort();
    assert_eq!(ids, ["100", "101", "102", "103", "104"]);
    drop(ex);
    // One more cancel of one pending future: its own scancel.
    let fake = Fake::new();
    let ex = executor(&fake, "cancel1");
    let f = ex.submit(square, 1).unwrap();
    assert!(f.cancel());
    wait_for("the scancel", || !fake.calls("scancel").is_empty());
    assert_eq!(fake.calls("scancel")[0].0, ["--quiet", "100"]);
}

#[test]
fn a_running_future_cannot_be_cancelled() {
    let fake = Fake::new();
    let ex = executor(&fake, "running");
    let f = ex.submit(square, 1).unwrap();
    fake.set("100", "RUNNING", "n1");
    wait_for("Running", || f.running());
    assert!(!f.cancel());
    write_result(&ex, 0, value(&1u64));
    fake.set("100", "COMPLETED", "n1");
    assert_eq!(f.result_timeout(Duration::from_secs(10)).unwrap(), &1);
    assert!(fake.calls("scancel").is_empty());
}

#[test]
fn map_splits_arrays_past_max_array_size() {
    let fake = Fake::new();
    fake.state().max_array = 4;
    let ex = executor(&fake, "arrays");
    let m = ex
        .map_with(square, 0..10u64, MapOptions::default().chunksize(1))
        .unwrap();
    let calls = fake.calls("sbatch");
    assert_eq!(calls.len(), 3, "{calls:?}");
    let arrays: Vec<&String> = calls
        .iter()
        .map(|c| c.0.iter().find(|a| a.starts_with("--array=")).unwrap())
        .collect();
    assert_eq!(arrays, ["--array=0-3", "--array=0-3", "--array=0-1"]);
    for (c, base) in calls.iter().zip([0, 4, 8]) {
        assert!(c
            .1
            .as_deref()
            .unwrap()
            .contains(&format!("CF_SLURM_BASE={base}\n")));
    }
    // The jobs' part: chunks of one item each.
    for i in 0..10u64 {
        let items: Vec<Result<u64, String>> = vec![Ok(i * i)];
        write_result(&ex, i, value(&items));
    }
    for (id, _) in fake.state().jobs.iter_mut() {
        let _ = id;
    }
    for (_, j) in fake.state().jobs.iter_mut() {
        j.state = "COMPLETED".into();
    }
    let v = m.into_result().unwrap();
    assert_eq!(v, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
}

#[test]
fn map_chunks_keep_item_panics_and_fail_whole_chunks() {
    let fake = Fake::new();
    let ex = executor_with(&fake, "chunks", |b| b.array_parallelism(3));
    let m = ex
        .map_with(square, 0..6u64, MapOptions::default().chunksize(2))
        .unwrap();
    let calls = fake.calls("sbatch");
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].0.iter().any(|a| a == "--array=0-2%3"),
        "{:?}",
        calls[0].0
    );
    let chunk0: Vec<Result<u64, String>> = vec![Ok(0), Err("boom".into())];
    write_result(&ex, 0, value(&chunk0));
    let chunk2: Vec<Result<u64, String>> = vec![Ok(16), Ok(25)];
    write_result(&ex, 2, value(&chunk2));
    fake.set("100_0", "COMPLETED", "n1");
    fake.set("100_1", "RUNNING", "n1");
    fake.set("100_2", "COMPLETED", "n1");
    wait_for("100_1 running", || ex.shared.lock().live.len() == 1);
    fake.set("100_1", "TIMEOUT", "n1");
    let got: Vec<Result<u64, FutureError>> = m.collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].as_ref().unwrap(), &0);
    assert_eq!(
        got[1]
            .as_ref()
            .unwrap_err()
            .task_error()
            .unwrap()
            .panic_message(),
        Some("boom")
    );
    for r in &got[2..4] {
        let e = r.as_ref().unwrap_err().task_error().unwrap();
        assert_eq!(e.cluster_job().unwrap().state(), "TIMEOUT");
    }
    assert_eq!(got[4].as_ref().unwrap(), &16);
}

#[test]
fn one_squeue_per_round_for_all_jobs() {
    let fake = Fake::new();
    let ex = executor(&fake, "rounds");
    let futures: Vec<_> = (0..50).map(|i| ex.submit(square, i).unwrap()).collect();
    wait_for("some rounds", || ex.squeue_calls() >= 5);
    let squeues = fake.calls("squeue");
    assert!(squeues.len() as u64 >= ex.squeue_calls() - 1);
    for (args, _) in &squeues {
        assert!(
            args.contains(&format!("--name={}", ex.job_name())),
            "{args:?}"
        );
        assert!(
            args.iter().any(|a| a == "-r"),
            "array elements one per line: {args:?}"
        );
    }
    // Nothing changes: the poller backs off (20 ms at most here, so well
    // under one call per millisecond).
    let (n0, t0) = (ex.squeue_calls(), Instant::now());
    std::thread::sleep(Duration::from_millis(200));
    let per_ms = (ex.squeue_calls() - n0) as f64 / t0.elapsed().as_millis() as f64;
    assert!(per_ms < 0.2, "{per_ms} squeue calls per ms while idle");
    assert!(fake.calls("scontrol").is_empty());
    ex.kill_workers();
    for f in &futures {
        assert!(f.cancelled());
    }
}

#[test]
fn kill_workers_is_one_scancel_by_name() {
    let fake = Fake::new();
    let ex = executor(&fake, "kill");
    let running = ex.submit(square, 1).unwrap();
    let pending = ex.submit(square, 2).unwrap();
    fake.set("100", "RUNNING", "n1");
    wait_for("Running", || running.running());
    ex.kill_workers();
    assert!(pending.cancelled());
    let e = running
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(e.cluster_job().unwrap().state(), "CANCELLED");
    let calls = fake.calls("scancel");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].0,
        ["--quiet".to_owned(), format!("--name={}", ex.job_name())]
    );
    assert!(ex.submit(square, 3).unwrap_err().is_shutdown());
}

#[test]
fn cancelled_from_outside() {
    let fake = Fake::new();
    let ex = executor(&fake, "outside");
    let pending = ex.submit(square, 1).unwrap();
    let started = ex.submit(square, 2).unwrap();
    fake.set("101", "RUNNING", "n1");
    wait_for("Running", || started.running());
    fake.set("100", "CANCELLED", "");
    fake.set("101", "CANCELLED", "n1");
    let e = started
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(e.cluster_job().unwrap().state(), "CANCELLED");
    assert!(matches!(
        pending.exception_timeout(Duration::from_secs(10)),
        Err(FutureError::Cancelled)
    ));
}

#[test]
fn a_vanished_job_fails_as_unknown() {
    let fake = Fake::new();
    let ex = executor(&fake, "vanished");
    let f = ex.submit(square, 1).unwrap();
    fake.set("100", "RUNNING", "n1");
    wait_for("Running", || f.running());
    fake.with_job("100", |j| j.listed = false);
    let e = f
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    let j = e.cluster_job().unwrap();
    assert_eq!(j.state(), "UNKNOWN");
    assert_eq!(j.node(), Some("n1"));
    assert!(!fake.calls("sacct").is_empty(), "sacct is the last resort");
}

#[test]
fn task_failures_come_back_typed() {
    let fake = Fake::new();
    let ex = executor(&fake, "typed");
    let a = ex.submit(square, 1).unwrap();
    let b = ex.submit(square, 2).unwrap();
    let c = ex.submit(square, 3).unwrap();
    write_result(&ex, 0, Outcome::Panicked("bad".into()));
    write_result(
        &ex,
        1,
        Outcome::TimedOut {
            limit_ms: 1500,
            pid: 77,
        },
    );
    write_result(&ex, 2, Outcome::Ok(vec![1, 2]));
    for id in ["100", "101", "102"] {
        fake.set(id, "COMPLETED", "n1");
    }
    let ea = a
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(ea.panic_message(), Some("bad"));
    let eb = b
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert!(
        matches!(eb, TaskError::TimeLimit { limit, pid: 77 } if *limit == Duration::from_millis(1500))
    );
    let ec = c
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert!(ec.is_error() && ec.to_string().contains("decode"), "{ec}");
}

#[test]
fn sbatch_errors_are_submit_errors() {
    let fake = Fake::new();
    fake.state().sbatch_error = Some("sbatch: error: invalid partition specified: nope".into());
    let ex = executor(&fake, "sbatch-error");
    let e = ex.submit(square, 1).unwrap_err();
    assert!(
        e.is_rejected()
            && e.to_string()
                .starts_with("the task was rejected: sbatch failed")
            && e.to_string().contains("invalid partition"),
        "{e}"
    );
    assert!(
        !worker::task_path(ex.folder(), 0).exists(),
        "task file left behind"
    );
    // The executor is still usable, and Drop does not wait for the refused task.
    fake.state().sbatch_error = None;
    let f = ex.submit(square, 2).unwrap();
    write_result(&ex, 1, value(&4u64));
    assert_eq!(f.result_timeout(Duration::from_secs(10)).unwrap(), &4);
}

/// A refused `sbatch` (a bad partition, the controller down) says how it
/// ended and what it printed, for `submit` and `map` alike; one that
/// printed nothing says so (the old message was "sbatch failed: ").
#[test]
fn a_failed_sbatch_carries_its_exit_status_and_stderr() {
    let fake = Fake::new();
    let down = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)";
    fake.state().sbatch_error = Some(down.into());
    let ex = executor(&fake, "sbatch-status");
    let e = ex.submit(square, 1).unwrap_err().to_string();
    assert!(e.contains("exit status 1"), "{e}");
    assert!(e.contains(down), "{e}");
    assert!(e.contains("nothing was submitted"), "{e}");
    let e = match ex.map_with(square, 0..5u64, MapOptions::default().chunksize(2)) {
        Ok(_) => panic!("map accepted with sbatch failing"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("exit status 1") && e.contains(down), "{e}");
    fake.state().sbatch_error = Some(String::new());
    let e = ex.submit(square, 1).unwrap_err().to_string();
    assert!(
        e.contains("exit status 1") && e.contains("printed nothing"),
        "{e}"
    );
    fake.state().sbatch_error = None;
}

/// A result file that is not one names the job, the task and the file.
#[test]
fn a_corrupt_result_file_names_job_task_and_path() {
    let fake = Fake::new();
    let ex = executor(&fake, "corrupt");
    let f = ex.submit(square, 1).unwrap();
    let path = worker::result_path(ex.folder(), 0);
    worker::write_atomically(&path, b"not a result").unwrap();
    let e = f
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap()
        .to_string();
    assert!(e.contains("job 100") && e.contains("task 0"), "{e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("corrupt"), "{e}");
    // A valid file whose value is not the task's type: the same names.
    let g = ex.submit(square, 2).unwrap();
    write_result(&ex, 1, value(&"not a u64"));
    let e = g
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap()
        .to_string();
    assert!(e.contains("job 101") && e.contains("task 1"), "{e}");
    assert!(
        e.contains(&worker::result_path(ex.folder(), 1).display().to_string()),
        "{e}"
    );
    let _ = fs::remove_file(&path);
}

/// A job that ended COMPLETED (exit status 0) without a result file says
/// exactly that, with its job id, task, and where its output went.
#[test]
fn a_job_that_exits_0_without_a_result_says_so() {
    let fake = Fake::new();
    let ex = executor(&fake, "no-result");
    let f = ex.submit(square, 1).unwrap();
    fake.with_job("100", |j| {
        j.state = "COMPLETED".into();
        j.scontrol = Some(
            "JobId=100 JobName=x JobState=COMPLETED Reason=None ExitCode=0:0 NodeList=n2\n".into(),
        );
    });
    let e = f
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    let j = e.cluster_job().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((j.job_id(), j.state()), ("100", "COMPLETED"));
    assert_eq!(j.exit(), Some(ExitCause::Code(0)));
    let msg = e.to_string();
    assert!(
        msg.contains("exited with status 0 without writing its result file"),
        "{msg}"
    );
    assert!(msg.contains("task 0"), "{msg}");
    let logs = ex.folder().join("logs");
    for log in ["100.err", "100.out"] {
        assert!(msg.contains(&logs.join(log).display().to_string()), "{msg}");
    }
    assert!(
        msg.contains(&worker::result_path(ex.folder(), 0).display().to_string()),
        "{msg}"
    );
}

/// Pending array elements that squeue prints as one range (`100_[0,2]`)
/// stay pending: they used to read as gone from the queue, and failed as
/// UNKNOWN one result grace later.
#[test]
fn unexpanded_pending_array_ranges_stay_pending() {
    let fake = Fake::new();
    fake.state().collapse_pending = true;
    let ex = executor(&fake, "ranges");
    let m = ex
        .map_with(square, 0..6u64, MapOptions::default().chunksize(2))
        .unwrap();
    fake.set("100_1", "RUNNING", "n1");
    let polls = ex.squeue_calls();
    // Several rounds, and well past the 50 ms result grace.
    wait_for("rounds", || ex.squeue_calls() >= polls + 5);
    std::thread::sleep(Duration::from_millis(200));
    let live = ex.shared.lock().live.len();
    if live != 3 {
        // Fail at once: the drop would wait for the running element.
        ex.kill_workers();
        panic!("{} of 3 elements given up", 3 - live);
    }
    for i in 0..3u64 {
        let items: Vec<Result<u64, String>> = vec![Ok(4 * i * i), Ok((2 * i + 1).pow(2))];
        write_result(&ex, i, value(&items));
        fake.set(&format!("100_{i}"), "COMPLETED", "n1");
    }
    assert_eq!(m.into_result().unwrap(), [0, 1, 4, 9, 16, 25]);
    assert!(fake.calls("scontrol").iter().all(|c| c.0[1] == "config"));
}

#[test]
fn executor_and_job_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<SlurmExecutor>();
    check::<SlurmJob<u8>>();
    check::<SlurmBuilder>();
}

#[test]
fn time_limits_round_up_to_minutes() {
    assert_eq!(minutes_for(Duration::from_secs(1)), 2);
    assert_eq!(minutes_for(Duration::from_secs(60)), 2);
    assert_eq!(minutes_for(Duration::from_secs(61)), 3);
    assert_eq!(quote("it's"), "'it'\\''s'");
}

#[test]
fn into_result_takes_the_value_the_executor_keeps_no_handle() {
    let fake = Fake::new();
    let ex = executor(&fake, "owned");
    let jobs: Vec<_> = (0..40u64)
        .map(|i| ex.submit_job(square, i).unwrap())
        .collect();
    for i in 0..40u64 {
        write_result(&ex, i, value(&(i * i)));
    }
    for (i, job) in jobs.into_iter().enumerate() {
        let f = job.into_future();
        assert_eq!(
            f.into_result_timeout(Duration::from_secs(10)).unwrap(),
            (i * i) as u64
        );
    }
    let m = ex
        .map_with(square, 0..30u64, MapOptions::default().chunksize(7))
        .unwrap();
    for (k, i) in (40..45u64).enumerate() {
        let items: Vec<Result<u64, String>> = (k as u64 * 7..(k as u64 * 7 + 7).min(30))
            .map(|x| Ok(x * x))
            .collect();
        write_result(&ex, i, value(&items));
    }
    assert_eq!(
        m.into_result().unwrap(),
        (0..30u64).map(|x| x * x).collect::<Vec<_>>()
    );
}

#[test]
fn a_requeued_job_stays_running_and_its_result_counts() {
    let fake = Fake::new();
    let ex = executor(&fake, "requeue");
    let f = ex.submit(square, 6).unwrap();
    fake.set("100", "RUNNING", "n1");
    wait_for("Running", || f.running());
    // Preempted and requeued: pending again on Slurm's side, but the task
    // has started, so the future stays Running (and cannot be cancelled).
    for s in ["PREEMPTED", "REQUEUED", "PENDING", "RUNNING"] {
        fake.set("100", s, "n2");
        let before = ex.squeue_calls();
        wait_for("a round", || ex.squeue_calls() >= before + 2);
        assert_eq!(f.state(), FutureState::Running, "{s}");
    }
    assert!(!f.cancel());
    write_result(&ex, 0, value(&36u64));
    fake.set("100", "COMPLETED", "n2");
    assert_eq!(f.result_timeout(Duration::from_secs(10)).unwrap(), &36);
}

#[test]
fn huge_poll_intervals_do_not_kill_the_poller() {
    // `Duration::MAX` means "poll only when woken", not a panic in the
    // poller's deadline (which left every future pending for ever).
    let fake = Fake::new();
    let ex = executor_with(&fake, "huge-poll", |b| {
        b.poll_interval(Duration::MAX, Duration::MAX)
    });
    let f = ex.submit(square, 3).unwrap();
    write_result(&ex, 0, value(&9u64));
    // A submit wakes the poller for a round, which sees the first result.
    let g = ex.submit(square, 4).unwrap();
    let first = f.result_timeout(Duration::from_secs(10)).copied();
    if first.is_err() {
        // No poller: end the jobs without it, so the drop does not wait.
        ex.kill_workers();
    }
    assert_eq!(first.unwrap(), 9);
    write_result(&ex, 1, value(&16u64));
    // The shutdown wakes the poller too.
    ex.shutdown(true, false);
    assert_eq!(g.result_timeout(Duration::from_secs(10)).unwrap(), &16);
}

#[test]
fn shutdown_with_wait_from_a_done_callback_does_not_wait_for_the_poller() {
    // Done-callbacks run on the poller, which completes every other future:
    // a shutdown that waited there would wait for itself for ever.
    let fake = Fake::new();
    let ex = Arc::new(executor(&fake, "cb-shutdown"));
    let f = ex.submit(square, 3).unwrap();
    let other = ex.submit(square, 4).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let ex2 = Arc::clone(&ex);
    f.add_done_callback(move |_| {
        ex2.shutdown(true, false);
        tx.send(()).unwrap();
    });
    write_result(&ex, 0, value(&9u64));
    let returned = rx.recv_timeout(Duration::from_secs(10));
    if returned.is_err() {
        // The poller is stuck: end the jobs without it, so the drop does not wait.
        ex.kill_workers();
    }
    returned.expect("shutdown(wait) in a done-callback waited for the poller");
    assert!(ex.submit(square, 5).unwrap_err().is_shutdown());
    // The other task still completes.
    write_result(&ex, 1, value(&16u64));
    assert_eq!(other.result_timeout(Duration::from_secs(10)).unwrap(), &16);
}

#[test]
fn the_last_handle_dropped_in_a_done_callback_leaves_the_poller_running() {
    let fake = Fake::new();
    let dir = folder("cb-drop");
    let ex = Arc::new(
        fast_builder(&dir, fake.clone())
            .build_unchecked()
            .expect("a fake executor"),
    );
    let f = ex.submit(square, 3).unwrap();
    let other = ex.submit(square, 4).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
    let last = Arc::clone(&ex);
    f.add_done_callback(move |_| {
        // Held until the test has dropped its handle, so this one is the
        // last whatever the timing. (Without the wait, a poller that ran
        // the callback first left the test's drop as the last handle: a
        // shutdown(wait) for `other`, whose result comes only after it.)
        let _ = dropped_rx.recv_timeout(Duration::from_secs(10));
        drop(last);
        tx.send(()).unwrap();
    });
    let folder = ex.folder().to_owned();
    write_result(&ex, 0, value(&9u64));
    drop(ex); // not the last handle: the callback holds one
    dropped_tx.send(()).unwrap();
    let returned = rx.recv_timeout(Duration::from_secs(10));
    assert!(
        returned.is_ok(),
        "the drop in a done-callback waited for the poller"
    );
    write_result_in(&folder, 1, value(&16u64));
    assert_eq!(other.result_timeout(Duration::from_secs(10)).unwrap(), &16);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_done_callback_that_waits_for_another_task_does_not_stop_the_poller() {
    // Completing runs the future's done-callbacks on the completing thread:
    // on the poller, a callback waiting for another task of the executor
    // would wait for the poller, which alone can complete that task.
    let fake = Fake::new();
    let ex = executor(&fake, "cb-block");
    let f = ex.submit(square, 3).unwrap();
    let other = ex.submit(square, 4).unwrap();
    let waited = other.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    f.add_done_callback(move |_| {
        let seen = waited.result_timeout(Duration::from_secs(10)).copied();
        tx.send(seen.map_err(|e| e.to_string())).unwrap();
    });
    write_result(&ex, 0, value(&9u64));
    wait_for("the first future", || f.done());
    write_result(&ex, 1, value(&16u64));
    let seen = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(seen, Ok(16), "the callback's wait for the other task");
    // shutdown(wait) returns only once every future is done, callbacks too.
    ex.shutdown(true, false);
    assert!(other.done());
}

/// A `Fake` whose `squeue` waits while its gate is closed, as a slow
/// `squeue` on a big cluster keeps the poller inside it.
#[derive(Clone, Debug)]
struct GatedSqueue {
    fake: Fake,
    /// (closed, callers waiting in squeue)
    gate: Arc<(Mutex<(bool, usize)>, std::sync::Condvar)>,
}

impl GatedSqueue {
    fn set_closed(&self, closed: bool) {
        self.gate.0.lock().unwrap().0 = closed;
        self.gate.1.notify_all();
    }

    fn waiting(&self) -> usize {
        self.gate.0.lock().unwrap().1
    }
}

impl SlurmCli for GatedSqueue {
    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> io::Result<CommandOutput> {
        if program == "squeue" {
            let mut g = self.gate.0.lock().unwrap();
            g.1 += 1;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while g.0 && std::time::Instant::now() < deadline {
                g = self
                    .gate
                    .1
                    .wait_timeout(g, Duration::from_millis(20))
                    .unwrap()
                    .0;
            }
            g.1 -= 1;
        }
        self.fake.run(program, args, stdin)
    }
}

/// A cancel (here by `shutdown(cancel_futures)`) runs the future's
/// done-callbacks outside the lock the poller's `start` takes: a poller
/// that had listed the job as RUNNING before the cancel must not wait for
/// those callbacks, and completes the other running task meanwhile (found
/// by a probe: it stalled until the callback gave up).
#[test]
fn a_cancel_callback_does_not_stall_the_poller() {
    let fake = Fake::new();
    let cli = GatedSqueue {
        fake: fake.clone(),
        gate: Arc::default(),
    };
    let dir = folder("cancel-stall");
    let ex = Arc::new(
        fast_builder(&dir, cli.clone())
            .build_unchecked()
            .expect("a fake executor"),
    );
    let b = ex.submit(square, 4).unwrap(); // job 100
    fake.set("100", "RUNNING", "n1");
    wait_for("b running", || b.running());
    let a = ex.submit(square, 3).unwrap(); // job 101, pending for us
    cli.set_closed(true);
    fake.set("101", "RUNNING", "n1");
    wait_for("the poller inside squeue", || cli.waiting() > 0);
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    a.add_done_callback(move |_| {
        let _ = entered_tx.send(());
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
    });
    let closer = {
        let ex = Arc::clone(&ex);
        std::thread::spawn(move || ex.shutdown(false, true))
    };
    entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a's cancel ran its callback");
    // The poller goes on with the listing it had: a RUNNING, b RUNNING.
    cli.set_closed(false);
    write_result(&ex, 0, value(&16u64));
    fake.set("100", "COMPLETED", "n1");
    let got = b.result_timeout(Duration::from_secs(5)).copied();
    let _ = release_tx.send(());
    assert_eq!(
        got.ok(),
        Some(16),
        "the poller waited for a's cancel callback"
    );
    closer.join().unwrap();
    assert!(a.cancelled());
    drop(ex);
    let _ = fs::remove_dir_all(&dir);
}

/// An `scancel` that fails (the controller unreachable) is retried for the
/// jobs `squeue` still lists, instead of being forgotten: the jobs used to
/// stay queued after the executor was gone (found by a probe).
#[test]
fn a_failed_scancel_is_retried() {
    let fake = Fake::new();
    let ex = executor(&fake, "scancel-retry");
    let fs: Vec<_> = (0..2).map(|i| ex.submit(square, i).unwrap()).collect();
    fake.state().scancel_error = Some("scancel: error: Unable to contact slurm controller".into());
    ex.shutdown(false, true);
    assert!(fs.iter().all(|f| f.cancelled()));
    wait_for("a failed scancel", || !fake.calls("scancel").is_empty());
    assert_eq!(fake.live_jobs(), 2, "the failing scancel cancelled nothing");
    fake.state().scancel_error = None;
    wait_for("the retried scancel", || fake.live_jobs() == 0);
    ex.shutdown(true, false);
}

/// `kill_workers` with the controller unreachable: its `scancel --name`
/// fails, so every job, running or pending, goes to the retried cancels
/// (they used to stay for ever).
#[test]
fn kill_workers_retries_when_scancel_fails() {
    let fake = Fake::new();
    let ex = executor(&fake, "kill-retry");
    let running = ex.submit(square, 1).unwrap(); // job 100
    fake.set("100", "RUNNING", "n1");
    wait_for("the first task running", || running.running());
    let pending = ex.submit(square, 2).unwrap(); // job 101
    fake.state().scancel_error = Some("scancel: error: Unable to contact slurm controller".into());
    ex.kill_workers();
    assert!(pending.cancelled());
    wait_for("a retried scancel", || fake.calls("scancel").len() >= 2);
    assert_eq!(
        fake.live_jobs(),
        2,
        "the failing scancels cancelled nothing"
    );
    fake.state().scancel_error = None;
    wait_for("the retried scancel", || fake.live_jobs() == 0);
    let e = running
        .exception_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert!(e.is_cluster_job(), "{e}");
}
