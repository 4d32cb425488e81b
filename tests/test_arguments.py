"""Issue 14's bad inputs: each raises a TypeError/ValueError naming the argument, the value and what
is allowed (the fuzz suite, tests/test_fuzz.py, draws many more)."""

import contextlib
import io
import re
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

import ramcore
from ramcore import validation
from ramcore.cli import main


@pytest.mark.parametrize(
    "value, error",
    [
        (None, TypeError),
        ("abc", TypeError),
        (1j, TypeError),
        (True, TypeError),
        (0.0, ValueError),
        (1.0, ValueError),
        (10.0, ValueError),
        (1e300, ValueError),
        (float("nan"), ValueError),
        (-1e-3, ValueError),
    ],
)
def test_tolerance_in_open_unit_interval(value, error):
    with pytest.raises(error, match=r"tol must be a real number in \(0, 1\)"):
        validation.tolerance(value, "tol")
    g = ramcore.lps_graph(5, 13)
    for call in (
        lambda: ramcore.eigs(g, 2, tol=value),
        lambda: ramcore.svds(np.eye(4), 1, tol=value),
        lambda: ramcore.certify(g, tol=value),
        lambda: ramcore.graph_resistance(g, tol=value),
    ):
        with pytest.raises(error, match="tol must be"):
            call()


def test_counts_and_fractions():
    assert validation.positive_int(3, "k") == 3 and validation.nonnegative_int(0, "edges") == 0
    with pytest.raises(ValueError, match="edges must be a non-negative integer, got -1"):
        ramcore.sketch_size(0.3, -1)
    with pytest.raises(TypeError, match=r"epsilon must be a real number in \(0, 1\).*NoneType"):
        ramcore.sketch_size(None, 10)
    with pytest.raises(ValueError, match="epsilon = 1e-300 is too small"):
        ramcore.sketch_size(1e-300, 10)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\], got 5"):
        validation.positive_int(5, "k", 4)


def test_multipartite_refuses_backward_edges_and_bad_partitions():
    back = sp.csr_array(np.array([[0, 1.0, 0], [0, 0, 0], [1.0, 0, 0]]))
    with pytest.raises(ValueError, match=r"2 -> 0 \(partition 2 -> 0\)"):
        ramcore.MultipartiteGraph(back, np.array([0, 1, 2]), ("a", "b", "c"))
    same = sp.csr_array(np.array([[0, 1.0], [0, 0]]))
    with pytest.raises(ValueError, match="later partition"):
        ramcore.MultipartiteGraph(same, np.array([0, 0]), ("a",))
    with pytest.raises(TypeError, match="partition must be an integer numpy array, got list"):
        ramcore.MultipartiteGraph(same, [0, 1], ("a", "b"))
    with pytest.raises(TypeError, match="adjacency must be a scipy.sparse.csr_array"):
        ramcore.MultipartiteGraph(np.zeros((2, 2)), np.array([0, 1]), ("a", "b"))


def test_sparsify_density_mapping_and_empty_layers():
    scores = {"a": np.ones((4, 3)), "b": np.ones((2, 4))}
    with pytest.raises(ValueError, match=r"unknown \['bogus'\]"):
        ramcore.sparsify(scores, density={"a": 0.5, "b": 0.5, "bogus": 0.5})
    with pytest.raises(TypeError, match="density must be a number in"):
        ramcore.sparsify(scores, density="0.5")
    with pytest.raises(ValueError, match=r"scores\['e'\] has shape \(3, 0\)"):
        ramcore.sparsify({"e": np.ones((3, 0))}, density=0.5)


def test_encode_wrong_input_shape_is_a_value_error():
    nn = pytest.importorskip("torch.nn")
    from ramcore.torch import encode

    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"takes 4 features .* \(1, 3, 3\).*check input_shape"):
        encode(mlp, (1, 3, 3))
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(ValueError, match=r"3 channels .* \(1, 8, 8\).*check input_shape"):
        encode(cnn, (1, 8, 8))
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        encode(mlp, (4,), max_bytes=0)


def _cli(*args):
    """`ramcore ARGS` in this process (tests/test_cli.py runs the real console script): its exit
    status and stderr, argparse's own refusals (SystemExit) included."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return types.SimpleNamespace(returncode=code, stderr=err.getvalue())


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("certify", "lps", "5", "13", "--plot", "/nonexistent/dir/x.png"),
            "/nonexistent/dir does not exist",
        ),
        (("certify", "lps", "5", "13", "--tol", "1e300"), r"argument --tol: expected a number in \(0, 1\)"),
        (("certify", "lps", "5", "13", "--tol", "abc"), r"argument --tol: expected a number in \(0, 1\)"),
        (("lps", "5", "13", "--threads", "99999"), "expected a positive integer <= 1024"),
        (("lps", "5", "13", "--save", "/nonexistent/g.npz"), "/nonexistent does not exist"),
        (("lps", "5", "13", "--save", ""), "--save: the file name is empty"),
        pytest.param(
            ("lps", "5", "13", "--save", "/proc/g.npz"),
            "--save /proc/g.npz: cannot write in the folder /proc",
            marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's"),
        ),
        (("certify", "lps", "5", "13", "--plot", ""), "--plot: the file name is empty"),
    ],
)
def test_cli_refuses_before_work(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("demo", "--device", "tpu"), "--device must be cpu, cuda or cuda:N, got 'tpu'"),
        (("topometrics", "resnet20", "--threads", "99999"), "expected a positive integer <= 1024"),
        (("topometrics", "resnet20", "--method", "bogus"), "--method must be one of"),
        (("demo", "--out", "/nonexistent/a/b"), "/nonexistent/a does not exist"),
    ],
)
def test_cli_torch_commands_refuse_before_work(args, message):
    pytest.importorskip("torch")
    proc = _cli(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr
