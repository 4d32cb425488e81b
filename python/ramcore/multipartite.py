"""The multipartite graph type shared by the network encodings and the topometrics (seed 004).

A network encoding is a directed graph whose nodes are grouped into consecutive partitions
(the network input, then the output activations of each encoded layer); edges point from a node
to a node of a later partition (the next one, or a later one for residual connections). Rolled
encodings (one bipartite graph per layer, seeds 001/002) are the same type with two partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .interop import networkx, refuse_complex

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, eq=False)
class MultipartiteGraph:
    """A directed multipartite graph: `adjacency[i, j]` is the weight of the edge i -> j.

    Attributes:
        adjacency: (n, n) `scipy.sparse.csr_array` of float64 weights, rows sorted, no explicit
            zeros; weight 1.0 everywhere for an unweighted encoding.
        partition: (n,) int32, the partition (layer) index of each node; 0 is the network input and
            partitions are numbered in the order of the forward pass. Nodes of one partition are
            contiguous and partitions appear in increasing order.
        names: one name per partition ("input", then the module name whose output it is).
        encoding: "unrolled", "rolled" or "rolled_channel" (or "custom" for hand-built graphs).
        weighted: whether `adjacency` carries `|W|` (seed 004 eq. 4) rather than ones.
    """

    adjacency: sp.csr_array
    partition: np.ndarray
    names: tuple[str, ...]
    encoding: str = "custom"
    weighted: bool = False

    def __post_init__(self) -> None:
        a, part = self.adjacency, self.partition
        if not isinstance(a, sp.csr_array):
            raise TypeError(f"adjacency must be a scipy.sparse.csr_array, got {type(a).__name__}")
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"adjacency must be square, got shape {a.shape}")
        refuse_complex(a, "adjacency")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"adjacency must have real weights, got dtype {a.dtype}")
        if not np.all(np.isfinite(a.data)):
            raise ValueError("adjacency contains NaN or infinite weights")
        if not isinstance(part, np.ndarray) or not np.issubdtype(part.dtype, np.integer):
            raise TypeError(
                f"partition must be an integer numpy array, got "
                f"{type(part).__name__}{' of ' + str(part.dtype) if isinstance(part, np.ndarray) else ''}"
            )
        if not isinstance(self.names, tuple) or not all(isinstance(n, str) for n in self.names):
            raise TypeError(f"names must be a tuple of str, got {self.names!r}")
        if part.shape != (a.shape[0],):
            raise ValueError(f"partition must have one entry per node ({a.shape[0]}), got shape {part.shape}")
        if part.size and (np.any(np.diff(part) < 0) or part[0] < 0 or part[-1] >= len(self.names)):
            raise ValueError(
                f"partition must be non-decreasing, with values in [0, len(names)) = [0, {len(self.names)})"
            )
        if a.nnz:  # every edge points forward: from a node to a node of a later partition
            coo = a.tocoo()
            back = np.flatnonzero(part[coo.row] >= part[coo.col])
            if back.size:
                u, v = int(coo.row[back[0]]), int(coo.col[back[0]])
                raise ValueError(
                    f"adjacency has {back.size} edge(s) that do not point to a later partition, e.g. "
                    f"{u} -> {v} (partition {part[u]} -> {part[v]}); edges go from a partition to a later one"
                )

    @property
    def num_nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.adjacency.nnz)

    @property
    def nodes_per_partition(self) -> np.ndarray:
        """Number of nodes in each partition, shape (len(names),)."""
        return np.bincount(self.partition, minlength=len(self.names))

    @property
    def edges_per_partition(self) -> np.ndarray:
        """Number of edges entering each partition (0 for the input), shape (len(names),)."""
        heads = self.partition[self.adjacency.indices]
        return np.bincount(heads, minlength=len(self.names))

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a networkx DiGraph (node attribute `partition`, edge attribute `weight`).

        For small graphs: networkx stores about 500 bytes per edge.
        """
        g: Any = networkx().DiGraph()
        g.add_nodes_from((i, {"partition": int(p)}) for i, p in enumerate(self.partition))
        coo = self.adjacency.tocoo()
        g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
        return g
