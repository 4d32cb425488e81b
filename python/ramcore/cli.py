"""The `ramcore` command line (also `python -m ramcore`): parses the arguments and dispatches to
`ramcore.apps`.

ramcore lps 5 13                      build X^{5,13} and print its summary
ramcore lps 5 13 --save g.npz         ... and save the adjacency (scipy.sparse.load_npz)
ramcore biregular 7 3 --part adjacency --save b.npz
ramcore params --target-vertices 100000 --bipartite
ramcore certify lps 5 13              certify X^{5,13} as Ramanujan (--matrix-free for large q)
ramcore certify biregular 7 3 --plot s.png
ramcore spectrum lps 5 1009           the exact spectrum of X^{5,1009} from the representations
ramcore spectrum lps 5 13 61 251 --plot km.png   spectral measures against Kesten-McKay
ramcore demo                          sparse training on the bundled digits (needs torch)
ramcore demo --sequence               LSTMs reading the digits row by row (seed 003)
ramcore topometrics resnet20 --method snip --density 0.05
ramcore rank-demo                     seed 004's ranking pipeline on the bundled digits
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _threads(text: str) -> int:
    from .validation import MAX_THREADS

    value = _int(text)
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer <= {MAX_THREADS} (omit --threads for all cores), got {text!r}"
        )
    return value


def _fraction(text: str, closed: bool, meaning: str) -> float:
    """A number in (0, 1), or (0, 1] when `closed`; NaN and inf are refused."""
    interval = "(0, 1]" if closed else "(0, 1)"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < 1 or (closed and value == 1)):
        raise argparse.ArgumentTypeError(f"expected a number in {interval} ({meaning}), got {text!r}")
    return value


def _tol(text: str) -> float:
    return _fraction(text, False, "a relative residual tolerance")


def _density(text: str) -> float:
    return _fraction(text, True, "the fraction kept")


def _count(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ramcore",
        description="Build Ramanujan graphs (LPS and bi-regular) in ramcore's C++ core.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    lps = sub.add_parser("lps", help="the LPS Cayley graph X^{p,q} (p, q distinct odd primes)")
    lps.add_argument("p", type=_int, help="odd prime; the degree is p + 1")
    lps.add_argument("q", type=_int, help="odd prime; about q^3 vertices")
    lps.add_argument(
        "--allow-multigraph",
        action="store_true",
        help="accept loops/multi-edges when q < 2 sqrt(p) (merged, weighted)",
    )
    lps.add_argument(
        "--part",
        choices=["adjacency", "biadjacency"],
        default="adjacency",
        help="matrix to save (biadjacency: bipartite block or double cover)",
    )

    bi = sub.add_parser("biregular", help="the Burnwal-Sinha-Vidyasagar (l, q)-bi-regular graph")
    bi.add_argument("q", type=_int, help="prime; the biadjacency is q^2 x l q")
    bi.add_argument("l", type=_int, help="number of column blocks, >= 1")
    bi.add_argument(
        "--part", choices=["adjacency", "biadjacency"], default="biadjacency", help="matrix to save"
    )

    for p in (lps, bi):
        p.add_argument("--threads", type=_threads, default=None, help="worker threads (default: all)")
        p.add_argument("--save", metavar="FILE.npz", help="save the CSR matrix with scipy.sparse.save_npz")

    cert = sub.add_parser(
        "certify", help="certify a graph as Ramanujan by its spectrum (Lanczos or representations)"
    )
    fam = cert.add_subparsers(dest="family", required=True)
    cl = fam.add_parser("lps", help="X^{p,q}")
    cl.add_argument("p", type=_int)
    cl.add_argument("q", type=_int)
    cl.add_argument(
        "--matrix-free",
        action="store_true",
        help="compute neighbours on the fly instead of building the CSR (large q)",
    )
    cl.add_argument("--allow-multigraph", action="store_true", help="accept q < 2 sqrt(p) (multigraph)")
    cl.add_argument(
        "--method",
        choices=("auto", "representations", "two-pass", "thick-restart"),
        default="auto",
        help="auto (default): the representations of the group for 10,000 vertices or more, "
        "else Lanczos on the graph; representations never builds the graph",
    )
    cb = fam.add_parser("biregular", help="the bi-regular graph B(q, l)")
    cb.add_argument("q", type=_int)
    cb.add_argument("l", type=_int)
    for c in (cl, cb):
        c.add_argument("--tol", type=_tol, default=1e-10, help="relative residual tolerance (1e-10)")
        c.add_argument("--threads", type=_threads, default=None, help="worker threads (default: all)")
        c.add_argument("--plot", metavar="FILE.png", help="draw the whole spectrum against the bound")

    spec = sub.add_parser("spectrum", help="the exact spectrum from the representations of the group")
    sfam = spec.add_subparsers(dest="family", required=True)
    sl = sfam.add_parser("lps", help="X^{p,q}, for one or more q (every eigenvalue with its multiplicity)")
    sl.add_argument("p", type=_int, help="odd prime; the degree is p + 1")
    sl.add_argument("q", type=_int, nargs="+", help="odd prime(s); one spectrum each")
    sl.add_argument("--allow-multigraph", action="store_true", help="accept q < 2 sqrt(p) (multigraph)")
    sl.add_argument("--double-cover", action="store_true", help="the bipartite double cover X x K2")
    sl.add_argument("--threads", type=_threads, default=None, help="worker threads (default: all)")
    sl.add_argument("--save", metavar="FILE.csv", help="write q, value, multiplicity, representation rows")
    sl.add_argument(
        "--plot", metavar="FILE.png", help="the spectral measures against the Kesten-McKay density"
    )

    par = sub.add_parser("params", help="list admissible LPS (p, q) pairs")
    par.add_argument("--p-max", type=_positive_int, default=97, help="largest p (default 97)")
    par.add_argument("--q-max", type=_positive_int, default=211, help="largest q (default 211)")
    par.add_argument("--min-vertices", type=_count, default=0, help="fewest vertices")
    par.add_argument("--max-vertices", type=_positive_int, default=None, help="most vertices")
    par.add_argument("--degree", type=_positive_int, default=None, help="only degree p + 1 = DEGREE")
    group = par.add_mutually_exclusive_group()
    group.add_argument(
        "--bipartite", dest="bipartite", action="store_const", const=True, default=None,
        help="only bipartite graphs (p not a square mod q)",
    )  # fmt: skip
    group.add_argument(
        "--non-bipartite", dest="bipartite", action="store_const", const=False, help="only non-bipartite ones"
    )
    par.add_argument(
        "--target-vertices",
        type=_positive_int,
        default=None,
        help="sort by distance to this vertex count",
    )
    par.add_argument("--limit", type=_positive_int, default=20, help="rows to print (default 20)")
    demo = sub.add_parser("demo", help="train sparse MLP/CNN on the bundled digits data (needs torch)")
    demo.add_argument("--out", default="ramcore-demo", help="folder for demo.csv and demo.png")
    demo.add_argument("--densities", type=_density, nargs="+", default=[0.05, 0.1])
    demo.add_argument("--seeds", type=_positive_int, default=3)
    demo.add_argument("--epochs", type=_positive_int, default=10)
    demo.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    demo.add_argument(
        "--sequence",
        action="store_true",
        help="instead: LSTMs reading the digits row by row, ramanujan vs random vs dense (seed 003; CPU)",
    )

    topo = sub.add_parser(
        "topometrics", help="encode a zoo model's masked network and print seed 004's 16 topometrics"
    )
    topo.add_argument("model", help="a zoo model (ramcore.torch.zoo), e.g. resnet20, conv-6, vgg16")
    topo.add_argument("--method", default="random", help="mask method (make_masks), default random")
    topo.add_argument("--density", type=_density, default=0.05, help="fraction of weights kept")
    topo.add_argument("--encoding", choices=("unrolled", "rolled", "rolled_channel"), default="unrolled")
    topo.add_argument("--weighted", action="store_true", help="edges carry |W| (seed 004 eq. 4)")
    topo.add_argument("--raw", action="store_true", help="raw values instead of the normalised ones")
    topo.add_argument("--seed", type=_count, default=0, help="weights and random masks")
    topo.add_argument("--threads", type=_threads, default=None, help="worker threads (default: all)")

    rank = sub.add_parser(
        "rank-demo", help="seed 004 end to end on digits: train, encode, regress, rank PaI methods"
    )
    rank.add_argument("--out", default="ramcore-rank", help="folder for samples.csv, rankings.csv, rbo.png")
    rank.add_argument("--densities", type=_density, nargs="+", default=[0.02, 0.05, 0.1, 0.2])
    rank.add_argument("--seeds", type=_positive_int, default=2)
    rank.add_argument("--epochs", type=_positive_int, default=10)
    rank.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    return parser


def _torch_or_hint(what: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError as err:
        raise ImportError(f"{err}; {what} needs PyTorch: pip install 'ramcore[demo]'") from err


def _check_densities(values: Sequence[float], flag: str) -> None:
    for d in values:
        if not 0 < d <= 1:
            raise ValueError(f"{flag} must be in (0, 1] (fraction kept), got {d}")


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type == "cpu":
        return
    if dev.type != "cuda":
        raise ValueError(f"--device {device}: only cpu and cuda devices are supported (cpu, cuda, cuda:N)")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here (use --device cpu)")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")


def _check_output(path: str | None, flag: str, suffixes: Sequence[str] = ()) -> None:
    """Fail before any work when `path` cannot be written: its folder must exist (and be a
    folder), and its suffix be one of `suffixes` when given."""
    if path is None:
        return
    if not path:
        raise ValueError(f"{flag}: the file name is empty")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path}: the folder {folder} does not exist")
    try:  # a real write: os.access says yes to root on read-only or virtual file systems
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{flag} {path}: cannot write in the folder {folder} ({err.strerror})") from None
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a folder, expected a file name")
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        raise ValueError(f"{flag} {path}: expected a file ending in {', '.join(suffixes)}")


def _check_folder(path: str, flag: str) -> None:
    """An output folder: it may be created, so its parent must exist, and it must not be a file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path}: exists and is not a folder")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{flag} {path}: the folder {parent} does not exist")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # e.g. `ramcore params | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, MemoryError, OSError, ImportError) as err:
        print(f"ramcore: error: {_in_cli_words(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ramcore: interrupted", file=sys.stderr)
        return 130


