"""The former home of seed 004's ranking demo; it lives in `ramcore.apps.rank_demo` (kept so old
imports work)."""

from ..apps.rank_demo import (
    BASELINES,
    ENCODINGS,
    INPUT_SHAPE,
    PAI,
    RankingResult,
    RankingRow,
    Sample,
    run_ranking,
    write_ranking_outputs,
)

__all__ = [
    "BASELINES",
    "ENCODINGS",
    "INPUT_SHAPE",
    "PAI",
    "RankingResult",
    "RankingRow",
    "Sample",
    "run_ranking",
    "write_ranking_outputs",
]
