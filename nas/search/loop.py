"""The one search loop: ask, gate with the predictor, enqueue, train, tell, save — for every strategy.

Per generation ``g`` (pseudocode)::

    candidates = strategy.ask(population)                      # deduplicated by architecture key
    if gating and g >= warmup_generations and enough evaluations:
        predictor = make_predictor(random_state=f(seed, g)).fit(all evaluations so far)
        mean, std = predict_with_uncertainty(predictor, candidates)
        train = top share by mean            (rule "top")  |  mean + beta*std >= k-th best  (rule "ucb")
              | top share by (mean + beta*std - k-th best) / predicted training cost    (rule "cost")
        shadow = random sample of the rejected (rng)        # measures false negatives and drift
    else: train every candidate ("warmup" / "no_gate")
    enqueue train + shadow in the ledger; the local worker (or ``nas worker`` processes) trains them
    strategy.tell(candidates, values)                       # None for gated-out or failed ones
    save state (strategy, RNG, predictor training set, statistics) in the ledger; export files
    stop when the screening compute so far reaches compute_budget (example-epochs; checked
    between generations, so the generation that crosses it runs whole)

Everything random comes from one numpy Generator (``seed``) whose state is saved after every
generation, predictor refits use ``random_state`` derived from ``(seed, g)`` and training is
deterministic on the CPU given genome and seed, so ``--resume`` after a kill replays exactly the
trajectory an uninterrupted run takes.

After the last generation the survivors are fully trained (:mod:`nas.search.final`) and the report is
written. The pieces live apart: :mod:`nas.search.evaluator` (training candidates, proxies, saved-time
estimate), :mod:`nas.search.worker` (claiming and recording trials), :mod:`nas.search.gating` (the predictor
and the gate), :mod:`nas.training.equal_cost` (equal-cost widths) and :mod:`nas.search.final` (full training,
``best/``) and :mod:`nas.search.statistics` (what a generation measured); this module is the
generation loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from nas.ledger import Ledger, shown_url
from nas.search.baseline import run_dense_baseline
from nas.search.config import SearchConfig
from nas.search.config_files import write_config
from nas.search.evaluator import Trainer
from nas.search.final import TimeSlice, ensure_best_model, run_final, save_best_model
from nas.search.gating import (
    fit_predictor,
    gate,
    gate_costs,
    load_search_predictor,
    predict,
)
from nas.search.halving import run_rungs
from nas.search.run_dir import open_run, open_search_ledger  # noqa: F401  (open_search_ledger: public here too)
from nas.search.statistics import (
    add_compute,
    budget_reached,
    echo_progress,
    generation_stats,
    screening_compute,
)
from nas.search.strategies import (
    Objectives,
    SearchSpace,
    Strategy,
    make_strategy,
)
from nas.search.worker import train_claims
from nas.training.equal_cost import (
    task_weight_counter,
    width_for_flops_target,
    width_for_weight_target,
)
from nas.training.flops import task_flops_counter
from search_spaces.genome import Genome

__all__ = ["SearchRun", "SearchOutputs", "run_search", "open_search_ledger"]

Echo = Callable[[str], None]
log = logging.getLogger(__name__)


class SearchOutputs(Protocol):
    """What the loop asks of the run directory's exports; the CLI passes
    :class:`nas.report.RunOutputs` (the search never imports the report package)."""

    def after_generation(self, ledger: Ledger, run_dir: Path) -> None:
        """Export the files a generation changed (``evaluations.csv``, ``best/genome.json``, ...)."""

    def at_end(self, ledger: Ledger, run_dir: Path) -> None:
        """Write the exports (and, if wanted, the report) once the run stops."""


# --- the search ----------------------------------------------------------------------------------


@dataclass
class SearchRun:
    """What :func:`run_search` returns: where things are and what each generation measured."""

    config: SearchConfig
    run_dir: Path
    ledger: Ledger
    generations: list[dict] = field(default_factory=list)
    best: dict | None = None
    final: list[dict] = field(default_factory=list)
    #: True when ``time_limit`` stopped the run before it was done (continue with ``resume``).
    stopped: bool = False
    #: True when ``config.compute_budget`` ended the generations before ``config.generations``.
    budget_reached: bool = False


def _cost_target_rule(config: SearchConfig, trainer):
    """The search space's ``fit``: with a ``weight_target`` or a ``flops_target``, every
    candidate's width is set to meet it."""
    if config.weight_target is not None:
        target, counter, fit_width = config.weight_target, task_weight_counter, width_for_weight_target
    elif config.flops_target is not None:
        target, counter, fit_width = config.flops_target, task_flops_counter, width_for_flops_target
    else:
        return None
    count = None

    def fit(genome):
        nonlocal count
        if count is None:  # the data (its input shape) is loaded on first use
            count = counter(trainer.task, trainer.data)
        return fit_width(genome, target, count, config.widths)

    return fit


