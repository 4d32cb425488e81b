"""Front-door argument checks shared by the public API: every message names the argument,
the value received and what is allowed."""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _core


def as_int(value: Any, name: str) -> int:
    """`value` as a Python int; bools, floats and strings are refused."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None


def positive_int(value: Any, name: str, maximum: int | None = None) -> int:
    """`value` as an int >= 1 (and <= `maximum` when given): a count or a size."""
    n = as_int(value, name)
    if n < 1 or (maximum is not None and n > maximum):
        allowed = "a positive integer" if maximum is None else f"an integer in [1, {maximum}]"
        raise ValueError(f"{name} must be {allowed}, got {n}")
    return n


def nonnegative_int(value: Any, name: str) -> int:
    """`value` as an int >= 0: a count that may be zero, or a seed."""
    n = as_int(value, name)
    if n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n}")
    return n


def core_seed(value: Any, name: str = "seed") -> int:
    """A seed of the core's random generators: an int in [0, 2**64)."""
    n = as_int(value, name)
    if not 0 <= n < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {n}")
    return n


def real(value: Any, name: str, allowed: str) -> float:
    """`value` as a float; anything but a real number (None, str, bool, complex) is a TypeError
    whose message says what is `allowed`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")
    return float(value)


def positive_real(value: Any, name: str) -> float:
    """A finite real number > 0 (a constant, a scale)."""
    x = real(value, name, "a finite positive real number")
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"{name} must be a finite positive real number, got {value!r}")
    return x


def fraction(value: Any, name: str, meaning: str = "") -> float:
    """A real number in the open interval (0, 1) (a probability, a relative accuracy)."""
    allowed = "a real number in (0, 1)" + (f" ({meaning})" if meaning else "")
    x = real(value, name, allowed)
    if not 0.0 < x < 1.0:  # NaN fails too
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return x


def tolerance(value: Any, name: str = "tol") -> float:
    """A relative residual tolerance: a real number in (0, 1). At 1 or above a residual as large
    as the value itself would pass, so a certificate built on it would bound nothing."""
    return fraction(value, name, "a relative residual tolerance")


def odd_prime(value: Any, name: str, maximum: int | None = None) -> int:
    """`value` as an odd prime int, at most `maximum` when given (the core's limit for `name`)."""
    n = as_int(value, name)
    if n < 3 or n % 2 == 0 or not (n < 2**64 and _core.is_prime(n)):
        raise ValueError(f"{name} must be an odd prime, got {n}")
    if maximum is not None and n > maximum:
        raise ValueError(f"{name} must be an odd prime <= {maximum}, got {n}")
    return n


MAX_THREADS = 1024


def threads(value: Any) -> int:
    """The one `threads` convention of ramcore: None uses every core, an integer n in
    [1, MAX_THREADS] uses n threads (the CLI's --threads likewise; omit it for all cores). Results
    never depend on it. Returns the core's argument, where 0 stands for all cores."""
    if value is None:
        return 0
    n = as_int(value, "threads")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"threads must be None (all cores) or an integer in [1, {MAX_THREADS}], got {n}")
    return n


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) -> None


def available_memory() -> int:
    """Bytes we can still allocate: MemAvailable, capped by a cgroup limit (containers)."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            available = 2**63
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_file)
        if limit is not None and limit < 2**60:
            available = min(available, limit - (_read_int(usage_file) or 0))
    return max(available, 0)


def check_memory(nbytes: int, what: str, fix: str) -> None:
    """Raise MemoryError, before anything is allocated, when `what` needs more than is available."""
    available = available_memory()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs about {format_bytes(nbytes)} ({nbytes} bytes) but only "
            f"{format_bytes(available)} is available; {fix}"
        )


def format_bytes(n: float) -> str:
    """A byte count for people: "1.5 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def density(value: Any, name: str = "density") -> float:
    """A fraction of weights kept: a real number in (0, 1]; bools and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1], got {value!r}")
    d = float(value)
    if not 0.0 < d <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be in (0, 1] (the fraction of weights kept), got {value!r}")
    return d


def per_name(
    value: Any, names: Sequence[str], argument: str, check: Callable[[Any, str], float]
) -> dict[str, float]:
    """One number for every name: `value` itself, or a mapping that covers exactly `names`.

    Each number goes through `check(number, label)`; a mapping with missing or unknown names is
    refused (a misspelt layer name must not be silently ignored).
    """
    if not isinstance(value, Mapping):
        one = check(value, argument)
        return {n: one for n in names}
    missing = [n for n in names if n not in value]
    unknown = [n for n in value if n not in names]
    if missing or unknown:
        raise ValueError(
            f"{argument}: the mapping must have one entry per layer; missing {missing}, unknown {unknown}"
        )
    return {n: check(value[n], f"{argument}[{n!r}]") for n in names}
