"""Saving and loading fitted predictors safely (skops, never pickle).

A predictor file is a skops archive holding ``{"metadata_json": str, "pipeline": Pipeline}``.
The metadata records the format and schema version, the feature group and feature names, the
library versions and a summary of the training set. Loading

1. lists the types the archive would instantiate and refuses any outside an allow-list
   (scikit-learn, numpy/scipy value types, and this package's own estimators) — skops never
   runs ``pickle`` and builds only the types it is told to trust;
2. checks the format, the schema version and that the pipeline's feature names equal both the
   recorded ones and those the installed :mod:`search_spaces.features` computes for that group,
   and that the recorded feature version equals
   :data:`search_spaces.features.FEATURE_VERSION` (same names, other values: e.g. version 1
   computed the paper's variances with ddof=0), so a predictor trained on another feature set is
   refused, not silently misapplied.

Schema 2 added ``feature_version`` to the metadata; schema-1 files were fitted on version-1
features and are refused with a hint to refit.
"""

from __future__ import annotations

import json
import platform
import warnings
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import scipy
import sklearn
import skops
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from predictors.exceptions import EvaluationDataError, PredictorFileError
from predictors.features import GraphFeatures, feature_group_names
from search_spaces import (
    features as graph_feature_module,  # FEATURE_VERSION read at call time
)


def _skops_io():
    """skops.io, imported when a file is read or written: it imports torch whenever torch is
    installed, and ``predictors`` must not import torch (the one deliberate inner import here)."""
    import skops.io

    return skops.io

__all__ = ["save_predictor", "load_predictor", "read_predictor_metadata", "FORMAT", "SCHEMA_VERSION", "TRUSTED_PREFIXES"]

FORMAT = "sparse-nas-predictor"
SCHEMA_VERSION = 2
#: Types from these modules may be instantiated on load. scikit-learn estimators are plain
#: data once built; functions and arbitrary classes (``builtins.eval``, ``os.system``) are not here.
TRUSTED_PREFIXES = ("sklearn.", "predictors.features.", "predictors.models.")
_TRUSTED_EXACT = frozenset(
    {
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.random.RandomState",
        "numpy.random._mt19937.MT19937",
        "numpy.random.mtrand.RandomState",
        "builtins.slice",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
    }
)
_OWN_TYPES = frozenset(
    {"predictors.features.GraphFeatures", "predictors.models.EnsembleRegressor", "predictors.models.GaussianProcess"}
)


def _versions() -> dict[str, str]:
    # predictors must not import nas (dependency direction), so versions are read here.

    try:
        own = version("sparse-nas")
    except PackageNotFoundError:  # not installed as a distribution (e.g. a source checkout)
        own = "unknown"
    return {
        "python": platform.python_version(),
        "sparse-nas": own,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
    }


def _feature_step(pipeline) -> GraphFeatures:
    if not isinstance(pipeline, Pipeline) or not isinstance(pipeline.steps[0][1], GraphFeatures):
        raise PredictorFileError(
            f"expected a Pipeline whose first step is GraphFeatures (see predictors.make_predictor), got {type(pipeline).__name__}"
        )
    return pipeline.steps[0][1]


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


def save_predictor(pipeline, path, training_summary: dict | None = None) -> Path:
    """Save a fitted predictor pipeline with its metadata as a skops file.

    Parameters
    ----------
    pipeline : fitted Pipeline
        Starting with :class:`GraphFeatures` (as :func:`predictors.make_predictor` builds).
    path : str or Path
        Destination (conventionally ``*.skops``); written atomically.
    training_summary : dict, optional
        JSON-able facts about the training set (size, target, its range, data file, score...).

    Returns
    -------
    Path

    Raises
    ------
    PredictorFileError
        The pipeline is not fitted or does not start with GraphFeatures.
    """
    feats = _feature_step(pipeline)
    try:
        check_is_fitted(pipeline)
        check_is_fitted(pipeline.steps[-1][1])
    except NotFittedError as err:
        raise PredictorFileError(f"expected a fitted predictor, got an unfitted one: {err}") from None
    names = [str(n) for n in feats.get_feature_names_out()]
    meta = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "feature_version": graph_feature_module.FEATURE_VERSION,
        "feature_group": feats.group,
        "extra_columns": list(feats.extra_columns),
        "feature_names": names,
        "model": type(pipeline.steps[-1][1]).__name__,
        "steps": [name for name, _ in pipeline.steps],
        "library_versions": _versions(),
        "training_summary": _jsonable(training_summary or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _skops_io().dump({"metadata_json": json.dumps(meta, sort_keys=True), "pipeline": pipeline}, tmp)
    tmp.replace(path)
    return path


def _untrusted(path: Path) -> list[str]:
    try:
        return list(_skops_io().get_untrusted_types(file=path))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, TypeError, OSError) as err:
        raise PredictorFileError(f"{path}: expected a skops predictor file, cannot read it ({type(err).__name__}: {err})") from None


