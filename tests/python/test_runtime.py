"""Reference counts (no leak over 100 solves), the GIL released during a solve, and Ctrl-C
stopping a population solve of problems/relu_small.yaml within a second."""
import gc
import os
import signal
import sys
import threading
import time

import pytest

import akt
from conftest import QUICKSTART, QUICK_REDUCED, RELU_REDUCED, RELU_SMALL


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def every_path(i, splits):
    """One call of the package through one of its paths (solve, arrays, kernels and trajectory,
    data, sweep, compare and train, errors)."""
    kind = i % 7
    if kind == 0:
        akt.solve(QUICKSTART, **QUICK_REDUCED).to_dict()
    elif kind == 1:
        akt.solve(QUICKSTART, data=splits, **QUICK_REDUCED)
    elif kind == 2:
        s = akt.solve(QUICKSTART, kernels=["target"], trajectory=True, **QUICK_REDUCED)
        assert s["joint"].kernels["Phi"].shape == (1, 25, 25)
    elif kind == 3:
        akt.data(QUICKSTART, **QUICK_REDUCED)
    elif kind == 4:
        akt.sweep(QUICKSTART, {"data.alignment": [0.2, 0.8]}, progress=lambda *a: None,
                  **QUICK_REDUCED)
    elif kind == 5:
        akt.compare(QUICKSTART, widths=[4, 8], seeds=2, **TINY)
        akt.train(QUICKSTART, width=4, seeds=1, **TINY)
    else:
        with pytest.raises(akt.Error):
            akt.solve(QUICKSTART, **QUICK_REDUCED, **{"solver.min_step": 1})
        with pytest.raises(akt.InputError):
            akt.solve(QUICKSTART, **{"data.nois": 1})


TINY = {"data.dim": 5, "data.source.samples": 10, "data.target.samples": 5,
        "data.test.samples": 20, "source.time": 0.3, "target.time": 0.3}


def leak_check(solves, margin):
    splits = akt.data(QUICKSTART, **QUICK_REDUCED)
    for i in range(25):          # warm up: allocator pools, numpy caches
        every_path(i, splits)
    gc.collect()
    blocks, before = sys.getallocatedblocks(), rss_bytes()
    for i in range(solves):
        every_path(i, splits)
    gc.collect()
    grown, objects = rss_bytes() - before, sys.getallocatedblocks() - blocks
    # one leaked copy of the data would be about 170 kB a solve; one leaked Python object a
    # call is `solves` blocks (pytest itself keeps a dozen or so)
    assert grown < margin, f"RSS grew by {grown} bytes over {solves} solves"
    assert objects < 50, f"{objects} more Python blocks after {solves} solves"


def test_no_leak_over_100_solves():
    leak_check(100, 1 << 20)


@pytest.mark.long
def test_no_leak_over_1000_solves():
    leak_check(1000, 2 << 20)


@pytest.mark.long
def test_200_full_quickstart_solves_rss_stable():
    for _ in range(10):
        akt.solve()
    before = rss_bytes()
    for _ in range(200):
        akt.solve()
    assert rss_bytes() - before < 2 << 20


def test_gil_released_during_a_solve():
    """A Python thread counts while the main thread solves a population problem."""
    ticks = []
    running = threading.Event()
    done = threading.Event()

    def count():
        running.set()
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    running.wait()
    started = time.monotonic()
    akt.solve(RELU_SMALL, **{**RELU_REDUCED, "source.time": 4, "solver.step_tolerance": 1e-4})
    finished = time.monotonic()
    done.set()
    thread.join()
    during = [t for t in ticks if started <= t <= finished]
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert finished - started > 0.3
    assert len(during) > 50, f"{len(during)} ticks in a {finished - started:.2f} s solve"
    assert max(gaps) < 0.25 * (finished - started) + 0.1


def test_keyboard_interrupt_within_a_second():
    """SIGINT one second into a population solve of relu_small (several seconds of work)."""
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(1.0, interrupt)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            akt.solve(RELU_SMALL, **{"solver.neurons": 256, "solver.replicas": 2})
    finally:
        timer.cancel()
    stopped = time.monotonic()
    assert sent, "the solve ended before the interrupt"
    assert stopped - sent[0] < 1.0, f"stopped {stopped - sent[0]:.2f} s after SIGINT"
    assert stopped - started < 2.5
    # the package still works afterwards
    assert akt.solve(QUICKSTART, **QUICK_REDUCED)["joint"].converged


def test_keyboard_interrupt_with_an_observer():
    """The same while kernels and trajectories are collected (replicas one at a time)."""
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            akt.solve(RELU_SMALL, trajectory=True,
                      **{"solver.neurons": 256, "solver.replicas": 2})
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.5
