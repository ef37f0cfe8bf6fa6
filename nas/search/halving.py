"""Multi-fidelity screening inside a generation: successive halving (``screening = "halving"``).

Successive halving (Jamieson & Talwalkar 2016; one bracket of Hyperband, Li et al. 2017): the
candidates the gate chose are all trained briefly, the best ``1 / eta`` of them are promoted to a
longer training, and so on up to the screening budget. Per generation (pseudocode)::

    active = candidates the gate chose (gate + shadow)
    for rung r in 0 .. rungs-1:
        share = eta ** (r - rungs + 1)                   # of the screening budget's optimizer steps
        enqueue active as trials (rung r, fidelity share); train them (or wait for the workers)
        if r is the top rung: stop
        active = the max(1, len(active) // eta) best by the first objective (ties: earlier index)
    the strategy is told the top rung's values; candidates stopped at a lower rung are told None

A promoted candidate is trained again *from scratch* at the longer budget rather than continued:
the training loop's learning-rate schedule spans the whole budget, its optimizer and data-order
states live only in the process that trained it, and workers on other machines would need the
weights. Restarting trains the lower rungs' share again (eta = 3, 3 rungs: 3 full trainings per 9
candidates instead of 2.33) and makes a top-rung training the very training full screening gives
that candidate (same budget, seed and schedule), so top-rung values compare like with like with
full screening.

Every rung's training is a COMPLETE (or FAIL) trial with the attributes ``rung`` and
``fidelity`` (:mod:`nas.search.rungs`), its rung's values and its learning curve (``val_curve``);
only top-rung trials enter the predictor's training set, the strategy, ``best/`` and the final
phase (:func:`nas.search.rungs.screened_fully`). Resuming a killed generation finds the rung
trials already finished by (generation, rung, genome key) and repeats the same promotions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nas.ledger import Ledger
from nas.search.final import save_best_model
from nas.search.rungs import FIDELITY_ATTR, RUNG_ATTR, compute_of, fidelity, promoted
from nas.search.worker import train_claims

__all__ = ["Rungs", "run_rungs", "rung_results"]


@dataclass
class Rungs:
    """What one generation's successive halving trained."""

    #: per rung, the candidate indices trained there
    members: list[list[int]] = field(default_factory=list)
    #: per rung, the finished trials by genome key
    finished: list[dict] = field(default_factory=list)

    @property
    def top(self) -> list[int]:
        """Candidates that reached the top rung (empty if every candidate failed on the way)."""
        return self.members[-1] if self.members else []

    def first_ok(self, candidates) -> list[int]:
        """Candidates the first rung trained without failure."""
        if not self.members:
            return []
        done = self.finished[0]
        return [i for i in self.members[0] if done[candidates[i].key].state.name == "COMPLETE"]

    def stats(self, rungs: int) -> dict:
        """The generation's halving figures (joined to its statistics)."""
        trials = [t for done in self.finished for t in done.values()]
        failed = sum(t.state.name != "COMPLETE" for t in trials)
        return {
            "screening": "halving",
            "rung_sizes": [len(m) for m in self.members] + [0] * (rungs - len(self.members)),
            "stopped_early": len(self.members[0]) - len(self.top) - failed if self.members else 0,
            "failed": failed,
            "train_time_s": float(sum(t.user_attrs.get("wall_time_s") or 0.0 for t in trials)),
            "screening_trainings": compute_of([t.user_attrs for t in trials]),
            "example_epochs": int(sum(t.user_attrs.get("example_epochs") or 0 for t in trials)),
        }


def _rung_trials(ledger: Ledger, gen: int, rung: int, *, finished: bool) -> dict:
    """Trials of (generation, rung) by genome key: finished (COMPLETE, or FAIL not requeued) or pending."""
    states = ("COMPLETE", "FAIL") if finished else ("WAITING", "RUNNING")
    out = {}
    for t in ledger.trials():
        a = t.user_attrs
        if t.state.name in states and a.get("generation") == gen and a.get(RUNG_ATTR) == rung and not a.get("requeued"):
            out[a["key"]] = t
    return out


def rung_results(ledger: Ledger, gen: int, rung: int) -> dict:
    """The finished trials of one generation's rung, by genome key."""
    return _rung_trials(ledger, gen, rung, finished=True)


def run_rungs(search, gen: int, candidates, selection) -> Rungs:
    """Successive halving of ``selection.to_train`` (see the module docstring); ``search`` is the
    loop's generation state (config, ledger, trainer, objectives, strategy, run directory)."""
    config = search.config
    rungs, eta = config.halving_rungs, config.halving_eta
    out = Rungs()
    active = list(selection.to_train)
    for rung in range(rungs):
        if not active:
            break
        share = fidelity(rung, rungs=rungs, eta=eta)
        done = _train_rung(search, gen, rung, share, candidates, active, selection)
        out.members.append(active)
        out.finished.append(done)
        if rung == rungs - 1:
            break
        scores = []
        for i in active:
            t = done[candidates[i].key]
            scores.append((i, t.values[0] if t.state.name == "COMPLETE" and t.values else None))
        active = sorted(promoted(scores, max(1, len(active) // eta)))
    return out


def _train_rung(search, gen: int, rung: int, share: float, candidates, active: list[int], selection) -> dict:
    """Enqueue (unless a killed run did) and train one rung's trials; its finished trials by key."""
    config, ledger, trainer = search.config, search.ledger, search.trainer
    finished = rung_results(ledger, gen, rung)
    pending = _rung_trials(ledger, gen, rung, finished=False)
    mean, std = selection.mean, selection.std
    wanted = set()
    for i in active:
        g = candidates[i]
        if g.key in finished:
            continue
        if g.key in pending:
            wanted.add(pending[g.key].number)
            continue
        wanted.add(ledger.enqueue(
            g, generation=gen, index=i, reason=selection.reason[i], architecture=search.strategy.architecture_key(g),
            strategy=config.strategy, predicted=None if mean is None else float(mean[i]),
            predicted_std=None if std is None else float(std[i]), **{RUNG_ATTR: rung, FIDELITY_ATTR: share},
        ))
    while True:
        claims = []
        if config.local_worker:
            while (claim := ledger.claim(numbers=wanted)) is not None:
                claims.append(claim)
            if claims:
                outcomes = train_claims(ledger, trainer, claims, search.objectives,
                                        heartbeat_interval=config.heartbeat_interval)
                save_best_model(search.run_dir, ledger, claims, outcomes)
        finished = rung_results(ledger, gen, rung)
        if all(candidates[i].key in finished for i in active):
            return finished
        ledger.requeue_stale(config.stale_after, max_retries=config.max_retries)  # a worker died: back to the queue
        wanted = {t.number for t in _rung_trials(ledger, gen, rung, finished=False).values()}
        if not claims:  # trained elsewhere: wait for the workers
            time.sleep(config.poll_interval)
