"""Optuna's samplers (TPE, NSGA-II) as search strategies: a private in-memory study rebuilt from JSON state."""

from __future__ import annotations

import optuna
from optuna.distributions import distribution_to_json, json_to_distribution

from nas.exceptions import UnknownNameError
from nas.search.strategies.base import Strategy
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome
from search_spaces.priors import get_prior


class OptunaSearch(Strategy):
    """Optuna's TPE or NSGA-II sampler over the genome's parameters (prior, nodes, prior parameters).

    Proposals are drawn by ask/tell on a private in-memory study. Its trials (params, values and
    the sampler's system attributes) are the strategy's state, and the sampler is rebuilt at each
    ``ask`` with a seed drawn from the search's generator, so resume replays exactly. A drawn
    combination the prior rejects (e.g. ``m >= nodes``) is told as failed and drawn again. The
    graph seed is not a structural choice, so it comes from the search's generator, not the sampler.
    """

    def __init__(self, space, rng, objectives, *, survivors=8, sampler="tpe", population_size=None):
        if sampler not in ("tpe", "nsga2"):
            raise UnknownNameError("Optuna sampler", sampler, ["tpe", "nsga2"])
        super().__init__(space, rng, objectives, survivors=survivors)
        self.name = sampler
        self.sampler_name = sampler
        self.population_size = population_size
        self._trials: list[dict] = []  # finished trials of the private study, JSON-able
        self._pending: dict[str, int] = {}  # genome key -> index in self._trials (asked, not told)
        self._live_trials: dict = {}
        self._live = None  # the private study between tell()s (rebuilt from _trials after each)

    def _sampler(self):
        seed = int(self.rng.integers(0, 2**31 - 1))
        if self.sampler_name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(4, self.survivors))
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(2, self.population_size or self.survivors))

    def _study(self):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(directions=self.objectives.directions, sampler=self._sampler())
        for t in self._trials:
            study.add_trial(optuna.trial.create_trial(
                state=optuna.trial.TrialState[t["state"]],
                params=t["params"],
                distributions={k: json_to_distribution(v) for k, v in t["distributions"].items()},
                values=t["values"],
                system_attrs=t["system_attrs"],
            ))
        return study

    def _suggest(self, trial) -> Genome:
        prior = get_prior(trial.suggest_categorical("prior", self.space.prior_names()))
        nodes = trial.suggest_int("nodes", max(self.space.nodes[0], prior.min_nodes), self.space.nodes[1])
        params = {}
        for spec in prior.params:
            name = f"{prior.name}.{spec.name}"
            if spec.kind == "int":
                params[spec.name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
            else:
                params[spec.name] = trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log)
        lo, hi = self.space.widths
        width = trial.suggest_int("width", lo, hi, log=True) if hi > lo else lo
        seed = int(self.rng.integers(0, 2**32 - 1))
        genome = Genome(prior.name, params, nodes=nodes, seed=seed, family=self.space.family, width=width,
                        readout=self.space.readout)
        return self.space.fitted(genome)

    def _record(self, trial, state: str, values=None) -> int:
        frozen = self._live.get_trials(deepcopy=False)[trial.number]  # the study's own record (public API)
        self._trials.append({
            "state": state,
            "params": dict(frozen.params),
            "distributions": {k: distribution_to_json(d) for k, d in frozen.distributions.items()},
            "values": values,
            "system_attrs": dict(frozen.system_attrs),
        })
        return len(self._trials) - 1

    def _propose(self, n):
        if self._live is None:
            self._live = self._study()
        study = self._live
        out = []
        for _ in range(n):
            for _attempt in range(self.max_attempts_per_candidate):
                trial = study.ask()
                try:
                    genome = self._suggest(trial)
                    genome.dag()  # an empty graph is no network
                except SearchSpaceError:
                    # PRUNED, not FAIL: TPE counts pruned trials as bad and moves away from them
                    self._record(trial, "PRUNED")
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
                # asked trials are parked as RUNNING; tell() completes them with the real values
                self._pending[genome.key] = self._record(trial, "RUNNING")
                self._live_trials[genome.key] = trial
                out.append(genome)
                break
        return out

    def _rejected_duplicate(self, genome):
        index = self._pending.pop(genome.key, None)
        if index is not None:
            self._trials[index]["state"] = "PRUNED"
            self._live.tell(self._live_trials.pop(genome.key), state=optuna.trial.TrialState.PRUNED)

    def _tell(self, genomes, values):
        for genome, value in zip(genomes, values):
            index = self._pending.pop(genome.key, None)
            if index is None:
                continue
            # a gated-out or failed candidate gets no fake score: PRUNED (TPE ranks it as bad)
            self._trials[index]["state"] = "PRUNED" if value is None else "COMPLETE"
            self._trials[index]["values"] = None if value is None else list(value)
        for index in self._pending.values():  # asked but never told
            self._trials[index]["state"] = "PRUNED"
        self._pending.clear()
        self._live, self._live_trials = None, {}

    def state_dict(self):
        state = super().state_dict()
        state["trials"] = self._trials
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._trials = [dict(t) for t in state["trials"]]
        self._pending = {}
        self._live, self._live_trials = None, {}
