"""What an architecture *is*: priors, genomes, layered DAGs, features, distances and builders.

Importing this package never imports torch; the builders (``search_spaces.builders``) do.
"""

from search_spaces import builtin_priors  # noqa: F401  (registers the built-in priors)
from search_spaces.dag import InvalidGraphError, LayeredDAG
from search_spaces.distance import layer_distances, nnstd
from search_spaces.exceptions import (
    EmptyGraphError,
    GraphGenerationError,
    InvalidGenomeError,
    SearchSpaceError,
    ShapeMismatchError,
    SparseNASError,
    UnknownPriorError,
)
from search_spaces.features import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    feature_vector,
    graph_features,
)
from search_spaces.genome import FAMILIES, Genome, architecture_key, genome_from_any
from search_spaces.operators import crossover, mutate, random_genome
from search_spaces.priors import (
    ParamSpec,
    Prior,
    get_prior,
    list_priors,
    register_prior,
)

__all__ = [
    "LayeredDAG",
    "Genome",
    "genome_from_any",
    "architecture_key",
    "FAMILIES",
    "ParamSpec",
    "Prior",
    "get_prior",
    "list_priors",
    "register_prior",
    "random_genome",
    "mutate",
    "crossover",
    "FEATURE_NAMES",
    "FEATURE_GROUPS",
    "graph_features",
    "feature_vector",
    "nnstd",
    "layer_distances",
    "SparseNASError",
    "SearchSpaceError",
    "InvalidGenomeError",
    "UnknownPriorError",
    "GraphGenerationError",
    "EmptyGraphError",
    "ShapeMismatchError",
    "InvalidGraphError",
]