# The library's messages name its keyword arguments; on the command line they are flags.
_FLAGS = {"allow_multigraph=True": "--allow-multigraph"}


def _in_cli_words(message: str) -> str:
    for keyword, flag in _FLAGS.items():
        message = message.replace(keyword, flag)
    return message


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command in `args` (parsed and checked) from `ramcore.apps`."""
    if args.command in ("lps", "biregular", "params", "certify", "spectrum"):
        _check_output(getattr(args, "save", None), "--save", (".csv",) if args.command == "spectrum" else ())
        if getattr(args, "plot", None) is not None:
            try:
                from matplotlib.backend_bases import FigureCanvasBase
            except ImportError as err:
                raise ImportError(f"{err}; --plot needs matplotlib: pip install 'ramcore[plot]'") from err
            formats = FigureCanvasBase.get_supported_filetypes()
            suffix = os.path.splitext(args.plot)[1].lower()
            _check_output(args.plot, "--plot", tuple("." + f for f in formats) if suffix else ())
        from .apps import graphs

        if args.command == "params":
            return graphs.print_parameters(
                args.limit,
                p_max=args.p_max,
                q_max=args.q_max,
                min_vertices=args.min_vertices,
                max_vertices=args.max_vertices,
                degree=args.degree,
                bipartite=args.bipartite,
                target_vertices=args.target_vertices,
            )
        if args.command == "certify":
            a, b = (args.p, args.q) if args.family == "lps" else (args.q, args.l)
            return graphs.certify_graph(
                args.family,
                a,
                b,
                matrix_free=getattr(args, "matrix_free", False),
                allow_multigraph=getattr(args, "allow_multigraph", False),
                method=getattr(args, "method", "auto"),
                tol=args.tol,
                threads=args.threads,
                plot=args.plot,
            )
        if args.command == "spectrum":
            return graphs.spectrum_lps(
                args.p,
                args.q,
                allow_multigraph=args.allow_multigraph,
                double_cover=args.double_cover,
                threads=args.threads,
                plot=args.plot,
                save=args.save,
            )
        a, b = (args.p, args.q) if args.command == "lps" else (args.q, args.l)
        return graphs.build(
            args.command,
            a,
            b,
            allow_multigraph=getattr(args, "allow_multigraph", False),
            threads=args.threads,
            part=args.part,
            save=args.save,
        )
    if args.command == "topometrics":
        _check_densities([args.density], "--density")
        _torch_or_hint("ramcore topometrics")
        from .torch import zoo
        from .torch.masks import METHODS

        if args.model not in zoo.MODELS:
            raise ValueError(f"unknown model {args.model!r}; zoo models: {', '.join(zoo.MODELS)}")
        if args.method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {args.method!r}")
        from .apps.topometrics import zoo_topometrics

        return zoo_topometrics(
            args.model,
            method=args.method,
            density=args.density,
            encoding=args.encoding,
            weighted=args.weighted,
            raw=args.raw,
            seed=args.seed,
            threads=args.threads,
        )
    _check_densities(args.densities, "--densities")
    _torch_or_hint("the demo" if args.command == "demo" else "the ranking demo")
    _check_device(args.device)
    _check_folder(args.out, "--out")
    if args.command == "demo" and args.sequence:
        from .apps.sequence_demo import sequence_demo

        return sequence_demo(args.densities, args.seeds, args.epochs)
    if args.command == "demo":
        from .apps.demo import demo

        return demo(args.out, args.densities, args.seeds, args.epochs, args.device)
    from .apps.rank_demo import rank_demo

    return rank_demo(args.out, args.densities, args.seeds, args.epochs, args.device)
