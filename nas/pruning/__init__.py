"""Pruning sparse and dense networks through their masks (issue 13; the saliency core so far).

* :func:`prune_step` — one step of any method in :data:`METHODS`;
* :func:`saliencies`, :func:`hessian_diagonal` (Optimal Brain Damage);
* :func:`plan_schedule` — iterative, fixed-count and single-shot schedules to a target compression;
* :func:`prune_model` — prune a trained network along a schedule, retraining after every step;
* :class:`DenseMLP` / :func:`parse_arch` — a dense MLP given by its widths, with masks.
"""

from nas.pruning.networks import DenseMLP, parse_arch
from nas.pruning.run import prunable, prune_model
from nas.pruning.schedule import compression, plan_schedule
from nas.pruning.saliency import GLOBAL_METHODS, METHODS, count_to_prune, hessian_diagonal, prune_step, saliencies

__all__ = ["METHODS", "GLOBAL_METHODS", "prune_step", "saliencies", "hessian_diagonal", "count_to_prune", "plan_schedule",
           "compression", "DenseMLP", "parse_arch", "prune_model", "prunable"]
