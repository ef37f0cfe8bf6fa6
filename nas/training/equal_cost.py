"""Equal-cost comparisons: the vertex width that gives a genome a target cost — a number of nonzero
weights (a *weight target*) or of FLOPs per example (a *FLOPs target*, counted by
:mod:`nas.training.flops`).

Priors compared at equal node count differ a lot in cost (a dense Erdős–Rényi graph has many
times the edges of a tree-like Barabási–Albert one), so a search or a study can instead fix a
*weight target* (a number of nonzero weights) and let every candidate's width follow from it. A sparse MLP's weight
count grows with the width ``w`` as ``a·w² + b·w + c`` (edge blocks are ``w × w``, the input and
output layers and the biases grow with ``w``), so the count is monotone in ``w`` and the best width
is found by bisection. FLOPs per example grow with the width as well (an MLP's are its nonzero
weights; an RNN's and a CNN's grow with every layer), so the same bisection fits a FLOPs target.

Feed-forward counts are computed from the DAG (:func:`ff_nonzero_weights`, equal to the built
model's :meth:`nonzero_weights`, see the tests); other families are built and counted.

Examples
--------
>>> from search_spaces import Genome
>>> g = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=30, seed=1)
>>> fitted = width_for_weight_target(g, 100_000, lambda h: ff_nonzero_weights(h, 784, 10))
>>> fitted.width
7
"""

from __future__ import annotations

import math
from typing import Callable

from search_spaces.genome import MAX_WIDTH, Genome

__all__ = ["ff_nonzero_weights", "width_for_target", "width_for_weight_target", "width_for_flops_target",
           "task_weight_counter"]


def ff_nonzero_weights(genome: Genome, in_features: int, classes: int) -> int:
    """Nonzero weights and biases of ``genome``'s sparse MLP (family ``ff``, no layer norm).

    Dense input layer, one masked block per DAG edge, a bias for every unit with an incoming edge
    in a masked layer, and the output layer over the units its readout reads.
    """
    dag = genome.dag()
    w = genome.width
    units = [n * w for n in dag.layer_sizes]
    total = in_features * units[0] + units[0] + dag.num_edges * w * w
    layer = dag.layer_of
    # masked layers: a bias for every (source layer, target vertex) pair joined by an edge
    fed = {(layer[u], v) for u, v in dag.edges}
    total += len(fed) * w
    if genome.readout == "last":
        read = units[-1]
    else:
        read = len(dag.sinks) * w
    return total + read * classes + classes


def width_for_target(genome: Genome, target: float, count: Callable[[Genome], float], widths=(1, MAX_WIDTH)) -> Genome:
    """``genome`` with the width in ``widths`` whose ``count`` comes closest to ``target``.

    ``count(genome)`` must grow with the width (weight and FLOPs counts do); ties go to the
    smaller width. A target below the smallest width's count gives the smallest width, one above
    the largest width's count the largest.
    """
    lo, hi = int(widths[0]), int(widths[1])
    counted: dict[int, float] = {}  # non-ff counts build a model: count each width once

    def at(width: int) -> float:
        if width not in counted:
            counted[width] = count(genome.replace(width=width))
        return counted[width]

    if at(lo) >= target:
        return genome.replace(width=lo)
    if at(hi) <= target:
        return genome.replace(width=hi)
    while hi - lo > 1:  # invariant: at(lo) < target < at(hi)
        mid = (lo + hi) // 2
        if at(mid) < target:
            lo = mid
        else:
            hi = mid
    best = lo if target - at(lo) <= at(hi) - target else hi
    return genome.replace(width=best)


def width_for_weight_target(genome: Genome, target: int, count: Callable[[Genome], int], widths=(1, MAX_WIDTH)) -> Genome:
    """``genome`` with the width whose nonzero weights ``count`` come closest to ``target``
    (:func:`width_for_target`; ``count``: e.g. :func:`task_weight_counter`)."""
    return width_for_target(genome, target, count, widths)


def width_for_flops_target(genome: Genome, target: int, count: Callable[[Genome], int], widths=(1, MAX_WIDTH)) -> Genome:
    """``genome`` with the width whose FLOPs per example ``count`` come closest to ``target``
    (:func:`width_for_target`; ``count``: :func:`nas.training.flops.task_flops_counter`)."""
    return width_for_target(genome, target, count, widths)


def task_weight_counter(task, data) -> Callable[[Genome], int]:
    """``count(genome)``: nonzero weights of the genome's model for ``task`` on ``data``
    (analytic for ``ff``, by building the model otherwise)."""
    shape = tuple(data.input_shape)

    def count(genome: Genome) -> int:
        if genome.family == "ff":
            return ff_nonzero_weights(genome, int(math.prod(shape)), data.num_classes)
        return task.build(genome, data).nonzero_weights()

    return count
