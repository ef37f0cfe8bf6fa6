"""The one search loop: ask, gate with the predictor, enqueue, train, tell, save — for every strategy.

Per generation ``g`` (pseudocode)::

    candidates = strategy.ask(population)                      # deduplicated by graph hash
    if gating and g >= warmup_generations and enough evaluations:
        predictor = make_predictor(random_state=f(seed, g)).fit(all evaluations so far)
        mean, std = predict_with_uncertainty(predictor, candidates)
        train = top share by mean            (rule "top")  |  mean + beta*std >= k-th best  (rule "ucb")
        shadow = random sample of the rejected (rng)        # measures false negatives and drift
    else: train every candidate ("warmup" / "no_gate")
    enqueue train + shadow in the ledger; the local worker (or ``nas worker`` processes) trains them
    strategy.tell(candidates, values)                       # None for gated-out or failed ones
    save state (strategy, RNG, predictor training set, statistics) in the ledger; export files

Everything random comes from one numpy Generator (``seed``) whose state is saved after every
generation, predictor refits use ``random_state`` derived from ``(seed, g)`` and training is
deterministic on the CPU given genome and seed, so ``--resume`` after a kill replays exactly the
trajectory an uninterrupted run takes.

Time accounting: feed-forward and recurrent generations are trained together
(:func:`nas.training.population.train_population`, stacks planned by a step-cost model); each
trial's ``wall_time_s`` is then its stack's time divided evenly. Under population training a
gated-out candidate would not have cost the mean per-candidate time — it would have joined a stack
and added its *marginal* cost — so the time gating *saved* is the generation's measured training
time scaled by the cost model's ratio (planned cost of every candidate − planned cost of those
trained) / planned cost of those trained (:meth:`Trainer.saved_time`). Families trained one by one
(CNN) keep the plain estimate: gated-out candidates × mean time per trained candidate.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nas.config import SearchConfig, write_config
from nas.exceptions import ConfigError, LedgerError, TrainingError
from nas.ledger import Claim, Ledger
from nas.search import Objectives, SearchSpace, Strategy, architecture_hash, make_strategy
from search_spaces.exceptions import SparseNASError
from search_spaces.genome import Genome

__all__ = ["Trainer", "SearchRun", "run_search", "run_worker", "open_search_ledger", "fit_predictor", "gate"]

Echo = Callable[[str], None]
log = logging.getLogger(__name__)


# --- training ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What training one candidate produced: metrics dict and model, or the failure reason."""

    metrics: dict | None = None
    model: Any = None
    error: str | None = None


PROXY_BATCH = 256
PROXY_COLUMNS = ("synflow", "log_synflow", "snip", "grad_norm")


def _trains_together(family: str) -> bool:
    return family == "ff" or family.startswith("rnn:")


