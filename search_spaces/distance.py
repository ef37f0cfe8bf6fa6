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

Ties. Neurons with equal input sets cost the same to match, but the choice changes how the next
layer is re-indexed. Among the matchings of least Jaccard cost we therefore prefer (with weights
far below any Jaccard difference, ``1e-9`` and ``1e-12``) pairs with the same
Weisfeiler–Lehman colour — refined over the whole layered network, with inputs and outputs
fixed — and then the identity. This keeps ``nnstd(a, a) == 0`` exactly and makes a permuted
copy come out 0 when neurons are duplicated, except in the rare configurations that colour
refinement cannot tell apart (about 1 in 3,000 random 8-6-5-3 networks; it would take a graph
isomorphism search). The reported layer distance is always the plain Jaccard cost of the
chosen matching.

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
    masks_a = [_as_mask(m, f"layer {i} of the first network") for i, m in enumerate(a)]
    masks_b = [_as_mask(m, f"layer {i} of the second network") for i, m in enumerate(b)]
    for layer, (ma, mb) in enumerate(zip(masks_a, masks_b)):
        if ma.shape != mb.shape:
            raise ShapeMismatchError(
                f"layer {layer}: shapes differ, {ma.shape} in the first network and {mb.shape} in the second"
            )
    colours_a, colours_b = _refined_colours(masks_a, masks_b, chained)
    out: list[float] = []
    previous: np.ndarray | None = None  # B's neuron matched to each A neuron of the last layer
    for layer, (ma, mb) in enumerate(zip(masks_a, masks_b)):
        if chained and previous is not None:
            if mb.shape[1] != previous.size:
                raise ShapeMismatchError(
                    f"layer {layer}: expected {previous.size} inputs (the outputs of layer {layer - 1}), "
                    f"got shape {ma.shape}; pass chained=False for masks that do not form a chain"
                )
            mb = mb[:, previous]  # column i now holds the B neuron matched to A's neuron i
        cost = jaccard_distances(ma, mb)
        tie_break = 1e-9 * (colours_a[layer][:, None] != colours_b[layer][None, :])
        tie_break += 1e-12 * (1.0 - np.eye(*cost.shape))
        rows, cols = linear_sum_assignment(cost + tie_break)
        out.append(float(cost[rows, cols].sum() / ma.shape[0]))
        matched = np.empty(ma.shape[0], dtype=np.int64)
        matched[rows] = cols
        previous = matched
    return out


def _refined_colours(masks_a, masks_b, chained: bool):
    """Permutation-invariant colours of every layer's output neurons, comparable between a and b.

    Weisfeiler–Lehman refinement on the layered network: network inputs and outputs are fixed,
    so each is its own colour; a hidden neuron's colour is refined from its layer and the sorted
    colours of the neurons it reads from and feeds, until the partition stops growing. Colours
    are only computed when ``chained`` (otherwise layers are unrelated and all colours are 0).
    """
    layers = len(masks_a)
    if not chained or any(masks_a[i].shape[1] != masks_a[i - 1].shape[0] for i in range(1, layers)):
        return [np.zeros(m.shape[0], dtype=np.int64) for m in masks_a], [np.zeros(m.shape[0], dtype=np.int64) for m in masks_b]
    nets = []
    for masks in (masks_a, masks_b):
        # level 0: inputs; level k: outputs of mask k - 1. Colours start as (kind, index-or-level).
        levels = [[("in", j) for j in range(masks[0].shape[1])]]
        levels += [[("hidden", k)] * m.shape[0] for k, m in enumerate(masks[:-1], 1)]
        levels.append([("out", i) for i in range(masks[-1].shape[0])])
        reads = [[np.flatnonzero(row) for row in m] for m in masks]  # reads[k-1][i]: inputs of level k
        feeds = [[np.flatnonzero(col) for col in m.T] for m in masks]  # feeds[k][j]: level k+1 targets
        nets.append((levels, reads, feeds))
    previous = -1
    for _ in range(3 * (layers + 1)):
        table: dict = {}
        updated = []
        for levels, reads, feeds in nets:
            new = [list(range(len(levels[0])))]  # inputs stay distinct and fixed
            ids0 = [table.setdefault(c, len(table)) for c in levels[0]]
            new[0] = ids0
            for k in range(1, layers + 1):
                row = []
                for i, colour in enumerate(levels[k]):
                    if k == layers:
                        key = colour  # outputs are fixed: their index is their identity
                    else:
                        key = (
                            colour,
                            tuple(sorted(levels[k - 1][j] for j in reads[k - 1][i])),
                            tuple(sorted(levels[k + 1][j] for j in feeds[k][i])),
                        )
                    row.append(table.setdefault(key, len(table)))
                new.append(row)
            updated.append(new)
        for (levels, _, _), new in zip(nets, updated):
            levels[:] = new
        if len(table) == previous:
            break
        previous = len(table)
    return tuple([np.asarray(level, dtype=np.int64) for level in levels[1:]] for levels, _, _ in nets)


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
