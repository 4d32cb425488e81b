"""Long constructions release the GIL and stop within a second of Ctrl-C (SIGINT)."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys, ramcore
print("start", flush=True)
try:
    ramcore.{call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(
    "call",
    [
        "lps_graph(5, 277, threads=1)",
        "biregular_graph(4001, 20, threads=1)",
        "biregular_graph(3, 200_000_000, threads=1)",  # 9 rows of 2e8 entries: split by entries
        "PGL2(661).elements(threads=1)",
        "certify(ramcore.lps_operator(5, 149), threads=1)",  # Lanczos, matrix-free
        # JL sketch: thousands of CG solves on 113k vertices
        "graph_resistance(ramcore.lps_graph(5, 61), method='sketch', epsilon=0.05, threads=1)",
    ],
)
def test_ctrl_c_raises_keyboard_interrupt_quickly(call):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(call=call)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "start"
    time.sleep(0.4)  # well inside the multi-second construction
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    elapsed = time.perf_counter() - sent
    assert "interrupted" in out, (out, err)
    assert proc.returncode == 3
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


def test_gil_released_during_construction():
    """Another Python thread keeps running while the core builds a graph."""
    import threading

    import ramcore

    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    ramcore.lps_graph(5, 197, threads=1)  # ~1 s of work in the core
    done.set()
    t.join()
    assert ticks > 50  # with the GIL held throughout, the ticker would barely have run