class Trainer:
    """Trains genomes for one search's task and budget; loads the data once, lazily.

    Parameters
    ----------
    config : SearchConfig
        Task, family, training overrides, data folder, device and seed are read from it.
    """

    def __init__(self, config: SearchConfig):
        from nas.training.tasks import get_task

        self.config = config
        self.task = get_task(config.task)
        self.family = config.family or self.task.default_family
        self.task.check_family(self.family)
        options = {"seed": config.seed, **config.train_options}
        if config.device is not None:
            options["device"] = config.device
        self.train_config = self.task.default_config(**options)
        self._data = None

    @property
    def data(self):
        if self._data is None:
            self._data = self.task.load(data_dir=self.config.data_dir, allow_partial=self.config.allow_partial_data)
        return self._data

    def prepare(self) -> None:
        """Load the task's data now (raising its DataError) rather than at the first training."""
        self.data

    def _one(self, genome: Genome) -> Outcome:
        from nas.training import train_genome

        try:
            result = train_genome(genome, self.task, self.train_config, data=self.data)
        except (TrainingError, SparseNASError, RuntimeError, ValueError) as err:
            return Outcome(error=f"{type(err).__name__}: {err}")
        return Outcome(metrics=result.to_dict(), model=result.model)

    def train(self, genomes: Sequence[Genome]) -> list[Outcome]:
        """Train ``genomes`` (see :meth:`_train`), then add the zero-cost proxies
        (:meth:`proxies`) of every candidate that trained; a proxy that cannot be computed is
        left out and never fails the trial.
        """
        genomes = list(genomes)
        outcomes = self._train(genomes)
        for genome, outcome in zip(genomes, outcomes):
            if outcome.metrics is None:
                continue
            try:
                outcome.metrics.update(self.proxies(genome))
            except (SparseNASError, RuntimeError, ValueError):
                pass
        return outcomes

    @property
    def stacked(self) -> bool:
        """True when this search's candidates are trained together (feed-forward and recurrent families)."""
        return _trains_together(self.family)

    def saved_time(self, trained: Sequence[Genome], skipped: Sequence[Genome], train_time_s: float) -> float:
        """Estimated seconds that training ``skipped`` as well would have added to ``train_time_s``.

        Stacked families: ``train_time_s`` × (planned step cost of ``trained + skipped`` − that of
        ``trained``) / that of ``trained`` (:func:`nas.training.population.planner.plan_cost`), the
        marginal cost of the skipped candidates in the stacks they would have joined. Otherwise:
        the mean time per trained candidate × the number skipped.
        """
        if not skipped or not trained:
            return 0.0
        plain = train_time_s / len(trained) * len(skipped)
        if not self.stacked:
            return plain
        from nas.device import resolve_device
        from nas.training import build_seeded
        from nas.training.population.planner import plan_cost

        build = lambda genomes: [build_seeded(g, self.task, self.data, self.train_config.seed) for g in genomes]  # noqa: E731
        try:
            device = resolve_device(self.train_config.device)
            ran = build(trained)
            base = plan_cost(ran, self.train_config.batch_size, device)
            full = plan_cost(ran + build(skipped), self.train_config.batch_size, device)
        except (SparseNASError, RuntimeError, ValueError):  # an unbuildable skipped genome
            return plain
        return train_time_s * max(full - base, 0.0) / base if base > 0 else 0.0

    def _train(self, genomes: Sequence[Genome]) -> list[Outcome]:
        """Train ``genomes``; together as stacked populations for ``ff`` and ``rnn:*``, one by one otherwise.

        A candidate whose training raises is returned as failed with the reason; the others go on.
        If a population run fails as a whole, its candidates are retrained one by one so the
        failure is pinned on the one that caused it.
        """
        genomes = list(genomes)
        if not genomes:
            return []
        if self.stacked and len(genomes) > 1:
            from nas.training.population import train_population

            start = time.perf_counter()
            try:
                # "record": a diverging candidate is frozen and reported, the others train on
                results = train_population(genomes, self.task, self.train_config, data=self.data, on_error="record")
            except (TrainingError, RuntimeError, ValueError) as err:
                log.warning("population training of %d candidates failed (%s: %s); training them one by one",
                            len(genomes), type(err).__name__, err)
                results = None  # the stack as a whole failed: pin the failure down one by one
            if results is not None:
                batch_s = time.perf_counter() - start
                outcomes = []
                for r in results:
                    if r.error:
                        outcomes.append(Outcome(error=f"TrainingError: {r.error}"))
                    else:
                        # wall_time_s of stacked candidates is the batch's time shared evenly
                        outcomes.append(Outcome(metrics={**r.to_dict(), "batch_size": len(genomes), "batch_wall_time_s": batch_s}, model=r.model))
                return outcomes
        outcomes = [self._one(g) for g in genomes]
        for o in outcomes:
            if o.metrics is not None:
                o.metrics["batch_size"] = 1
        return outcomes

    def proxies(self, genome: Genome) -> dict[str, float]:
        """Zero-cost proxies of ``genome``'s untrained network: the very initial weights its
        training starts from, scored on the first :data:`PROXY_BATCH` training examples.

        They become extra columns of ``evaluations.csv`` (``synflow``, ``log_synflow``, ``snip``,
        ``grad_norm``), so their value as predictor inputs can be measured with
        ``nas predictor evaluate --data evaluations.csv --target val_accuracy --extra-features snip,log_synflow``. Sequence models are scored
        without their lengths (on the padded batch), which keeps the proxy a function of the
        genome and the batch alone.
        """
        from nas.proxies import zero_cost_proxies
        from nas.training import build_seeded

        batch = self.data.train.subset(slice(0, PROXY_BATCH))
        model = build_seeded(genome, self.task, self.data, self.train_config.seed)
        scores = zero_cost_proxies(model, batch.x, batch.y, lambda out, y: self.task.loss(out, y, None))
        return {name: float(scores[name]) for name in PROXY_COLUMNS}


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict:
    from nas.provenance import library_versions

    return library_versions()  # read once per process: importlib.metadata is slow


