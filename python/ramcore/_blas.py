"""BLAS threads: one while ramcore runs its own threads over small dense problems."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS single-threaded inside the block (threadpoolctl, when installed). Small dense solves
    (eigh of a few hundred rows) gain nothing from BLAS threads and lose much when the machine is
    busy, and blocks run in parallel threads must not each start a BLAS pool."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - without it BLAS keeps its threads
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
