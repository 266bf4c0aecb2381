//! The same tasks on a Slurm cluster, through both backends, beside the
//! local process pool.
//!
//! ```text
//! bash ci/slurm.sh install                 # Debian's packages, as root
//! bash ci/slurm.sh start /tmp/cfs          # a one-node cluster on loopback
//! eval "$(bash ci/slurm.sh env /tmp/cfs)"  # SLURM_CONF=...
//! cargo run --release --example slurm
//! bash ci/slurm.sh stop /tmp/cfs
//! ```
//!
//! It prints, for each task, its Slurm job id and node, then a summary with
//! the per-task cost of each backend measured in this run. On a real
//! cluster set `CF_SLURM_FOLDER` to a folder every node sees (default: the
//! temporary directory, enough for one node). Without a reachable cluster
//! it exits with status 2 and says how to start the local one.

use std::time::{Duration, Instant};

use concurrent_futures::process::{self, launcher::Launcher};
use concurrent_futures::slurm::{cluster_available, SlurmExecutor};
use concurrent_futures::{MapOptions, ProcessPoolExecutor};

/// A task that says where it ran: (Slurm job id, node, pid, its result).
fn collatz_steps(n: u64) -> (String, String, u32, u64) {
    let mut x = n;
    let mut steps = 0;
    while x != 1 {
        x = if x & 1 == 0 { x / 2 } else { 3 * x + 1 };
        steps += 1;
    }
    (
        std::env::var("SLURM_JOB_ID").unwrap_or_else(|_| "-".into()),
        std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| "local".into()),
        std::process::id(),
        steps,
    )
}

fn nothing(x: u32) -> u32 {
    x
}

