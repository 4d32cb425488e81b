"""Progress of long work: a tqdm bar on a terminal, occasional status lines elsewhere.

Every routine of ramcore that can run for more than a few seconds takes `progress=`:

- ``None`` (the API's default): a bar when stderr is a terminal (and the work is large enough, as
  the routine decides), nothing otherwise;
- ``True`` (the command line's choice): a tqdm bar on a terminal, and on anything else (a log
  file, CI) a status line on stderr at most every `LINE_INTERVAL` seconds, and one at the end;
- ``False``: nothing.

tqdm is optional: without it a terminal gets the status lines too.

The compiled core's long loops (Lanczos, the resistance sketch's solves) report through
`core_progress`: a callback the core calls with the GIL about every 50 ms, showing the work done
and the current relative residual beside its target.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO

__all__ = ["CORE_DELAY", "LINE_INTERVAL", "Progress", "check_progress", "core_progress", "on_terminal"]

LINE_INTERVAL = 10.0  # seconds between status lines when stderr is not a terminal
CORE_DELAY = 2.0  # seconds before a bar over the core's work appears (most solves end sooner)


def check_progress(progress: object) -> bool | None:
    """`progress` checked: None, True or False."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None or a bool, got {type(progress).__name__} {progress!r}")
    return progress


def on_terminal(stream: Any = None) -> bool:
    """Whether `stream` (default: stderr) is an interactive terminal."""
    isatty = getattr(sys.stderr if stream is None else stream, "isatty", None)
    return callable(isatty) and bool(isatty())


class Progress:
    """Progress over `total` steps of `unit` named `desc` (total None: not known in advance);
    shown as `progress` says (see the module docstring). `update(n, status)` advances by n steps
    and shows `status` (e.g. the current item); `delay`: seconds before a bar appears."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "step",
        progress: bool | None = None,
        stream: TextIO | None = None,
        delay: float = 0.0,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.count = 0
        self._stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        self._lines = False
        self._start = self._last = time.monotonic()
        show = check_progress(progress)
        terminal = on_terminal(self._stream)
        if not (show or (show is None and terminal)):
            return
        if terminal:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=desc, unit=unit, file=self._stream, delay=delay)
                return
        self._lines = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(completed=kind is None)

    @property
    def shown(self) -> bool:
        """Whether anything is displayed (a bar or status lines)."""
        return self._bar is not None or self._lines

    def set_total(self, total: int) -> None:
        """The number of steps, once it is known (the core's second Lanczos pass, say)."""
        if total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.total = total

    def update(self, n: int = 1, status: str = "") -> None:
        self.count += n
        if self._bar is not None:
            self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(n)
        elif self._lines and time.monotonic() - self._last >= LINE_INTERVAL:
            self._line(status)

    def close(self, completed: bool = True) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines and completed:
            self._line("done")
        self._lines = False

    def _line(self, status: str) -> None:
        self._last = time.monotonic()
        elapsed = self._last - self._start
        tail = f" ({status})" if status else ""
        of = "" if self.total is None else f"/{self.total}"
        print(
            f"{self.desc}: {self.count}{of} {self.unit}s, {elapsed:.0f} s{tail}",
            file=self._stream,
            flush=True,
        )


@contextmanager
def core_progress(
    desc: str, unit: str, progress: bool | None = None
) -> Iterator[Callable[[str, int, int, float, float], None] | None]:
    """The `progress=` callback for a call into the compiled core, or None when nothing is shown.

    The core calls it as callback(phase, done, total, residual, target): `done` units of work of
    `total` (0: not known), the current relative `residual` and the `target` it must reach
    (negative: none yet). A bar appears only after `CORE_DELAY` seconds on a terminal.
    """
    with Progress(None, desc, unit, progress, delay=CORE_DELAY) as shown:
        if not shown.shown:
            yield None
            return

        def report(phase: str, done: int, total: int, residual: float, target: float) -> None:
            status = phase
            if residual >= 0:
                status += f", residual {residual:.1e}" + (f" (tol {target:.0e})" if target > 0 else "")
            if total > 0:
                shown.set_total(total)
            shown.update(done - shown.count, status)

        yield report
