"""The genome: an architecture as an immutable, validated value.

Everything downstream — graph, layered DAG, features, masks, torch module — is a deterministic
function of the genome, so its JSON is a complete description. Two identities: :attr:`Genome.key`
names a *genome* (prior, parameters, seed, edits...); :func:`architecture_key` names the *network*
it builds, which several genomes can share (the search's dedup key). Genome JSON has one decoding,
:meth:`Genome.from_dict`, with one set of defaults (:data:`JSON_DEFAULTS`). Genetic operators live
in :mod:`search_spaces.operators`.

Examples
--------
>>> g = Genome("watts_strogatz", {"k": 4, "p": 1.0}, nodes=20, seed=3, family="rnn:gru")
>>> Genome.from_json(g.to_json()) == g
True
>>> g.dag().num_nodes
20
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from numbers import Integral
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import networkx as nx

from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import (
    InvalidGenomeError,
    InvalidValueError,
    SearchSpaceError,
)
from search_spaces.priors import get_prior
from search_spaces.validation import (
    Interval,
    Options,
    Satisfies,
    Unchecked,
    check_fields,
    check_value,
)

__all__ = [
    "Genome", "FAMILIES", "RNN_CELLS", "EDIT_OPS", "READOUTS", "MIN_NODES", "MAX_NODES", "MAX_WIDTH", "MAX_SEED",
    "SCHEMA_VERSION", "SCHEMA_1_VALUES", "JSON_DEFAULTS", "ARCHITECTURE_KEY_VERSION", "ARCHITECTURE_KEY_VERSIONS",
]

RNN_CELLS = ("tanh", "relu", "gru", "lstm")
FAMILIES = ("ff", *(f"rnn:{c}" for c in RNN_CELLS), "cnn")
EDIT_OPS = ("add", "remove")
#: ``last``: the output reads only the last DAG layer (Stier et al. 2021); ``sinks``: every vertex
#: without a successor feeds the output (as randomly wired networks aggregate their sinks).
READOUTS = ("last", "sinks")
MIN_NODES = 2
MAX_NODES = 5000
MAX_WIDTH = 256
MAX_SEED = 2**32 - 1
#: 2 added ``width`` and ``readout``; a genome JSON without them is a schema-1 genome (:data:`SCHEMA_1_VALUES`).
SCHEMA_VERSION = 2
#: The fields schema 2 added, at the values every schema-1 network was built with (the paper's
#: construction). Every writer writes both fields, so a genome JSON without them was stored before
#: they existed and means these values; :attr:`Genome.key` leaves them out, so schema-1 keys stand.
SCHEMA_1_VALUES = MappingProxyType({"width": 1, "readout": "last"})
#: What a genome JSON may leave out and what it then means: the one set of defaults of
#: :meth:`Genome.from_dict`, which every reader of stored genomes goes through. ``Genome(...)`` in
#: Python keeps its own dataclass defaults (readout ``"sinks"``), an explicit API.
JSON_DEFAULTS = MappingProxyType({"params": (), "nodes": 20, "seed": 0, "family": "ff", "edits": (), **SCHEMA_1_VALUES})
#: Versions of :func:`architecture_key`: 1 keyed the family and the DAG only (searches stored before
#: width and readout were keyed resume with it); 2, what new searches use, keys every build option.
ARCHITECTURE_KEY_VERSIONS = (1, 2)
ARCHITECTURE_KEY_VERSION = 2


def _edit_sequence(value) -> bool:
    return not isinstance(value, (str, bytes, Mapping)) and hasattr(value, "__iter__")


@dataclass(frozen=True)
class Genome:
    """An architecture: prior, its parameters, size, graph seed, model family and edge edits.

    Parameters
    ----------
    prior : str
        A registered prior (:func:`search_spaces.priors.list_priors`).
    params : mapping
        The prior's parameters; stored as a sorted tuple of ``(name, value)`` pairs.
    nodes : int
        Number of graph vertices (hidden units / recurrent units / conv blocks).
    seed : int
        Seed of the prior's generator, in ``[0, 2**32 - 1]``.
    family : str
        One of :data:`FAMILIES`: ``"ff"``, ``"rnn:tanh|relu|gru|lstm"`` or ``"cnn"``.
    edits : sequence of (op, u, v)
        Edge edits applied after generation, in order: ``("add", u, v)`` or ``("remove", u, v)``
        on node labels ``0..nodes-1``. The ``explicit`` prior carries all its edges this way.
    width : int
        Units per vertex, in ``[1, MAX_WIDTH]``: a vertex is a block of ``width`` units and an
        edge a dense ``width x width`` block between two vertices' units (channels are multiplied
        by ``width`` in the ``cnn`` family). ``1`` is the paper's network.
    readout : str
        One of :data:`READOUTS`: which vertices feed the output. ``"sinks"`` (the default) reads
        every vertex without a successor; ``"last"`` only the last DAG layer, the paper's
        construction.

    Raises
    ------
    InvalidGenomeError
        A field outside its allowed values; the message names the field, the value and the range.
    UnknownPriorError
        ``prior`` is not registered.
    """

    prior: str
    params: Any = field(default_factory=tuple)
    nodes: int = 20
    seed: int = 0
    family: str = "ff"
    edits: Any = ()
    width: int = 1
    readout: str = "sinks"

    #: One rule per field (:mod:`search_spaces.validation`); the prior's own rules (its smallest
    #: graph, its parameters) and the edits' node range are checked after it.
    constraints: ClassVar[dict] = {
        "prior": Satisfies(lambda v: isinstance(v, str), "a prior name (string)"),
        "nodes": Interval(Integral, MIN_NODES, MAX_NODES),
        "seed": Interval(Integral, 0, MAX_SEED),
        "family": Options(FAMILIES),
        "width": Interval(Integral, 1, MAX_WIDTH),
        "readout": Options(READOUTS),
        "params": Unchecked("the prior's parameters (checked by the prior)"),
        "edits": Satisfies(_edit_sequence, "a sequence of (op, u, v) triples"),
    }

    def __post_init__(self):
        check_fields(self, error=InvalidGenomeError)
        prior = get_prior(self.prior)
        if self.nodes < prior.min_nodes:
            raise InvalidGenomeError("nodes", self.nodes, f"an integer in [{prior.min_nodes}, {MAX_NODES}] for prior "
                                                          f"{self.prior!r}")
        params = self.params
        if not isinstance(params, Mapping):
            try:  # the stored form: a tuple of (name, value) pairs
                params = dict(params)
            except (TypeError, ValueError):
                raise InvalidGenomeError(
                    "params", self.params, f"a mapping with keys {list(prior.param_names)}"
                ) from None
        clean = prior.validate(self.nodes, params)
        node = Interval(Integral, 0, self.nodes - 1)
        edits = []
        for i, edit in enumerate(self.edits):
            if not isinstance(edit, (tuple, list)) or len(edit) != 3 or edit[0] not in EDIT_OPS:
                raise InvalidGenomeError(f"edits[{i}]", edit, f"a triple (op, u, v) with op in {list(EDIT_OPS)}")
            u = check_value("Genome", f"edits[{i}].u", edit[1], node, error=InvalidGenomeError)
            v = check_value("Genome", f"edits[{i}].v", edit[2], node, error=InvalidGenomeError)
            if u == v:
                raise InvalidGenomeError(f"edits[{i}]", tuple(edit), "two different nodes")
            edits.append((edit[0], min(u, v), max(u, v)))
        object.__setattr__(self, "params", tuple(sorted(clean.items())))
        object.__setattr__(self, "edits", tuple(edits))

    # --- views ----------------------------------------------------------------------------

    @property
    def param_dict(self) -> dict[str, int | float]:
        return dict(self.params)

    @property
    def cell(self) -> str | None:
        """The recurrent cell for ``rnn:*`` families, else None."""
        return self.family.split(":", 1)[1] if self.family.startswith("rnn:") else None

    def graph(self) -> nx.Graph:
        """The undirected graph: the prior's draw, then the edge edits in order."""
        g = get_prior(self.prior).generate(self.nodes, self.param_dict, self.seed)
        for op, u, v in self.edits:
            if op == "add":
                g.add_edge(u, v)
            elif g.has_edge(u, v):
                g.remove_edge(u, v)
        return g

    def dag(self) -> LayeredDAG:
        """The layered DAG (low→high orientation).

        Raises
        ------
        EmptyGraphError
            The genome's graph has no edges.
        """
        return LayeredDAG.from_graph(self.graph())

    # --- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "prior": self.prior,
            "params": self.param_dict,
            "nodes": self.nodes,
            "seed": self.seed,
            "family": self.family,
            "edits": [list(e) for e in self.edits],
            "width": self.width,
            "readout": self.readout,
        }

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys); equal genomes give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping) -> "Genome":
        """Build from :meth:`to_dict` output: the one decoding of a stored or hand-written genome.

        ``prior`` is required; a missing field means its value in :data:`JSON_DEFAULTS` (so
        hand-written JSON can stay short). A missing ``width`` / ``readout`` means width 1 and
        readout ``"last"``, the paper's construction: every writer writes both fields, so only
        results stored before schema 2 lack them, and those were built that way. The ledger, the
        report, the predictors, the CLI and the prior study all read genomes through here.

        Raises
        ------
        InvalidGenomeError
            Not a mapping, an unknown key, a missing prior or a field outside its allowed values.
        """
        if not isinstance(data, Mapping):
            raise InvalidGenomeError("genome", data, "a JSON object")
        allowed = {"prior", *JSON_DEFAULTS}
        extra = sorted(set(data) - allowed)
        if extra:
            raise InvalidGenomeError("genome", extra, f"only the keys {sorted(allowed)}")
        if "prior" not in data:
            raise InvalidGenomeError("prior", None, "a prior name")
        fields = {**JSON_DEFAULTS, **data}
        return cls(**{**fields, "edits": _edits_from_json(fields["edits"])})

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        """Parse :meth:`to_json` output.

        Raises
        ------
        InvalidGenomeError
            Text that is not JSON, or a field outside its allowed values.
        """
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
            raise InvalidGenomeError("genome", str(text)[:80], f"valid JSON ({err})") from None
        return cls.from_dict(data)

    @property
    def key(self) -> str:
        """Stable 16-hex-digit identity of the genome, derived from the canonical JSON.

        Fields at their schema-1 values (:data:`SCHEMA_1_VALUES`) are left out of the hash, so
        the paper's construction keeps the keys it had before those fields existed. Genomes of
        different priors, seeds or edits can build the same network under different keys;
        :func:`architecture_key` is the network's identity.
        """
        data = {k: v for k, v in self.to_dict().items() if SCHEMA_1_VALUES.get(k, object()) != v}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def replace(self, **changes) -> "Genome":
        """A copy with some fields changed (validated again)."""
        data = self.to_dict()
        data.update(changes)
        return Genome.from_dict(data)

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params)
        extra = f", {len(self.edits)} edits" if self.edits else ""
        width = f" width={self.width}" if self.width != 1 else ""
        return f"{self.prior}({params}) n={self.nodes}{width} seed={self.seed} {self.family} readout={self.readout}{extra}"