def _check_types(path: Path, types: list[str]) -> None:
    refused = sorted(t for t in types if t not in _TRUSTED_EXACT and not t.startswith(TRUSTED_PREFIXES))
    bad_own = sorted(t for t in types if t.startswith(("predictors.features.", "predictors.models.")) and t not in _OWN_TYPES)
    if refused or bad_own:
        raise PredictorFileError(f"{path}: refusing to load untrusted types {refused + bad_own}; a predictor file holds only scikit-learn and sparse-nas estimators")


def read_predictor_metadata(path) -> dict:
    """The metadata of a predictor file (format, feature names, versions, training summary).

    Raises
    ------
    PredictorFileError
        Missing, unreadable, untrusted or not a sparse-nas predictor file.
    """
    return _load(path)[0]


def _load(path):
    path = Path(path)
    if not path.is_file():
        raise PredictorFileError(f"predictor file not found: {path}")
    types = _untrusted(path)
    _check_types(path, types)
    try:
        obj = _skops_io().load(path, trusted=types)
    except Exception as err:  # skops raises many kinds on a damaged archive; all mean "unusable"
        raise PredictorFileError(f"{path}: cannot load the predictor ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict) or set(obj) != {"metadata_json", "pipeline"}:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise PredictorFileError(f"{path}: expected a sparse-nas predictor (keys metadata_json, pipeline), got {keys}")
    try:
        meta = json.loads(obj["metadata_json"])
    except (TypeError, json.JSONDecodeError) as err:
        raise PredictorFileError(f"{path}: metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PredictorFileError(f"{path}: expected format {FORMAT!r}, got {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if meta.get("schema_version") != SCHEMA_VERSION:
        hint = ""
        if meta.get("schema_version") == 1:
            hint = " (schema 1 predictors were fitted on version-1 features, the paper's variances with ddof=0; refit it)"
        raise PredictorFileError(f"{path}: expected schema version {SCHEMA_VERSION}, got {meta.get('schema_version')!r}{hint}")
    if meta.get("feature_version") != graph_feature_module.FEATURE_VERSION:
        raise PredictorFileError(
            f"{path}: fitted on feature version {meta.get('feature_version')!r}, this installation computes version "
            f"{graph_feature_module.FEATURE_VERSION} (same names, other values); refit the predictor"
        )
    return meta, obj["pipeline"]


def load_predictor(path, *, expected_features=None) -> Pipeline:
    """Load a predictor saved by :func:`save_predictor`, refusing anything that does not match.

    Parameters
    ----------
    path : str or Path
    expected_features : sequence of str, optional
        If given, the predictor's feature names must equal these.

    Returns
    -------
    Pipeline
        Fitted; ``pipeline.metadata_`` is not set (use :func:`read_predictor_metadata`).

    Raises
    ------
    PredictorFileError
        Missing or damaged file, untrusted types, wrong format or schema, or feature names that
        differ from the recorded ones, from the installed feature set or from ``expected_features``.
    """
    path = Path(path)
    meta, pipeline = _load(path)
    feats = _feature_step(pipeline)
    try:
        check_is_fitted(pipeline.steps[-1][1])
        names = [str(n) for n in feats.get_feature_names_out()]
    except NotFittedError:
        raise PredictorFileError(f"{path}: the stored pipeline is not fitted") from None
    recorded = list(meta.get("feature_names", []))
    if names != recorded:
        raise PredictorFileError(f"{path}: the pipeline's features {names} differ from the recorded ones {recorded}")
    try:
        current = list(feature_group_names(feats.group)) + list(feats.extra_columns)
    except EvaluationDataError as err:
        raise PredictorFileError(f"{path}: made for feature group {feats.group!r}, which this installation lacks: {err}") from None
    if names != current:
        diff = sorted(set(names) ^ set(current)) or "(same names, other order)"
        raise PredictorFileError(
            f"{path}: made for another feature set: group {feats.group!r} here computes {len(current)} features, "
            f"the file expects {len(names)}; differing: {diff}"
        )
    if expected_features is not None and list(expected_features) != names:
        raise PredictorFileError(f"{path}: expected features {list(expected_features)}, the file has {names}")
    saved = meta.get("library_versions", {}).get("scikit-learn", "")
    now = _versions()["scikit-learn"]
    if saved.split(".")[:2] != now.split(".")[:2]:
        warnings.warn(f"{path}: saved with scikit-learn {saved}, loading with {now}; predictions may differ", stacklevel=2)
    return pipeline
