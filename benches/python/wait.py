"""Python's concurrent.futures.wait and as_completed over 100,000 futures:
the peers of benches/wait.rs, same cases, same sizes.

Run by hand: python3 benches/python/wait.py [--json PATH] (benches/run.sh does)
Prints the median of several runs per case, in milliseconds.
"""
import statistics
import threading
import time
from concurrent.futures import (ALL_COMPLETED, FIRST_COMPLETED, Future,
                                as_completed, wait)

N = 100_000
RUNS = 7


def futures():
    return [Future() for _ in range(N)]


def complete_on_a_thread(fs):
    def run():
        for i, f in enumerate(fs):
            f.set_result(i)
    t = threading.Thread(target=run)
    t.start()
    return t


def done_futures():
    fs = futures()
    for i, f in enumerate(fs):
        f.set_result(i)
    return fs


def fan_in_wait(return_when):
    fs = futures()
    start = time.perf_counter()
    t = complete_on_a_thread(fs)
    done, _ = wait(fs, return_when=return_when)
    took = time.perf_counter() - start
    assert done
    t.join()
    return took


def fan_in_as_completed():
    fs = futures()
    start = time.perf_counter()
    t = complete_on_a_thread(fs)
    n = sum(1 for _ in as_completed(fs))
    t.join()
    took = time.perf_counter() - start
    assert n == N
    return took


def done_wait(return_when):
    fs = done_futures()
    start = time.perf_counter()
    done, _ = wait(fs, return_when=return_when)
    took = time.perf_counter() - start
    assert len(done) == N
    return took


def done_as_completed():
    fs = done_futures()
    start = time.perf_counter()
    n = sum(1 for _ in as_completed(fs))
    took = time.perf_counter() - start
    assert n == N
    return took


CASES = [
    ("fan_in_100k/wait_all_completed", lambda: fan_in_wait(ALL_COMPLETED)),
    ("fan_in_100k/wait_first_completed", lambda: fan_in_wait(FIRST_COMPLETED)),
    ("fan_in_100k/as_completed", fan_in_as_completed),
    ("already_done_100k/wait_all_completed", lambda: done_wait(ALL_COMPLETED)),
    ("already_done_100k/wait_first_completed", lambda: done_wait(FIRST_COMPLETED)),
    ("already_done_100k/as_completed", done_as_completed),
]

if __name__ == "__main__":
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _emit import emit
    emit([(name, statistics.median([case() for _ in range(RUNS)]), N, RUNS)
          for name, case in CASES])
