"""Drawing a prior study's genomes: equal sizes for every prior, optionally equal edges or weights.

For each model family and index ``i`` one node count ``n_i`` is drawn (uniform in the study's
range), and every prior's ``i``-th genome has that size: priors are compared at equal node counts
by construction, never by the luck of their size draws. Parameters come from the prior's rules
(:func:`nas.studies.priors.config.parse_prior`) or its own sampler, graph seeds are fresh draws.

Matching (``match``):

* ``edges`` — the target is the median edge count of the index's first draws over priors; each
  prior then draws ``match_tries`` graphs of size ``n_i`` (fresh parameters and seeds) and keeps
  the one closest to the target (ties: the earliest). How close they came is in each genome's
  ``match_value``.
* ``weights`` — the target is the median nonzero-weight count of the first draws at the study's
  width; each genome then gets the width whose count comes closest
  (:func:`nas.training.equal_cost.width_for_weight_target`), as in You et al. 2020, who compare graphs at equal compute.

Every draw comes from ``numpy.random.default_rng([seed, family index, stream])``, so a study's
genomes depend only on its settings (and the code version); a resumed study trains the genomes
stored in its folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nas.exceptions import ConfigError
from nas.studies.priors.config import StudyConfig, rule_value
from nas.training.equal_cost import width_for_weight_target
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import MAX_SEED, MAX_WIDTH, Genome
from search_spaces.priors import get_prior

__all__ = ["StudyGenome", "draw_study_genomes", "family_tag"]

_TRIES = 100


@dataclass(frozen=True)
class StudyGenome:
    """One genome of a study: its id, cell (family), prior, index and the genome itself."""

    id: str
    family: str
    prior: str
    index: int
    genome: Genome
    match_target: int | None = None
    match_value: int | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "family": self.family, "prior": self.prior, "index": self.index,
                "genome": self.genome.to_dict(), "match_target": self.match_target, "match_value": self.match_value}

    @classmethod
    def from_dict(cls, data: dict) -> "StudyGenome":
        return cls(id=data["id"], family=data["family"], prior=data["prior"], index=int(data["index"]),
                   genome=Genome.from_dict(data["genome"]), match_target=data.get("match_target"),
                   match_value=data.get("match_value"))


def family_tag(family: str) -> str:
    """Short name of a family for ids: ``rnn:gru`` -> ``gru``."""
    return family.split(":", 1)[-1]


def _draw(prior_name: str, rules: dict, nodes: int, family: str, config: StudyConfig, rng) -> Genome:
    """One genome of ``prior_name`` with ``nodes`` nodes whose graph has an edge."""
    prior = get_prior(prior_name)
    nodes = max(nodes, prior.min_nodes)
    fixed = {k: rule_value(v, nodes) for k, v in rules.items()}
    last = "no draw"
    for _ in range(_TRIES):
        try:
            params = prior.sample_params(nodes, rng, fixed=fixed)
            genome = Genome(prior_name, params, nodes=nodes, seed=int(rng.integers(0, MAX_SEED, endpoint=True)),
                            family=family, width=config.width, readout=config.readout)
            if genome.graph().number_of_edges() > 0:
                return genome
            last = f"seed {genome.seed} gave a graph without edges"
        except SearchSpaceError as err:
            last = str(err)
            if fixed and all(p in fixed for p in prior.param_names):
                break  # nothing is drawn: every try would fail the same way
    raise ConfigError(f"prior {prior_name!r} with rules {rules} cannot make a graph of {nodes} nodes: {last}")


def draw_study_genomes(config: StudyConfig, weight_counter: Callable[[Genome], int] | None = None) -> list[StudyGenome]:
    """The genomes of a study, ordered index by index (then family, then prior).

    That order is also the training order, so a study stopped early holds about as many
    genomes of every prior and family.

    Parameters
    ----------
    config : StudyConfig
    weight_counter : callable, optional
        ``count(genome) -> nonzero weights``; needed for ``match="weights"``
        (:func:`nas.training.equal_cost.task_weight_counter`).

    Raises
    ------
    ConfigError
        A prior whose rules cannot make a graph of a drawn size, or ``match="weights"`` without
        a counter.
    """
    if config.match == "weights" and weight_counter is None:
        raise ConfigError("match='weights' needs a weight counter (nas.training.equal_cost.task_weight_counter)")
    rules = config.prior_rules()
    names = list(rules)
    low, high = config.nodes
    by_family: list[list[list[StudyGenome]]] = []
    for f, family in enumerate(config.families):
        sizes = np.random.default_rng([config.seed, f, 0]).integers(low, high, size=config.per_prior, endpoint=True)
        rngs = [np.random.default_rng([config.seed, f, p + 1]) for p in range(len(names))]
        rows = []
        for i, n in enumerate(sizes):
            first = [_draw(name, rules[name], int(n), family, config, rng) for name, rng in zip(names, rngs)]
            chosen, target, values = _match(first, names, rules, int(n), family, config, rngs, weight_counter)
            rows.append([
                StudyGenome(id=f"{family_tag(family)}-{name}-{i:04d}", family=family, prior=name, index=i, genome=g,
                            match_target=target, match_value=v)
                for name, g, v in zip(names, chosen, values)
            ])
        by_family.append(rows)
    return [g for i in range(config.per_prior) for rows in by_family for g in rows[i]]


def _edges(genome: Genome) -> int:
    return genome.graph().number_of_edges()


def _match(first, names, rules, nodes, family, config, rngs, weight_counter):
    """The genomes of one index after matching, the target and each genome's matched count."""
    if config.match == "none":
        return first, None, [None] * len(first)
    if config.match == "edges":
        counts = [_edges(g) for g in first]
        target = int(round(float(np.median(counts))))
        chosen, values = [], []
        for name, genome, edges, rng in zip(names, first, counts, rngs):
            best, best_edges = genome, edges  # a genome's graph is generated once per count
            for _ in range(config.match_tries - 1):
                if best_edges == target:
                    break
                candidate = _draw(name, rules[name], nodes, family, config, rng)
                candidate_edges = _edges(candidate)
                if abs(candidate_edges - target) < abs(best_edges - target):
                    best, best_edges = candidate, candidate_edges
            chosen.append(best)
            values.append(best_edges)
        return chosen, target, values

    target = int(round(float(np.median([weight_counter(g) for g in first]))))
    chosen = [width_for_weight_target(g, target, weight_counter, widths=(1, MAX_WIDTH)) for g in first]
    return chosen, target, [int(weight_counter(g)) for g in chosen]
