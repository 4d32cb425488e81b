"""ramcore.progress: bars on a terminal, status lines elsewhere, nothing when asked (issue 14)."""

import io

import pytest

import ramcore
import ramcore.progress as P


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_status_lines_at_intervals(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(P, "LINE_INTERVAL", 0.0)  # every update prints
    with P.Progress(3, "fitting", "run", progress=True, stream=out) as bar:
        bar.update(1, "ridge")
        bar.update(2)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("fitting: 1/3 runs") and "(ridge)" in lines[0]
    assert lines[-1].startswith("fitting: 3/3 runs") and lines[-1].endswith("(done)")


def test_lines_are_occasional(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(P, "LINE_INTERVAL", 3600.0)
    with P.Progress(1000, "work", progress=True, stream=out) as bar:
        for _ in range(1000):
            bar.update()
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]  # only the final line


def test_default_shows_only_on_a_terminal():
    quiet = io.StringIO()
    with P.Progress(2, "work", progress=None, stream=quiet) as bar:
        bar.update(2)
    assert quiet.getvalue() == ""
    tty = Terminal()
    with P.Progress(2, "work", progress=None, stream=tty) as bar:
        bar.update(2)
    assert "work" in tty.getvalue()  # a tqdm bar (or status lines without tqdm)


def test_false_is_silent_and_an_error_is_not_reported_done():
    out = io.StringIO()
    with P.Progress(2, "work", progress=False, stream=Terminal()) as bar:
        bar.update(2)
    with pytest.raises(RuntimeError), P.Progress(2, "work", progress=True, stream=out):
        raise RuntimeError
    assert "done" not in out.getvalue()


def test_bad_progress_argument():
    with pytest.raises(TypeError, match="progress must be None or a bool"):
        P.Progress(1, "x", progress="yes")  # type: ignore[arg-type]


# --- the compiled core's loops report through core_progress ---------------------------------------



def _lanczos(progress):
    """X^{5,61} matrix-free, two-pass: about half a second of matrix-vector products."""
    op = ramcore.lps_operator(5, 61)
    return op.cayley.eigsh(
        None, k=1, which="LM", ncv=0, tol=1e-10, max_restarts=100, seed=0, threads=1, vectors=False,
        two_pass=True, keep_bytes=0, progress=progress,
    )


def test_lanczos_reports_products_and_residual_as_it_runs():
    calls = []
    raw = _lanczos(lambda *status: calls.append(status))
    phases = [c[0] for c in calls]
    done = [c[1] for c in calls]
    assert set(phases) <= {"Lanczos", "Lanczos pass 2 (Ritz vector)"}
    assert len(calls) >= 2  # while it runs (every ~50 ms) and once at the end
    assert done == sorted(done) and done[-1] == raw["matvecs"]
    phase, _, total, residual, target = calls[-1]
    assert phase == "Lanczos pass 2 (Ritz vector)" and total == raw["matvecs"]  # replayed: known
    assert target == 1e-10 and 0 <= residual <= 1e-10  # pass 1 stopped at the tolerance
    first = next(c for c in calls if c[3] >= 0)
    assert first[3] > residual  # the residual estimate fell as it ran


def test_a_raising_callback_stops_the_core():
    seen = []

    def stop_at_once(*status):
        seen.append(status)
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        _lanczos(stop_at_once)
    assert len(seen) == 1  # the core stopped at the first report


def test_eigs_svds_certify_resistance_lines(monkeypatch, capsys):
    monkeypatch.setattr(P, "LINE_INTERVAL", 0.0)
    g = ramcore.lps_graph(5, 13)
    res = ramcore.eigs(g, 2, which="LM", progress=True)
    sv = ramcore.svds(ramcore.biregular_graph(7, 3), 2, progress=True)
    cert = ramcore.certify(g, progress=True)
    r = ramcore.graph_resistance(g, method="sketch", sketch_rows=40, progress=True)
    err = capsys.readouterr().err.splitlines()
    assert f"eigs: {res.matvecs} matvecs" in [e.split(",")[0] for e in err]
    assert f"svds: {sv.matvecs} matvecs" in [e.split(",")[0] for e in err]
    assert f"eigs: {cert.matvecs - 1} matvecs" in [e.split(",")[0] for e in err]  # + lambda_1's product
    assert "resistance sketch: 40/40 solves" in [e.split(",")[0] for e in err]
    assert any("residual" in e and "(tol 1e-10)" in e for e in err)
    assert r.converged


def test_core_progress_is_off_by_default_off_a_terminal(capsys):
    ramcore.certify(ramcore.lps_graph(5, 13))
    ramcore.certify(ramcore.lps_graph(5, 13), progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be None or a bool"):
        ramcore.eigs(ramcore.lps_graph(5, 13), progress="yes")


def test_core_progress_bar_on_a_terminal(monkeypatch):
    tty = Terminal()
    monkeypatch.setattr(P, "CORE_DELAY", 0.0)
    monkeypatch.setattr("sys.stderr", tty)
    ramcore.certify(ramcore.lps_graph(5, 13))  # progress=None: shown, since stderr is a terminal
    assert "eigs" in tty.getvalue() and "matvec" in tty.getvalue()
