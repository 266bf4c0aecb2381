"""The thread pool benchmark's first workload in Python's concurrent.futures.

Submit 100,000 no-op tasks to a ThreadPoolExecutor with two workers, then
take every result; the same workload as `submit_result_100k` in
benches/thread_pool.rs. Run by hand:

    python3 benches/python/thread_pool.py [--json PATH]

Prints the median of the rounds, per task; benches/run.sh passes --json so
benches/report.py puts it beside the Rust peers.
"""

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TASKS = 100_000
WORKERS = 2
ROUNDS = 7


def noop(i):
    return i


def one_round(executor):
    start = time.perf_counter()
    futures = [executor.submit(noop, i) for i in range(TASKS)]
    total = sum(f.result() for f in futures)
    elapsed = time.perf_counter() - start
    assert total == TASKS * (TASKS - 1) // 2
    return elapsed


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as executor:
        one_round(executor)  # warm-up
        times = [one_round(executor) for _ in range(ROUNDS)]
    median = statistics.median(times)
    print(f"python {sys.version.split()[0]}: submit+result of {TASKS} no-op tasks, "
          f"{WORKERS} workers")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _emit import emit
    emit([("submit_result_100k/threads", median, TASKS, ROUNDS)])


if __name__ == "__main__":
    main()
