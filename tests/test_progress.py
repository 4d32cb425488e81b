"""ramcore.progress: bars on a terminal, status lines elsewhere, nothing when asked (issue 14)."""

import io

import pytest

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
