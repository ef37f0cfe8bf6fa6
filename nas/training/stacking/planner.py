"""Which candidates share a stack: a step-cost model and a dynamic-programming plan over depths.

One stack costs what its padded shape costs, for every candidate in it. For feed-forward stacks a
shallow candidate carried through the levels of a deep one pads each of those levels to its last
layer's width, and the skip fan-out grows with the square of the padded total width, so one stack
of a mixed-depth cohort can cost far more than training its members one by one (measured
with ``scripts/bench_grouping.py``: 32 candidates of depth 2–85, one training step 2.9 s as one
stack, 0.19 s one by one, 0.08 s as the 8 planned stacks; see ``docs/benchmarks.md``). A recurrent
stack runs one time loop per level, so a shallow candidate beside a deep one costs the deep one's
levels too. So the candidates, sorted by depth, are split into contiguous groups by dynamic
programming over a cost model of a training step (:func:`plan_stacks`): multiply-adds,
elementwise work and a fixed overhead per stacked layer (kernel launches, autograd and optimizer
calls), with per-device, per-family constants (:data:`STEP_COST`). Few deep levels shared by many
candidates stay together; a deep outlier gets its own stack.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from nas.training.stacking.ff import padded_widths
from nas.training.stacking.schedule import current_schedule
from nas.training.stacking.wavefront import width_groups
from search_spaces.builders.recurrent import GATES

__all__ = ["plan_stacks", "plan_cost", "step_cost", "step_terms", "STEP_COST", "GROUPINGS", "is_recurrent"]

#: Seconds per multiply-add, per element of elementwise work, and per stacked layer of one
#: training step (recurrent: per *time step* of the wavefront, whose "layers" are its width
#: groups). ``ff``/``cpu``: least-squares fit to 40 timed steps of stacks of 1–11 MNIST candidates
#: on the 2-core CPU, one torch thread (median error 7 %). ``rnn``/``cpu``: the same fit to 40
#: stacks of 1–11 sparse GRUs, 32 time steps, one thread (``scripts/bench_grouping.py --task reber
#: --fit``, refitted for the wavefront; median error 3.5 %): it puts no weight on the multiply-adds,
#: which the elementwise gate work, growing with them, carries on this CPU. ``cuda``: estimates
#: (H100-class throughput, ~10 kernels of ~5-10 µs per layer), not yet measured; only the ratios
#: matter for the plan.
STEP_COST = {
    "ff": {
        "cpu": {"mac": 1.0e-10, "element": 5.2e-9, "layer": 1.4e-4},
        "cuda": {"mac": 2.0e-13, "element": 1.0e-11, "layer": 1.0e-4},
    },
    "rnn": {
        "cpu": {"mac": 0.0, "element": 1.7e-8, "layer": 1.3e-4},
        "cuda": {"mac": 2.0e-13, "element": 2.0e-11, "layer": 3.0e-4},
    },
}

#: ``cost``: contiguous groups by depth that minimise :func:`step_cost`; ``none``: one stack per
#: memory chunk (every depth padded to the deepest).
GROUPINGS = ("cost", "none")


def is_recurrent(model) -> bool:
    """True for a sparse recurrent model (it has a ``cell``)."""
    return hasattr(model, "cell") and hasattr(model, "layers")


def _constants(family: str, device) -> dict:
    table = STEP_COST[family]
    return table.get(torch.device(device).type, table["cpu"])


def _cost(terms: tuple[float, float, int], constants: dict) -> float:
    macs, elements, layers = terms
    return constants["mac"] * macs + constants["element"] * elements + constants["layer"] * layers


# --- feed-forward --------------------------------------------------------------------------------


def padded_entries(widths: Sequence[int], sources: Sequence[int], in_features: int, classes: int) -> tuple[int, list[int]]:
    """Weight entries of one feed-forward candidate padded to ``widths`` (input, main, output and
    the fan-out skip layers of ``sources``), and the rows of each fan-out layer (see
    :class:`~nas.training.stacking.ff.StackedFeedForward`)."""
    total = sum(widths)
    tails = [total - sum(widths[: s + 2]) for s in sources]
    entries = in_features * widths[0] + classes * widths[-1] + sum(widths[l] * widths[l - 1] for l in range(1, len(widths)))
    entries += sum(widths[s] * tail for s, tail in zip(sources, tails))
    return entries, tails


def _ff_terms(widths: Sequence[int], sources: Sequence[int], size: int, in_features: int, classes: int,
              batch: int) -> tuple[float, float, int]:
    macs, _ = padded_entries(widths, sources, in_features, classes)  # one multiply-add per entry and example
    total, done, elements = sum(widths), 0, 0
    for w in widths:  # the running sum of pending skip outputs still to be read at each level
        elements += total - done
        done += w
    return float(size * batch * macs), float(size * batch * elements), len(widths) + len(sources) + 1


def _ff_merge(state, run_widths, run_sources, run_size):
    widths, sources, size = state
    carried = widths[-1] if widths else 0  # earlier (shallower) members carry their last width on
    widths = [max(widths[l] if l < len(widths) else carried, run_widths[l]) for l in range(len(run_widths))]
    return widths, sources | run_sources, size + run_size


# --- recurrent -----------------------------------------------------------------------------------


def level_shapes(widths: Sequence[int], sources: Sequence[Sequence[int]], first_input: int) -> list[tuple[int, int, int]]:
    """Per level of a recurrent stack: (blocks K = 1 + skip sources into it, width W, summed input
    size ΣI_j of the blocks) — see :class:`~nas.training.stacking.rnn.StackedRecurrent`."""
    shapes = []
    for l, w in enumerate(widths):
        inputs = (first_input if l == 0 else widths[l - 1]) + sum(widths[s] for s in sources[l])
        shapes.append((1 + len(sources[l]), w, inputs))
    return shapes


def block_widths(model) -> list[int]:
    """Own width of every recurrent layer of a sparse RNN: one per DAG level, one per skip pair
    (the width of the level it ends at) — the blocks the wavefront computes."""
    return list(model.layer_sizes) + [model.layer_sizes[t] for _, t in model.skip_pairs]


def _rnn_terms(widths: Sequence[int], gates: int, classes: int, batch: int, device) -> tuple[float, float, int]:
    """Terms of one wavefront time step (:mod:`.wavefront`) over blocks of own ``widths``: the
    width groups it would run (each a set of kernel launches), their padded elementwise gate work
    and multiply-adds (inputs padded to the widest level)."""
    constants = _constants("rnn", device)
    ranges = width_groups(widths, constants["layer"], constants["element"] * gates * batch)
    W = max(widths)
    macs = elements = 0
    for low, high in ranges:
        n = sum(1 for w in widths if low <= w <= high)
        macs += n * gates * high * (W + high)
        elements += n * gates * high
    return float(batch * (macs + classes * W)), float(batch * elements), len(ranges)


def _union_terms(widths, sources, size: int, gates: int, first_input: int, classes: int, batch: int):
    """Terms of one time step of the level-by-level schedule: every union block of every level
    (:func:`level_shapes`), one overhead per level."""
    macs = elements = 0
    for blocks, width, inputs in level_shapes(widths, sources, first_input):
        macs += gates * width * (inputs + blocks * width)  # each block's input projection and recurrence
        elements += gates * blocks * width
    macs += classes * widths[-1]
    return float(size * batch * macs), float(size * batch * elements), len(widths)


def _union_merge(state, run_widths, run_sources, run_size):
    widths, sources, size = state
    depth = max(len(widths), len(run_widths))
    at = lambda seq, l, empty: seq[l] if l < len(seq) else empty  # noqa: E731
    widths = [max(at(widths, l, 0), at(run_widths, l, 0)) for l in range(depth)]
    sources = [sorted(set(at(sources, l, ())) | set(at(run_sources, l, ()))) for l in range(depth)]
    return widths, sources, size + run_size


def rnn_shape(models) -> tuple[list[int], list[list[int]]]:
    """Per level of a recurrent stack of ``models``: the widest candidate, and the skip sources into it."""
    depth = max(len(m.layer_sizes) for m in models)
    widths = [max((m.layer_sizes[l] for m in models if len(m.layer_sizes) > l), default=0) for l in range(depth)]
    sources = [sorted({s for m in models for s, t in m.skip_pairs if t == l}) for l in range(depth)]
    return widths, sources


def rnn_dims(model) -> tuple[int, int, int]:
    """(gate blocks per unit, input size of level 0, classes) of a recurrent model."""
    return GATES[model.cell], model.layers[0].input_size, model.output_layer.out_features


# --- the plan ------------------------------------------------------------------------------------


def step_terms(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> tuple[float, float, int]:
    """The regressors of :data:`STEP_COST` for ``models`` as one stack: (multiply-adds, elementwise
    elements, stacked layers) of one training step with batches of ``batch`` (recurrent: of one
    time step of the wavefront; its "layers" are its width groups)."""
    if is_recurrent(models[0]):
        if current_schedule() == "levels":
            return _union_terms(*rnn_shape(models), len(models), *rnn_dims(models[0]), batch)
        gates, _, classes = rnn_dims(models[0])
        return _rnn_terms([w for m in models for w in block_widths(m)], gates, classes, batch, device)
    sources = sorted({s for m in models for s, _ in m.skip_pairs})
    return _ff_terms(padded_widths(models), sources, len(models), models[0].input_layer.in_features,
                     models[0].output_layer.out_features, batch)


def step_cost(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> float:
    """Estimated seconds of one training step of ``models`` as one stack (see :data:`STEP_COST`)."""
    family = "rnn" if is_recurrent(models[0]) else "ff"
    return _cost(step_terms(models, batch, device), _constants(family, device))


def _dp(runs: list, start, merge: Callable, cost: Callable) -> list[list[int]]:
    """Contiguous groups of ``runs`` minimising the summed ``cost`` of each group's merged state."""
    D = len(runs)
    best = [0.0] + [float("inf")] * D
    cut = [0] * (D + 1)
    for first in range(D):
        state = start
        for last in range(first, D):  # group = runs first..last, merged incrementally
            state = merge(state, *runs[last][1:])
            total = best[first] + cost(state)
            if total < best[last + 1]:
                best[last + 1], cut[last + 1] = total, first
    groups, end = [], D
    while end > 0:
        start_run = cut[end]
        groups.append([i for run in runs[start_run:end] for i in run[0]])
        end = start_run
    return groups[::-1]


