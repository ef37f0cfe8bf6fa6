"""The configuration of ``nas search``: one frozen dataclass, validated on construction (one rule
per field: :attr:`SearchConfig.constraints`; training options by ``TrainConfig``'s rules,
:class:`~nas.training.config.TrainOverrides`).

Where its values come from — defaults, the task's defaults, ``--quick``, a TOML file, options,
and on ``--resume`` the run directory's ``config.json`` — is :mod:`nas.search.config_files`.

Examples
--------
>>> cfg = SearchConfig(task="reber", population=6, generations=2, survivors=3)
>>> cfg.with_changes(seed=1).seed
1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from nas.defaults import TASK_DEFAULTS
from nas.exceptions import ConfigError, UnknownNameError
from nas.ledger import (
    default_storage_url,
    stored_url,
)
from nas.search.strategies import (
    Objectives,
    SearchSpace,
    list_strategies,
    make_strategy,
)
from nas.training.config import TrainOptions, TrainOverrides
from nas.validation import (
    Boolean,
    Interval,
    Items,
    Options,
    Pair,
    Text,
    check_fields,
    invalid,
)
from search_spaces.genome import MAX_WIDTH, READOUTS
from search_spaces.priors import get_prior

__all__ = ["SearchConfig", "QUICK", "SEARCH_DEFAULTS", "TRAJECTORY_FIELDS", "RENAMED_KEYS", "legacy_search_dict"]

GATE_RULES = ("top", "ucb", "cost")
SECOND = (None, "nonzero_weights", "parameters", "flops")
SCREENINGS = ("full", "halving")

#: ``nas search --quick`` per task and a full search's defaults per task (screening budget, widths,
#: final training): views of :data:`nas.defaults.TASK_DEFAULTS`, the one table of per-task defaults.
QUICK: dict[str, dict[str, Any]] = {task: d["search_quick"] for task, d in TASK_DEFAULTS.items()}
SEARCH_DEFAULTS: dict[str, dict[str, Any]] = {task: d["search"] for task, d in TASK_DEFAULTS.items()}

#: Keys of configs (``config.json``, the ledger's ``config``, TOML files) written before the names
#: were made to say one thing each: the ledger's name was ``study``, the weight target ``budget``.
RENAMED_KEYS = {"study": "ledger_name", "budget": "weight_target"}


# Fields that shape the trajectory: a resumed search must agree on all of them. ``generations`` and
# ``compute_budget`` only say where it stops, so a resumed search may change them.
TRAJECTORY_FIELDS = (
    "task", "strategy", "population", "survivors", "seed", "priors", "nodes", "widths", "readout", "weight_target", "family", "metric",
    "second_objective", "gating", "train_fraction", "gate_rule", "ucb_beta", "shadow_fraction",
    "warmup_generations", "min_train_size", "predictor_model", "predictor_file", "predictor_group", "tournament_size",
    "cx_prob", "mut_prob", "train", "flops_target", "aging_queue", "candidate_pool", "screening", "halving_eta",
    "halving_rungs",
)

#: Options added after runs were stored: written only when set (None is the value those runs ran with).
WRITTEN_WHEN_SET = ("flops_target", "compute_budget", "aging_queue", "candidate_pool")
#: Options added after runs were stored, with a default those runs ran with: written only when changed.
WRITTEN_WHEN_CHANGED = ("screening", "halving_eta", "halving_rungs")


#: Upper bounds that turn a typo (population 10**22) into one line instead of a hang.
MAX_POPULATION, MAX_GENERATIONS = 10_000, 100_000


_PROBABILITY = Interval(Real, 0, 1)
_SECONDS = Interval(Real, 0, None, closed="right")
_NAME = [Text(), None]


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search needs; validated on construction.

    Parameters
    ----------
    task : str
        A registered task (:func:`nas.training.tasks.list_tasks`).
    strategy : {"random", "ga", "tpe", "nsga2", "aging", "predictor", "bananas"}
        See ``docs/search.md`` (Strategies) and :mod:`nas.search.strategies`. The default is
        ``random``: no other strategy beat it in ``nas bench search`` at equal cost
        (``docs/results.md``).
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
    storage, ledger_name : str, optional
        The ledger's storage URL (default ``sqlite:///OUT/ledger.db``) and its name there
        (default: the run directory's name).
    priors : tuple of str, optional
        Priors to search over (default: the operators' default set).
    nodes : (int, int)
        Range of graph sizes.
    widths : (int, int)
        Range of vertex widths (units per vertex); the GA and the samplers move on a geometric
        grid inside it (:func:`search_spaces.operators.width_choices`). ``(1, 1)``: the paper's.
    readout : {"sinks", "last"}
        Readout of every candidate; ``last`` reproduces the paper's construction.
    weight_target : int, optional
        Equal-cost comparison: every candidate's width is set (inside ``widths``) so its nonzero
        weights come closest to this target (:func:`nas.training.equal_cost.width_for_weight_target`).
        Not together with ``flops_target``.
    final_top : int
        Survivors fully trained after the search: the ``final_top`` best screened candidates
        (0: none; ``best/`` then holds the best screened one).
    final_seeds : int
        Seeds each survivor is fully trained with (seeds ``seed .. seed + final_seeds - 1``).
    dense_baseline : bool
        After the final phase, also train the best survivor's dense counterpart over the final
        seeds (:mod:`nas.search.baseline`), for the report's comparison.
    final_train : TrainOverrides
        :class:`~nas.training.config.TrainConfig` overrides (a mapping or pairs are accepted) of the final training on top of the
        task's full budget (the whole training set; no subsets unless given here).
    family : str, optional
        Model family (default: the task's).
    metric : str
        Training-result key maximised (``val_accuracy``: selection never looks at the test set).
    second_objective : {None, "nonzero_weights", "parameters", "flops"}
        Minimised second objective; gives a Pareto front.
    gating : bool
        Predictor gating (default off, like the benchmarked default ``random``; True: the
        predictor chooses which proposed candidates are trained).
    train_fraction : float
        Share of a generation's candidates the gate trains (rules ``top`` and ``cost``).
    gate_rule : {"top", "ucb", "cost"}
        ``top``: the best predicted share; ``ucb``: those whose mean + ``ucb_beta`` × std reaches
        the current ``survivors``-th best measured value (at least one); ``cost``: the
        ``train_fraction`` share with the highest predicted gain (mean + ``ucb_beta`` × std over
        that value) per predicted training cost (:func:`nas.search.gating.gate`).
    shadow_fraction : float
        Share of rejected candidates trained anyway (at least one while any are rejected and the
        share is > 0): the search's false-negative rate and predictor drift are measured on them.
    warmup_generations : int
        Generations that train everything before the gate is used.
    min_train_size : int
        Evaluations needed before the predictor is fitted (by the gate, and by the ``predictor``
        and ``bananas`` strategies, which propose random architectures until then).
    predictor_model, predictor_group : str
        Passed to :func:`predictors.make_predictor`.
    predictor_file : str, optional
        A saved predictor (``nas predictor fit ... --out P.skops``, e.g. tuned on an earlier
        search). It gates from generation 0 (no warm-up); once ``min_train_size`` evaluations of
        this search exist, a clone of it (same tuned hyperparameters) is refit on them instead of
        ``predictor_model``.
    tournament_size, cx_prob, mut_prob
        GA operators (see :class:`nas.search.GeneticSearch`); ``tournament_size`` is also the
        aging evolution's sample size S.
    train : TrainOverrides
        :class:`nas.training.config.TrainConfig` overrides (a mapping or pairs are accepted) on top of the task's budget (epochs, subsets, …).
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
    flops_target : int, optional
        Equal-cost comparison by compute: every candidate's width is set (inside ``widths``) so
        its FLOPs per example (multiply-accumulates of one forward pass,
        :mod:`nas.training.flops`) come closest to this target. Not together with ``weight_target``.
    compute_budget : int, optional
        Screening compute, in trained example-epochs (training examples × epochs each candidate
        ran), after which no further generation starts: the generation that reaches it runs whole
        (so the trajectory does not depend on where inside a generation the count crosses it),
        then the final phase runs as usual. ``generations`` stays the upper bound. Like
        ``generations`` it only says where the search stops, so a resumed search may change it.
    aging_queue : int, optional
        The aging evolution's P (``strategy = "aging"``): trained individuals kept, the oldest
        dropped first (default: ``population``).
    candidate_pool : int, optional
        Candidates the ``predictor`` / ``bananas`` strategies score per proposal: ``predictor``
        ranks ``candidate_pool × population`` random draws (default 20), ``bananas`` as many
        mutations of the best (default 10).
    screening : {"full", "halving"}
        ``full``: every candidate the gate chose is trained at the screening budget ``train``.
        ``halving``: successive halving over ``halving_rungs`` rungs (:mod:`nas.search.halving`):
        all of them briefly, the best ``1 / halving_eta`` by the first objective promoted to the
        next rung, up to the screening budget; only the top rung's values count.
    halving_eta : int
        Promotion ratio of ``screening = "halving"``: rung ``r`` trains for ``halving_eta **
        (r - halving_rungs + 1)`` of the screening budget's optimizer steps.
    halving_rungs : int
        Rungs of ``screening = "halving"`` (the last one is the full screening budget).

    Raises
    ------
    OptionError
        A value outside its rule (:attr:`constraints`; ``SearchConfig.FIELD = VALUE; expected ...``,
        a training option ``TrainConfig.FIELD = ...``), survivors above the population, or
        ``stale_after`` not above ``heartbeat_interval``.
    UnknownNameError, UnknownPriorError
        Unknown strategy or prior.
    """

    task: str = "mnist"
    strategy: str = "random"
    population: int = 16
    generations: int = 10
    survivors: int = 8
    seed: int = 0
    out: str = "runs/search"
    storage: str | None = None
    ledger_name: str | None = None
    priors: tuple[str, ...] | None = None
    nodes: tuple[int, int] = (10, 50)
    widths: tuple[int, int] = (1, 16)
    readout: str = "sinks"
    weight_target: int | None = None
    final_top: int = 3
    final_seeds: int = 3
    dense_baseline: bool = True
    final_train: TrainOverrides = field(default_factory=TrainOverrides)
    family: str | None = None
    metric: str = "val_accuracy"
    second_objective: str | None = None
    gating: bool = False
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
    train: TrainOverrides = field(default_factory=TrainOverrides)
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
    flops_target: int | None = None
    compute_budget: int | None = None
    aging_queue: int | None = None
    candidate_pool: int | None = None
    screening: str = "full"
    halving_eta: int = 3
    halving_rungs: int = 3

    #: One rule per field; survivors <= population, stale_after > heartbeat_interval, at most one
    #: cost target and the registered strategies and priors are checked after it.
    constraints: ClassVar[dict] = {
        "task": Text(),
        "strategy": Text(),
        "population": Interval(Integral, 2, MAX_POPULATION),
        "generations": Interval(Integral, 1, MAX_GENERATIONS),
        "survivors": Interval(Integral, 1, MAX_POPULATION),
        "seed": Interval(Integral, 0, 2**32 - 1),
        "out": Text(),
        "storage": _NAME,
        "ledger_name": _NAME,
        "priors": [Items(Text(), nonempty=True), None],
        "nodes": Pair(Interval(Integral, 2, None)),
        "widths": Pair(Interval(Integral, 1, MAX_WIDTH)),
        "readout": Options(READOUTS),
        "weight_target": [Interval(Integral, 1, None), None],
        "final_top": Interval(Integral, 0, MAX_POPULATION),
        "final_seeds": Interval(Integral, 1, 1000),
        "dense_baseline": Boolean(),
        "final_train": TrainOptions(),
        "family": _NAME,
        "metric": Text(),
        "second_objective": Options(SECOND),
        "gating": Boolean(),
        "train_fraction": Interval(Real, 0, 1, closed="right"),
        "gate_rule": Options(GATE_RULES),
        "ucb_beta": Interval(Real, 0, None),
        "shadow_fraction": _PROBABILITY,
        "warmup_generations": Interval(Integral, 0, None),
        "min_train_size": Interval(Integral, 2, None),
        "predictor_model": Text(),
        "predictor_file": _NAME,
        "predictor_group": Text(),
        "tournament_size": Interval(Integral, 1, None),
        "cx_prob": _PROBABILITY,
        "mut_prob": _PROBABILITY,
        "train": TrainOptions(),
        "data_dir": _NAME,
        "allow_partial_data": Boolean(),
        "device": _NAME,
        "local_worker": Boolean(),
        "poll_interval": _SECONDS,
        "heartbeat_interval": _SECONDS,
        "stale_after": _SECONDS,
        "max_retries": Interval(Integral, 0, 100),
        "progress": Boolean(),
        "quick": Boolean(),
        "flops_target": [Interval(Integral, 1, None), None],
        "compute_budget": [Interval(Integral, 1, None), None],
        "aging_queue": [Interval(Integral, 1, MAX_POPULATION), None],
        "candidate_pool": [Interval(Integral, 1, 1000), None],
        "screening": Options(SCREENINGS),
        "halving_eta": Interval(Integral, 2, 100),
        "halving_rungs": Interval(Integral, 2, 10),
    }

    def __post_init__(self):
        check_fields(self)
        if self.strategy not in list_strategies():
            raise UnknownNameError("strategy", self.strategy, list_strategies())
        # the strategy checks its own options (e.g. an unknown predictor model) now, before a run writes anything
        make_strategy(self.strategy, SearchSpace(), np.random.default_rng(0), Objectives(self.metric, self.second_objective),
                      **self.strategy_options())
        if self.survivors > self.population:
            raise invalid(self, "survivors", f"an integer <= population = {self.population}")
        if self.stale_after <= self.heartbeat_interval:
            raise invalid(self, "stale_after", f"a number above heartbeat_interval = {self.heartbeat_interval!r} "
                                               f"(else live workers look dead)")
        if self.flops_target is not None and self.weight_target is not None:
            raise invalid(self, "flops_target", f"None while weight_target = {self.weight_target!r} is set "
                                                f"(one cost target at a time)")
        for prior in self.priors or ():
            get_prior(prior)  # raises UnknownPriorError listing the known ones

    def strategy_options(self) -> dict[str, Any]:
        """The options :func:`nas.search.strategies.make_strategy` takes from this config (each
        strategy keeps those it uses)."""
        return dict(survivors=self.survivors, cx_prob=self.cx_prob, mut_prob=self.mut_prob,
                    tournament_size=self.tournament_size, population_size=self.population,
                    aging_queue=self.aging_queue, predictor_model=self.predictor_model,
                    predictor_group=self.predictor_group, min_train_size=self.min_train_size,
                    candidate_pool=self.candidate_pool, ucb_beta=self.ucb_beta)

    @property
    def train_options(self) -> dict[str, Any]:
        """The screening overrides as a dict."""
        return self.train.to_dict()

    @property
    def final_train_options(self) -> dict[str, Any]:
        """The final training's overrides as a dict."""
        return self.final_train.to_dict()

    @property
    def ledger(self) -> str:
        """The ledger's name: ``ledger_name``, else the run directory's name."""
        return self.ledger_name or Path(self.out).name or "search"

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage_url(self.out)

    def with_changes(self, **changes) -> "SearchConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able values; a storage URL's password is left out (see
        :func:`nas.ledger.stored_url`), since every stored copy of the config is written from this.
        Options added since (:data:`WRITTEN_WHEN_SET`) are left out while unset, so a config that
        does not use them is stored exactly as before (and older code still reads it)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if not (f.name in WRITTEN_WHEN_SET and getattr(self, f.name) is None)
               and not (f.name in WRITTEN_WHEN_CHANGED and getattr(self, f.name) == f.default)}
        out["storage"] = stored_url(self.storage)
        out["train"] = self.train.to_dict()
        out["final_train"] = self.final_train.to_dict()
        out["nodes"] = list(self.nodes)
        out["widths"] = list(self.widths)
        out["priors"] = None if self.priors is None else list(self.priors)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """Inverse of :meth:`to_dict` (lists, tables of options and pair lists are read back by the
        field rules); keys renamed since (:data:`RENAMED_KEYS`) are read under their new names;
        unknown keys raise ConfigError naming them."""
        data = {RENAMED_KEYS.get(k, k): v for k, v in data.items()}
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"unknown search option(s) {extra}; expected some of {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """:meth:`from_dict` for a config a run stored; one stored before vertex widths, readouts
        and final training existed gets the values it ran with (width 1, ``last``, no final phase)."""
        return cls.from_dict(legacy_search_dict(data))

    def trajectory(self) -> dict[str, Any]:
        """The fields that shape the sequence of evaluations (compared on ``--resume``)."""
        d = self.to_dict()
        return {k: d.get(k) for k in TRAJECTORY_FIELDS}


def legacy_search_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored search config under today's keys (:data:`RENAMED_KEYS`) and with the settings it
    ran with: a config without ``readout`` was written before readouts, vertex widths and final
    training existed."""
    out = {RENAMED_KEYS.get(k, k): v for k, v in data.items()}
    if "readout" not in out:
        out.update(readout="last", widths=(1, 1), final_top=0)
    return out
