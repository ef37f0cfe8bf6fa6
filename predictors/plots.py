"""Diagnostic plots of a predictor evaluation, written as PNG.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, so no global
backend is switched and nothing needs a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from predictors.evaluation import EvaluationReport
from predictors.learning_curve import LearningCurve

__all__ = ["plot_predicted_vs_actual", "plot_learning_curve", "learning_curve_figure", "plot_feature_importance",
           "MAX_SIZE_LABELS"]

#: Most x labels of a learning curve (sizes between them keep their points, unlabelled).
MAX_SIZE_LABELS = 8


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_predicted_vs_actual(report: EvaluationReport, path, target: str = "target") -> Path:
    """Out-of-fold predictions (mean over repeats) against the truth, with the identity line."""
    y = report.y
    pred = np.nanmean(report.oof_predictions, axis=0)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.scatter(y, pred, s=14, alpha=0.7, edgecolors="none")
    lo, hi = float(min(y.min(), np.nanmin(pred))), float(max(y.max(), np.nanmax(pred)))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=1, label="identity")
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target} (out of fold)")
    ax.set_title(f"R² {report.mean['r2']:.3f}, Kendall τ {report.mean['kendall']:.3f}, n={report.n_architectures}")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_learning_curve(curve: LearningCurve, path, metrics=("r2", "kendall")) -> Path:
    """Metric (mean ± std over repeats) against the number of training architectures."""
    return _save(learning_curve_figure(curve, metrics), path)


def learning_curve_figure(curve: LearningCurve, metrics=("r2", "kendall")) -> Figure:
    """The figure of :func:`plot_learning_curve`: the x axis (log scale) is labelled at the
    training sizes themselves, as plain integers (at most :data:`MAX_SIZE_LABELS` of them, evenly
    thinned), with no minor labels, so no two labels overlap."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    sizes = np.asarray(curve.sizes)
    for m in metrics:
        if m not in curve.values:
            continue
        mean, std = curve.mean(m), curve.std(m)
        ax.plot(sizes, mean, marker="o", label=m)
        ax.fill_between(sizes, mean - std, mean + std, alpha=0.2)
    ax.set_xscale("log")
    shown = sizes[np.unique(np.linspace(0, len(sizes) - 1, min(len(sizes), MAX_SIZE_LABELS)).round().astype(int))]
    ax.set_xticks(shown, [f"{int(s):,}" for s in shown])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training architectures")
    ax.set_ylabel("held-out score")
    ax.set_title(f"learning curve ({curve.n_test} held out, {curve.repeats} repeats)")
    ax.legend()
    return fig


def plot_feature_importance(importance: pd.DataFrame, path, top: int = 20) -> Path:
    """Horizontal bars of the ``top`` permutation importances with their std."""
    df = importance.head(top).iloc[::-1]
    fig = Figure(figsize=(6, 0.3 * len(df) + 1.2))
    ax = fig.add_subplot()
    ax.barh(df["feature"], df["importance_mean"], xerr=df["importance_std"], color="tab:blue")
    ax.set_xlabel("drop in R² when permuted (held-out folds)")
    ax.set_title("permutation feature importance")
    return _save(fig, path)
