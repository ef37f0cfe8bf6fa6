"""The settings of a search benchmark (``nas bench search``): one frozen, validated dataclass.

A benchmark runs every strategy of ``strategies`` with every seed ``first_seed .. first_seed +
seeds - 1`` on one task, each run a normal search run directory ``OUT/STRATEGY-sSEED`` stopped by
the same ``compute_budget`` (trained example-epochs of screening). ``search`` holds the options
passed through to every search (any :class:`~nas.search.config.SearchConfig` field the benchmark
does not set itself: population, generations, weight target, the ``[train]`` table, ...); runs
differ only by strategy and seed, and runs of one seed share the search seed (common random
numbers: generation 0 draws the same candidates for ``ga`` and ``random``).

A strategy name runs without predictor gating, so every strategy is compared on what it proposes;
``NAME+gate`` (e.g. ``ga+gate``, the paper's predictor-gated search) runs it with gating, so gating's saving
and its cost in quality are measured on the same seeds as the ungated arm (:func:`arm`).

Examples
--------
>>> cfg = BenchConfig(strategies=("ga", "random"), seeds=3, compute_budget=100_000)
>>> [run_name(s, seed) for s, seed in cfg.runs()][:3]
['ga-s0', 'random-s0', 'ga-s1']
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar, Mapping

from nas.exceptions import ConfigError, UnknownNameError
from nas.search.config import MAX_GENERATIONS, SearchConfig
from nas.search.config_files import build_config, load_toml
from nas.search.strategies import list_strategies
from nas.training.tasks import get_task
from nas.validation import (
    Boolean,
    Interval,
    Items,
    Text,
    Unchecked,
    check_fields,
    invalid,
)

__all__ = ["BenchConfig", "SET_BY_BENCH", "MAX_SEEDS", "GATED", "arm", "run_name", "search_options", "search_config",
           "generations_cap"]

#: Most seeds per strategy (a typo of 10**6 seeds is one line, not a queue of a million runs).
MAX_SEEDS = 1000

#: Search options the benchmark sets for every run itself; a ``--config`` file may not set them.
SET_BY_BENCH = ("task", "strategy", "seed", "out", "storage", "ledger_name", "compute_budget", "progress", "quick",
                "gating")

#: The suffix of an arm that runs its strategy with predictor gating.
GATED = "+gate"


def arm(name: str) -> tuple[str, bool]:
    """An arm's strategy and whether it is gated.

    >>> arm("ga+gate"), arm("random")
    (('ga', True), ('random', False))
    """
    return (name[: -len(GATED)], True) if name.endswith(GATED) else (name, False)


def run_name(strategy: str, seed: int) -> str:
    """The run directory's name under the benchmark's folder: ``STRATEGY-sSEED``."""
    return f"{strategy}-s{seed}"


@dataclass(frozen=True)
class BenchConfig:
    """Everything a benchmark needs; validated on construction.

    Parameters
    ----------
    task : str
        A registered task.
    strategies : tuple of str
        At least two distinct arms, ``baseline`` among them: a registered strategy's name (run
        without gating) or ``NAME+gate`` (run with predictor gating).
    baseline : str
        The strategy every other is compared with (default ``random``): tests, Cliff's δ and the
        compute ratio are against it.
    seeds : int
        Seeds per strategy (at least 2; fewer than 3 can never show a difference).
    first_seed : int
        Runs use seeds ``first_seed .. first_seed + seeds - 1``.
    compute_budget : int
        Screening compute of every run, in trained example-epochs (``SearchConfig.compute_budget``).
    quick : bool
        Each search starts from its task's ``--quick`` defaults.
    search : mapping
        Options passed through to every search (``SearchConfig`` fields except :data:`SET_BY_BENCH`).
    out : str
        The benchmark's folder.

    Raises
    ------
    OptionError
        A value outside its rule, the baseline not among the strategies, a strategy named twice,
        or a search option the benchmark sets itself or that is no search option.
    UnknownNameError
        An unknown task or strategy (the valid ones are listed).
    """

    task: str = "mnist"
    strategies: tuple[str, ...] = ("ga", "random")
    baseline: str = "random"
    seeds: int = 10
    first_seed: int = 0
    compute_budget: int | None = None
    quick: bool = False
    search: Mapping[str, Any] = field(default_factory=dict)
    out: str = "runs/bench"

    constraints: ClassVar[dict] = {
        "task": Text(),
        "strategies": Items(Text(), nonempty=True),
        "baseline": Text(),
        "seeds": Interval(Integral, 2, MAX_SEEDS),
        "first_seed": Interval(Integral, 0, 2**32 - 1 - MAX_SEEDS),
        "compute_budget": Interval(Integral, 1, None),
        "quick": Boolean(),
        "search": Unchecked("a table of search options"),
        "out": Text(),
    }

    def __post_init__(self):
        check_fields(self)
        get_task(self.task)  # lists the known tasks
        for name in self.strategies:
            if arm(name)[0] not in list_strategies():
                known = list_strategies()
                raise UnknownNameError("strategy", name, [*known, *(f"{k}{GATED}" for k in known)])
        if len(set(self.strategies)) != len(self.strategies):
            raise invalid(self, "strategies", "distinct strategy names")
        if len(self.strategies) < 2:
            raise invalid(self, "strategies", "at least two strategies (one of them the baseline)")
        if self.baseline not in self.strategies:
            raise invalid(self, "baseline", f"one of the strategies {list(self.strategies)}")
        if not isinstance(self.search, Mapping):
            raise invalid(self, "search", "a table of search options")
        known = {f.name for f in fields(SearchConfig)}
        for key in self.search:
            if key in SET_BY_BENCH:
                raise invalid(self, "search", f"no {key!r}: the benchmark sets it for every run", dict(self.search))
            if key not in known:
                raise invalid(self, "search", f"search options only; {key!r} is none of {sorted(known - set(SET_BY_BENCH))}",
                              dict(self.search))

    def with_changes(self, **changes) -> "BenchConfig":
        return dataclasses.replace(self, **changes)

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def runs(self) -> list[tuple[str, int]]:
        """Every (strategy, seed), seed by seed, so a benchmark stopped part-way is balanced."""
        return [(s, seed) for seed in self.seed_list() for s in self.strategies]

    def run_dir(self, strategy: str, seed: int) -> Path:
        return Path(self.out) / run_name(strategy, seed)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["strategies"] = list(self.strategies)
        out["search"] = _jsonable(dict(self.search))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BenchConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError naming them."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"unknown benchmark setting(s) {extra}; expected some of {sorted(known)}")
        return cls(**dict(data))

    def settings(self) -> dict[str, Any]:
        """What a resumed benchmark must agree on: everything but ``out``, one entry per search
        option (``search.population``, ``search.train``), so a difference names the option."""
        d = self.to_dict()
        out = {k: v for k, v in d.items() if k not in ("out", "search")}
        out.update({f"search.{k}": v for k, v in sorted(d["search"].items())})
        return out


def _jsonable(value):
    """Tuples as lists, nested (the settings are compared with what JSON reads back)."""
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def search_options(config_file: str | os.PathLike | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The options passed through to every search: a ``--config`` TOML file's, then ``given``
    (None means not given); ``train`` and ``final_train`` tables merge name by name.

    Raises
    ------
    ConfigError
        A missing or invalid TOML file.
    """
    out = load_toml(config_file) if config_file is not None else {}
    for key, value in given.items():
        if value is None:
            continue
        if key in ("train", "final_train") and isinstance(out.get(key), Mapping) and isinstance(value, Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def generations_cap(config: BenchConfig, train_examples: int) -> int:
    """The generations a run may take when ``search`` sets none: enough for the budget even if
    every generation trained one candidate for one epoch (the least a trained candidate costs)."""
    return int(min(MAX_GENERATIONS, -(-config.compute_budget // max(1, train_examples)) + 1))


def search_config(config: BenchConfig, strategy: str, seed: int, *, resume: bool, generations: int | None = None
                  ) -> SearchConfig:
    """The search config of one run (``resume``: its stored ``config.json`` first, as ``nas search
    --resume`` reads it); ``generations`` is used when the passed-through options set none."""
    options = dict(config.search)
    if generations is not None and "generations" not in options:
        options["generations"] = generations
    name, options["gating"] = arm(strategy)
    return build_config(quick=config.quick, resume=resume, task=config.task, strategy=name, seed=seed,
                        out=str(config.run_dir(strategy, seed)), compute_budget=config.compute_budget,
                        progress=False, **options)
