"""Pruning schedules: how many weights each step removes until a target compression.

Compression is the share (0–1) of the prunable weights that were nonzero before pruning started
and are now removed.

* ``rate`` (iterative): every step removes ``round(rate × remaining)`` — a share of the weights
  still there — until the compression reaches the target to within :data:`TOLERANCE` (0.1
  percentage point: geometric steps rarely land on a round number). With ``rate = 0.25`` the
  compressions run 25.0, 43.8, 57.8, 68.4, 76.3, 82.2, 86.7, 90.0 % (1 − 0.75⁸ = 89.99 %), the
  levels of the paper's table; ``target=0.9`` stops there.
* ``count`` (fixed): every step removes ``count`` weights; the last one only what the target needs.
* single shot: one step to the target.

Examples
--------
>>> plan_schedule(1000, target=0.5, rate=0.25)
[250, 188, 140]
>>> plan_schedule(1000, target=0.5, count=200)
[200, 200, 100]
>>> plan_schedule(1000, target=0.8)
[800]
"""

from __future__ import annotations

import math

from nas.exceptions import PruningError

__all__ = ["plan_schedule", "compression", "TOLERANCE"]

#: How far below the target an iterative (rate) schedule may stop.
TOLERANCE = 1e-3


def compression(pruned: int, total: int) -> float:
    """Share of the ``total`` prunable weights that are removed."""
    return pruned / total if total else 0.0


def plan_schedule(total: int, *, target: float, rate: float | None = None, count: int | None = None,
                  pruned: int = 0) -> list[int]:
    """Weights to remove at each step, from ``pruned`` of ``total`` removed to ``target`` compression.

    Give ``rate`` (iterative), ``count`` (fixed), or neither (single shot).

    Raises
    ------
    PruningError
        ``total`` below 1; a target outside (0, 1) or already reached; both ``rate`` and
        ``count``; a rate outside (0, 1) or a count below 1; a rate whose step would remove no
        weight before the target (unreachable).
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise PruningError(f"expected at least 1 prunable weight, got {total!r}")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
        raise PruningError(f"target compression must be in (0, 1), got {target!r}")
    if rate is not None and count is not None:
        raise PruningError("give a rate (share of the remaining weights per step) or a count per step, not both")
    goal = math.ceil(target * total - 1e-9)  # weights removed at the target
    if pruned >= goal:
        raise PruningError(f"target compression {target:.1%} is already reached ({compression(pruned, total):.1%} of "
                           f"{total} weights removed); expected a higher target")
    if goal >= total:
        raise PruningError(f"target compression {target:.1%} of {total} weights would remove every weight")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1:
            raise PruningError(f"rate must be a share in (0, 1) of the remaining weights, got {rate!r}")
        near = math.ceil((target - TOLERANCE) * total - 1e-9)
        steps = []
        while pruned < near:
            k = round(rate * (total - pruned))
            if k < 1:
                raise PruningError(f"target {target:.1%} is unreachable at rate {rate}: with {total - pruned} weights "
                                   f"left a step removes none")
            steps.append(k)
            pruned += k
        return steps
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise PruningError(f"count must be an integer >= 1 weight per step, got {count!r}")
        steps = []
        while pruned < goal:
            k = min(count, goal - pruned)
            steps.append(k)
            pruned += k
        return steps
    return [goal - pruned]
