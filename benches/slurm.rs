//! Per-task cost of the Slurm backends beside the local process pool.
//!
//! * `task_round_trip/local`: one tiny task (`submit` + `into_result`) on a
//!   warm one-worker local process pool;
//! * `task_round_trip/srun`: the same on a warm one-worker pool whose worker
//!   is a Slurm job step (`Launcher::srun()`);
//! * `batch_job/one`: one tiny task as one batch job (`SlurmExecutor`),
//!   submit to result (about a second: the scheduler's tick).
//!
//! Needs a cluster (`bash ci/slurm.sh start DIR; eval "$(bash ci/slurm.sh
//! env DIR)"`), then `cargo bench --bench slurm`; without one it prints a
//! line and measures only the local pool. `harness = false`: `main` calls
//! `process::init()` first (the workers and the jobs are this binary).

use std::time::Duration;

use concurrent_futures::process::{self, launcher::Launcher, ProcessPoolExecutor};
use concurrent_futures::slurm::{cluster_available, SlurmExecutor};
use criterion::Criterion;

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(2654435761).rotate_left(7)
}

fn round_trip(c: &mut Criterion, cluster: bool) {
    let mut g = c.benchmark_group("task_round_trip");
    let local = ProcessPoolExecutor::new(1).expect("a local pool");
    local.submit(tiny, 0).unwrap().into_result().unwrap();
    g.bench_function("local", |b| {
        b.iter(|| local.submit(tiny, 1).unwrap().into_result().unwrap())
    });
    drop(local);
    if cluster {
        let srun = ProcessPoolExecutor::builder()
            .max_workers(1)
            .launcher(Launcher::srun())
            .build()
            .expect("an srun pool");
        srun.submit(tiny, 0).unwrap().into_result().unwrap();
        g.bench_function("srun", |b| {
            b.iter(|| srun.submit(tiny, 1).unwrap().into_result().unwrap())
        });
    }
    g.finish();
}

fn batch_job(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("cf-bench-slurm-{}", std::process::id()));
    let ex = SlurmExecutor::builder(&dir)
        .build()
        .expect("a Slurm executor");
    let mut g = c.benchmark_group("batch_job");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("one", |b| {
        b.iter(|| ex.submit(tiny, 1).unwrap().into_result().unwrap())
    });
    g.finish();
    drop(ex);
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    process::init();
    let cluster = cluster_available();
    if !cluster {
        println!("slurm bench: no Slurm cluster here: only the local pool is measured");
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    round_trip(&mut c, cluster);
    if cluster {
        batch_job(&mut c);
    }
    c.final_summary();
}