def _edits_from_json(edits):
    if isinstance(edits, (list, tuple)):
        return tuple(tuple(e) if isinstance(e, list) else e for e in edits)
    return edits  # anything else is rejected, with its value, by Genome validation


def genome_from_any(value) -> Genome:
    """Accept a Genome, a dict or a JSON string."""
    if isinstance(value, Genome):
        return value
    if isinstance(value, str):
        return Genome.from_json(value)
    if isinstance(value, Mapping):
        return Genome.from_dict(value)
    raise SearchSpaceError(f"expected a Genome, dict or JSON string, got {type(value).__name__}")


def architecture_key(genome: Genome, version: int = ARCHITECTURE_KEY_VERSION) -> str:
    """The identity of the network a genome builds: equal for genomes that build the same network.

    The builders (:func:`search_spaces.builders.build_from_genome`) make a network from the
    genome's oriented DAG, family, width and readout and nothing else (prior, parameters, seed and
    edits matter only through the DAG). So the key is
    ``FAMILY|width=W|readout=R|<Weisfeiler–Lehman hash of the layered DAG>``: two priors, seeds or
    edits that give the same DAG at the same width and readout share it; another width or readout
    gives another key. (The WL hash is an isomorphism test that can, rarely, equate two
    non-isomorphic graphs; the search accepts that, as NAS benchmarks do.)

    Parameters
    ----------
    genome : Genome
    version : int
        One of :data:`ARCHITECTURE_KEY_VERSIONS`. Version 1, ``FAMILY|<WL hash>``, is the key
        searches used before width and readout were keyed; a search stored under it keeps it when
        it resumes, so it continues as it would have.

    Raises
    ------
    InvalidValueError
        ``version`` is not a known version.
    EmptyGraphError
        The genome's graph has no edges (it builds no network).

    Examples
    --------
    >>> a = Genome("explicit", {}, nodes=3, edits=(("add", 0, 1), ("add", 1, 2)), width=4)
    >>> architecture_key(a) == architecture_key(a.replace(seed=9))
    True
    >>> architecture_key(a) == architecture_key(a.replace(width=8))
    False
    >>> architecture_key(a, version=1) == architecture_key(a.replace(width=8), version=1)
    True
    """
    if version not in ARCHITECTURE_KEY_VERSIONS:
        raise InvalidValueError("version", version, f"one of {list(ARCHITECTURE_KEY_VERSIONS)}", owner="architecture_key")
    wl = genome.dag().wl_hash()
    if version == 1:
        return f"{genome.family}|{wl}"
    return f"{genome.family}|width={genome.width}|readout={genome.readout}|{wl}"


__all__ += ["genome_from_any", "architecture_key"]