def _trial_attrs(genome: Genome, outcome: Outcome) -> dict:
    attrs: dict[str, Any] = {"host": platform.node(), "libraries": dict(_library_versions())}
    for k, v in (outcome.metrics or {}).items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            attrs[k] = v
    try:
        from search_spaces.features import graph_features

        attrs["features"] = graph_features(genome)  # cached: the gate computed them already
    except ImportError:  # features module not installed: the ledger still holds the genome
        pass
    return attrs


def train_claims(
    ledger: Ledger, trainer: Trainer, claims: list[Claim], objectives: Objectives, *, heartbeat_interval: float = 10.0
) -> dict[int, Outcome]:
    """Train claimed trials and record them; on Ctrl-C requeue the unfinished ones and re-raise.

    The claims' heartbeats are renewed every ``heartbeat_interval`` seconds while they train. A
    trial that another process requeued meanwhile (it took this worker for dead) is not recorded
    twice: its outcome here gets an ``error`` saying so, and the requeued copy stands.
    """
    done: dict[int, Outcome] = {}
    with ledger.heartbeat(claims, heartbeat_interval):
        _train_and_record(ledger, trainer, claims, objectives, done)
    return done


def _train_and_record(ledger, trainer, claims, objectives, done) -> None:
    try:
        if _trains_together(getattr(trainer, "family", "ff")):
            pairs = zip(claims, trainer.train([c.genome for c in claims]))  # trained together
        else:  # one at a time, each recorded as soon as it is trained
            pairs = ((c, trainer.train([c.genome])[0]) for c in claims)
        for claim, outcome in pairs:
            if outcome.error is None:
                try:
                    values = objectives.values_from(outcome.metrics)
                    if not all(math.isfinite(v) for v in values):
                        raise TrainingError(f"non-finite objective values {values}")
                except SparseNASError as err:
                    outcome = Outcome(error=f"{type(err).__name__}: {err}")
            try:
                if outcome.error is None:
                    ledger.complete(claim, values, _trial_attrs(claim.genome, outcome))
                else:
                    ledger.fail(claim, outcome.error, _trial_attrs(claim.genome, outcome))
            except LedgerError as err:  # taken over as stale while it trained: the copy counts
                outcome = Outcome(error=f"not recorded: {err}")
            done[claim.number] = outcome
    except KeyboardInterrupt:
        for claim in claims:
            if claim.number not in done:
                with contextlib.suppress(LedgerError):  # already taken over: nothing to requeue
                    ledger.fail(claim, "interrupted (Ctrl-C); requeued", requeue=True)
        raise


