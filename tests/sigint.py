"""Ctrl-C during a long core call, checked by its mechanism rather than by the wall clock.

`interrupt_child(setup, call, after_cpu)` runs `setup` then `call` in a fresh interpreter. A helper
thread of that interpreter sends SIGINT to it once the process has used `after_cpu` CPU-seconds
since the call began (well inside the multi-second construction, whatever else the machine is
doing), and the SIGINT handler records the process CPU time and the Python frame it ran in. The
returned `Stop` says whether KeyboardInterrupt came out of the call, how much CPU the process spent
between the signal and its handler, where the handler ran, and whether any thread was still
burning CPU after the exception surfaced.

Why CPU time: the core polls for Ctrl-C from the calling thread about every 50 ms of wall time
(parallel_for) or every few million steps (sequential loops), so the CPU spent between the signal
and the handler is a few tens of milliseconds however loaded the machine is; a call that never
polled would run on for seconds of CPU. A wall-clock bound instead grows with the load
(test_interrupt failed in CI at 1.09 s against a 1 s bound).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import pytest

posix_signals = pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals"
)

CHILD = """
import json, os, signal, sys, threading, time
{setup}
marks = {{}}


def on_sigint(signum, frame):
    marks["handled"] = time.process_time()
    stack = []
    while frame is not None:  # innermost first: the handler may run in numpy called by ramcore
        stack.append(frame.f_code.co_filename)
        frame = frame.f_back
    marks["frame"] = stack[0] if stack else ""
    marks["stack"] = stack
    raise KeyboardInterrupt


def send_after(cpu_seconds):
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        time.sleep(0.005)
    marks["sent"] = time.process_time()
    os.kill(os.getpid(), signal.SIGINT)


signal.signal(signal.SIGINT, on_sigint)
threading.Thread(target=send_after, args=({after_cpu},), daemon=True).start()
try:
    {call}
except KeyboardInterrupt:
    stopped = time.process_time()
    time.sleep(0.5)  # wall time in which a worker left running would keep using CPU
    marks["busy_after"] = time.process_time() - stopped
    print(json.dumps(marks), flush=True)
    sys.exit(3)
print(json.dumps(marks), flush=True)
"""


@dataclass(frozen=True)
class Stop:
    returncode: int
    marks: dict[str, float | str]
    stderr: str

    @property
    def interrupted(self) -> bool:
        return self.returncode == 3 and "handled" in self.marks and "sent" in self.marks

    @property
    def cpu_to_handler(self) -> float:
        """CPU-seconds the process used between SIGINT and its handler (run by the core's poll)."""
        return float(self.marks["handled"]) - float(self.marks["sent"])


def interrupt_child(setup: str, call: str, after_cpu: float, timeout: float = 300) -> Stop:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(setup=setup, call=call, after_cpu=after_cpu)],
        capture_output=True, text=True, timeout=timeout,  # a hang guard only: never hit when it works
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    return Stop(proc.returncode, json.loads(lines[-1]) if lines else {}, proc.stderr)


def assert_interrupted_in_core(stop: Stop, max_cpu: float = 0.5) -> None:
    """KeyboardInterrupt came out of the call, raised by a handler that ran while ramcore was on the
    stack (not after the call returned to the script; the innermost frame may be numpy code that
    ramcore called between two core loops), within `max_cpu` CPU-seconds of the signal (about 0.05 s
    when the polling works: 10x margin), and no thread kept computing after."""
    assert stop.interrupted, (stop.returncode, stop.marks, stop.stderr[-2000:])
    inside = [f for f in stop.marks.get("stack", []) if f"{os.sep}ramcore{os.sep}" in str(f)]
    assert inside, stop.marks
    assert stop.cpu_to_handler < max_cpu, f"{stop.cpu_to_handler:.2f} CPU-s from SIGINT to the handler"
    assert float(stop.marks["busy_after"]) < 0.05, stop.marks  # the workers stopped with the call
