"""Readouts (``last`` / ``sinks``), vertex widths and equal-budget widths, on every family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.training.equal_cost import ff_nonzero_weights, width_for_weight_target
from search_spaces.builders import BuilderError, build_model
from search_spaces.dag import LayeredDAG
from search_spaces.genome import Genome
from search_spaces.operators import random_genome


def dead_end_dag() -> LayeredDAG:
    """Layers ((0, 1, 5), (2, 3), (4,)): node 3 is a dead end in layer 1, node 5 an isolated source."""
    return LayeredDAG.from_edges(6, [(0, 2), (1, 2), (1, 3), (2, 4)])


def build(family: str, **kwargs):
    torch.manual_seed(0)
    if family == "ff":
        return build_model(dead_end_dag(), "ff", num_classes=3, in_features=5, **kwargs)
    if family == "cnn":
        return build_model(dead_end_dag(), "cnn", num_classes=3, in_channels=3, channels=(4,), **kwargs)
    return build_model(dead_end_dag(), family, num_classes=3, vocab_size=4, embedding_dim=3, **kwargs)


def inputs(family: str):
    gen = torch.Generator().manual_seed(1)
    if family == "ff":
        return torch.randn(4, 5, generator=gen)
    if family == "cnn":
        return torch.randn(2, 3, 8, 8, generator=gen)
    return torch.randint(1, 4, (4, 6), generator=gen)


def dead_end_units(model, family):
    """The parameter whose output is the dead end's state, and the rows that belong to node 3."""
    if family == "ff":
        return model.main[0], slice(1 * model.width, 2 * model.width)  # layer 1 = (2, 3): node 3 second
    return model.layers[1], slice(1 * model.width, 2 * model.width)


@pytest.mark.parametrize("width", [1, 3])
def test_sinks_read_dead_ends_and_last_does_not(width):
    for readout, reads in (("sinks", True), ("last", False)):
        model = build("ff", width=width, readout=readout)
        layer, rows = dead_end_units(model, "ff")
        model(inputs("ff")).sum().backward()
        assert bool(layer.weight.grad[rows].abs().sum() > 0) == reads, readout


@pytest.mark.parametrize("family", ["rnn:gru", "rnn:tanh"])
def test_recurrent_sinks_readout_reads_the_dead_end_units(family):
    # (a recurrent layer's units are densely recurrent, so a dead end also feeds its layer-mates:
    # the readout is checked by what the classifier reads)
    sinks, last = build(family, width=2, readout="sinks"), build(family, width=2, readout="last")
    assert last.readout_layers == (2,) and sinks.readout_layers == (0, 1, 2)
    assert sinks.output_layer.mask[0].tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1]
    x = inputs(family)
    with torch.no_grad():
        states = sinks.hidden_states(x)
        read = torch.cat([states[0][:, -1], states[1][:, -1], states[2][:, -1]], dim=-1)
        torch.testing.assert_close(sinks(x), sinks.output_layer(read))


def test_sinks_readout_layers_and_output_mask():
    model = build("ff", readout="sinks", width=2)
    assert model.readout_layers == (0, 1, 2)  # node 5 (layer 0), node 3 (layer 1), node 4 (layer 2)
    assert model.layer_sizes == (6, 4, 2)
    # columns: layer 0 units of node 5 only, layer 1 units of node 3, all of layer 2
    expected = np.array([0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1], dtype=np.float32)
    assert np.array_equal(model.output_layer.mask[0].numpy(), expected)
    assert build("ff", readout="last").readout_layers == (2,)


def test_cnn_readout_and_width():
    last, sinks = build("cnn", readout="last"), build("cnn", readout="sinks", width=2)
    assert sinks.channels == (8,) and last.channels == (4,)
    x = inputs("cnn")
    assert last(x).shape == sinks(x).shape == (2, 3)
    # the stage output of "sinks" averages nodes 5, 3 and 4; of "last" node 4 only
    stage = build("cnn", readout="sinks").stages[0]
    assert [layer for layer, _ in stage._reads] == [0, 1, 2]


