"""Old import paths keep working after the restructure (issue 13): every public name a moved
module had is still importable from where users imported it, and is the object of its new home."""

import importlib

import pytest

import ramcore

OLD_PUBLIC = {
    "ramcore.gap": ["DENSE_LIMIT", "RamanujanGap", "ramanujan_gap"],
    "ramcore.masks": ["MaskInfo", "affine_edges", "exact_count", "ramanujan_mask", "random_mask",
                      "random_regular_mask"],
    "ramcore.sparsify": ["C_SEED", "DENSE_GRAM", "SMALL_EIGH", "LayerReport", "SparsifyResult",
                         "SpecSparResult", "magnitude", "sparsify", "spec_spar"],
    "ramcore.resistance": ["EXACT_LIMIT", "Resistances", "effective_resistance", "graph_resistance",
                           "sketch_size"],
    "ramcore.spectral": ["Certificate", "DeviceWarning", "EigenResult", "LPSOperator", "METHODS",
                         "OPERATORS", "SVDResult", "certify", "eigs", "lps_operator", "svds"],
}  # fmt: skip
OLD_TORCH = {
    "ramcore.torch.layers": ["KINDS", "MaskTarget", "mask_targets", "pieces_to_weight", "weight_to_pieces"],
    "ramcore.torch.report": ["LayerReport", "PruneRecord", "PruneResult", "PruneTry", "RawGap",
                             "format_table", "ramanujan_prune", "raw_ramanujan_gap", "report", "to_csv"],
    "ramcore.torch.baselines": ["BaselineRow", "IterativeGap", "MIN_LEFT", "iterative_mean_gaps",
                                "network_baselines", "ramanujan_baselines"],
    "ramcore.torch.masks": ["LayerMask", "METHODS", "MaskSet", "SPARSIFY_SCORES", "allocate_density",
                            "make_masks"],
    "ramcore.torch.encode": ["ENCODINGS", "EncodingSize", "encode", "encode_layers", "encoding_size"],
    "ramcore.torch.demo": ["DemoRow", "HEADER", "METHODS", "MODELS", "run_demo", "write_outputs"],
    "ramcore.torch.ranking": ["BASELINES", "ENCODINGS", "INPUT_SHAPE", "PAI", "RankingResult", "RankingRow",
                              "Sample", "run_ranking", "write_ranking_outputs"],
}  # fmt: skip
NEW_HOME = {
    "ramcore.gap": "ramcore.layers.gap",
    "ramcore.masks": "ramcore.layers.masks",
    "ramcore.sparsify": "ramcore.layers.sparsify",
    "ramcore.torch.demo": "ramcore.apps.demo",
    "ramcore.torch.ranking": "ramcore.apps.rank_demo",
}


def _check(old: str, names: list[str]) -> None:
    module = importlib.import_module(old)
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{old} lost {missing}"
    if old in NEW_HOME:
        new = importlib.import_module(NEW_HOME[old])
        assert all(getattr(module, n) is getattr(new, n) for n in names)


@pytest.mark.parametrize("old", sorted(OLD_PUBLIC))
def test_old_paths_keep_their_names(old):
    _check(old, OLD_PUBLIC[old])


@pytest.mark.parametrize("old", sorted(OLD_TORCH))
def test_old_torch_paths_keep_their_names(old):
    pytest.importorskip("torch")
    _check(old, OLD_TORCH[old])


def test_package_attributes_stay():
    # `import ramcore` alone gives the old module attribute and keeps the function names
    assert ramcore.gap.ramanujan_gap is ramcore.ramanujan_gap
    assert callable(ramcore.sparsify) and callable(ramcore.topometrics)
    importlib.import_module("ramcore.sparsify")  # importing the old module path later ...
    assert callable(ramcore.sparsify)  # ... leaves the function in place
