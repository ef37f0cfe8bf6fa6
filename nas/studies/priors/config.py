"""The settings of a prior study (``nas priors evaluate``): one frozen, validated dataclass.

A study compares priors (random-graph models) by what the networks they wire can learn: ``per_prior``
genomes per prior and model family, each trained with ``seeds`` training seeds. Priors are named
with optional parameter rules: ``watts_strogatz:k=n//5,p=1`` fixes ``p`` to 1 and ``k`` to
``max(1, nodes // 5)`` for every graph; parameters without a rule are drawn by the prior's own
sampler (:meth:`search_spaces.priors.Prior.sample_params`).

:data:`PRESETS` holds named studies; ``stier2021-reber`` is the Reber study of Stier et al. 2021.
:data:`QUICK` holds small budgets per task (``--quick``) that finish in minutes on a 2-core CPU: a
view of :data:`nas.defaults.TASK_DEFAULTS`, the one table of per-task defaults.

Each setting has one rule (:attr:`StudyConfig.constraints`); training options are checked by
``TrainConfig``'s rules (:class:`~nas.training.config.TrainOverrides`).

Examples
--------
>>> cfg = StudyConfig(task="mnist", priors=("erdos_renyi", "watts_strogatz:p=1"), per_prior=3, seeds=2)
>>> cfg.prior_rules()["watts_strogatz"]
{'p': 1.0}
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar, Mapping

from nas.defaults import TASK_DEFAULTS
from nas.exceptions import ConfigError, UnknownNameError
from nas.training.config import TrainOptions, TrainOverrides
from nas.training.tasks import get_task
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
from search_spaces.genome import MAX_NODES, MAX_WIDTH, READOUTS
from search_spaces.priors import get_prior, list_priors

__all__ = ["StudyConfig", "PRESETS", "QUICK", "MATCHES", "build_study_config", "parse_prior", "rule_value",
           "SETTING_FIELDS"]

MATCHES = ("none", "edges", "weights")
# Upper bounds that keep a typo from drawing or queueing more than any study could train.
MAX_PER_PRIOR, MAX_SEEDS = 100_000, 1_000

#: Fields that decide which genomes are trained and how: a resumed study must agree on all of them.
SETTING_FIELDS = ("task", "families", "priors", "per_prior", "seeds", "nodes", "width", "readout", "match", "seed",
                  "train", "fail_margin")

_RULE = re.compile(r"^n\s*//\s*(\d+)$")
_RECORDED = ("match_tries", "preset", "quick")
# TrainConfig fields a study sets itself: seeds are 0 .. S-1, the device is --device.
_OWN_TRAIN = ("seed", "device", "progress")

# The paper's Reber study (../shared/PAPER.md): per cell type 100 BA graphs grown from m isolated
# nodes with m = n // 10 and 100 connected WS graphs with k = n // 5, p = 1; n uniform in [10, 50];
# the network reads the last DAG layer; width 1; Adam 1e-3, batch 128, 15 epochs, clip 5 (the
# reber task's own budget). Its task is the paper's negative mix (reber_paper); the paper trained
# each graph once, a study needs at least two seeds per graph for its noise ceiling.
PRESETS: dict[str, dict[str, Any]] = {
    "stier2021-reber": {
        "task": "reber_paper",
        "families": ("rnn:tanh", "rnn:relu", "rnn:gru", "rnn:lstm"),
        "priors": ("barabasi_albert_original:m=n//10", "watts_strogatz:k=n//5,p=1"),
        "per_prior": 100, "seeds": 2, "nodes": (10, 50), "width": 1, "readout": "last",
        "train": {"epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "grad_clip": 5.0},
    },
}

#: ``--quick`` per task (minutes on a 2-core CPU, measured: docs/priors.md): ``priors_quick`` of
#: :data:`nas.defaults.TASK_DEFAULTS`.
QUICK: dict[str, dict[str, Any]] = {task: d["priors_quick"] for task, d in TASK_DEFAULTS.items() if "priors_quick" in d}


def rule_value(rule, nodes: int):
    """The value of a parameter rule for a graph of ``nodes`` nodes: a number, or ``"n//D"`` (at least 1)."""
    if isinstance(rule, str):
        return max(1, nodes // int(_RULE.match(rule).group(1)))
    return rule


def parse_prior(text: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name:key=value,key=n//D"`` as ``(name, rules)``.

    Values are numbers, or ``n//D`` (integer ``D >= 1``): ``max(1, nodes // D)`` for each graph.

    Raises
    ------
    UnknownNameError
        The prior is not registered (the message lists the registered ones).
    ConfigError
        A rule that is not ``key=value``, an unknown parameter, or a value that is neither.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a prior must be a name like 'watts_strogatz' or 'watts_strogatz:p=1', got {text!r}")
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if name not in list_priors() or name == "explicit":
        raise UnknownNameError("prior", name, [p for p in list_priors() if p != "explicit"])
    prior = get_prior(name)
    rules: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = (s.strip() for s in pair.partition("="))
        if not sep or not key or not value:
            raise ConfigError(f"prior {name!r}: expected KEY=VALUE rules after ':', got {pair!r}")
        if key not in prior.param_names:
            raise ConfigError(f"prior {name!r} has no parameter {key!r}; its parameters are {list(prior.param_names)}")
        match = _RULE.match(value)
        if match:
            if int(match.group(1)) < 1:
                raise ConfigError(f"prior {name!r}: rule {pair!r} divides by zero; expected n//D with D >= 1")
            rules[key] = f"n//{int(match.group(1))}"
            continue
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"prior {name!r}: {key}={value!r} is neither a number nor a rule n//D") from None
        spec = prior.spec(key)
        rules[key] = int(number) if spec.kind == "int" and number.is_integer() else number
        spec.validate(rules[key])  # out of the declared range: InvalidGenomeError, in one line
    return name, rules


@dataclass(frozen=True)
class StudyConfig:
    """What a prior study trains; validated on construction.

    Parameters
    ----------
    task : str
        A registered task (``mnist``, ``reber``, ``reber_paper``, ...).
    families : tuple of str
        Model families ("cells"); each is studied separately. Empty: the task's default family.
    priors : tuple of str
        Priors with optional parameter rules (:func:`parse_prior`); at least two distinct names,
        else nothing can be compared.
    per_prior : int
        Genomes per prior and family (K >= 2).
    seeds : int
        Training seeds per genome (S >= 2: the noise ceiling needs repeated runs); seeds ``0 .. S-1``.
    nodes : (int, int)
        Inclusive range of graph sizes. The i-th genome of every prior has the same size (drawn
        once per index and family), so priors are compared at equal node counts.
    width : int, optional
        Units per vertex; default 16 for ``ff`` (wide enough to learn MNIST), 1 otherwise.
    readout : {"sinks", "last"}
        What the output reads (``last`` is the paper's construction).
    match : {"none", "edges", "weights"}
        ``edges``: each genome's graph is redrawn (fresh seeds and parameters, up to
        ``match_tries``) to come closest to the median edge count of the index's genomes over
        priors. ``weights``: each genome's width is set so its nonzero weights come closest to
        that median at ``width`` (:func:`nas.training.equal_cost.width_for_weight_target`).
    match_tries : int
        Candidate graphs drawn per genome for ``match="edges"``.
    seed : int
        Seeds the genome draws.
    train : TrainOverrides
        :class:`~nas.training.config.TrainConfig` overrides on top of the task's budget (a mapping
        or pairs are accepted); not ``seed``, ``device`` or ``progress``, which the study sets.
    fail_margin : float
        A network *failed* when its training diverged or its mean test accuracy is at most chance
        (1 / classes) + ``fail_margin``.
    cohort_size : int
        Genomes trained together per call (a *cohort*): at most this many results are in flight,
        so a killed study loses at most ``cohort_size`` genomes' current seed.
    jobs : int
        Cohorts trained at once, each in its own process (one CPU thread each on the CPU): 2 uses
        both cores of a 2-core machine. The runs do not depend on it (each cohort is seeded on its
        own); they are appended as they finish.
    out, data_dir, device : str
    allow_partial_data, progress : bool
    preset : str, optional
        The preset the settings came from (recorded only).
    quick : bool
        Whether ``--quick`` defaults were applied (recorded only).
    """

    task: str = "mnist"
    families: tuple[str, ...] = ()
    priors: tuple[str, ...] = ("erdos_renyi", "watts_strogatz", "barabasi_albert")
    per_prior: int = 20
    seeds: int = 3
    nodes: tuple[int, int] = (10, 50)
    width: int | None = None
    readout: str = "sinks"
    match: str = "none"
    match_tries: int = 32
    seed: int = 0
    train: TrainOverrides = field(default_factory=TrainOverrides)
    fail_margin: float = 0.05
    cohort_size: int = 32
    jobs: int = 1
    out: str = "runs/priors"
    data_dir: str | None = None
    device: str | None = None
    allow_partial_data: bool = False
    progress: bool = True
    preset: str | None = None
    quick: bool = False

    #: One rule per setting; the task's families, the priors' rules and smallest graphs, and the
    #: training options a study sets itself are checked after it.
    constraints: ClassVar[dict] = {
        "task": Text(),
        "families": Items(Text()),
        "priors": Items(Text()),
        "per_prior": Interval(Integral, 2, MAX_PER_PRIOR),
        "seeds": Interval(Integral, 2, MAX_SEEDS),
        "nodes": Pair(Interval(Integral, 2, MAX_NODES)),
        "width": [Interval(Integral, 1, MAX_WIDTH), None],
        "readout": Options(READOUTS),
        "match": Options(MATCHES),
        "match_tries": Interval(Integral, 1, None),
        "seed": Interval(Integral, 0, None),
        "train": TrainOptions(),
        "fail_margin": Interval(Real, 0, 1, closed="left"),
        "cohort_size": Interval(Integral, 1, None),
        "jobs": Interval(Integral, 1, None),
        "out": Text(),
        "data_dir": [Text(), None],
        "device": [Text(), None],
        "allow_partial_data": Boolean(),
        "progress": Boolean(),
        "preset": [Text(), None],
        "quick": Boolean(),
    }

    def __post_init__(self):
        check_fields(self)
        task = get_task(self.task)  # UnknownNameError lists the tasks
        families = self.families or (task.default_family,)
        for fam in families:
            task.check_family(fam)
        if len(set(families)) != len(families):
            raise invalid(self, "families", "distinct families")
        object.__setattr__(self, "families", families)
        names = [parse_prior(p)[0] for p in self.priors]
        if len(set(names)) != len(names) or len(names) < 2:
            raise invalid(self, "priors", f"at least two distinct priors (a study compares them); got {names}")
        # every prior must be able to make every size: the i-th genomes of all priors share theirs
        smallest, limiting = max((get_prior(name).min_nodes, name) for name in names)
        if self.nodes[0] < smallest:
            raise invalid(self, "nodes", f"sizes from {smallest} on: prior {limiting!r} makes graphs of at least "
                                         f"{smallest} nodes, and every prior must make every size")
        if self.width is None:
            object.__setattr__(self, "width", 16 if families == ("ff",) else 1)
        own = sorted(name for name in self.train.names() if name in _OWN_TRAIN)
        if own:
            raise invalid(self, "train", f"other options: {own} are set by the study itself (seeds 0 .. S-1, "
                                         f"--device, --no-progress)")
        if self.preset is not None and self.preset not in PRESETS:
            raise UnknownNameError("preset", self.preset, PRESETS)
        # the rules between training options and the task's defaults (plateau_momentum needs SGD)
        # fail here, before the study folder is made: the study's TrainConfig, built once
        task.default_config(self.train)

    @property
    def train_options(self) -> dict[str, Any]:
        """The training overrides as a dict."""
        return self.train.to_dict()

    def prior_rules(self) -> dict[str, dict[str, Any]]:
        """Prior name -> its parameter rules, in the study's order."""
        return dict(parse_prior(p) for p in self.priors)

    def settings(self) -> dict[str, Any]:
        """The fields a resumed study must agree on (:data:`SETTING_FIELDS`), JSON-shaped."""
        d = self.to_dict()
        return {k: d[k] for k in SETTING_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["families"], d["priors"], d["nodes"] = list(self.families), list(self.priors), list(self.nodes)
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StudyConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        data = {"cohort_size" if k == "batch" else k: v for k, v in data.items()}  # stored before the rename
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown study setting(s) {unknown}; expected some of {sorted(known)}")
        return cls(**data)  # lists and tables of options are read back by the field rules

    def with_changes(self, **changes) -> "StudyConfig":
        return dataclasses.replace(self, **changes)


def build_study_config(preset: str | None = None, quick: bool = False, base: StudyConfig | None = None,
                       **options) -> StudyConfig:
    """Defaults (or ``base``) ← preset ← ``--quick`` budget of the task ← explicit ``options`` (``None`` = not given).

    Raises
    ------
    UnknownNameError
        An unknown preset (the message lists the presets) or task.
    ConfigError
        A value outside what is allowed.
    """
    # from a stored study only what it *is*, never where and how it ran (out, data, device, cohort size)
    values: dict[str, Any] = {k: v for k, v in base.to_dict().items() if k in (*SETTING_FIELDS, *_RECORDED)} \
        if base is not None else {}
    if preset is not None:
        if preset not in PRESETS:
            raise UnknownNameError("preset", preset, PRESETS)
        values.update({k: v for k, v in PRESETS[preset].items()})
        values["preset"] = preset
    given = {k: v for k, v in options.items() if v is not None}
    task = given.get("task", values.get("task", StudyConfig.task))
    if quick:
        if task not in QUICK:
            raise ConfigError(f"--quick has budgets for tasks {sorted(QUICK)}, not {task!r}")
        quick_values = dict(QUICK[task])
        train = {**dict(values.get("train", {})), **quick_values.pop("train", {})}
        values.update(quick_values, train=train)
        values["quick"] = True
    train = {**dict(values.get("train", {})), **dict(given.pop("train", {}) or {})}
    values.update(given)
    values["train"] = train
    return StudyConfig(**values)
