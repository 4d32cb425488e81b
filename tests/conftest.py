"""Test-suite configuration.

Hypothesis profiles (registered here, chosen by the environment):

- ``ci`` (loaded when the environment variable ``CI`` is set to anything but ``""``, ``0`` or
  ``false``; CI runs with ``CI=true``): derandomised, so every run draws the same examples and a
  failure reproduces exactly; no example database; no deadline (a loaded runner must not turn a slow
  example into a failure); the failing example's reproduction blob is printed.
- ``dev`` (otherwise): random examples as usual, with the example database, no deadline.

``HYPOTHESIS_PROFILE=<name>`` overrides the choice (e.g. ``HYPOTHESIS_PROFILE=ci`` to reproduce a CI
run locally). A test's own ``@settings(max_examples=...)`` still applies under either profile.

BLAS runs one thread for the whole session (`_one_blas_thread`): the dense oracles (eigvalsh, svd)
and scikit-learn's small fits gain little from a second thread on an idle 2-core runner and lose a
lot on a loaded one, where OpenBLAS's spinning threads fight the other processes (eigvalsh of a
2448 x 2448 adjacency: 4 s with one thread, 10 s with two, under load). ramcore's own threads and
torch's are unaffected.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))  # for `import reference`, `import oracles`

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)


def _profile() -> str:
    explicit = os.environ.get("HYPOTHESIS_PROFILE")
    if explicit:
        return explicit
    return "ci" if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no") else "dev"


settings.load_profile(_profile())


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` skip cleanly where there is no CUDA device (or no torch)."""
    marked = [item for item in items if item.get_closest_marker("cuda") is not None]
    if not marked or _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits  # with scikit-learn, in the test extra
    except ImportError:  # pragma: no cover - without it BLAS keeps its default threads
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
