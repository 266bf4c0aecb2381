//! The process pool against its floor and its peers.
//!
//! * `process_round_trip` (first, timed by hand, not criterion): one tiny
//!   task (`submit` + `result()`) on a warm one-worker pool, the raw round
//!   trip of the same bytes (same codec, same framing, a socket pair to a
//!   re-executed child that decodes, calls, encodes: the floor), and
//!   Python's `ProcessPoolExecutor(1)`, measured in one run in alternating
//!   rounds, medians per trip. Written to
//!   `target/bench-python/process_round_trip.json`: the one source of the
//!   round-trip rows of `docs/benchmarks.md` and `docs/process-pool.md`
//!   (`benches/report.py`). `CF_BENCH_INTERLEAVED_ONLY=1` runs only this.
//! * `process_map_100k`: `map` over 100,000 small items with `chunksize(100)`,
//!   beside a sequential loop.
//! * `cpu_primes`: counting primes in 16 ranges on all cores: process pool,
//!   thread pool, sequential.
//!
//! `harness = false`: `main` calls `process::init()` first (the workers are
//! this binary), then runs the criterion groups. Python's numbers for the
//! same workloads: `benches/python/process_pool.py`.

// The interleaved driver's helpers are the thread-pool and wait benches'.
#[path = "support/rounds.rs"]
#[allow(dead_code)]
mod rounds;

use rounds::median;

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use concurrent_futures::process::{self, ProcessPoolExecutor};
use concurrent_futures::{MapOptions, ThreadPoolExecutor};
use criterion::{BenchmarkId, Criterion, Throughput};

const ECHO_ENV: &str = "CF_BENCH_ECHO_CHILD";

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(2654435761).rotate_left(7)
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

/// A frame as the pool sends it: u32 length, kind, u64 id, payload.
fn write_frame(w: &mut impl Write, buf: &mut Vec<u8>, id: u64, value: u64) {
    buf.clear();
    buf.extend_from_slice(&[0; 13]);
    rmp_serde::encode::write_named(&mut *buf, &value).unwrap();
    let len = (buf.len() - 13) as u32;
    buf[0..4].copy_from_slice(&len.to_le_bytes());
    buf[4] = 1;
    buf[5..13].copy_from_slice(&id.to_le_bytes());
    w.write_all(buf).unwrap();
}

fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
    let mut h = [0u8; 13];
    r.read_exact(&mut h).ok()?;
    let len = u32::from_le_bytes(h[0..4].try_into().unwrap()) as usize;
    buf.resize(len, 0);
    r.read_exact(buf).ok()?;
    let id = u64::from_le_bytes(h[5..13].try_into().unwrap());
    Some((id, rmp_serde::from_slice(buf).unwrap()))
}

/// The floor's child: decode, call, encode, on the socket it got as stdin.
fn echo_child() {
    // SAFETY: fd 0 is the socket the parent passed as our stdin, and
    // nothing else in this process uses it.
    let sock = unsafe { <UnixStream as std::os::fd::FromRawFd>::from_raw_fd(0) };
    let mut r = std::io::BufReader::with_capacity(64 * 1024, &sock);
    let (mut inb, mut outb) = (Vec::new(), Vec::new());
    while let Some((id, x)) = read_frame(&mut r, &mut inb) {
        write_frame(&mut &sock, &mut outb, id, tiny(x));
    }
}

struct Floor {
    child: Child,
    sock: std::io::BufReader<UnixStream>,
    writer: UnixStream,
    inb: Vec<u8>,
    outb: Vec<u8>,
}

impl Floor {
    fn start() -> Floor {
        let (mine, theirs) = UnixStream::pair().unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .env(ECHO_ENV, "1")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .spawn()
            .unwrap();
        let writer = mine.try_clone().unwrap();
        Floor {
            child,
            sock: std::io::BufReader::with_capacity(64 * 1024, mine),
            writer,
            inb: Vec::new(),
            outb: Vec::new(),
        }
    }