def run_worker(
    ledger: Ledger,
    *,
    max_trials: int | None = None,
    idle_timeout: float = 60.0,
    batch: int = 1,
    echo: Echo | None = None,
    trainer: Trainer | None = None,
) -> int:
    """Serve a search from its ledger: claim waiting trials, train, record; returns trials done.

    The search's config (task, budget, objectives) is read from the study. Stops after
    ``max_trials`` trials or when nothing has been waiting for ``idle_timeout`` seconds.
    """
    stored = ledger.config
    if stored is None:
        raise LedgerError(f"study {ledger.name!r} holds no search config; start it with `nas search`")
    config = SearchConfig.from_dict(stored)
    trainer = trainer or Trainer(config)
    objectives = Objectives(config.metric, config.second_objective)
    done, idle_since = 0, time.monotonic()
    while max_trials is None or done < max_trials:
        claims = []
        while len(claims) < batch:
            claim = ledger.claim()
            if claim is None:
                break
            claims.append(claim)
        if not claims:
            if ledger.requeue_stale(config.stale_after):  # a dead worker's trials: take them over
                continue
            if time.monotonic() - idle_since > idle_timeout:
                break
            time.sleep(min(config.poll_interval, 1.0, idle_timeout))
            continue
        outcomes = train_claims(ledger, trainer, claims, objectives, heartbeat_interval=config.heartbeat_interval)
        done += len(claims)
        idle_since = time.monotonic()
        if echo:
            for c in claims:
                o = outcomes[c.number]
                status = f"failed: {o.error}" if o.error else f"{config.metric}={o.metrics.get(config.metric)}"
                echo(f"trial {c.number} ({c.genome.key}): {status}")
    return done


# --- predictor gating ----------------------------------------------------------------------------


def fit_predictor(config: SearchConfig, genomes: Sequence[Genome], y: Sequence[float], random_state: int, template=None):
    """Fit the configured predictor on all evaluations so far (a scikit-learn pipeline).

    With ``template`` (a loaded predictor), an unfitted clone of it is fitted instead, so tuned
    hyperparameters carry over.
    """
    from predictors.models import make_predictor

    if template is not None:
        from sklearn.base import clone

        pipeline = clone(template)
    else:
        pipeline = make_predictor(model=config.predictor_model, group=config.predictor_group, random_state=random_state)
    return pipeline.fit(list(genomes), np.asarray(y, dtype=float))


def load_search_predictor(path: str):
    """Load a saved predictor for gating; it must need nothing but the genome.

    Raises
    ------
    PredictorFileError
        Unreadable, untrusted or made for another feature set (see :func:`predictors.load_predictor`).
    ConfigError
        It needs extra feature columns (e.g. zero-cost proxies) that a search does not compute.
    """
    from predictors import load_predictor

    pipeline = load_predictor(path)
    extra = tuple(getattr(pipeline.steps[0][1], "extra_columns", ()) or ())
    if extra:
        raise ConfigError(
            f"predictor file {path!r} needs the extra feature columns {list(extra)}; a search can only give "
            "graph features (fit it without --extra-features)"
        )
    return pipeline


def predict(pipeline, genomes: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
    from predictors.models import predict_with_uncertainty

    mean, std = predict_with_uncertainty(pipeline, list(genomes))
    return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)


