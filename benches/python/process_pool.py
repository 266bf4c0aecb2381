"""Python's ProcessPoolExecutor on the workloads of benches/process_pool.rs.

Run by hand:  python3 benches/python/process_pool.py [--json PATH] (benches/run.sh does)
Prints the median of several timed runs for each workload:
  * tiny task round trip: submit(tiny, 7).result() on a warm 1-worker pool,
    only with --round-trip (benches/process_pool.rs runs it between its own
    rounds, so the pool, its floor and Python are measured in one run)
  * map over 100,000 small items with chunksize=100 (default max_workers)
  * counting primes in 16 ranges of 50,000 on all cores, and sequentially
"""

import os
import sys
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

MASK = (1 << 64) - 1


def tiny(x):
    x = (x * 2654435761) & MASK
    return ((x << 7) | (x >> 57)) & MASK


def is_prime(n):
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def count_primes(r):
    lo, hi = r
    return sum(1 for n in range(lo, hi) if is_prime(n))


def median_of(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def round_trip_only():
    """Prints the median round trip in ns (for benches/process_pool.rs)."""
    with ProcessPoolExecutor(1) as ex:
        ex.submit(tiny, 1).result()
        n = 2000
        per = median_of(lambda: [ex.submit(tiny, 7).result() for _ in range(n)], 3) / n
    print(f"{per * 1e9:.1f}")


def main():
    if "--round-trip" in sys.argv:
        round_trip_only()
        return
    cores = os.cpu_count()
    rows = []
    with ProcessPoolExecutor() as ex:
        list(ex.map(tiny, range(10_000), chunksize=100))
        t = median_of(lambda: list(ex.map(tiny, range(100_000), chunksize=100)), 5)
        rows.append(("process_map_100k/processes_chunksize_100", t, 100_000, 5))
    ranges = [(i * 50_000, (i + 1) * 50_000) for i in range(16)]
    with ProcessPoolExecutor(cores) as ex:
        list(ex.map(count_primes, ranges))
        t = median_of(lambda: sum(ex.map(count_primes, ranges)), 3)
        rows.append((f"cpu_primes/processes_16x50k_on_{cores}_cores", t, None, 3))
    t = median_of(lambda: sum(map(count_primes, ranges)), 3)
    rows.append(("cpu_primes/sequential_16x50k", t, None, 3))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _emit import emit
    emit(rows)


if __name__ == "__main__":
    main()