def run_search(
    config: SearchConfig,
    *,
    resume: bool = False,
    echo: Echo | None = None,
    on_generation: Callable[[int, dict], None] | None = None,
    trainer: Trainer | None = None,
    outputs: SearchOutputs | None = None,
    time_limit: float | None = None,
    overwrite: bool = False,
) -> SearchRun:
    """Run (or continue) a search; see the module docstring for the loop.

    Parameters
    ----------
    config : SearchConfig
    resume : bool
        Continue the ledger named by ``config`` from its last saved generation.
    echo : callable, optional
        Receives one progress line per generation (the CLI passes ``click.echo``).
    on_generation : callable, optional
        ``on_generation(generation, stats)`` after each generation's state is saved (tests use
        it to simulate a kill).
    trainer : Trainer, optional
        Reuse a trainer (and its loaded data).
    outputs : SearchOutputs, optional
        Exports after every generation and at the end (the CLI passes
        :class:`nas.report.RunOutputs`, which also writes ``report.md``); None writes only the
        ledger, ``config.json`` and ``best/``.
    time_limit : float, optional
        Seconds this call may run (a *slice*): a generation or a final seed's cohort starts only
        while the elapsed time plus the longest such unit so far stays within it (the first
        always starts); the run then stops with its state, files and report written, and
        ``stopped`` set. ``resume=True`` continues it.
    overwrite : bool
        Replace the run that ``config.out`` holds (its ledger must live in it); without it, and
        without ``resume``, a folder holding a run is refused.

    Raises
    ------
    LedgerError, ConfigError, UnknownNameError
        Bad storage, ledger conflicts, bad config values.
    DataError
        Missing, corrupt or truncated dataset files (truncated ones are accepted with
        ``config.allow_partial_data``); raised before the run directory is touched.
    KeyboardInterrupt
        After requeueing the current trials; the state of the last finished generation is saved.
    """
    trainer = _ready_trainer(config, trainer)
    given_predictor = load_search_predictor(config.predictor_file) if config.predictor_file and config.gating else None
    run_dir, ledger = open_run(config, resume, overwrite)
    write_config(config, run_dir)
    if echo:  # after the set-up checks: a refused start is one line
        budget = "" if config.compute_budget is None else f" (or {config.compute_budget:,} example-epochs)"
        echo(f"search {config.ledger}: task {config.task}, strategy {config.strategy}, "
             f"{config.generations} generations{budget} x {config.population}, ledger {shown_url(config.storage_url)}")
    search = _Search(config, ledger, trainer, run_dir, given_predictor, resume)
    run = SearchRun(config, run_dir, ledger, search.history)
    time_slice = TimeSlice(time_limit)

    for gen in range(search.start, config.generations):
        if budget_reached(config.compute_budget, search.history):  # checked between generations only
            run.budget_reached = True
            _echo_budget(echo, config, search.history)
            break
        if not time_slice.may_start():
            break
        generation_started = time_slice.clock()
        stats = search.generation(gen)
        if outputs is not None:
            outputs.after_generation(ledger, run_dir)
        time_slice.done(time_slice.clock() - generation_started)
        echo_progress(echo, stats, config.metric)
        if on_generation is not None:
            on_generation(gen, stats)

    _final_phase(run, trainer, echo, time_slice, time_limit)
    if outputs is not None:
        outputs.at_end(ledger, run_dir)
    return run


def _ready_trainer(config: SearchConfig, trainer: Trainer | None) -> Trainer:
    """The given trainer, or a new one; the local worker's is prepared at once."""
    if trainer is None:
        trainer = Trainer(config)
        if config.local_worker:
            trainer.prepare()  # no such device, missing or truncated data: set-up errors, raised before anything is written
    return trainer


@dataclass
class _Selection:
    """Which of a generation's candidates are trained, and why."""

    mean: np.ndarray | None  # the predictor's means (None when not gated)
    std: np.ndarray | None
    shadow: list[int]
    reason: dict[int, str]  # candidate index -> "gate", "shadow", "warmup" or "no_gate"

    @property
    def to_train(self) -> list[int]:
        return sorted(self.reason)


