"""Genome: validation with typed errors, JSON round-trip, stable key, decoding; property tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import (
    EmptyGraphError,
    InvalidGenomeError,
    SearchSpaceError,
    UnknownPriorError,
)
from search_spaces.genome import FAMILIES, MAX_NODES, MAX_SEED, Genome, genome_from_any
from search_spaces.operators import random_genome
from search_spaces.priors import get_prior


def ws(**changes):
    fields = dict(prior="watts_strogatz", params={"k": 4, "p": 0.5}, nodes=20, seed=3, family="rnn:gru")
    fields.update(changes)
    return Genome(**fields)


def test_fields_are_normalised_and_frozen():
    g = ws(params={"p": 1, "k": 4.0})
    assert g.params == (("k", 4), ("p", 1.0))
    assert isinstance(g.param_dict["k"], int) and isinstance(g.param_dict["p"], float)
    assert g.cell == "gru" and ws(family="ff").cell is None
    with pytest.raises(AttributeError):
        g.nodes = 5  # frozen


def test_json_round_trip_and_key():
    g = ws(edits=[("add", 5, 1), ("remove", 0, 1)])
    assert g.edits == (("add", 1, 5), ("remove", 0, 1))
    assert Genome.from_json(g.to_json()) == g
    assert Genome.from_dict(json.loads(g.to_json(indent=2))) == g
    assert g.key == Genome.from_json(g.to_json()).key and len(g.key) == 16
    assert g.key != ws(seed=4).key
    assert json.loads(g.to_json())["params"] == {"k": 4, "p": 0.5}
    assert hash(g) == hash(Genome.from_json(g.to_json()))
    assert genome_from_any(g) is g and genome_from_any(g.to_json()) == g and genome_from_any(g.to_dict()) == g
    with pytest.raises(SearchSpaceError, match="expected a Genome"):
        genome_from_any(42)


def test_key_is_stable_across_processes():
    # The key is a sha256 of canonical JSON, not Python's salted hash: pin one value.
    g = Genome("erdos_renyi", {"p": 0.25}, nodes=10, seed=1, family="ff")
    assert g.to_json() == ('{"edits": [], "family": "ff", "nodes": 10, "params": {"p": 0.25}, "prior": "erdos_renyi", '
                           '"readout": "sinks", "seed": 1, "width": 1}')
    import hashlib

    assert g.key == hashlib.sha256(g.to_json().replace(', "width": 1', "").encode()).hexdigest()[:16]


def test_paper_construction_keeps_its_schema_1_key():
    # width 1 and readout "last" are left out of the key: ledgers written before they existed still match.
    g = Genome("erdos_renyi", {"p": 0.25}, nodes=10, seed=1, family="ff", readout="last")
    schema_1 = '{"edits": [], "family": "ff", "nodes": 10, "params": {"p": 0.25}, "prior": "erdos_renyi", "seed": 1}'
    import hashlib

    assert g.key == hashlib.sha256(schema_1.encode()).hexdigest()[:16]
    assert len({g.key, g.replace(readout="sinks").key, g.replace(width=2).key}) == 3


def test_width_and_readout_are_validated_and_round_trip():
    g = Genome("erdos_renyi", {"p": 0.25}, nodes=10, seed=1, width=8, readout="last")
    assert Genome.from_json(g.to_json()) == g and g.width == 8
    with pytest.raises(InvalidGenomeError, match=r"Genome\.width = 0; expected an integer in \[1, 256\]"):
        g.replace(width=0)
    with pytest.raises(InvalidGenomeError, match=r"Genome\.width = 2\.5; expected"):
        g.replace(width=2.5)
    with pytest.raises(InvalidGenomeError, match=r"Genome\.readout = 'all'; expected one of \['last', 'sinks'\]"):
        g.replace(readout="all")
    # a genome JSON without width and readout was stored before they existed: the paper's construction
    old = {"prior": "erdos_renyi", "params": {"p": 0.25}, "nodes": 10, "seed": 1}
    assert (Genome.from_dict(old).width, Genome.from_dict(old).readout) == (1, "last")
    assert Genome.from_json(json.dumps(old)) == Genome.from_dict(old) == g.replace(width=1)
    assert Genome("erdos_renyi", {"p": 0.25}).readout == "sinks"  # Python keeps its own default


def test_graph_applies_edits_in_order():
    base = ws(edits=())
    edge = next(iter(base.graph().edges))
    removed = ws(edits=[("remove", *edge)])
    assert not removed.graph().has_edge(*edge)
    assert removed.graph().number_of_edges() == base.graph().number_of_edges() - 1
    readded = ws(edits=[("remove", *edge), ("add", *edge)])
    assert readded.graph().has_edge(*edge)
    assert isinstance(base.dag(), LayeredDAG) and base.dag().num_nodes == 20


def test_replace_validates_again():
    g = ws()
    assert g.replace(seed=9).seed == 9
    with pytest.raises(InvalidGenomeError, match=r"Genome\.nodes = 1; expected"):
        g.replace(nodes=1)
    assert "watts_strogatz(k=4, p=0.5) n=20 seed=3 rnn:gru readout=sinks" == str(g)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"nodes": 1}, "nodes"),
        ({"nodes": MAX_NODES + 1}, "nodes"),
        ({"nodes": 20.0}, "nodes"),
        ({"nodes": True}, "nodes"),
        ({"seed": -1}, "seed"),
        ({"seed": MAX_SEED + 1}, "seed"),
        ({"seed": "3"}, "seed"),
        ({"family": "rnn:elman"}, "family"),
        ({"family": None}, "family"),
        ({"params": {"k": 4}}, "params"),
        ({"params": {"k": 4, "p": 0.5, "q": 1}}, "params"),
        ({"params": 5}, "params"),
        ({"params": {"k": 25, "p": 0.5}}, "params.k"),
        ({"params": {"k": 4, "p": 1.5}}, "params.p"),
        ({"params": {"k": 4, "p": "x"}}, "params.p"),
        ({"nodes": 4}, "params.k"),  # k must stay below nodes
        ({"edits": [("flip", 0, 1)]}, "edits[0]"),
        ({"edits": [("add", 0, 0)]}, "edits[0]"),
        ({"edits": [("add", 0, 20)]}, "edits[0].v"),
        ({"edits": [("add", 0)]}, "edits[0]"),
        ({"edits": 5}, "edits"),
        ({"prior": 5}, "prior"),
    ],
)
def test_invalid_fields_raise_typed_error_naming_the_field(changes, field):
    with pytest.raises(InvalidGenomeError) as info:
        ws(**changes)
    assert info.value.field == field
    assert field in str(info.value) and "expected" in str(info.value)


def test_unknown_prior_and_bad_json():
    with pytest.raises(UnknownPriorError, match="'nope'"):
        ws(prior="nope")
    with pytest.raises(InvalidGenomeError, match="valid JSON"):
        Genome.from_json("{not json")
    with pytest.raises(InvalidGenomeError, match="only the keys"):
        Genome.from_dict({**ws().to_dict(), "colour": "red"})
    with pytest.raises(InvalidGenomeError, match=r"Genome\.prior = None; expected"):
        Genome.from_dict({"nodes": 5})
    with pytest.raises(InvalidGenomeError, match="JSON object"):
        Genome.from_json("[1, 2]")


def test_edgeless_genome_decodes_to_typed_error():
    g = Genome("explicit", {}, nodes=4)
    with pytest.raises(EmptyGraphError, match="no edges"):
        g.dag()


# --- property tests -------------------------------------------------------------------------

PRIOR_NAMES = [n for n in ("erdos_renyi", "watts_strogatz", "barabasi_albert", "barabasi_albert_original",
                           "holme_kim", "random_regular", "layered_random", "random_dag")]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), family=st.sampled_from(FAMILIES))
def test_random_valid_genomes_validate_round_trip_and_decode(seed, family):
    g = random_genome(np.random.default_rng(seed), nodes=(2, 40), family=family)
    again = Genome.from_json(g.to_json())
    assert again == g and again.key == g.key
    dag = g.dag()
    assert dag.num_nodes == g.nodes and dag.num_edges > 0
    assert Genome(**{**g.to_dict(), "edits": g.edits}) == g


@st.composite
def invalid_genomes(draw):
    """A valid genome's fields with one field replaced by a value outside its allowed set."""
    prior = get_prior(draw(st.sampled_from(PRIOR_NAMES)))
    nodes = draw(st.integers(max(prior.min_nodes, 12), 40))
    params = prior.sample_params(nodes, np.random.default_rng(draw(st.integers(0, 1000))))
    fields = dict(prior=prior.name, params=params, nodes=nodes, seed=0, family="ff", edits=())
    which = draw(st.sampled_from(["nodes", "seed", "family", "param", "edits"]))
    if which == "nodes":
        fields["nodes"] = draw(st.one_of(st.integers(max_value=1), st.integers(min_value=MAX_NODES + 1),
                                         st.floats(allow_nan=True), st.text(max_size=3)))  # fmt: skip
        field = "nodes"
    elif which == "seed":
        fields["seed"] = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_SEED + 1), st.none()))
        field = "seed"
    elif which == "family":
        fields["family"] = draw(st.text(max_size=8).filter(lambda s: s not in FAMILIES))
        field = "family"
    elif which == "param":
        spec = draw(st.sampled_from(prior.params))
        bad = draw(st.one_of(st.floats(min_value=spec.high, exclude_min=True, allow_infinity=True),
                             st.floats(max_value=spec.low, exclude_max=True), st.just(float("nan")),
                             st.text(max_size=2), st.booleans()))  # fmt: skip
        fields["params"] = {**params, spec.name: bad}
        field = f"params.{spec.name}"
    else:
        u = draw(st.integers(0, nodes - 1))
        fields["edits"] = draw(st.sampled_from([(("add", u, nodes),), (("add", u, u),), (("swap", 0, 1),), (("add",),)]))
        field = "edits[0]"
    return fields, field


@settings(max_examples=80, deadline=None)
@given(case=invalid_genomes())
def test_random_invalid_genomes_raise_the_typed_error(case):
    fields, field = case
    with pytest.raises(InvalidGenomeError) as info:
        Genome(**fields)
    assert info.value.field.startswith(field)
