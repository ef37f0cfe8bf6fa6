"""Structure-to-performance predictors (scikit-learn estimators; no torch here).

Public API (see ``docs/predictors.md``):

* features: :class:`GraphFeatures`;
* models: :func:`make_regressor`, :func:`list_models`, :func:`make_predictor`,
  :class:`EnsembleRegressor`; uncertainty: :func:`predict_with_uncertainty`;
* models: also :func:`make_paper_predictor` (the paper's 23 features → MinMaxScaler → random
  forest with scikit-learn's defaults);
* evaluation: :func:`evaluate` (:class:`EvaluationReport`; repeated K-fold, repeated grouped
  K-fold or leave-one-group-out, BCa intervals), :func:`learning_curve`,
  :func:`permutation_importance`;
* comparison: :func:`compare_predictors` (:class:`ComparisonResult`): several pipelines on
  identical splits, with paired differences and a corrected repeated k-fold t-test;
* tuning: :func:`tune`, :func:`nested_evaluate` (nested CV of the tuning);
* persistence: :func:`save_predictor`, :func:`load_predictor`;
* data: :func:`read_evaluations`, :func:`read_genomes`, :func:`read_genome_records`.

``tune`` and ``nested_evaluate`` import Optuna on first use, so ``import predictors`` stays light.
"""

from __future__ import annotations

from predictors.comparison import ComparisonResult, PairedDifference, compare_predictors
from predictors.data import read_evaluations, read_genome_records, read_genomes
from predictors.evaluation import EvaluationReport, evaluate
from predictors.exceptions import (
    EvaluationDataError,
    PredictorError,
    PredictorFileError,
    UnknownModelError,
)
from predictors.features import GraphFeatures
from predictors.importance import permutation_importance
from predictors.learning_curve import LearningCurve, learning_curve
from predictors.metrics import METRICS, compute_metric, compute_metrics
from predictors.models import (
    EnsembleRegressor,
    ModelSpec,
    get_model_spec,
    list_models,
    make_paper_predictor,
    make_predictor,
    make_regressor,
    register_model,
)
from predictors.persistence import (
    load_predictor,
    read_predictor_metadata,
    save_predictor,
)
from predictors.tuning import nested_evaluate as _nested_evaluate
from predictors.tuning import tune as _tune
from predictors.uncertainty import (
    UncertainPrediction,
    has_uncertainty,
    predict_with_uncertainty,
)

__all__ = [
    "GraphFeatures",
    "EnsembleRegressor",
    "ModelSpec",
    "UncertainPrediction",
    "register_model",
    "get_model_spec",
    "list_models",
    "make_regressor",
    "make_predictor",
    "make_paper_predictor",
    "predict_with_uncertainty",
    "has_uncertainty",
    "METRICS",
    "compute_metric",
    "compute_metrics",
    "EvaluationReport",
    "LearningCurve",
    "evaluate",
    "learning_curve",
    "permutation_importance",
    "compare_predictors",
    "ComparisonResult",
    "PairedDifference",
    "tune",
    "nested_evaluate",
    "save_predictor",
    "load_predictor",
    "read_predictor_metadata",
    "read_evaluations",
    "read_genomes",
    "read_genome_records",
    "PredictorError",
    "EvaluationDataError",
    "PredictorFileError",
    "UnknownModelError",
]


def tune(*args, **kwargs):
    """Tune a registered regressor with Optuna; see :func:`predictors.tuning.tune`."""
    return _tune(*args, **kwargs)


def nested_evaluate(*args, **kwargs):
    """Nested CV of :func:`tune`; see :func:`predictors.tuning.nested_evaluate`."""
    return _nested_evaluate(*args, **kwargs)
