"""Run every benchmark and write the results table.

    python benchmarks/run.py            # all cases, table to benchmarks/results.md and stdout
    python benchmarks/run.py --quick    # the smaller cases only

Each case runs in its own interpreter: peak memory (ru_maxrss growth during the call) is then
the case's own, and timings are the best of --repeat runs after one warm-up-free first run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
import bench_graphs as b
fn = getattr(b, {fn!r})
args = tuple({args!r})
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
import ramcore  # imported before the baseline so that its pages are not counted
base = rss_kib()
times = []
for i in range({repeat}):
    t = time.perf_counter(); out = fn(*args); times.append(time.perf_counter() - t)
    if i == 0:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
        nbytes = out if {fn!r}.startswith("ramcore") else None
    del out
print(json.dumps(dict(seconds=min(times), peak_bytes=peak * 1024, csr_bytes=nbytes)))
"""


def run_case(case: dict, repeat: int) -> dict:
    code = CHILD.format(here=str(HERE), fn=case["fn"], args=list(case["args"]), repeat=repeat)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{case['graph']} {case['impl']} failed:\n{proc.stderr}")
    return {**case, **json.loads(proc.stdout.strip().splitlines()[-1])}


def mib(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f}"


def table(results: list[dict]) -> str:
    fast = {r["graph"]: r["seconds"] for r in results if r["impl"] == "ramcore"}
    lines = [
        "| graph | implementation | directed edges | seconds | M edges/s | peak MiB | CSR MiB | peak/CSR "
        "| ramcore (all threads) speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = "" if r["csr_bytes"] is None else f"{r['peak_bytes'] / r['csr_bytes']:.2f}"
        speedup = "" if r["impl"] == "ramcore" else f"{r['seconds'] / fast[r['graph']]:,.0f}x"
        lines.append(
            f"| {r['graph']} | {r['impl']} | {r['edges']:,} | {r['seconds']:.4f} | "
            f"{r['edges'] / r['seconds'] / 1e6:,.1f} | {mib(r['peak_bytes'])} | {mib(r['csr_bytes'])} | "
            f"{ratio} | {speedup} |"
        )
    return "\n".join(lines)


def update_readme(path: Path, body: str) -> None:
    """Replace the text between the benchmark markers of the README."""
    start, end = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
    text = path.read_text()
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip cases above 50 M edges")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=HERE / "results.md")
    parser.add_argument("--readme", action="store_true", help="also replace the table in README.md")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    import bench_graphs

    results = []
    for case in bench_graphs.cases():
        if args.quick and case["edges"] > 50_000_000:
            continue
        repeat = 1 if case["impl"].startswith("pure Python") else args.repeat
        r = run_case(case, repeat)
        print(f"{r['graph']:>18} {r['impl']:<20} {r['seconds']:9.4f} s", flush=True)
        results.append(r)
    header = (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Best of {args.repeat} (pure Python: 1 run)."
    )
    text = f"{header}\n\n{table(results)}\n"
    args.output.write_text(text)
    print("\n" + text)
    if args.readme:
        update_readme(HERE.parent / "README.md", table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
