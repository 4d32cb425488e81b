"""Run every benchmark and write the results tables.

    python benchmarks/run.py                 # all cases; tables to benchmarks/results.md and stdout
    python benchmarks/run.py --quick         # the smaller cases only
    python benchmarks/run.py --only spectral --docs     # one module; refresh its table in docs/benchmarks.md

Each case runs in its own interpreter. A case is `prepare(*args) -> work`: preparation (building
the graph a solver is timed on, say) is not timed; `work()` is timed over --repeat runs (the
best is `seconds`, the median `median_seconds`), and its peak memory is the growth of the process's
maximum resident set during the first run (the high-water mark is reset after preparation, where
Linux allows it). `work` returns a dict of
figures for the table (or nothing). A case may set "repeat" and "timeout" (seconds for the whole
case, default 3600); a case past its timeout is killed and recorded with timed_out = True.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = {
    "graphs": "bench_graphs",
    "spectral": "bench_spectral",
    "representations": "bench_representations",
    "resistance": "bench_resistance",
    "masks": "bench_masks",
    "fit": "bench_fit",
    "encode": "bench_encode",
    "topometrics": "bench_topometrics",
    "sparse": "bench_sparse",
}

CHILD = r"""
import json, resource, statistics, sys, time
sys.path.insert(0, {here!r})
import ramcore, {module} as b
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
work = getattr(b, {fn!r})(*{args!r})
try:  # reset the peak RSS, so that what preparation allocated and freed does not count (Linux)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = rss_kib()
times, figures = [], None
for i in range({repeat}):
    t = time.perf_counter(); out = work(); times.append(time.perf_counter() - t)
    if i == 0:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
        figures = out
    del out
print(json.dumps(dict(seconds=min(times), median_seconds=statistics.median(times),
                      peak_bytes=max(peak, 0) * 1024, figures=figures)))
"""


def run_case(module: str, case: dict, repeat: int) -> dict:
    code = CHILD.format(here=str(HERE), module=module, fn=case["fn"], args=list(case["args"]), repeat=repeat)
    timeout = case.get("timeout", 3600)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        missing = {"seconds": None, "median_seconds": None, "peak_bytes": None, "figures": None}
        return {**case, **missing, "timeout": timeout, "timed_out": True}
    if proc.returncode != 0:
        raise RuntimeError(f"{case['graph']} {case['impl']} failed:\n{proc.stderr}")
    return {**case, **json.loads(proc.stdout.strip().splitlines()[-1])}


def update_tables(path: Path, name: str, body: str) -> None:
    """Replace the text between the markers for benchmark module `name` in `path`."""
    start, end = f"<!-- benchmarks:{name}:start -->", f"<!-- benchmarks:{name}:end -->"
    text = path.read_text()
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the largest cases")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(MODULES), action="append", help="run only these modules")
    parser.add_argument("--output", type=Path, default=HERE / "results.md")
    parser.add_argument(
        "--docs", "--readme", action="store_true", help="also replace the tables in docs/benchmarks.md"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    sections = []
    for name in args.only or sorted(MODULES):
        module = importlib.import_module(MODULES[name])
        results = []
        for case in module.cases(quick=args.quick):
            repeat = case.get("repeat", args.repeat)
            r = run_case(MODULES[name], case, repeat)
            took = f"> {r['timeout']} s (timed out)" if r.get("timed_out") else f"{r['seconds']:9.4f} s"
            print(f"{r['graph']:>22} {r['impl']:<28} {took}", flush=True)
            results.append(r)
        body = module.table(results)
        sections.append(f"## {module.TITLE}\n\n{body}\n")
        if args.docs:
            update_tables(HERE.parent / "docs" / "benchmarks.md", name, body)
    header = (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Best of {args.repeat} unless a case says otherwise."
    )
    text = header + "\n\n" + "\n".join(sections)
    args.output.write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
