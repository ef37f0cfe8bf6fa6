"""What an architecture *is*: priors, genomes, layered DAGs, features, distances and builders.

Importing this package never imports torch; the builders (``search_spaces.builders``) do.
"""

from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import (
    EmptyGraphError,
    GraphGenerationError,
    InvalidGenomeError,
    SearchSpaceError,
    SparseNASError,
    UnknownPriorError,
)
from search_spaces.genome import FAMILIES, Genome, genome_from_any
from search_spaces.priors import ParamSpec, Prior, get_prior, list_priors, register_prior

__all__ = [
    "LayeredDAG",
    "Genome",
    "genome_from_any",
    "FAMILIES",
    "ParamSpec",
    "Prior",
    "get_prior",
    "list_priors",
    "register_prior",
    "SparseNASError",
    "SearchSpaceError",
    "InvalidGenomeError",
    "UnknownPriorError",
    "GraphGenerationError",
    "EmptyGraphError",
]
