import os
import shutil
import subprocess
import sys

import pytest
import scipy.sparse as sp

import ramcore

# one BLAS thread, as conftest sets for the test process (the dense spectrum of `certify --plot`)
ONE_BLAS_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "ramcore", *args],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        env=ONE_BLAS_THREAD,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_lps_summary():
    out = run("lps", "5", "13").stdout
    assert "X^{5,13}" in out and "2,184" in out and "degree         6" in out and "built in" in out


def test_lps_save_loads_with_scipy(tmp_path):
    path = tmp_path / "x.npz"
    run("lps", "13", "17", "--save", str(path), "--threads", "2")
    a = sp.load_npz(path)
    g = ramcore.lps_graph(13, 17)
    assert (a != g.adjacency).nnz == 0


def test_lps_save_biadjacency(tmp_path):
    path = tmp_path / "b.npz"
    run("lps", "5", "13", "--part", "biadjacency", "--save", str(path))
    assert sp.load_npz(path).shape == (1092, 1092)


def test_biregular_save(tmp_path):
    path = tmp_path / "b.npz"
    out = run("biregular", "7", "3", "--save", str(path)).stdout
    assert "49 x 21" in out
    b = sp.load_npz(path)
    assert (b != ramcore.biregular_graph(7, 3).biadjacency).nnz == 0
    path2 = tmp_path / "a.npz"
    run("biregular", "7", "3", "--part", "adjacency", "--save", str(path2))
    assert sp.load_npz(path2).shape == (70, 70)


def test_params():
    out = run("params", "--degree", "6", "--q-max", "70", "--bipartite").stdout
    assert "113,460" not in out  # X^{5,61} is not bipartite
    assert "2,184" in out  # X^{5,13}
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert rows and all(r[4] == "True" for r in rows)


@pytest.mark.parametrize(
    "args,message",
    [
        (("lps", "4", "13"), "p must be an odd prime, got 4"),
        (("lps", "5", "5"), "distinct"),
        (("lps", "11", "3"), "pass --allow-multigraph"),  # the flag, not the keyword argument
        (("certify", "lps", "11", "3"), "pass --allow-multigraph"),
        (("params", "--min-vertices", "10", "--max-vertices", "5"), "must be at least min_vertices"),
        (("lps", "5", "4001"), "needs about"),
        (("biregular", "7", "0"), "l must be an integer >= 1"),
        (("biregular", "8", "3"), "q must be a prime"),
    ],
)
def test_errors_are_messages_not_tracebacks(args, message):
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_non_integer_argument():
    proc = run("lps", "five", "13", check=False)
    assert proc.returncode == 2 and "expected an integer" in proc.stderr


@pytest.mark.parametrize("args", [("params", "--limit", "-1"), ("lps", "5", "13", "--threads", "0")])
def test_non_positive_options_refused(args):
    proc = run(*args, check=False)
    assert proc.returncode == 2 and "expected a positive integer" in proc.stderr


def test_negative_prime_is_a_library_message():
    proc = run("lps", "-5", "13", check=False)
    assert proc.returncode == 2 and "p must be an odd prime, got -5" in proc.stderr


def test_save_appends_npz(tmp_path):
    out = run("lps", "5", "13", "--save", str(tmp_path / "graph")).stdout
    assert str(tmp_path / "graph.npz") in out and (tmp_path / "graph.npz").exists()


def test_broken_pipe_is_quiet():
    proc = subprocess.run(
        f"{sys.executable} -m ramcore params --p-max 200 --q-max 400 --limit 100000 | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(proc.stdout.splitlines()) == 2 and "Error" not in proc.stderr and "error" not in proc.stderr


def test_multigraph_flag():
    out = run("lps", "11", "3", "--allow-multigraph").stdout
    assert "multigraph" in out


@pytest.mark.skipif(shutil.which("ramcore") is None, reason="console script not on PATH")
def test_console_script():
    proc = subprocess.run(["ramcore", "lps", "5", "13"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "X^{5,13}" in proc.stdout


def test_certify_lps_and_plot(tmp_path):
    png = tmp_path / "spectrum.png"
    out = run("certify", "lps", "5", "13", "--plot", str(png)).stdout
    assert "RAMANUJAN" in out and "4.2497208" in out and png.stat().st_size > 1000
    out = run("certify", "lps", "13", "17", "--matrix-free").stdout
    assert "matrix-free" in out and "7.0901699" in out


def test_certify_biregular_exit_status():
    assert "RAMANUJAN" in run("certify", "biregular", "13", "20").stdout
    proc = run("certify", "biregular", "7", "1", check=False)
    assert proc.returncode == 1 and "NOT Ramanujan" in proc.stdout


def test_certify_bad_input():
    proc = run("certify", "lps", "5", "15", check=False)
    assert proc.returncode == 2 and "q must be an odd prime" in proc.stderr
    proc = run("certify", "biregular", "101", "101", "--plot", "x.png", check=False)
    assert proc.returncode == 2 and "at most 6000 vertices" in proc.stderr  # dense SVD


def test_certify_lps_by_representations(tmp_path):
    png = tmp_path / "x.png"  # the plot of a large LPS graph comes from its representations too
    out = run("certify", "lps", "5", "101", "--plot", str(png)).stdout
    assert "representations of PSL2(F_101)" in out and "principal(15)" in out and png.stat().st_size > 1000
    out = run("certify", "lps", "5", "13", "--method", "representations").stdout
    assert "RAMANUJAN" in out and "discrete(1) and discrete(6)" in out
    assert "Lanczos on the CSR" in run("certify", "lps", "5", "61", "--method", "two-pass").stdout


def test_spectrum_lps(tmp_path):
    png, table = tmp_path / "km.png", tmp_path / "s.csv"
    out = run("spectrum", "lps", "5", "13", "61", "--plot", str(png), "--save", str(table)).stdout
    assert "X^{5,13}" in out and "X^{5,61}" in out and "4.42028942263" in out and "RAMANUJAN" in out
    assert png.stat().st_size > 1000
    rows = table.read_text().splitlines()
    assert rows[0] == "q,value,multiplicity,representation"
    total = {13: 0, 61: 0}
    for row in rows[1:]:
        q, _, m, _ = row.split(",")
        total[int(q)] += int(m)
    assert total == {13: 2184, 61: 113460}
    out = run("spectrum", "lps", "3", "11", "--double-cover").stdout
    assert "double cover" in out and "1,320" in out
    proc = run("spectrum", "lps", "5", "15", check=False)
    assert proc.returncode == 2 and "q must be an odd prime" in proc.stderr
    proc = run("spectrum", "lps", "5", "13", "--save", str(tmp_path / "s.txt"), check=False)
    assert proc.returncode == 2 and ".csv" in proc.stderr
