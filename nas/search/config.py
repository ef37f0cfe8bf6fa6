"""The configuration of ``nas search``: one frozen dataclass built from defaults ← TOML ← options.

:func:`build_config` applies, in order: the field defaults, the ``--quick`` defaults of the task
(:data:`QUICK`), a TOML file (top-level keys, or a ``[search]`` table; training options in a
``[train]`` table), then command-line options. The result is validated on construction and
written beside the results as ``config.json`` with code and library versions
(:func:`write_config`).

Examples
--------
>>> cfg = SearchConfig(task="reber", population=6, generations=2, survivors=3)
>>> cfg.with_changes(seed=1).seed
1
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from nas.exceptions import ConfigError, UnknownNameError
from nas.ledger import (
    absolute_storage,
    default_storage_url,
    portable_storage,
    stored_url,
)
from nas.provenance import provenance, write_json_atomic
from nas.search.strategies import list_strategies
from nas.training.tasks import get_task
from search_spaces.genome import MAX_WIDTH, READOUTS
from search_spaces.priors import get_prior

__all__ = ["SearchConfig", "QUICK", "SEARCH_DEFAULTS", "build_config", "load_toml", "write_config", "TRAJECTORY_FIELDS",
           "legacy_search_dict"]

GATE_RULES = ("top", "ucb")
SECOND = (None, "nonzero_weights", "parameters", "flops")

# ``--quick``: a search that finishes in minutes on a 2-core CPU (measured: docs/search.md).
# Data subsets and short budgets, small graphs, a few generations.
QUICK: dict[str, dict[str, Any]] = {
    # mnist: screening on 8,000 images, then the best 2 fully trained (3 epochs on all 50,000) over
    # 2 seeds (measured: docs/results.md)
    "mnist": {
        "population": 12, "generations": 4, "survivors": 4, "nodes": (10, 40), "widths": (8, 16),
        "final_top": 2, "final_seeds": 2,
        "train": {"epochs": 2, "lr": 3e-3, "train_subset": 8000, "val_subset": 2000},
        "final_train": {"epochs": 3},
    },
    "fashion_mnist": {
        "population": 8, "generations": 3, "survivors": 4, "nodes": (10, 40), "widths": (4, 16),
        "final_top": 2, "final_seeds": 2,
        "train": {"epochs": 2, "train_subset": 4000, "val_subset": 1000, "test_subset": 2000},
        "final_train": {"epochs": 2},
    },
    # cifar10: Adam throughout (the best of the short CPU budgets tried, one seed each: on one 12-vertex CNN, 4
    # epochs of 16,000 images gave test 0.547 with Adam + cosine against 0.518 with one-cycle SGD +
    # crop/flip + smoothing, and 8 epochs of 8,000 gave 0.494 with the latter); screening two
    # epochs of 4,000 images, then the best 3 trained 3 epochs on 16,000 (measured: docs/results.md;
    # 4 final epochs made one search take 11 minutes).
    # Batch, schedule, smoothing, layout and flip evaluation are spelt out: the full search's GPU
    # recipe is below (flip evaluation was measured with flip-trained networks only; these see none).
    "cifar10": {
        "population": 6, "generations": 2, "survivors": 3, "nodes": (8, 16), "widths": (1, 1),
        "min_train_size": 6, "final_top": 3, "final_seeds": 1,
        "train": {"epochs": 2, "optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0, "augment": "none",
                  "batch_size": 128, "schedule": "cosine", "label_smoothing": 0.0, "channels_last": False,
                  "eval_flip": False, "train_subset": 4000, "val_subset": 1000, "test_subset": 1000},
        "final_train": {"epochs": 3, "optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0, "augment": "none",
                        "batch_size": 128, "schedule": "cosine", "label_smoothing": 0.0, "channels_last": False,
                        "eval_flip": False, "train_subset": 16000, "val_subset": 1000, "test_subset": 1000},
    },
    # reber: one epoch on the full training set, Adam 2e-2, batch 64 (measured: docs/results.md);
    # the paper's BA prior (m isolated start nodes: a wide first layer) and layered DAGs
    "reber": {
        "population": 8, "generations": 3, "survivors": 3, "nodes": (12, 32), "widths": (1, 1),
        "priors": ("barabasi_albert_original", "layered_random"), "final_top": 0,
        "train": {"epochs": 1, "lr": 2e-2, "batch_size": 64, "val_subset": 1000},
    },
    "embedded_reber": {
        "population": 8, "generations": 3, "survivors": 4, "nodes": (10, 30), "widths": (1, 1), "final_top": 0,
        "train": {"epochs": 2, "train_subset": 2000, "val_subset": 500, "test_subset": 1000},
    },
}

# A full (not --quick) search's defaults per task: the screening budget (``train``: candidates are
# compared at this short budget), the widths searched and the survivors' full training
# (``final_train``, on top of the task's budget; MNIST: 15 epochs instead of the task's 10).
# Widths start at 2 (width-1 networks of dense or deep graphs were the ones below chance) and stop
# at 16 (width 32 made the final phase alone exceed 20 minutes on 2 CPU cores). CNN and RNN
# vertices keep width 1 (a CNN vertex already has its channels; width would multiply them).
SEARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": {"widths": (2, 16), "train": {"epochs": 2, "train_subset": 12000, "val_subset": 5000},
              "final_train": {"epochs": 15}},
    "fashion_mnist": {"widths": (2, 16), "train": {"epochs": 2, "train_subset": 12000, "val_subset": 5000}},
    # cifar10: sized for about 20 minutes of one H100/H200 (not yet measured on one): wider
    # vertices (2-4 times 16/32/64 channels), screening 3 epochs of 20,000 images and the best 3
    # trained 40 epochs on all 45,000 over 3 seeds, both with the fast recipe (batch 512,
    # one-cycle, label smoothing, bf16 and channels-last on a GPU) and flip test-time augmentation
    # (validation and test scored on each image and its mirror: +1.05 ± 0.13 validation points over 3
    # seeds of a short CPU run, docs/results.md)
    "cifar10": {
        "population": 16, "generations": 4, "survivors": 4, "nodes": (16, 32), "widths": (2, 4),
        "final_top": 3, "final_seeds": 3,
        "train": {"epochs": 3, "batch_size": 512, "schedule": "onecycle", "lr": 0.2, "label_smoothing": 0.1,
                  "precision": "auto", "channels_last": True, "eval_flip": True, "train_subset": 20000,
                  "val_subset": 5000},
        "final_train": {"epochs": 40, "batch_size": 512, "schedule": "onecycle", "lr": 0.2, "label_smoothing": 0.1,
                        "precision": "auto", "channels_last": True, "eval_flip": True},
    },
    "reber": {"widths": (1, 1), "train": {"epochs": 1, "lr": 2e-2, "batch_size": 64}},
    "embedded_reber": {"widths": (1, 1), "train": {"epochs": 10, "train_subset": 4000}},
}

# The paper's Reber task (other negatives) is searched like the default one.
QUICK["reber_paper"], SEARCH_DEFAULTS["reber_paper"] = QUICK["reber"], SEARCH_DEFAULTS["reber"]

# Fields that shape the trajectory: a resumed study must agree on all of them.
TRAJECTORY_FIELDS = (
    "task", "strategy", "population", "survivors", "seed", "priors", "nodes", "widths", "readout", "budget", "family", "metric",
    "second_objective", "gating", "train_fraction", "gate_rule", "ucb_beta", "shadow_fraction",
    "warmup_generations", "min_train_size", "predictor_model", "predictor_file", "predictor_group", "tournament_size",
    "cx_prob", "mut_prob", "train",
)


#: Upper bounds that turn a typo (population 10**22) into one line instead of a hang.
MAX_POPULATION, MAX_GENERATIONS = 10_000, 100_000


def _int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be an integer {bound}, got {value!r}")


def _int_range(name, value, low, high=None) -> tuple[int, int]:
    """``value`` as an integer pair ``(a, b)`` with ``low <= a <= b (<= high)``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{name} must be a pair [low, high], got {value!r}")
    _int(f"{name}[0]", value[0], low, high)
    _int(f"{name}[1]", value[1], value[0], high)
    return int(value[0]), int(value[1])


