"""What a search generation measured: counts, times, compute, the predictor's quality, the progress line.

Compute is counted in trained example-epochs (:func:`nas.search.evaluator.example_epochs`): a
generation's ``example_epochs`` is the sum over the candidates it trained (failed ones included,
at their planned budget), ``cumulative_example_epochs`` the screening compute of the search so far
(:func:`screening_compute`); the search stops proposing generations once it reaches
``compute_budget`` (:func:`budget_reached`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nas.search.gating import kendall

__all__ = ["generation_stats", "echo_progress", "screening_compute", "add_compute", "budget_reached"]


def generation_stats(gen, candidates, to_train, shadow, reason, trials, values, mean, std, training_set, by_number, config) -> dict:
    """What generation ``gen`` measured: how many candidates were trained, skipped and failed, the
    training time and the time saved, and — when it was gated — the predictor's rank correlation,
    error and false negatives (shadow candidates that would have survived)."""
    trained = [i for i in to_train if values[i] is not None]
    failed = [i for i in to_train if values[i] is None]
    times = [trials[i].user_attrs.get("wall_time_s") or 0.0 for i in trained]
    per = float(np.mean(times)) if times else 0.0
    skipped = len(candidates) - len(to_train)
    stats: dict[str, Any] = {
        "generation": gen,
        "candidates": len(candidates),
        "trained": len(to_train),
        "shadow": len(shadow),
        "skipped": skipped,
        "failed": len(failed),
        "gated": mean is not None,
        "train_time_s": float(sum(times)),
        # (successive halving replaces it with every rung's compute; ``trials`` holds its top rung only)
        "example_epochs": int(sum(trials[i].user_attrs.get("example_epochs") or 0 for i in to_train if i in trials)),
        "saved_time_s": per * skipped,
        "kendall_tau": None,
        "mae": None,
        "false_negatives": None,
        "skipped_candidates": [
            {"genome": candidates[i].to_json(), "predicted": float(mean[i]), "predicted_std": float(std[i])}
            for i in range(len(candidates)) if i not in reason and mean is not None
        ],
    }
    if mean is not None and trained:
        pred = [float(mean[i]) for i in trained]
        actual = [float(values[i][0]) for i in trained]
        stats["kendall_tau"] = kendall(pred, actual)
        stats["mae"] = float(np.mean(np.abs(np.subtract(pred, actual))))
        # a shadow candidate is a false negative when its measured value would have put it among
        # the survivors: at least the k-th best of everything measured up to this generation
        measured = sorted([by_number[n].values[0] for n in training_set] + actual, reverse=True)
        kth = measured[min(config.survivors, len(measured)) - 1]
        shadow_ok = [i for i in shadow if values[i] is not None]
        stats["false_negatives"] = sum(values[i][0] >= kth for i in shadow_ok)
        stats["false_negative_rate"] = (stats["false_negatives"] / len(shadow_ok)) if shadow_ok else None
    return stats


def screening_compute(history: list[dict]) -> int:
    """Example-epochs the generations in ``history`` trained (a history stored before compute was
    counted adds up what its generations recorded, 0 where nothing was)."""
    if history and history[-1].get("cumulative_example_epochs") is not None:
        return int(history[-1]["cumulative_example_epochs"])
    return int(sum(g.get("example_epochs") or 0 for g in history))


def add_compute(stats: dict, history: list[dict]) -> dict:
    """``stats`` of the generation after ``history`` with the search's cumulative screening compute."""
    stats["cumulative_example_epochs"] = screening_compute(history) + int(stats.get("example_epochs") or 0)
    return stats


def budget_reached(budget: int | None, history: list[dict]) -> bool:
    """True when a ``compute_budget`` is set and the generations so far trained at least that much:
    no further generation starts (the one that crossed it ran whole)."""
    return budget is not None and screening_compute(history) >= budget


def echo_progress(echo: Callable[[str], None] | None, stats: dict, metric: str) -> None:
    """One progress line for the generation ``stats`` describe (nothing without ``echo``)."""
    if echo is None:
        return
    tau = stats.get("kendall_tau")
    best = stats.get("best_so_far")
    compute = stats.get("cumulative_example_epochs")
    echo(
        f"gen {stats['generation']:>3}  trained {stats['trained']:>3} (shadow {stats['shadow']})  "
        f"skipped {stats['skipped']:>3}  failed {stats['failed']}  "
        f"best {metric} {'-' if best is None else f'{best:.4f}'}  "
        f"predictor tau {'-' if tau is None else f'{tau:+.2f}'}  "
        f"train {stats['train_time_s']:.1f}s  saved~{stats['saved_time_s']:.1f}s"
        + (f"  compute {compute:,} example-epochs" if compute else "")
        + (f"  rungs {'/'.join(map(str, stats['rung_sizes']))}" if stats.get("rung_sizes") else "")
    )
