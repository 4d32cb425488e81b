"""Long constructions release the GIL and stop promptly on Ctrl-C (SIGINT).

Checked by the mechanism (see sigint.py): KeyboardInterrupt out of the call, raised by the handler
that the core's poll ran, a few tens of CPU-milliseconds after the signal, no worker left running;
not by a wall-clock bound, which a loaded machine stretches."""

import threading
import time

import pytest

import ramcore
from sigint import assert_interrupted_in_core, interrupt_child, posix_signals


@posix_signals
@pytest.mark.parametrize(
    "call",
    [
        "ramcore.biregular_graph(4001, 20, threads=1)",
        "ramcore.biregular_graph(3, 200_000_000, threads=1)",  # 9 rows of 2e8 entries: split by entries
        "ramcore.PGL2(661).elements(threads=1)",
        "ramcore.certify(ramcore.lps_operator(5, 149), method='two-pass', threads=1)",  # matrix-free
        # blocks of the representations: batched Lanczos in the caller's thread or on a pool, and
        # dense blocks on a pool (each worker stops at its next step; none is left running)
        "ramcore.certify(ramcore.lps_operator(5, 1009), method='representations', threads=1)",
        "ramcore.certify(ramcore.lps_operator(5, 1009), method='representations', threads=2)",
        "ramcore.lps_spectrum(5, 509, threads=2)",
        # JL sketch: thousands of CG solves on 113k vertices
        "ramcore.graph_resistance(ramcore.lps_graph(5, 61), method='sketch', epsilon=0.05, threads=1)",
        # the same loops reporting their progress: the poll that shows it also checks for Ctrl-C
        "ramcore.certify(ramcore.lps_operator(5, 149), method='two-pass', threads=1, progress=True)",
        "ramcore.graph_resistance(ramcore.lps_graph(5, 61), method='sketch', epsilon=0.05, threads=1,"
        " progress=True)",
    ],
)
def test_ctrl_c_raises_keyboard_interrupt_quickly(call):
    # 0.3 CPU-s into a construction of several CPU-seconds
    assert_interrupted_in_core(interrupt_child("import ramcore", call, after_cpu=0.3))


@posix_signals
def test_ctrl_c_stops_lps_construction():
    # The LPS build runs at about the speed of writing its CSR: these 196 M entries (0.8 GB) take
    # 0.1-0.3 CPU-s, so the signal comes 0.05 CPU-s in; the core polls every 50 ms of wall time.
    call = "ramcore.lps_graph(13, 241, threads=1)"
    assert_interrupted_in_core(interrupt_child("import ramcore", call, after_cpu=0.05))


def test_gil_released_during_construction():
    """Another Python thread keeps running while the core builds a graph."""
    ticks = 0
    inside = threading.Event()
    done = threading.Event()

    def count():
        nonlocal ticks
        inside.wait()
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    inside.set()
    ramcore.lps_graph(13, 241, threads=1)  # 196 M entries: 0.1-0.3 s in the core
    done.set()
    t.join()
    # With the GIL held throughout the call, the ticker could not run during it (a tick or two at the
    # edges); released, it ticks about once a millisecond of the call's >= 0.1 s: 2x the bound or more.
    assert ticks > 50
