"""Drawing a random valid genome (:func:`random_genome`)."""

from __future__ import annotations

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import FAMILIES, MAX_SEED, READOUTS, Genome
from search_spaces.operators.common import (
    OperatorError,
    check_rng,
    node_bounds,
    prior_list,
    try_genome,
    width_choices,
)
from search_spaces.priors import get_prior

__all__ = ["random_genome"]


def random_genome(
    rng, *, priors=None, nodes=(10, 50), family="ff", widths=(1, 1), readout="sinks", max_tries: int = 100
) -> Genome:
    """Draw a valid genome.

    Parameters
    ----------
    rng : numpy.random.Generator
    priors : sequence of str, optional
        Priors to choose from, uniformly; default all registered except ``explicit``.
    nodes : (int, int)
        Inclusive bounds of the node count (raised to a prior's ``min_nodes``).
    family : str or sequence of str
        The model family, or families to choose from uniformly.
    widths : (int, int)
        Bounds of the vertex width, drawn uniformly from :func:`width_choices` (no draw when the
        bounds are equal, so ``(1, 1)`` keeps the draws of the paper's space).
    readout : str
        The genome's readout (one of ``READOUTS``).
    max_tries : int
        Draws before giving up.

    Returns
    -------
    Genome
        Validates and decodes to a non-empty DAG.

    Raises
    ------
    OperatorError
        Bad ``nodes`` bounds, an empty prior list, an unknown family, or no valid genome in
        ``max_tries`` draws (the message lists the last failure).
    UnknownPriorError
        A name in ``priors`` that is not registered.
    """
    rng = check_rng(rng)
    lo, hi = node_bounds(nodes)
    names = prior_list(priors)
    families = [family] if isinstance(family, str) else list(family)
    bad = [f for f in families if f not in FAMILIES]
    if bad or not families:
        raise OperatorError(f"family must be one of {list(FAMILIES)} (or a list of them), got {family!r}")
    grid = width_choices(widths)
    if readout not in READOUTS:
        raise OperatorError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
    last = "no draw"
    for _ in range(max_tries):
        prior = get_prior(names[int(rng.integers(len(names)))])
        n = int(rng.integers(max(lo, prior.min_nodes), max(hi, prior.min_nodes) + 1))
        fam = families[int(rng.integers(len(families)))]
        seed = int(rng.integers(0, MAX_SEED, endpoint=True))
        try:
            params = prior.sample_params(n, rng)
        except SearchSpaceError as err:
            last = str(err)
            continue
        width = grid[int(rng.integers(len(grid)))] if len(grid) > 1 else grid[0]
        genome = try_genome(prior=prior.name, params=params, nodes=n, seed=seed, family=fam, width=width, readout=readout)
        if genome is not None:
            return genome
        last = f"{prior.name} nodes={n} params={params} seed={seed} gave no edges or failed to generate"
    raise OperatorError(f"no valid genome in {max_tries} draws from priors {names} with nodes {nodes}: {last}")