def _options_table(name, value) -> tuple:
    """A table of TrainConfig options (mapping or ``(key, value)`` pairs) as sorted pairs."""
    pairs = tuple(sorted(value.items())) if isinstance(value, Mapping) else value
    if not isinstance(pairs, (tuple, list)) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise ConfigError(f"{name} must be a table of TrainConfig options, got {value!r}")
    return tuple(sorted((str(k), v) for k, v in pairs))


def _prob(name, value, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0) or (low_open and value == 0):
        raise ConfigError(f"{name} must be a number in {'(0' if low_open else '[0'}, 1], got {value!r}")


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search needs; validated on construction.

    Parameters
    ----------
    task : str
        A registered task (:func:`nas.training.tasks.list_tasks`).
    strategy : {"ga", "random", "tpe", "nsga2"}
    population : int
        Candidates proposed per generation (offspring; generation 0: random ones).
    generations : int
        Generations to run (a resumed search may ask for more).
    survivors : int
        Trained individuals kept as parents (GA elitism, mu of mu + lambda) and the k of "k-th best".
    seed : int
        Seeds the search's one numpy Generator; training uses the same seed for every candidate.
    out : str
        Run directory (``config.json``, ``evaluations.csv``, ``best/``, ``report.md``).
    storage, study : str, optional
        Ledger URL (default ``sqlite:///OUT/ledger.db``) and study name (default: the run
        directory's name).
    priors : tuple of str, optional
        Priors to search over (default: the operators' default set).
    nodes : (int, int)
        Range of graph sizes.
    widths : (int, int)
        Range of vertex widths (units per vertex); the GA and the samplers move on a geometric
        grid inside it (:func:`search_spaces.operators.width_choices`). ``(1, 1)``: the paper's.
    readout : {"sinks", "last"}
        Readout of every candidate; ``last`` reproduces the paper's construction.
    budget : int, optional
        Equal-cost comparison: every candidate's width is set (inside ``widths``) so its nonzero
        weights come closest to this target (:func:`nas.training.equal_cost.width_for_budget`).
    final_top : int
        Survivors fully trained after the search: the ``final_top`` best screened candidates
        (0: none; ``best/`` then holds the best screened one).
    final_seeds : int
        Seeds each survivor is fully trained with (seeds ``seed .. seed + final_seeds - 1``).
    final_train : tuple of (str, value)
        :class:`~nas.training.config.TrainConfig` overrides of the final training on top of the
        task's full budget (the whole training set; no subsets unless given here).
    family : str, optional
        Model family (default: the task's).
    metric : str
        Training-result key maximised (``val_accuracy``: selection never looks at the test set).
    second_objective : {None, "nonzero_weights", "parameters", "flops"}
        Minimised second objective; gives a Pareto front.
    gating : bool
        Predictor gating on (False: train every candidate — the baseline).
    train_fraction : float
        Share of a generation's candidates the gate trains (rule ``top``).
    gate_rule : {"top", "ucb"}
        ``top``: the best predicted share; ``ucb``: those whose mean + ``ucb_beta`` × std reaches
        the current ``survivors``-th best measured value (at least one).
    shadow_fraction : float
        Share of rejected candidates trained anyway (at least one while any are rejected and the
        share is > 0): the search's false-negative rate and predictor drift are measured on them.
    warmup_generations : int
        Generations that train everything before the gate is used.
    min_train_size : int
        Evaluations needed before the predictor is fitted.
    predictor_model, predictor_group : str
        Passed to :func:`predictors.make_predictor`.
    predictor_file : str, optional
        A saved predictor (``nas predictor fit ... --out P.skops``, e.g. tuned on an earlier
        search). It gates from generation 0 (no warm-up); once ``min_train_size`` evaluations of
        this search exist, a clone of it (same tuned hyperparameters) is refit on them instead of
        ``predictor_model``.
    tournament_size, cx_prob, mut_prob
        GA operators (see :class:`nas.search.GeneticSearch`).
    train : tuple of (str, value)
        :class:`nas.training.config.TrainConfig` overrides on top of the task's budget (epochs, subsets, …).
    data_dir, device : str, optional
    allow_partial_data : bool
        Accept a truncated dataset file (e.g. a CIFAR-10 test batch cut short); every result then
        records how many test examples it used. Off by default: a truncated file is an error.
    local_worker : bool
        Train in this process (default); False waits for ``nas worker`` processes.
    poll_interval : float
        Seconds between ledger polls while waiting for external workers.
    heartbeat_interval : float
        Seconds between a worker's heartbeats on the trials it trains.
    stale_after : float
        A RUNNING trial whose heartbeat is older than this (seconds) is presumed dead, failed and
        requeued (by the waiting search and by idle workers); must exceed ``heartbeat_interval``.
    max_retries : int
        How often a candidate whose worker died is requeued before it is recorded as failed.
    progress : bool
        Show the progress display.
    quick : bool
        Whether ``--quick`` defaults were applied (recorded, not used afterwards).

    Raises
    ------
    ConfigError
        A value outside what is allowed (the message names field, value and what is allowed).
    UnknownNameError
        Unknown strategy.
    """

    task: str = "mnist"
    strategy: str = "ga"
    population: int = 16
    generations: int = 10
    survivors: int = 8
    seed: int = 0
    out: str = "runs/search"
    storage: str | None = None
    study: str | None = None
    priors: tuple[str, ...] | None = None
    nodes: tuple[int, int] = (10, 50)
    widths: tuple[int, int] = (1, 16)
    readout: str = "sinks"
    budget: int | None = None
    final_top: int = 3
    final_seeds: int = 3
    final_train: tuple = field(default_factory=tuple)
    family: str | None = None
    metric: str = "val_accuracy"
    second_objective: str | None = None
    gating: bool = True
    train_fraction: float = 0.5
    gate_rule: str = "top"
    ucb_beta: float = 1.0
    shadow_fraction: float = 0.2
    warmup_generations: int = 1
    min_train_size: int = 8
    predictor_model: str = "rf"
    predictor_file: str | None = None
    predictor_group: str = "extended"
    tournament_size: int = 3
    cx_prob: float = 0.5
    mut_prob: float = 0.9
    train: tuple = field(default_factory=tuple)
    data_dir: str | None = None
    allow_partial_data: bool = False
    device: str | None = None
    local_worker: bool = True
    poll_interval: float = 2.0
    heartbeat_interval: float = 10.0
    stale_after: float = 60.0
    max_retries: int = 3
    progress: bool = True
    quick: bool = False

    def __post_init__(self):
        for name in ("task", "metric", "out", "predictor_model", "predictor_group"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.strategy not in list_strategies():
            raise UnknownNameError("strategy", self.strategy, list_strategies())
        _int("population", self.population, 2, MAX_POPULATION)
        _int("generations", self.generations, 1, MAX_GENERATIONS)
        _int("survivors", self.survivors, 1, self.population)
        _int("max_retries", self.max_retries, 0, 100)
        _int("seed", self.seed, 0, 2**32 - 1)
        _int("warmup_generations", self.warmup_generations, 0)
        _int("min_train_size", self.min_train_size, 2)
        _int("tournament_size", self.tournament_size, 1)
        _prob("train_fraction", self.train_fraction, low_open=True)
        _prob("shadow_fraction", self.shadow_fraction)
        _prob("cx_prob", self.cx_prob)
        _prob("mut_prob", self.mut_prob)
        if isinstance(self.ucb_beta, bool) or not isinstance(self.ucb_beta, (int, float)) or self.ucb_beta < 0:
            raise ConfigError(f"ucb_beta must be a number >= 0, got {self.ucb_beta!r}")
        for name in ("poll_interval", "heartbeat_interval", "stale_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        if self.stale_after <= self.heartbeat_interval:
            raise ConfigError(
                f"stale_after must exceed heartbeat_interval (else live workers look dead), "
                f"got stale_after={self.stale_after!r} <= heartbeat_interval={self.heartbeat_interval!r}"
            )
        if self.gate_rule not in GATE_RULES:
            raise ConfigError(f"gate_rule must be one of {list(GATE_RULES)}, got {self.gate_rule!r}")
        if self.second_objective not in SECOND:
            raise ConfigError(f"second_objective must be one of {list(SECOND)}, got {self.second_objective!r}")
        object.__setattr__(self, "nodes", _int_range("nodes", self.nodes, 2))

        widths = self.widths
        if not isinstance(widths, (tuple, list)) or len(widths) != 2:
            raise ConfigError(f"widths must be a pair [low, high] of vertex widths, got {widths!r}")
        _int("widths[0]", widths[0], 1, MAX_WIDTH)
        _int("widths[1]", widths[1], widths[0], MAX_WIDTH)
        object.__setattr__(self, "widths", (int(widths[0]), int(widths[1])))
        if self.readout not in READOUTS:
            raise ConfigError(f"readout must be one of {list(READOUTS)}, got {self.readout!r}")
        if self.budget is not None:
            _int("budget", self.budget, 1)
        _int("final_top", self.final_top, 0, MAX_POPULATION)
        _int("final_seeds", self.final_seeds, 1, 1000)
        if self.priors is not None:
            if isinstance(self.priors, str) or not isinstance(self.priors, (tuple, list)) or not self.priors:
                raise ConfigError(f"priors must be a non-empty list of prior names, got {self.priors!r}")
            for p in self.priors:
                get_prior(p)  # raises UnknownPriorError listing the known ones
            object.__setattr__(self, "priors", tuple(self.priors))
        for name in ("train", "final_train"):
            object.__setattr__(self, name, _options_table(name, getattr(self, name)))
        if not isinstance(self.allow_partial_data, bool):
            raise ConfigError(f"allow_partial_data must be true or false, got {self.allow_partial_data!r}")
        for name in ("storage", "study", "family", "data_dir", "device", "predictor_file"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{name} must be a non-empty string or unset, got {value!r}")

    @property
    def train_options(self) -> dict[str, Any]:
        return dict(self.train)

    @property
    def final_train_options(self) -> dict[str, Any]:
        return dict(self.final_train)

    @property
    def study_name(self) -> str:
        return self.study or Path(self.out).name or "search"

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage_url(self.out)

    def with_changes(self, **changes) -> "SearchConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able values; a storage URL's password is left out (see
        :func:`nas.ledger.stored_url`), since every stored copy of the config is written from this."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["storage"] = stored_url(self.storage)
        out["train"] = dict(self.train)
        out["final_train"] = dict(self.final_train)
        out["nodes"] = list(self.nodes)
        out["widths"] = list(self.widths)
        out["priors"] = None if self.priors is None else list(self.priors)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError naming them."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"unknown search option(s) {extra}; expected some of {sorted(known)}")
        data = dict(data)
        for name in ("nodes", "widths"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        if isinstance(data.get("priors"), list):
            data["priors"] = tuple(data["priors"])
        return cls(**data)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """:meth:`from_dict` for a config a run stored; one stored before vertex widths, readouts
        and final training existed gets the values it ran with (width 1, ``last``, no final phase)."""
        return cls.from_dict(legacy_search_dict(data))

    def trajectory(self) -> dict[str, Any]:
        """The fields that shape the sequence of evaluations (compared on ``--resume``)."""
        d = self.to_dict()
        return {k: d[k] for k in TRAJECTORY_FIELDS}


def legacy_search_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored search config with the settings it ran with: a config without ``readout`` was
    written before readouts, vertex widths and final training existed."""
    out = dict(data)
    if "readout" not in out:
        out.update(readout="last", widths=(1, 1), final_top=0)
    return out


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a search TOML file: top-level keys or a ``[search]`` table, plus an optional ``[train]`` table.

    Raises
    ------
    ConfigError
        Missing file or invalid TOML.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None
    if "search" in data:
        search = dict(data.pop("search"))
        for table in ("train", "final_train"):
            if table in data:
                search.setdefault(table, data.pop(table))
        if data:
            raise ConfigError(f"config file {str(path)!r}: unexpected tables {sorted(data)} beside [search]")
        data = search
    return data


def build_config(
    *, config_file: str | os.PathLike | None = None, quick: bool = False, resume: bool = False, **options
) -> SearchConfig:
    """Defaults ← the task's search defaults (:data:`SEARCH_DEFAULTS`: screening budget, widths,
    final training) ← ``--quick`` defaults of the task ← TOML file ← options (None means "not given").

    With ``resume``, the run directory's ``config.json`` (when there is one) comes right after the
    defaults, so ``nas search --out RUN --resume`` continues with the stored settings and only the
    options given again (e.g. more ``--generations``) change.

    ``train`` tables merge key by key at each step rather than replacing each other.

    Raises
    ------
    ConfigError, UnknownNameError
        An invalid value, an unknown option, or an unknown task / strategy.
    """
    given = {k: v for k, v in options.items() if v is not None}
    from_file = load_toml(config_file) if config_file is not None else {}
    for layer in (given, from_file):  # a relative ledger path names a file under the current folder
        if "storage" in layer:
            layer["storage"] = absolute_storage(layer["storage"])
    stored = _stored_config(given.get("out", from_file.get("out", SearchConfig.out))) if resume else {}
    task = given.get("task", from_file.get("task", stored.get("task", SearchConfig.task)))
    task_spec = get_task(task)  # an unknown task fails here, listing the known ones
    merged: dict[str, Any] = {}
    train: dict[str, Any] = {}
    final_train: dict[str, Any] = {}
    layers = [stored, {} if stored else SEARCH_DEFAULTS.get(task, {}), QUICK.get(task, QUICK["mnist"]) if quick else {}, from_file, given]
    for layer in layers:
        for key, value in layer.items():
            if key in ("train", "final_train"):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key} must be a table of TrainConfig options, got {value!r}")
                (train if key == "train" else final_train).update(value)
            else:
                merged[key] = value
    merged["train"] = train
    merged["final_train"] = final_train
    merged["quick"] = bool(quick) or bool(merged.get("quick", False))
    config = SearchConfig.from_dict(merged)
    # a bad training option (screening or final) fails here, in one line, before anything runs
    task_spec.default_config(**config.train_options)
    task_spec.default_config(**config.final_train_options)
    return config


def _stored_config(run_dir, required: bool = False) -> dict[str, Any]:
    """The ``search`` table of ``RUN_DIR/config.json`` (or {} when there is none and it is not
    ``required``), with ``out`` set to ``run_dir`` and a relative ledger path resolved against it."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        if required:
            raise ConfigError(f"{str(run_dir)!r} is not a search run directory: no config.json in it")
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))["search"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        detail = getattr(err, "strerror", None) or err
        raise ConfigError(f"cannot read the stored config {str(path)!r}: {type(err).__name__}: {detail}") from None
    if not isinstance(stored, dict):
        raise ConfigError(f"cannot read the stored config {str(path)!r}: no 'search' table")
    out = {k: v for k, v in legacy_search_dict(stored).items() if v is not None}
    out["out"] = str(run_dir)
    if "storage" in out:
        out["storage"] = absolute_storage(out["storage"], run_dir)
    return out


def load_run_config(run_dir: str | os.PathLike) -> SearchConfig:
    """The search config of a run directory, wherever the directory now is and whatever the
    current folder: ``out`` is ``run_dir`` and a relative ledger path is resolved against it.

    Raises
    ------
    ConfigError
        No readable ``config.json`` with a ``search`` table.
    """
    stored = _stored_config(run_dir, required=True)
    return SearchConfig.from_dict(stored)


def write_config(config: SearchConfig, run_dir: str | os.PathLike) -> Path:
    """Write ``RUN_DIR/config.json``: the config plus code and library versions (atomically); a
    ledger file inside the run directory is stored relative to it (:func:`portable_storage`)."""
    search = config.to_dict()
    search["storage"] = portable_storage(config.storage, run_dir) if config.storage is not None else None
    search["study"] = config.study_name  # not the folder's name: the folder may be renamed
    return write_json_atomic(Path(run_dir) / "config.json", {"search": search, "provenance": provenance()})
