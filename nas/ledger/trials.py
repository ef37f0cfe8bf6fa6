"""What a ledger trial holds: the genome as Optuna params (what the dashboard plots) and attribute
values every storage backend accepts. Its genome JSON is read back by :meth:`Genome.from_json`, the
one decoding of stored genomes."""

from __future__ import annotations

import math
from typing import Any

from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from nas.provenance import to_jsonable
from search_spaces.genome import (
    FAMILIES,
    MAX_NODES,
    MAX_SEED,
    MAX_WIDTH,
    READOUTS,
    Genome,
)
from search_spaces.priors import get_prior, list_priors

__all__ = ["genome_params", "jsonable"]


def genome_params(genome: Genome) -> tuple[dict[str, Any], dict[str, Any]]:
    """The genome's scalar choices as Optuna params and distributions (what the dashboard plots).

    ``prior``, ``family`` and ``readout`` are categorical; ``nodes``, ``seed`` and ``width`` integers; each prior
    parameter ``<prior>.<name>`` uses its declared range. Values outside a range (never for a
    valid genome) are left out rather than mis-declared.
    """
    params: dict[str, Any] = {"prior": genome.prior, "nodes": genome.nodes, "seed": genome.seed, "family": genome.family,
                              "width": genome.width, "readout": genome.readout}
    dists: dict[str, Any] = {
        "prior": CategoricalDistribution(tuple(sorted(list_priors()))),
        "nodes": IntDistribution(2, MAX_NODES),
        "seed": IntDistribution(0, MAX_SEED),
        "family": CategoricalDistribution(FAMILIES),
        "width": IntDistribution(1, MAX_WIDTH),
        "readout": CategoricalDistribution(READOUTS),
    }
    prior = get_prior(genome.prior)
    for spec in prior.params:
        value = genome.param_dict[spec.name]
        name = f"{genome.prior}.{spec.name}"
        if spec.kind == "int":
            dists[name] = IntDistribution(int(spec.low), int(spec.high), log=spec.log)
        else:
            dists[name] = FloatDistribution(float(spec.low), float(spec.high), log=spec.log)
        params[name] = value
    return params, dists


def jsonable(value):
    """Optuna user attributes must be JSON; NaN/inf become None so every backend accepts them."""
    value = to_jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