def gate(mean: np.ndarray, std: np.ndarray, config: SearchConfig, kth_best: float | None, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Pick the candidates to train and the shadow sample among the rejected ones.

    Returns ``(selected, shadow)`` as sorted candidate indices. Ties in the prediction keep the
    candidates' order, so the choice is deterministic; only the shadow sample draws from ``rng``.
    """
    n = len(mean)
    order = sorted(range(n), key=lambda i: (-mean[i], i))
    if config.gate_rule == "ucb" and kth_best is not None:
        selected = [i for i in order if mean[i] + config.ucb_beta * std[i] >= kth_best] or order[:1]
    else:
        selected = order[: max(1, math.ceil(config.train_fraction * n))]
    rejected = sorted(set(range(n)) - set(selected))
    shadow: list[int] = []
    if rejected and config.shadow_fraction > 0:
        k = max(1, math.ceil(config.shadow_fraction * len(rejected)))
        shadow = sorted(int(rejected[i]) for i in rng.choice(len(rejected), size=min(k, len(rejected)), replace=False))
    return sorted(selected), shadow


def _kendall(a, b) -> float | None:
    if len(a) < 3 or np.all(np.asarray(a) == a[0]) or np.all(np.asarray(b) == b[0]):
        return None
    from scipy.stats import kendalltau

    tau = kendalltau(a, b).statistic
    return None if not np.isfinite(tau) else float(tau)


# --- the search ----------------------------------------------------------------------------------


@dataclass
class SearchRun:
    """What :func:`run_search` returns: where things are and what each generation measured."""

    config: SearchConfig
    run_dir: Path
    ledger: Ledger
    generations: list[dict] = field(default_factory=list)
    best: dict | None = None


def open_search_ledger(config: SearchConfig, *, resume: bool) -> Ledger:
    """Open the study for ``config`` and check it against what the study holds.

    Raises
    ------
    LedgerError
        The study exists and ``resume`` is False; or it was made with a different config (the
        differing fields are named); or ``resume`` is asked for a study that does not exist.
    """
    objectives = Objectives(config.metric, config.second_objective)
    url = config.storage_url
    ledger = Ledger.open(url, config.study_name, directions=objectives.directions, create=not resume)
    stored = ledger.config
    if stored is None:
        if resume or ledger.trials():
            raise LedgerError(f"study {config.study_name!r} in {url!r} was not made by `nas search`; nothing to resume")
    else:
        theirs = SearchConfig.from_dict(stored).trajectory()
        mine = config.trajectory()
        differ = sorted(k for k in mine if mine[k] != theirs.get(k))
        if differ:
            detail = "; ".join(f"{k}: study has {theirs.get(k)!r}, asked {mine[k]!r}" for k in differ)
            raise LedgerError(
                f"study {config.study_name!r} in {url!r} exists with an incompatible config ({detail}); "
                "resume it with the same settings (--resume), or choose another --study / --out"
            )
        if not resume:
            raise LedgerError(
                f"study {config.study_name!r} already exists in {url!r}; pass --resume to continue it, "
                "or choose another --study / --out"
            )
    ledger.set_attr("config", config.to_dict())
    ledger.set_attr("objectives", list(objectives.names))
    return ledger


def _progress(echo: Echo | None, stats: dict, metric: str) -> None:
    if echo is None:
        return
    tau = stats.get("kendall_tau")
    best = stats.get("best_so_far")
    echo(
        f"gen {stats['generation']:>3}  trained {stats['trained']:>3} (shadow {stats['shadow']})  "
        f"skipped {stats['skipped']:>3}  failed {stats['failed']}  "
        f"best {metric} {'-' if best is None else f'{best:.4f}'}  "
        f"predictor tau {'-' if tau is None else f'{tau:+.2f}'}  "
        f"train {stats['train_time_s']:.1f}s  saved~{stats['saved_time_s']:.1f}s"
    )


def run_search(
    config: SearchConfig,
    *,
    resume: bool = False,
    echo: Echo | None = None,
    on_generation: Callable[[int, dict], None] | None = None,
    trainer: Trainer | None = None,
    write_report: bool = True,
) -> SearchRun:
    """Run (or continue) a search; see the module docstring for the loop.

    Parameters
    ----------
    config : SearchConfig
    resume : bool
        Continue the study named by ``config`` from its last saved generation.
    echo : callable, optional
        Receives one progress line per generation (the CLI passes ``click.echo``).
    on_generation : callable, optional
        ``on_generation(generation, stats)`` after each generation's state is saved (tests use
        it to simulate a kill).
    trainer : Trainer, optional
        Reuse a trainer (and its loaded data).
    write_report : bool
        Build ``report.md`` and its plots at the end.

    Raises
    ------
    LedgerError, ConfigError, UnknownNameError
        Bad storage, study conflicts, bad config values.
    DataError
        Missing, corrupt or truncated dataset files (truncated ones are accepted with
        ``config.allow_partial_data``); raised before the run directory is touched.
    KeyboardInterrupt
        After requeueing the current trials; the state of the last finished generation is saved.
    """
    from nas.report import export_run

    if trainer is None:
        trainer = Trainer(config)
        if config.local_worker:
            trainer.prepare()  # missing or truncated data is a set-up error: raise it before anything is written
    given_predictor = load_search_predictor(config.predictor_file) if config.predictor_file and config.gating else None
    run_dir = Path(config.out)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        ledger = open_search_ledger(config, resume=resume)
    except BaseException:
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a refused start leaves nothing behind
        raise
    write_config(config, run_dir)
    objectives = Objectives(config.metric, config.second_objective)
    space = SearchSpace(config.priors, config.nodes, trainer.family)
    rng = np.random.default_rng(config.seed)
    strategy: Strategy = make_strategy(
        config.strategy, space, rng, objectives, survivors=config.survivors, cx_prob=config.cx_prob,
        mut_prob=config.mut_prob, tournament_size=config.tournament_size, population_size=config.population,
    )
    state = ledger.load_state() if resume else None
    start, history, training_set = 0, [], []
    if state is not None:
        rng.bit_generator.state = state["rng"]
        strategy.load_state_dict(state["strategy"])
        start, history, training_set = int(state["generation"]), list(state["generations"]), list(state["predictor_training"])
    if resume:  # trials of a killed run: at once if their process is gone, else once their heartbeat is stale
        ledger.requeue_stale(config.stale_after)
    by_number = {t.number: t for t in ledger.trials()}
    run = SearchRun(config, run_dir, ledger, history)

    for gen in range(start, config.generations):
        candidates = strategy.ask(config.population)
        n = len(candidates)
        mean = std = None
        enough = len(training_set) >= config.min_train_size
        use_gate = config.gating and ((gen >= config.warmup_generations and enough) or given_predictor is not None)
        if use_gate:
            ys = [by_number[i].values[0] for i in training_set]
            if enough:
                xs = [Genome.from_json(by_number[i].user_attrs["genome"]) for i in training_set]
                seed = int(np.random.SeedSequence([config.seed, gen]).generate_state(1)[0])
                predictor = fit_predictor(config, xs, ys, random_state=seed, template=given_predictor)
            else:
                predictor = given_predictor
            mean, std = predict(predictor, candidates)
            measured = sorted(ys, reverse=True)
            kth = measured[min(config.survivors, len(measured)) - 1] if measured else None
            selected, shadow = gate(mean, std, config, kth, rng)
        else:
            selected, shadow = list(range(n)), []
        reason = {i: ("gate" if use_gate else ("warmup" if config.gating else "no_gate")) for i in selected}
        reason.update({i: "shadow" for i in shadow})
        to_train = sorted(reason)

        # enqueue, unless a previous (interrupted) run of this generation already did
        finished, pending = ledger.results_for(gen), ledger.pending_for(gen)
        numbers = {}
        for i in to_train:
            g = candidates[i]
            if g.key in finished:
                numbers[i] = finished[g.key].number
            elif g.key in pending:
                numbers[i] = pending[g.key].number
            else:
                numbers[i] = ledger.enqueue(
                    g, generation=gen, index=i, reason=reason[i], wl_hash=architecture_hash(g), strategy=config.strategy,
                    predicted=None if mean is None else float(mean[i]), predicted_std=None if std is None else float(std[i]),
                )
        # train: the local worker takes this generation's trials; else wait for `nas worker`s
        wanted = set(numbers.values())
        if config.local_worker:
            claims = []
            while (claim := ledger.claim(numbers=wanted)) is not None:
                claims.append(claim)
            outcomes = train_claims(ledger, trainer, claims, objectives, heartbeat_interval=config.heartbeat_interval)
            _save_best_model(run_dir, ledger, claims, outcomes, objectives)
        while True:
            finished = ledger.results_for(gen)
            if all(candidates[i].key in finished for i in to_train):
                break
            ledger.requeue_stale(config.stale_after)  # a worker died: its trials go back to the queue
            if config.local_worker:  # trials requeued by a dying worker elsewhere: take them too
                claims = []
                while (claim := ledger.claim(numbers={t.number for t in ledger.pending_for(gen).values()})) is not None:
                    claims.append(claim)
                if claims:
                    train_claims(ledger, trainer, claims, objectives, heartbeat_interval=config.heartbeat_interval)
                    continue
            time.sleep(config.poll_interval)

        values: list = [None] * n
        trials = {}
        for i in to_train:
            t = finished[candidates[i].key]
            trials[i] = t
            by_number[t.number] = t
            if t.values is not None and t.state.name == "COMPLETE":
                values[i] = tuple(t.values)
        strategy.tell(candidates, values)

        stats = _generation_stats(gen, candidates, to_train, shadow, reason, trials, values, mean, std, training_set, by_number, config)
        if hasattr(trainer, "saved_time"):  # else (a duck-typed trainer) the plain estimate stays
            trained_ok = [candidates[i] for i in to_train if values[i] is not None]
            stats["saved_time_s"] = trainer.saved_time(trained_ok, [candidates[i] for i in range(n) if i not in reason],
                                                       stats["train_time_s"])
        training_set.extend(trials[i].number for i in to_train if values[i] is not None)
        stats["best_so_far"] = max((by_number[i].values[0] for i in training_set), default=None)
        history.append(stats)
        ledger.save_state({
            "generation": gen + 1,
            "rng": rng.bit_generator.state,
            "strategy": strategy.state_dict(),
            "predictor_training": training_set,
            "generations": history,
        })
        export_run(ledger, run_dir)
        _progress(echo, stats, config.metric)
        if on_generation is not None:
            on_generation(gen, stats)

    _ensure_best_model(run_dir, ledger, trainer, objectives)
    if write_report:
        from nas.report import build_report

        build_report(run_dir, ledger=ledger)
    return run


def _generation_stats(gen, candidates, to_train, shadow, reason, trials, values, mean, std, training_set, by_number, config) -> dict:
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
        stats["kendall_tau"] = _kendall(pred, actual)
        stats["mae"] = float(np.mean(np.abs(np.subtract(pred, actual))))
        # a shadow candidate is a false negative when its measured value would have put it among
        # the survivors: at least the k-th best of everything measured up to this generation
        measured = sorted([by_number[n].values[0] for n in training_set] + actual, reverse=True)
        kth = measured[min(config.survivors, len(measured)) - 1]
        shadow_ok = [i for i in shadow if values[i] is not None]
        stats["false_negatives"] = sum(values[i][0] >= kth for i in shadow_ok)
        stats["false_negative_rate"] = (stats["false_negatives"] / len(shadow_ok)) if shadow_ok else None
    return stats


# --- best model ----------------------------------------------------------------------------------


def _best_trial(ledger: Ledger):
    done = [t for t in ledger.trials() if t.state.name == "COMPLETE"]
    if not done:
        return None
    return max(done, key=lambda t: (t.values[0], -t.number))


def _write_model(run_dir: Path, genome: Genome, model, trial_number: int) -> None:
    import torch

    from nas.provenance import atomic_path, write_json_atomic

    best = run_dir / "best"
    with atomic_path(best / "model.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json_atomic(best / "model.json", {"key": genome.key, "trial": trial_number, "genome": genome.to_dict()})


def _save_best_model(run_dir, ledger, claims, outcomes, objectives) -> None:
    best = _best_trial(ledger)
    if best is None:
        return
    for claim in claims:
        o = outcomes.get(claim.number)
        if claim.number == best.number and o is not None and o.model is not None:
            _write_model(run_dir, claim.genome, o.model, claim.number)


def _ensure_best_model(run_dir: Path, ledger: Ledger, trainer: Trainer, objectives: Objectives) -> None:
    """Make ``best/model.pt`` hold the best trial's weights, retraining it if another worker trained it."""
    import json

    best = _best_trial(ledger)
    if best is None:
        return
    meta = run_dir / "best" / "model.json"
    if meta.exists() and (run_dir / "best" / "model.pt").exists() and json.loads(meta.read_text()).get("trial") == best.number:
        return
    genome = Genome.from_json(best.user_attrs["genome"])
    outcome = trainer.train([genome])[0]
    if outcome.model is not None:  # deterministic on the CPU: the same weights the worker had
        _write_model(run_dir, genome, outcome.model, best.number)