def plan_stacks(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> list[list[int]]:
    """Split ``models`` (all feed-forward, or all recurrent of one cell) into stacks that minimise
    the summed :func:`step_cost`.

    The models are ordered by (depth, total width) and cut only between depths, into contiguous
    groups, by dynamic programming over the distinct depths (O(D²) group costs for D depths).

    Returns
    -------
    list of list of int
        Indices into ``models``; every index exactly once; groups from shallow to deep.
    """
    order = sorted(range(len(models)), key=lambda i: (len(models[i].layer_sizes), sum(models[i].layer_sizes), i))
    members: list[list[int]] = []  # indices of each distinct depth, shallow to deep
    for i in order:
        if members and len(models[members[-1][0]].layer_sizes) == len(models[i].layer_sizes):
            members[-1].append(i)
        else:
            members.append([i])
    if is_recurrent(models[0]) and current_schedule() == "levels":
        dims = rnn_dims(models[0])
        constants = _constants("rnn", device)
        runs = [(run, *rnn_shape([models[i] for i in run]), len(run)) for run in members]
        return _dp(runs, ([], [], 0), _union_merge,
                   lambda state: _cost(_union_terms(state[0], state[1], state[2], *dims, batch), constants))
    if is_recurrent(models[0]):
        gates, _, classes = rnn_dims(models[0])
        constants = _constants("rnn", device)
        runs = [(run, [w for i in run for w in block_widths(models[i])]) for run in members]
        return _dp(runs, [], lambda widths, more: widths + more,
                   lambda widths: _cost(_rnn_terms(widths, gates, classes, batch, device), constants))
    in_features, classes = models[0].input_layer.in_features, models[0].output_layer.out_features
    constants = _constants("ff", device)
    runs = []
    for run in members:
        depth = len(models[run[0]].layer_sizes)
        widths = [max(models[i].layer_sizes[l] for i in run) for l in range(depth)]
        runs.append((run, widths, {s for i in run for s, _ in models[i].skip_pairs}, len(run)))
    return _dp(runs, ([], set(), 0), _ff_merge,
               lambda state: _cost(_ff_terms(state[0], sorted(state[1]), state[2], in_features, classes, batch), constants))


def plan_cost(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> float:
    """Estimated seconds of one training step of ``models`` as :func:`plan_stacks` would stack them
    (recurrent: per time step). Mixed families or cells are planned apart, as training does."""
    kinds: dict[str, list] = {}
    for m in models:
        kinds.setdefault(f"rnn:{m.cell}" if is_recurrent(m) else "ff", []).append(m)
    return sum(step_cost([group[i] for i in stack], batch, device)
               for group in kinds.values() for stack in plan_stacks(group, batch, device))
