"""Whether a benchmark's equal-cost target can be met at all, checked before anything is trained.

``nas search`` sets every candidate's width so its nonzero weights (``weight_target``) or FLOPs per
example (``flops_target``) come closest to the target, clipping the width to ``widths``: a target
below the smallest candidate or above the largest one is silently "met" by the nearest width.
A benchmark run at such a target would compare networks that all miss it, so
:func:`check_cost_target` refuses it: it draws :data:`SAMPLES` candidates of the search space
(seeded) and counts each at the smallest and the largest width; the target must lie between the
smallest count at the smallest width and the largest count at the largest width.
"""

from __future__ import annotations

import numpy as np

from nas.exceptions import ConfigError
from nas.search.config import SearchConfig
from nas.search.strategies import SearchSpace
from nas.training.equal_cost import task_weight_counter
from nas.training.flops import task_flops_counter
from search_spaces.exceptions import SparseNASError

__all__ = ["check_cost_target", "SAMPLES"]

SAMPLES = 32


def check_cost_target(config: SearchConfig, trainer) -> tuple[int, int] | None:
    """Raise unless some candidate of ``config``'s search space can meet its cost target.

    ``trainer`` provides the task, its data (input shape, classes) and the model family. Returns
    the (smallest, largest) count found, None without a cost target.

    Raises
    ------
    ConfigError
        The target is below every sampled candidate at the smallest width, or above every one at
        the largest (names the option, the target and the reachable range).
    """
    if config.weight_target is not None:
        option, target, counter, unit = "--weight-target", config.weight_target, task_weight_counter, "nonzero weights"
    elif config.flops_target is not None:
        option, target, counter, unit = "--flops-target", config.flops_target, task_flops_counter, "FLOPs per example"
    else:
        return None
    count = counter(trainer.task, trainer.data)
    space = SearchSpace(config.priors, config.nodes, trainer.family, config.widths, config.readout)
    rng = np.random.default_rng(0)
    lo, hi = int(config.widths[0]), int(config.widths[1])
    smallest, largest = [], []
    for _ in range(SAMPLES):
        genome = space.random(rng)
        try:
            smallest.append(count(genome.replace(width=lo)))
            largest.append(count(genome.replace(width=hi)))
        except (SparseNASError, RuntimeError, ValueError):  # an unbuildable draw says nothing
            continue
    if not smallest:
        return None
    low, high = int(min(smallest)), int(max(largest))
    if not low <= target <= high:
        raise ConfigError(f"{option} {target:,}: no candidate can meet it; expected {unit} between {low:,} (the "
                          f"smallest of {SAMPLES} sampled candidates at width {lo}) and {high:,} (the largest at "
                          f"width {hi})")
    return low, high