/// The median per-task round trip of `n` sequential trivial tasks on `ex`
/// (after one warm-up task, so worker start-up is not counted).
fn round_trip(ex: &ProcessPoolExecutor, n: u32) -> Duration {
    ex.submit(nothing, 0).unwrap().into_result().unwrap();
    let mut times: Vec<Duration> = (0..n)
        .map(|i| {
            let t = Instant::now();
            ex.submit(nothing, i).unwrap().into_result().unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    process::init();
    if !cluster_available() {
        eprintln!(
            "no Slurm cluster answers here (SLURM_CONF unset, or sinfo fails).\n\
             Start the local one-node cluster (as root):\n  \
             bash ci/slurm.sh install\n  \
             bash ci/slurm.sh start /tmp/cfs\n  \
             eval \"$(bash ci/slurm.sh env /tmp/cfs)\"\n\
             then run this example again; stop it with: bash ci/slurm.sh stop /tmp/cfs"
        );
        std::process::exit(2);
    }
    let given = std::env::var_os("CF_SLURM_FOLDER").map(std::path::PathBuf::from);
    let folder = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("cf-slurm-example-{}", std::process::id()))
    });

    // Part 2: batch jobs.
    println!("== SlurmExecutor: one batch job per task ==");
    let batch = SlurmExecutor::builder(&folder)
        .time_limit(Duration::from_secs(120))
        .build()
        .expect("a Slurm executor");
    let t0 = Instant::now();
    let jobs: Vec<_> = [27u64, 97, 871, 6171, 77031, 837_799]
        .into_iter()
        .map(|n| (n, batch.submit_job(collatz_steps, n).expect("sbatch")))
        .collect();
    let mut batch_failed = 0;
    for (n, job) in &jobs {
        match job.future().result_timeout(Duration::from_secs(120)) {
            Ok((jid, node, pid, steps)) => println!(
                "  collatz({n:>6}) = {steps:>3} steps   job {jid:>6} (submitted as {}) on {node}, pid {pid}",
                job.job_id()
            ),
            Err(e) => {
                batch_failed += 1;
                println!("  collatz({n:>6}) failed: {e} (job {})", job.job_id());
            }
        }
    }
    let batch_jobs_time = t0.elapsed();
    let t1 = Instant::now();
    let mapped = batch
        .map_with(
            collatz_steps,
            1..=1000u64,
            MapOptions::default()
                .chunksize(100)
                .timeout(Duration::from_secs(120)),
        )
        .expect("sbatch --array")
        .into_result();
    let map_time = t1.elapsed();
    let map_ok = match &mapped {
        Ok(v) => {
            let arrays: std::collections::BTreeSet<&str> = v.iter().map(|r| r.0.as_str()).collect();
            println!(
                "  map over 1..=1000 in 10 array tasks: {} results, max {} steps, {} distinct jobs, {:.2} s",
                v.len(),
                v.iter().map(|r| r.3).max().unwrap_or(0),
                arrays.len(),
                map_time.as_secs_f64()
            );
            true
        }
        Err(e) => {
            println!("  map failed: {e}");
            false
        }
    };
    // Per-task latency of one batch job at a time: submit to result.
    let mut lat: Vec<Duration> = (0..5)
        .map(|i| {
            let t = Instant::now();
            batch.submit(nothing, i).unwrap().into_result().unwrap();
            t.elapsed()
        })
        .collect();
    lat.sort();
    let batch_latency = lat[lat.len() / 2];
    // Throughput: 50 separate jobs at once, submit to the last result.
    let t5 = Instant::now();
    let many: Vec<_> = (0..50).map(|i| batch.submit(nothing, i).unwrap()).collect();
    let many_ok = many
        .into_iter()
        .all(|f| f.result_timeout(Duration::from_secs(120)).is_ok());
    let batch_50 = t5.elapsed();
    drop(batch);

    if given.is_none() {
        // The executable's copy and any logs of failed jobs.
        let _ = std::fs::remove_dir_all(&folder);
    }

    // Part 1: process-pool workers as srun job steps.
    println!("== ProcessPoolExecutor with Launcher::srun(): workers are job steps ==");
    let t2 = Instant::now();
    let srun = ProcessPoolExecutor::builder()
        .max_workers(2)
        .launcher(Launcher::srun())
        .build()
        .expect("an srun pool");
    let futures: Vec<_> = [27u64, 97, 871, 6171]
        .into_iter()
        .map(|n| (n, srun.submit(collatz_steps, n).expect("submit")))
        .collect();
    let mut srun_failed = 0;
    for (n, f) in &futures {
        match f.result_timeout(Duration::from_secs(60)) {
            Ok((jid, node, pid, steps)) => {
                println!("  collatz({n:>6}) = {steps:>3} steps   job {jid:>6} on {node}, worker pid {pid}")
            }
            Err(e) => {
                srun_failed += 1;
                println!("  collatz({n:>6}) failed: {e}");
            }
        }
    }
    let srun_first = t2.elapsed();
    let srun_rt = round_trip(&srun, 200);
    drop(srun);
    // One worker start: srun, --bcast of the executable, the bridge's hash
    // check, the worker's handshake, one task.
    let t3 = Instant::now();
    let one = ProcessPoolExecutor::builder()
        .max_workers(1)
        .launcher(Launcher::srun())
        .build()
        .expect("an srun pool");
    one.submit(nothing, 1).unwrap().into_result().unwrap();
    let srun_start = t3.elapsed();
    drop(one);
    let t4 = Instant::now();
    let one = ProcessPoolExecutor::new(1).expect("a local pool");
    one.submit(nothing, 1).unwrap().into_result().unwrap();
    let local_start = t4.elapsed();
    drop(one);

    let local = ProcessPoolExecutor::new(2).expect("a local pool");
    let local_rt = round_trip(&local, 200);
    drop(local);

    println!("== summary ==");
    println!(
        "  batch: {} jobs in {:.2} s ({} failed); map of 1,000 items: {}",
        jobs.len(),
        batch_jobs_time.as_secs_f64(),
        batch_failed,
        if map_ok { "ok" } else { "FAILED" }
    );
    println!(
        "  srun pool: first 4 results (2 worker starts included) in {:.3} s ({} failed)",
        srun_first.as_secs_f64(),
        srun_failed
    );
    println!(
        "  per-task cost: batch job {:.0} ms (submit to result, one at a time, median of 5); \
         srun worker {:.3} ms, local worker {:.3} ms (round trips, medians of 200)",
        batch_latency.as_secs_f64() * 1000.0,
        srun_rt.as_secs_f64() * 1000.0,
        local_rt.as_secs_f64() * 1000.0
    );
    println!(
        "  batch throughput: 50 separate jobs at once in {:.2} s ({:.1} jobs/s{})",
        batch_50.as_secs_f64(),
        50.0 / batch_50.as_secs_f64(),
        if many_ok { "" } else { ", SOME FAILED" }
    );
    println!(
        "  worker start to first result: srun {:.0} ms, local {:.1} ms",
        srun_start.as_secs_f64() * 1000.0,
        local_start.as_secs_f64() * 1000.0
    );
    if batch_failed + srun_failed > 0 || !map_ok || !many_ok {
        std::process::exit(1);
    }
}
