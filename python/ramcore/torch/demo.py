"""The former home of the digits demo; it lives in `ramcore.apps.demo` (kept so old imports work)."""

from ..apps.demo import HEADER, METHODS, MODELS, DemoRow, run_demo, write_outputs

__all__ = ["HEADER", "METHODS", "MODELS", "DemoRow", "run_demo", "write_outputs"]