    fn round_trip(&mut self, x: u64) -> u64 {
        write_frame(&mut self.writer, &mut self.outb, 1, x);
        read_frame(&mut self.sock, &mut self.inb).unwrap().1
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// Per-trip times of `trips` calls of `f`, in nanoseconds.
fn per_trip(trips: u32, mut f: impl FnMut()) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..trips {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(trips)
}

/// Voluntary context switches of process `pid`'s main thread.
fn voluntary_switches(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Voluntary context switches of every thread of this process (each one a
/// sleep, so a wake-up to come).
fn own_switches() -> u64 {
    // SAFETY: getrusage writes only into the zeroed `rusage` we own.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        r.ru_nvcsw as u64
    }
}

/// Sleeps (voluntary context switches) per trip, this process's threads and
/// the child's, over `trips` calls of `f`.
fn switches_per_trip(trips: u32, child: u32, mut f: impl FnMut()) -> (f64, f64) {
    let (me, them) = (own_switches(), voluntary_switches(child));
    for _ in 0..trips {
        f();
    }
    let per = |a: u64, b: u64| (b - a) as f64 / f64::from(trips);
    (
        per(me, own_switches()),
        per(them, voluntary_switches(child)),
    )
}

/// Python's round trip (`benches/python/process_pool.py --round-trip`),
/// in nanoseconds, if python3 is there.
fn python_round_trip() -> Option<f64> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/process_pool.py"
    );
    let out = Command::new("python3")
        .args([script, "--round-trip"])
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// The pool, its floor and Python in alternating rounds (medians): the
/// ratios the docs quote come from this one run.
fn round_trip_interleaved() {
    const ROUNDS: usize = 9;
    const TRIPS: u32 = 3000;
    let ex = ProcessPoolExecutor::new(1).unwrap();
    let mut floor = Floor::start();
    for _ in 0..1000 {
        ex.submit(tiny, 1).unwrap().into_result().unwrap();
        floor.round_trip(1);
    }
    let (mut pool_ns, mut floor_ns, mut python_ns) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        pool_ns.push(per_trip(TRIPS, || {
            black_box(*ex.submit(tiny, black_box(7)).unwrap().result().unwrap());
        }));
        floor_ns.push(per_trip(TRIPS, || {
            black_box(floor.round_trip(black_box(7)));
        }));
        if round % 3 == 1 {
            python_ns.extend(python_round_trip());
        }
    }
    let worker = ex
        .submit(|_: ()| std::process::id(), ())
        .unwrap()
        .into_result()
        .unwrap();
    let (pool_parent, pool_worker) = switches_per_trip(TRIPS, worker, || {
        black_box(*ex.submit(tiny, black_box(7)).unwrap().result().unwrap());
    });
    let floor_child = floor.child.id();
    let (floor_parent, floor_kid) = switches_per_trip(TRIPS, floor_child, || {
        black_box(floor.round_trip(black_box(7)));
    });
    println!(
        "process_round_trip: sleeps per trip (voluntary context switches): pool {pool_parent:.2} \
         in the parent + {pool_worker:.2} in the worker, floor {floor_parent:.2} + {floor_kid:.2}"
    );
    drop(floor);
    drop(ex);
    let (pool, floor) = (median(pool_ns), median(floor_ns));
    let mut rows = vec![
        ("pool_submit_result", pool, ROUNDS),
        ("raw_socket_floor", floor, ROUNDS),
    ];
    let python = (!python_ns.is_empty()).then(|| {
        let runs = python_ns.len();
        (median(python_ns), runs)
    });
    if let Some((py, runs)) = python {
        rows.push(("python_processes", py, runs));
    }
    println!(
        "process_round_trip: pool {:.2} us, floor {:.2} us ({:.2}x the floor){}",
        pool / 1e3,
        floor / 1e3,
        pool / floor,
        python.map_or_else(String::new, |(py, _)| format!(
            ", python {:.2} us ({:.1}x faster than Python)",
            py / 1e3,
            py / pool
        ))
    );
    let rows: Vec<rounds::Row> = rows
        .iter()
        .map(|&(name, ns, runs)| rounds::Row {
            name,
            ns,
            span: None,
            runs,
        })
        .collect();
    rounds::write("process_round_trip", &rows);
}

fn map_100k(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_map_100k");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    let ex = ProcessPoolExecutor::builder().build().unwrap();
    let opts = MapOptions::default().chunksize(100);
    // Warm: every worker started.
    let _ = ex.map_with(tiny, 0..10_000u64, opts).unwrap().count();
    g.bench_function("pool_map_chunksize_100", |b| {
        b.iter(|| {
            ex.map_with(tiny, 0..100_000u64, opts)
                .unwrap()
                .map(|r| r.unwrap())
                .fold(0u64, u64::wrapping_add)
        })
    });
    g.bench_function("sequential", |b| {
        b.iter(|| {
            (0..100_000u64)
                .map(|x| tiny(black_box(x)))
                .fold(0u64, u64::wrapping_add)
        })
    });
    g.finish();
}

fn cpu_primes(c: &mut Criterion) {
    let mut g = c.benchmark_group("cpu_primes");
    g.sample_size(10);
    let ranges: Vec<(u64, u64)> = (0..16u64).map(|i| (i * 50_000, (i + 1) * 50_000)).collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pp = ProcessPoolExecutor::new(cores).unwrap();
    let tp = ThreadPoolExecutor::new(cores).unwrap();
    let _ = pp.map(count_primes, ranges.clone()).unwrap().count();
    let id = BenchmarkId::new("process_pool", format!("16x50k_on_{cores}_cores"));
    g.bench_with_input(id.clone(), &ranges, |b, r| {
        b.iter(|| {
            pp.map(count_primes, r.clone())
                .unwrap()
                .map(|x| x.unwrap())
                .sum::<u64>()
        })
    });
    let tid = BenchmarkId::new("thread_pool", format!("16x50k_on_{cores}_cores"));
    g.bench_with_input(tid, &ranges, |b, r| {
        b.iter(|| {
            concurrent_futures::Executor::map(&tp, count_primes, r.clone(), MapOptions::default())
                .unwrap()
                .map(|x| x.unwrap())
                .sum::<u64>()
        })
    });
    g.bench_with_input(BenchmarkId::new("sequential", "16x50k"), &ranges, |b, r| {
        b.iter(|| r.iter().copied().map(count_primes).sum::<u64>())
    });
    g.finish();
}

fn main() {
    process::init();
    if std::env::var_os(ECHO_ENV).is_some() {
        echo_child();
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    round_trip_interleaved();
    if std::env::var_os("CF_BENCH_INTERLEAVED_ONLY").is_some() {
        return;
    }
    map_100k(&mut c);
    cpu_primes(&mut c);
    c.final_summary();
}
