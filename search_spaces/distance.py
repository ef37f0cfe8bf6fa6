"""Neural Network Sparse Topology Distance (NNSTD) of Liu et al. 2020.

*Topological Insights into Sparse Neural Networks* (ECML-PKDD 2020) compare two sparse networks
with equal layer shapes layer by layer:

1. For layer ``l``, the distance between output neuron ``i`` of network A and output neuron ``j``
   of network B is the Jaccard distance of their input sets: ``1 - |I_i ∩ J_j| / |I_i ∪ J_j|``,
   0 when both sets are empty, 1 when they are disjoint.
2. The neurons are matched one-to-one by the Hungarian algorithm
   (:func:`scipy.optimize.linear_sum_assignment`); the layer distance is the matched cost divided
   by the number of neurons.
3. The matching re-indexes B's neurons, so the *inputs* of B's next layer are permuted by it
   before that layer is compared (the first layer reads the network input, which is never
   permuted).
4. NNSTD is the mean of the layer distances, in ``[0, 1]``.

So NNSTD is 0 for a network against itself or against any copy with hidden neurons permuted,
1 for networks with disjoint connections, and symmetric (up to ties in the matching).

Examples
--------
>>> import numpy as np
>>> a = [np.array([[1, 0], [0, 1]]), np.array([[1, 1]])]
>>> b = [np.array([[0, 1], [1, 0]]), np.array([[1, 1]])]  # hidden neurons swapped
>>> nnstd(a, b)
0.0
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from search_spaces.exceptions import SearchSpaceError, ShapeMismatchError

__all__ = ["nnstd", "layer_distances", "jaccard_distances"]


def _as_mask(value, name: str) -> np.ndarray:
    # Tensors are converted without importing torch: anything with .detach() is one.
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 2:
        raise ShapeMismatchError(f"{name}: expected a 2-D mask (n_out, n_in), got shape {array.shape}")
    return array != 0


def jaccard_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard distance between every row of ``a`` and every row of ``b`` (0/1 matrices).

    Returns an ``(len(a), len(b))`` array; rows that are both empty are at distance 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    return 1.0 - np.divide(inter, union, out=np.ones_like(inter), where=union > 0)


def layer_distances(a: Sequence, b: Sequence, *, chained: bool = True) -> list[float]:
    """Per-layer NNSTD distances of two sparse networks.

    Parameters
    ----------
    a, b : sequence of array-like
        One 0/1 mask per layer, shaped ``(n_out, n_in)`` like a torch ``Linear`` weight (numpy
        arrays or tensors; any nonzero entry counts as a connection).
    chained : bool
        True (Liu et al.): layer ``l`` reads the outputs of layer ``l - 1``, so B's inputs of
        layer ``l`` are permuted by the matching of layer ``l - 1``; consecutive masks must chain
        (``n_in[l] == n_out[l - 1]``). False: every layer is compared on its own inputs.

    Returns
    -------
    list of float
        One distance in ``[0, 1]`` per layer.

    Raises
    ------
    ShapeMismatchError
        Different numbers of layers, a layer whose shapes differ (the message names the layer
        and both shapes), a mask that is not 2-D, or (``chained``) masks that do not chain.
    SearchSpaceError
        No layers.
    """
    if len(a) != len(b):
        raise ShapeMismatchError(f"networks have {len(a)} and {len(b)} layers; NNSTD needs equal layer counts")
    if len(a) == 0:
        raise SearchSpaceError("NNSTD needs at least one layer, got two empty sequences")
    out: list[float] = []
    previous: np.ndarray | None = None  # B's neuron matched to each A neuron of the last layer
    for layer, (ma, mb) in enumerate(zip(a, b)):
        ma = _as_mask(ma, f"layer {layer} of the first network")
        mb = _as_mask(mb, f"layer {layer} of the second network")
        if ma.shape != mb.shape:
            raise ShapeMismatchError(
                f"layer {layer}: shapes differ, {ma.shape} in the first network and {mb.shape} in the second"
            )
        if chained and previous is not None:
            if mb.shape[1] != previous.size:
                raise ShapeMismatchError(
                    f"layer {layer}: expected {previous.size} inputs (the outputs of layer {layer - 1}), "
                    f"got shape {ma.shape}; pass chained=False for masks that do not form a chain"
                )
            mb = mb[:, previous]  # column i now holds the B neuron matched to A's neuron i
        cost = jaccard_distances(ma, mb)
        rows, cols = linear_sum_assignment(cost)
        out.append(float(cost[rows, cols].sum() / ma.shape[0]))
        matched = np.empty(ma.shape[0], dtype=np.int64)
        matched[rows] = cols
        previous = matched
    return out


def nnstd(a: Sequence, b: Sequence, *, chained: bool = True) -> float:
    """NNSTD of two sparse networks: the mean of :func:`layer_distances`.

    Parameters
    ----------
    a, b : sequence of array-like
        One ``(n_out, n_in)`` 0/1 mask per layer (numpy arrays or torch tensors).
    chained : bool
        See :func:`layer_distances`.

    Returns
    -------
    float
        In ``[0, 1]``: 0 for identical topologies up to a permutation of hidden neurons.

    Raises
    ------
    ShapeMismatchError
        Layer counts or shapes differ; the message names the layer and both shapes.

    Examples
    --------
    >>> import numpy as np
    >>> nnstd([np.eye(3)], [np.ones((3, 3)) - np.eye(3)])
    0.5
    """
    return float(np.mean(layer_distances(a, b, chained=chained)))