@pytest.mark.parametrize("family", ["ff", "rnn:lstm"])
def test_width_expands_every_edge_into_a_dense_block(family):
    one, three = build(family, width=1, readout="last"), build(family, width=3, readout="last")
    assert three.num_connections() == 9 * one.num_connections()
    for (_, _, m1), (_, _, m3) in zip(one.masked_parameters(), three.masked_parameters()):
        rows = m1.shape[0]
        gates = rows // (m1.shape[0] if family == "ff" else one.layers[1].hidden_size) if family != "ff" else 1
        blocks = [np.kron(b, np.ones((3, 3))) for b in np.split(m1.numpy(), gates)]
        assert np.array_equal(m3.numpy(), np.concatenate(blocks))


@pytest.mark.parametrize("kwargs, needle", [
    ({"width": 0}, r"width .*\[1, 256\], got 0"),
    ({"width": 2.0}, r"width .*got 2.0"),
    ({"readout": "all"}, r"readout must be one of \['last', 'sinks'\], got 'all'"),
])
@pytest.mark.parametrize("family", ["ff", "rnn:gru", "cnn"])
def test_bad_width_or_readout_is_a_typed_error(family, kwargs, needle):
    with pytest.raises(BuilderError, match=needle):
        build(family, **kwargs)


def test_paper_construction_is_unchanged_by_the_new_code():
    """readout "last", width 1: the very weights and logits of the construction before readouts
    existed (a dense output layer over the last DAG layer, drawn after the masked layers)."""
    dag = dead_end_dag()
    torch.manual_seed(0)
    model = build_model(dag, "ff", num_classes=3, in_features=5, readout="last", generator=torch.Generator().manual_seed(4))
    assert isinstance(model.output_layer, torch.nn.Linear) and model.output_layer.in_features == 1
    x = inputs("ff")
    h = model.hidden_states(x)
    torch.testing.assert_close(model(x), model.output_layer(h[-1]))


@pytest.mark.parametrize("seed", range(6))
def test_analytic_weight_count_equals_the_built_model(seed):
    rng = np.random.default_rng(seed)
    genome = random_genome(rng, nodes=(6, 30), widths=(1, 8), readout=("last", "sinks")[seed % 2])
    torch.manual_seed(seed)
    model = build_model(genome.dag(), "ff", num_classes=10, in_features=12, width=genome.width, readout=genome.readout)
    assert ff_nonzero_weights(genome, 12, 10) == model.nonzero_weights()


def test_width_for_weight_target_picks_the_closest_width():
    g = Genome("erdos_renyi", {"p": 0.2}, nodes=30, seed=2)
    count = lambda h: ff_nonzero_weights(h, 784, 10)  # noqa: E731
    for target in (30_000, 120_000, 400_000):
        fitted = width_for_weight_target(g, target, count)
        others = [abs(count(g.replace(width=w)) - target) for w in range(1, 64)]
        assert abs(count(fitted) - target) == min(others)
    assert width_for_weight_target(g, 1, count).width == 1
    assert width_for_weight_target(g, 10**12, count, widths=(1, 8)).width == 8


def test_sinks_construction_initialises_by_total_fan_in_and_keeps_deep_states_bounded():
    from search_spaces.priors import get_prior

    params = get_prior("erdos_renyi").sample_params(100, np.random.default_rng(0))  # a 63-layer DAG
    genome = Genome("erdos_renyi", params, nodes=100, seed=0, width=4)
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(0))
    stds = {}
    for readout in ("sinks", "last"):
        model = build_model(genome.dag(), "ff", num_classes=10, in_features=784, width=4, readout=readout,
                            generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            stds[readout] = [float(h.std()) for h in model.hidden_states(x)]
    assert len(stds["sinks"]) > 50
    assert max(stds["sinks"]) < 2.0  # total fan-in: the sum over source layers keeps its scale
    assert max(stds["last"]) > 100.0  # the paper's per-layer rule, kept for readout "last": it grows
    # node 2 reads node 1 (main layer) and node 0 (skip layer): with width 16, 32 inputs in total
    dag = LayeredDAG.from_edges(3, [(0, 1), (1, 2), (0, 2)])
    for readout, bound in (("sinks", 1 / 32 ** 0.5), ("last", 1 / 16 ** 0.5)):
        model = build_model(dag, "ff", num_classes=2, in_features=3, width=16, readout=readout,
                            generator=torch.Generator().manual_seed(0))
        weights = torch.cat([model.main[1].weight.flatten(), model.skips["0_2"].weight.flatten()]).detach().abs()
        assert float(weights.max()) <= bound + 1e-7 and float(weights.max()) > 0.9 * bound, readout
