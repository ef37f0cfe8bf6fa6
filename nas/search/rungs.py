"""The rungs of successive halving: what each trains for, how many go on, which trials count.

Pure functions, shared by the loop (:mod:`nas.search.halving`), the workers (which train a trial
at its rung's *fidelity*), the trainer and the final phase (which must not mistake a candidate
stopped at a lower rung for a fully screened one).

A trial screened by halving carries the user attributes ``rung`` (0 = the shortest) and
``fidelity``: the share of the screening budget's optimizer steps it was trained for,
``eta ** (rung - rungs + 1)``, 1 at the top rung. Trials without them (every trial of a
``screening = "full"`` search) were trained at the full screening budget.

Examples
--------
>>> [fidelity(r, rungs=3, eta=3) for r in range(3)]
[0.1111111111111111, 0.3333333333333333, 1.0]
>>> rung_sizes(10, rungs=3, eta=3)
[10, 3, 1]
>>> rung_steps(188, 1 / 9)
21
"""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["RUNG_ATTR", "FIDELITY_ATTR", "fidelity", "rung_sizes", "rung_steps", "promoted", "screened_fully",
           "compute_of"]

RUNG_ATTR = "rung"
FIDELITY_ATTR = "fidelity"


def fidelity(rung: int, *, rungs: int, eta: int) -> float:
    """Share of the screening budget rung ``rung`` (of ``rungs``) trains for: ``eta ** (rung - rungs + 1)``."""
    return float(eta) ** (rung - rungs + 1)


def rung_sizes(n: int, *, rungs: int, eta: int) -> list[int]:
    """Planned candidates per rung when ``n`` start: each rung keeps ``n_r // eta``, at least one
    (while any started), as in Hyperband's brackets."""
    sizes = [n]
    for _ in range(rungs - 1):
        sizes.append(max(1, sizes[-1] // eta) if sizes[-1] else 0)
    return sizes


def rung_steps(full_steps: int, share: float) -> int:
    """Optimizer steps of a rung: ``share`` of the screening budget's ``full_steps``, rounded up, at least 1."""
    return max(1, math.ceil(full_steps * share - 1e-9))


def promoted(values: Sequence[tuple[int, float | None]], k: int) -> list[int]:
    """The ``k`` best of ``(candidate, value)`` pairs by value (higher is better; None = failed,
    never promoted); ties go to the earlier candidate, so the choice is deterministic.

    >>> promoted([(0, 0.5), (1, 0.9), (2, None), (3, 0.9)], 2)
    [1, 3]
    """
    ok = [(i, v) for i, v in values if v is not None and math.isfinite(v)]
    return [i for i, _ in sorted(ok, key=lambda p: (-p[1], p[0]))[:k]]


def screened_fully(attrs: dict) -> bool:
    """Whether a trial (its user attributes) was trained at the full screening budget: every trial
    of a full-screening search, and the top rung of a halving one."""
    share = attrs.get(FIDELITY_ATTR)
    return share is None or float(share) >= 1.0


def compute_of(attrs_list: Sequence[dict]) -> float:
    """Screening compute of trials, in full screening trainings (the sum of their fidelities)."""
    return float(sum(1.0 if a.get(FIDELITY_ATTR) is None else float(a[FIDELITY_ATTR]) for a in attrs_list))
