"""Pruning trained networks — sparse or dense, feed-forward or recurrent — through their masks.

* :func:`prune_step` — one step of any method in :data:`METHODS`;
* :func:`saliencies`, :func:`hessian_diagonal` (Optimal Brain Damage);
* :func:`plan_schedule` — iterative, fixed-count and single-shot schedules to a target compression;
* :func:`prune_models` — prune many trained networks (:class:`Candidate`: network, method, seed)
  along a schedule, retraining them together as one cohort after every step;
  :func:`prune_model` for one;
* :func:`prunable` / :data:`PARTS` — which weights are pruned (input, hidden or recurrent, output);
* :class:`DenseMLP` / :func:`parse_arch` — a dense MLP given by its widths, with masks;
* :mod:`nas.studies.pruning.experiment` — ``nas prune``: seeds × methods, the output file, paired tests.
* :mod:`nas.studies.pruning.store` — a run's finished steps beside its output (``nas prune --resume``).
"""

from nas.studies.pruning.networks import DenseMLP, parse_arch
from nas.studies.pruning.run import Candidate, prune_model, prune_models
from nas.studies.pruning.saliency import (
           GLOBAL_METHODS,
           METHODS,
           count_to_prune,
           hessian_diagonal,
           prune_step,
           saliencies,
)
from nas.studies.pruning.schedule import compression, plan_schedule
from nas.studies.pruning.targets import PARTS, make_prunable, prunable

__all__ = ["METHODS", "GLOBAL_METHODS", "PARTS", "prune_step", "saliencies", "hessian_diagonal", "count_to_prune",
           "plan_schedule", "compression", "DenseMLP", "parse_arch", "Candidate", "prune_models", "prune_model",
           "prunable", "make_prunable"]
