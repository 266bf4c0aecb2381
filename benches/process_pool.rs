//! The process pool against its floor and its peers.
//!
//! * `process_round_trip`: one tiny task (`submit` + `result`, and
//!   `submit` + `into_result`) on a warm one-worker pool, beside the raw round trip of the same bytes (same
//!   codec, same framing, a socket pair to a re-executed child that decodes,
//!   calls, encodes): the floor.
//! * `process_map_100k`: `map` over 100,000 small items with `chunksize(100)`,
//!   beside a sequential loop.
//! * `cpu_primes`: counting primes in 16 ranges on all cores: process pool,
//!   thread pool, sequential.
//!
//! `harness = false`: `main` calls `process::init()` first (the workers are
//! this binary), then runs the criterion groups. Python's numbers for the
//! same workloads: `benches/python/process_pool.py`.

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

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_round_trip");
    let ex = ProcessPoolExecutor::new(1).unwrap();
    ex.submit(tiny, 1).unwrap().into_result().unwrap();
    // `result()` borrows the value; `into_result()` also waits until the
    // pool has dropped its handle on the future (a second wake-up).
    g.bench_function("pool_submit_result", |b| {
        b.iter(|| *ex.submit(tiny, black_box(7)).unwrap().result().unwrap())
    });
    g.bench_function("pool_submit_into_result", |b| {
        b.iter(|| {
            ex.submit(tiny, black_box(7))
                .unwrap()
                .into_result()
                .unwrap()
        })
    });
    let mut floor = Floor::start();
    g.bench_function("raw_socket_floor", |b| {
        b.iter(|| floor.round_trip(black_box(7)))
    });
    g.finish();
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
    round_trip(&mut c);
    map_100k(&mut c);
    cpu_primes(&mut c);
    c.final_summary();
}