class _Search:
    """The state a search carries from generation to generation, and one generation's steps."""

    def __init__(self, config: SearchConfig, ledger: Ledger, trainer: Trainer, run_dir: Path, given_predictor, resume: bool):
        self.config, self.ledger, self.trainer, self.run_dir = config, ledger, trainer, run_dir
        self.given_predictor = given_predictor
        self.objectives = Objectives(config.metric, config.second_objective)
        space = SearchSpace(config.priors, config.nodes, trainer.family, config.widths, config.readout,
                            fit=_cost_target_rule(config, trainer))
        self.rng = np.random.default_rng(config.seed)
        self.strategy: Strategy = make_strategy(config.strategy, space, self.rng, self.objectives, **config.strategy_options())
        state = ledger.load_state() if resume else None
        self.start, self.history, self.training_set = 0, [], []
        if state is not None:
            self.rng.bit_generator.state = state["rng"]
            self.strategy.load_state_dict(state["strategy"])
            self.start = int(state["generation"])
            self.history, self.training_set = list(state["generations"]), list(state["predictor_training"])
        if resume:  # trials of a killed run: at once if their process is gone, else once their heartbeat is stale
            ledger.requeue_stale(config.stale_after, max_retries=config.max_retries)
        self.by_number = {t.number: t for t in ledger.trials()}

    def generation(self, gen: int) -> dict:
        """Ask, gate, enqueue, train (or wait for the workers), tell, save; the generation's statistics."""
        candidates = self.strategy.ask(self.config.population)
        selection = self.select(gen, candidates)
        if self.config.screening == "halving":  # successive halving: only the top rung is told (nas.search.halving)
            rungs = run_rungs(self, gen, candidates, selection)
            values, trials = self.tell(candidates, rungs.top, rungs.finished[-1] if rungs.finished else {})
            return self.save(gen, candidates, selection, trials, values, extra=rungs.stats(self.config.halving_rungs),
                             screened=rungs.first_ok(candidates))
        numbers = self.enqueue(gen, candidates, selection)
        finished = self.train(gen, candidates, selection.to_train, set(numbers.values()))
        values, trials = self.tell(candidates, selection.to_train, finished)
        return self.save(gen, candidates, selection, trials, values)

    def select(self, gen: int, candidates) -> _Selection:
        """The predictor's gate (once warm, or with a given predictor), else every candidate."""
        config = self.config
        n = len(candidates)
        mean = std = None
        enough = len(self.training_set) >= config.min_train_size
        use_gate = config.gating and ((gen >= config.warmup_generations and enough) or self.given_predictor is not None)
        if use_gate:
            ys = [self.by_number[i].values[0] for i in self.training_set]
            if enough:
                xs = [Genome.from_json(self.by_number[i].user_attrs["genome"]) for i in self.training_set]
                seed = int(np.random.SeedSequence([config.seed, gen]).generate_state(1)[0])
                predictor = fit_predictor(config, xs, ys, random_state=seed, template=self.given_predictor)
            else:
                predictor = self.given_predictor
            mean, std = predict(predictor, candidates)
            measured = sorted(ys, reverse=True)
            kth = measured[min(config.survivors, len(measured)) - 1] if measured else None
            selected, shadow = gate(mean, std, config, kth, self.rng, costs=gate_costs(config, self.trainer, candidates))
        else:
            selected, shadow = list(range(n)), []
        reason = {i: ("gate" if use_gate else ("warmup" if config.gating else "no_gate")) for i in selected}
        reason.update({i: "shadow" for i in shadow})
        return _Selection(mean, std, shadow, reason)

    def enqueue(self, gen: int, candidates, selection: _Selection) -> dict[int, int]:
        """Trial numbers of the candidates to train, enqueued unless a previous (interrupted) run
        of this generation already did."""
        ledger, mean, std = self.ledger, selection.mean, selection.std
        finished, pending = ledger.results_for(gen), ledger.pending_for(gen)
        numbers = {}
        for i in selection.to_train:
            g = candidates[i]
            if g.key in finished:
                numbers[i] = finished[g.key].number
            elif g.key in pending:
                numbers[i] = pending[g.key].number
            else:
                numbers[i] = ledger.enqueue(
                    g, generation=gen, index=i, reason=selection.reason[i], architecture=self.strategy.architecture_key(g),
                    strategy=self.config.strategy, predicted=None if mean is None else float(mean[i]),
                    predicted_std=None if std is None else float(std[i]),
                )
        return numbers

    def train(self, gen: int, candidates, to_train: list[int], wanted: set[int]) -> dict:
        """Train this generation's trials (the local worker), or wait for ``nas worker``s; the finished trials by key."""
        config, ledger, trainer = self.config, self.ledger, self.trainer
        if config.local_worker:
            claims = []
            while (claim := ledger.claim(numbers=wanted)) is not None:
                claims.append(claim)
            outcomes = train_claims(ledger, trainer, claims, self.objectives, heartbeat_interval=config.heartbeat_interval)
            save_best_model(self.run_dir, ledger, claims, outcomes)
        while True:
            finished = ledger.results_for(gen)
            if all(candidates[i].key in finished for i in to_train):
                return finished
            ledger.requeue_stale(config.stale_after, max_retries=config.max_retries)  # a worker died: its trials go back to the queue
            if config.local_worker:  # trials requeued by a dying worker elsewhere: take them too
                claims = []
                while (claim := ledger.claim(numbers={t.number for t in ledger.pending_for(gen).values()})) is not None:
                    claims.append(claim)
                if claims:
                    train_claims(ledger, trainer, claims, self.objectives, heartbeat_interval=config.heartbeat_interval)
                    continue
            time.sleep(config.poll_interval)

    def tell(self, candidates, to_train: list[int], finished: dict) -> tuple[list, dict]:
        """Tell the strategy every candidate's values (None for gated-out or failed ones)."""
        values: list = [None] * len(candidates)
        trials = {}
        for i in to_train:
            t = finished[candidates[i].key]
            trials[i] = t
            self.by_number[t.number] = t
            if t.values is not None and t.state.name == "COMPLETE":
                values[i] = tuple(t.values)
        self.strategy.tell(candidates, values)
        return values, trials

    def save(self, gen: int, candidates, selection: _Selection, trials: dict, values: list, extra: dict | None = None,
             screened: list[int] | None = None) -> dict:
        """The generation's statistics (with ``extra`` on top), appended to the history and saved with the state to continue from.

        ``screened``: the candidates trained without failure (default: those with values; with
        successive halving, those of the first rung), against which the time gating saved is scaled."""
        config, trainer, to_train = self.config, self.trainer, selection.to_train
        stats = generation_stats(gen, candidates, to_train, selection.shadow, selection.reason, trials, values,
                                 selection.mean, selection.std, self.training_set, self.by_number, config)
        stats.update(extra or {})  # halving: its rungs' sizes and compute (every rung's trainings)
        add_compute(stats, self.history)
        if hasattr(trainer, "saved_time"):  # else (a duck-typed trainer) the plain estimate stays
            trained_ok = [candidates[i] for i in (screened if screened is not None else
                                                  [i for i in to_train if values[i] is not None])]
            skipped = [candidates[i] for i in range(len(candidates)) if i not in selection.reason]
            stats["saved_time_s"] = trainer.saved_time(trained_ok, skipped, stats["train_time_s"])
        self.training_set.extend(trials[i].number for i in to_train if values[i] is not None)
        stats["best_so_far"] = max((self.by_number[i].values[0] for i in self.training_set), default=None)
        self.history.append(stats)
        self.ledger.save_state({
            "generation": gen + 1,
            "rng": self.rng.bit_generator.state,
            "strategy": self.strategy.state_dict(),
            "predictor_training": self.training_set,
            "generations": self.history,
        })
        return stats


def _echo_budget(echo: Echo | None, config: SearchConfig, history: list[dict]) -> None:
    if echo:
        echo(f"compute budget of {config.compute_budget:,} example-epochs reached after {len(history)} generations "
             f"({screening_compute(history):,} trained); no further generation starts")


def _final_phase(run: SearchRun, trainer, echo: Echo | None, time_slice: TimeSlice, time_limit: float | None) -> None:
    """Full training of the survivors (or just ``best/``), unless the time slice stopped the run first."""
    config = run.config
    if time_slice.stopped:
        pass  # the final phase waits for a slice that has finished the generations
    elif config.final_top:
        run.final = run_final(config, run.ledger, trainer, run.run_dir, echo, time_slice=time_slice)
        if not time_slice.stopped:
            run_dense_baseline(config, run.ledger, trainer, echo, time_slice=time_slice)
    else:
        ensure_best_model(run.run_dir, run.ledger, trainer)
    run.stopped = time_slice.stopped
    if run.stopped and echo:
        echo(f"time limit of {time_limit:g} s reached after {len(run.generations)} of {config.generations} generations"
             + ("" if len(run.generations) < config.generations else " (final phase not finished)")
             + "; continue with the same command plus --resume")
