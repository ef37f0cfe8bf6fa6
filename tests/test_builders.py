"""Contract tests of the torch builders, written once and run on every family (CPU, tiny models)."""

from __future__ import annotations

import copy
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_spaces import FAMILIES, Genome, LayeredDAG, get_prior, list_priors
from search_spaces.builders import (
    GATES,
    BuilderError,
    MaskedLinear,
    MaskedRecurrentLayer,
    RandomWiredCNN,
    SparseFeedForward,
    SparseRecurrent,
    build_from_genome,
    build_model,
    masked_parameters,
    nonzero_weights,
)
from search_spaces.exceptions import EmptyGraphError, InvalidGenomeError, SearchSpaceError, ShapeMismatchError

IN_FEATURES, VOCAB, CLASSES, STEPS = 5, 6, 3, 7
TINY_CNN = {"channels": (4, 8)}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine the threads wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tricky_dag() -> LayeredDAG:
    """Layers ((0, 1, 7), (2, 3, 6), (4,), (5,)): skips 0->2 and 1->3, dead ends 6 and 7 (isolated)."""
    edges = [(0, 2), (1, 2), (1, 3), (2, 4), (0, 4), (3, 5), (2, 5), (4, 5), (0, 6)]
    return LayeredDAG.from_edges(8, edges)


def gate_dag() -> LayeredDAG:
    """Layer 1 of width 3 reading layer 0 of width 3 through a mask that is not row-symmetric."""
    return LayeredDAG.from_edges(7, [(0, 3), (1, 4), (2, 4), (2, 5), (0, 5), (3, 6), (4, 6), (5, 6)])


def make(dag: LayeredDAG, family: str, **kwargs) -> torch.nn.Module:
    if family == "ff":
        return build_model(dag, family, num_classes=CLASSES, in_features=IN_FEATURES, **kwargs)
    if family.startswith("rnn:"):
        return build_model(dag, family, num_classes=CLASSES, vocab_size=VOCAB, embedding_dim=4, **kwargs)
    return build_model(dag, family, num_classes=CLASSES, in_channels=3, **{**TINY_CNN, **kwargs})


def batch(family: str, size: int = 4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if family == "ff":
        return torch.randn(size, 1, IN_FEATURES, generator=gen)  # flattened from dim 1, like MNIST (N,1,28,28)
    if family.startswith("rnn:"):
        return torch.randint(1, VOCAB, (size, STEPS), generator=gen)
    return torch.randn(size, 3, 8, 8, generator=gen)


def reachable(dag: LayeredDAG) -> np.ndarray:
    """``R[u, v]`` True when a directed path (of length >= 0) leads from u to v."""
    closure = nx.transitive_closure_dag(dag.to_networkx())
    out = np.eye(dag.num_nodes, dtype=bool)
    for u, v in closure.edges:
        out[u, v] = True
    return out


def mask_edges(model, dag: LayeredDAG) -> list[list[tuple[int, int]]]:
    """Decode the masks back into DAG edges, from the contract's names alone; one list per wiring copy."""
    if isinstance(model, RandomWiredCNN):
        masks = [mask.numpy() for _, _, mask in model.masked_parameters()]
        return [[(int(u), int(v)) for v, u in zip(*np.nonzero(mask))] for mask in masks]
    edges = []
    for name, weight, mask in model.masked_parameters():
        assert mask.shape == weight.shape
        parts = name.split(".")
        if parts[0] == "skips":
            s, t = map(int, parts[1].split("_"))
        else:
            t = int(parts[1]) + (1 if parts[0] == "main" else 0)
            s = t - 1
        block = mask[: dag.layer_sizes[t]].numpy()  # first gate block of a gated cell
        edges += [(dag.layers[s][j], dag.layers[t][i]) for i, j in zip(*np.nonzero(block))]
    return [edges]


# --- shapes and wiring ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_forward_shape_and_backward(family):
    torch.manual_seed(0)
    model = make(tricky_dag(), family)
    out = model(batch(family))
    assert out.shape == (4, CLASSES)
    out.sum().backward()
    assert all(p.grad is not None for _, p, _ in model.masked_parameters())


@pytest.mark.parametrize("family", FAMILIES)
def test_masks_match_edges_exactly(family):
    dag = tricky_dag()
    model = make(dag, family)
    for edges in mask_edges(model, dag):
        assert len(edges) == len(set(edges))  # no edge in two mask entries
        assert sorted(edges) == sorted(dag.edges)  # and nothing else


@pytest.mark.parametrize("family", FAMILIES)
def test_masked_weights_start_at_zero_and_masks_are_buffers(family):
    model = make(tricky_dag(), family)
    buffers = {id(b) for b in model.buffers()}
    params = {id(p) for p in model.parameters()}
    for name, weight, mask in model.masked_parameters():
        assert id(mask) in buffers and id(mask) not in params, name
        assert torch.equal(weight[mask == 0], torch.zeros_like(weight[mask == 0])), name
        assert bool((weight[mask == 1] != 0).all()), name


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda p: torch.optim.Adam(p, lr=1e-2),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    ],
    ids=["adam", "adamw", "sgd-momentum-wd"],
)
def test_masked_weights_stay_exactly_zero_through_training(family, optimizer):
    torch.manual_seed(1)
    model = make(tricky_dag(), family)
    before = {name: weight.detach().clone() for name, weight, _ in model.masked_parameters()}
    opt = optimizer(model.parameters())
    targets = torch.arange(4) % CLASSES
    for step in range(4):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch(family, seed=step)), targets)
        loss.backward()
        opt.step()
    trained = 0
    for name, weight, mask in model.masked_parameters():
        assert torch.count_nonzero(weight[mask == 0]) == 0, name
        trained += not torch.equal(weight[mask == 1], before[name][mask == 1])
    assert trained > 0, "no masked weight moved: the test would prove nothing"  # (a dead ReLU may freeze one)


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_masks_are_the_main_path_dag_masks(family):
    dag = tricky_dag()
    model = make(dag, family)
    expected = [dag.mask(l - 1, l) for l in range(1, dag.num_layers)]
    copies = len(model.stages) if isinstance(model, RandomWiredCNN) else 1
    masks = model.layer_masks()
    assert len(masks) == copies * len(expected)
    for got, want in zip(masks, expected * copies):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("family", FAMILIES)
def test_nonzero_weights_counts_effective_weights(family):
    model = make(tricky_dag(), family)
    name, weight, mask = next(iter(model.masked_parameters()))
    count = model.nonzero_weights()
    assert count == nonzero_weights(model)
    raw = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    assert count <= raw
    with torch.no_grad():
        where = torch.nonzero(mask)[0]
        mask[tuple(where)] = 0.0  # prune one connection through its mask only; the weight stays
    assert model.nonzero_weights() == count - 1


def test_nonzero_weights_of_feedforward_by_hand():
    dag = tricky_dag()
    model = make(dag, "ff", readout="last")
    masked = [*model.main, *model.skips.values()]
    biases = sum(int((layer.mask.sum(1) > 0).sum()) for layer in masked)  # rows without edges start at zero bias
    dense = sum(p.numel() for p in (*model.input_layer.parameters(), *model.output_layer.parameters()))
    assert model.nonzero_weights() == dense + dag.num_edges + biases


@pytest.mark.parametrize("family", FAMILIES)
def test_module_level_masked_parameters_sees_through_containers(family):
    model = make(tricky_dag(), family)
    wrapped = torch.nn.Sequential(model)
    names = [name for name, _, _ in masked_parameters(wrapped)]
    assert names == [f"0.{name}" for name, _, _ in model.masked_parameters()]
    assert nonzero_weights(wrapped) == model.nonzero_weights()
    with pytest.raises(BuilderError):
        list(masked_parameters("not a module"))


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_init_other_seed_other_init(family):
    dag = tricky_dag()

    def state(seed=None, generator_seed=None):
        if seed is not None:
            torch.manual_seed(seed)
        extra = {} if generator_seed is None else {"generator": torch.Generator().manual_seed(generator_seed)}
        return make(dag, family, **extra).state_dict()

    def equal(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    assert equal(state(seed=3), state(seed=3))
    assert not equal(state(seed=3), state(seed=4))
    # An explicit generator decides the init alone, whatever the global seed.
    assert equal(state(seed=5, generator_seed=7), state(seed=6, generator_seed=7))
    assert not equal(state(generator_seed=7), state(generator_seed=8))


@pytest.mark.parametrize("family", FAMILIES)
def test_state_dict_round_trip_keeps_masks_and_outputs(family):
    torch.manual_seed(0)
    dag = tricky_dag()
    model, fresh = make(dag, family).eval(), make(dag, family).eval()
    fresh.load_state_dict(model.state_dict())
    x = batch(family)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    torch.testing.assert_close(copy.deepcopy(model)(x), model(x), rtol=0, atol=0)  # best-model snapshots
    assert any(key.endswith("mask") for key in model.state_dict())


# --- dependence only along edges -----------------------------------------------------------------


def test_feedforward_units_depend_only_on_dag_paths():
    torch.manual_seed(0)
    dag = tricky_dag()
    model = make(dag, "ff")
    reach = reachable(dag)
    h0 = torch.rand(dag.layer_sizes[0]) + 0.5
    jac = torch.autograd.functional.jacobian(lambda h: tuple(model.propagate(h)), h0)
    sources = dag.layers[0]
    for layer in range(1, dag.num_layers):
        allowed = np.array([[reach[u, v] for u in sources] for v in dag.layers[layer]])
        got = jac[layer].numpy()
        assert not got[~allowed].any(), f"layer {layer} depends on a non-predecessor"
    # Not vacuous: one main layer's Jacobian is exactly its masked weight.
    x = torch.rand(dag.layer_sizes[1])
    single = torch.autograd.functional.jacobian(model.main[1], x)
    torch.testing.assert_close(single, model.main[1].weight * model.main[1].mask)
    assert torch.count_nonzero(single) == int(model.main[1].mask.sum())


@pytest.mark.parametrize("cell", ["tanh", "relu", "gru", "lstm"])
def test_recurrent_units_at_step_zero_depend_only_on_dag_paths(cell):
    torch.manual_seed(0)
    dag = tricky_dag()
    model = make(dag, f"rnn:{cell}")
    reach = reachable(dag)
    h0 = torch.rand(1, 3, dag.layer_sizes[0]) + 0.5
    # At step 0 the recurrent state is zero, so only input edges (and paths of them) can matter.
    jac = torch.autograd.functional.jacobian(lambda h: tuple(s[0, 0] for s in model.propagate(h)), h0)
    moved = 0
    for layer in range(1, dag.num_layers):
        allowed = np.array([[reach[u, v] for u in dag.layers[0]] for v in dag.layers[layer]])
        got = jac[layer][:, 0, 0, :].numpy()
        assert not got[~allowed].any(), f"layer {layer} depends on a non-predecessor"
        moved += int(np.count_nonzero(got[allowed]))
    assert moved > 0  # not vacuous: some paths do carry a dependence


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gated_masks_are_repeated_per_gate_block(cell):
    dag = gate_dag()
    model = make(dag, f"rnn:{cell}")
    layer = model.layers[1]
    dag_mask = torch.from_numpy(dag.mask(0, 1))
    width = dag.layer_sizes[1]
    assert layer.mask.shape == (GATES[cell] * width, dag.layer_sizes[0])
    # Sanity of the fixture: the authors' interleaved repeat would misalign this mask.
    assert not torch.equal(dag_mask.repeat_interleave(GATES[cell], dim=0), layer.mask)
    for gate in range(GATES[cell]):
        rows = slice(gate * width, (gate + 1) * width)
        torch.testing.assert_close(layer.mask[rows], dag_mask)
        torch.testing.assert_close((layer.weight_ih[rows] != 0).float(), dag_mask)


@pytest.mark.parametrize("cell", ["tanh", "relu", "gru", "lstm"])
def test_recurrent_layer_output_unit_ignores_inputs_without_edge(cell):
    torch.manual_seed(0)
    mask = torch.tensor(gate_dag().mask(0, 1))
    layer = MaskedRecurrentLayer(cell, mask.shape[1], mask.shape[0], mask)
    x = torch.rand(1, 4, mask.shape[1]) + 0.5
    jac = torch.autograd.functional.jacobian(lambda inp: layer(inp)[0, 0], x)[:, 0, 0, :]
    if cell == "relu":  # a unit whose pre-activation is negative is dead: its row may be all zero
        assert not bool((jac[~mask.bool()] != 0).any()) and bool((jac != 0).any())
    else:
        assert torch.equal(jac != 0, mask.bool())  # exactly the edges matter, through every gate


def test_recurrent_padding_never_changes_the_logits():
    torch.manual_seed(0)
    model = make(tricky_dag(), "rnn:gru")
    x = torch.randint(1, VOCAB, (3, STEPS))
    lengths = torch.tensor([2, 5, STEPS])
    padded = x.clone()
    for row, length in enumerate(lengths):
        padded[row, length:] = 0
    other = padded.clone()
    other[0, 2:] = 1  # garbage after the end of sequence 0
    torch.testing.assert_close(model(padded, lengths), model(other, lengths), rtol=0, atol=0)
    model.sequence_output = True
    per_step = model(padded)
    assert per_step.shape == (3, STEPS, CLASSES)
    model.sequence_output = False
    torch.testing.assert_close(model(padded, lengths), per_step[torch.arange(3), lengths - 1])
    torch.testing.assert_close(model(padded), per_step[:, -1])


def test_recurrent_real_valued_input_and_sequence_output():
    model = build_model(tricky_dag(), "rnn:lstm", num_classes=CLASSES, in_features=2, sequence_output=True)
    assert model(torch.randn(2, STEPS, 2)).shape == (2, STEPS, CLASSES)
    with pytest.raises(ShapeMismatchError, match="float"):
        model(torch.randint(0, 2, (2, STEPS)))


# --- layers and options --------------------------------------------------------------------------


def test_masked_linear_init_uses_real_fan_in():
    torch.manual_seed(0)
    mask = torch.zeros(3, 100)
    mask[0, :2] = 1  # fan-in 2
    mask[1, :50] = 1  # fan-in 50
    layer = MaskedLinear(100, 3, mask)
    assert layer.weight[0].abs().max() <= 2**-0.5 and layer.weight[0].abs().max() > 0.1  # dense would cap at 0.1
    assert layer.weight[1].abs().max() <= 50**-0.5
    assert torch.count_nonzero(layer.weight[2]) == 0 and layer.bias[2] == 0  # no connection, no bias at init
    with pytest.raises(BuilderError, match="shape"):
        MaskedLinear(4, 3, mask)
    with pytest.raises(BuilderError, match="only 0 and 1"):
        MaskedLinear(2, 1, [[0.5, 1.0]])


def test_feedforward_contract_attributes_and_layer_norm():
    dag = tricky_dag()
    model = SparseFeedForward(dag, IN_FEATURES, CLASSES, layer_norm=True, readout="last")
    assert model.layer_sizes == (3, 3, 1, 1) and model.skip_pairs == ((0, 2), (1, 3))
    assert isinstance(model.input_layer, torch.nn.Linear) and model.input_layer.out_features == 3
    assert [type(m) for m in model.main] == [MaskedLinear] * 3
    assert sorted(model.skips) == ["0_2", "1_3"]
    assert len(model.norms) == 4 and isinstance(model.norms[3], torch.nn.Identity)  # width 1: not normalised
    assert model.output_layer.in_features == 1
    assert model(batch("ff")).shape == (4, CLASSES)
    assert make(dag, "ff").norms is None


def test_cnn_options():
    dag = tricky_dag()
    plain = make(dag, "cnn", separable=False, first_stride=1)
    assert plain(batch("cnn")).shape == (4, CLASSES)
    assert plain.stages[0].blocks[0].conv[0].stride == (1, 1)
    assert make(dag, "cnn").stages[1].blocks[0].conv[0].stride == (2, 2)


def test_cnn_default_size_builds_and_runs_on_a_batch_of_eight():
    genome = Genome("watts_strogatz", {"k": 4, "p": 1.0}, nodes=30, seed=0, family="cnn")
    model = build_from_genome(genome, num_classes=10, in_channels=3)
    out = model(torch.randn(8, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (8, 10)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, kwargs, needle",
    [
        ("ff", {}, "in_features"),
        ("ff", {"in_features": 0}, "in_features"),
        ("ff", {"in_features": 4, "vocab_size": 3}, "does not use vocab_size"),
        ("ff", {"in_features": 4, "sequence_output": True}, "sequence_output"),
        ("rnn:gru", {}, "vocab_size"),
        ("rnn:gru", {"vocab_size": 4, "in_features": 3}, "exactly one"),
        ("rnn:gru", {"vocab_size": 4, "in_channels": 3}, "in_channels"),
        ("rnn:gru", {"vocab_size": 4, "embedding_dim": 0}, "embedding_dim"),
        ("cnn", {}, "in_channels"),
        ("cnn", {"in_channels": 3, "channels": ()}, "channels"),
        ("cnn", {"in_channels": 3, "first_stride": 3}, "first_stride"),
        ("cnn", {"in_channels": 3, "layer_norm": True}, "unknown"),
        ("ff", {"in_features": 4, "num_classes": 0}, "num_classes"),
    ],
)
def test_wrong_or_missing_arguments_raise_typed_errors(family, kwargs, needle):
    kwargs = {"num_classes": CLASSES, **kwargs}
    with pytest.raises(BuilderError, match=needle) as info:
        build_model(tricky_dag(), family, **kwargs)
    assert isinstance(info.value, SearchSpaceError)


def test_unknown_family_and_non_dag_raise_typed_errors():
    with pytest.raises(InvalidGenomeError, match="family"):
        build_model(tricky_dag(), "transformer", num_classes=2)
    with pytest.raises(BuilderError, match="LayeredDAG"):
        build_model(nx.path_graph(3), "ff", num_classes=2, in_features=3)


def test_edgeless_genome_raises_empty_graph_error():
    genome = Genome("explicit", {}, nodes=4, seed=0, family="ff")
    with pytest.raises(EmptyGraphError):
        build_from_genome(genome, num_classes=2, in_features=3)


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_input_shape_raises_shape_mismatch(family):
    model = make(tricky_dag(), family)
    bad = {"ff": torch.zeros(2, IN_FEATURES + 1), "cnn": torch.zeros(2, 1, 8, 8)}.get(family, torch.zeros(2, STEPS, 4))
    with pytest.raises(ShapeMismatchError):
        model(bad)
    if family.startswith("rnn:"):
        with pytest.raises(ShapeMismatchError, match="lengths"):
            model(batch(family, size=2), torch.tensor([0, 3]))
        with pytest.raises(ShapeMismatchError, match="lengths"):
            model(batch(family, size=2), torch.tensor([3, STEPS + 1]))


def test_import_search_spaces_does_not_import_torch():
    code = "import sys, search_spaces; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- property: every valid genome decodes to a model that trains ---------------------------------

PRIORS = [name for name in list_priors() if name != "explicit"]


@st.composite
def genomes(draw):
    prior = get_prior(draw(st.sampled_from(PRIORS)))
    nodes = draw(st.integers(max(5, prior.min_nodes), 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = prior.sample_params(nodes, rng)
    seed, family = draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from(FAMILIES))
    return Genome(prior.name, params, nodes=nodes, seed=seed, family=family)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(genome=genomes())
def test_random_valid_genomes_decode_to_models_that_run(genome):
    torch.manual_seed(0)
    kwargs = {"ff": {"in_features": IN_FEATURES}, "cnn": {"in_channels": 3, "channels": (2, 4)}}.get(
        genome.family, {"vocab_size": VOCAB, "embedding_dim": 3}
    )
    try:
        dag = genome.dag()
    except EmptyGraphError:
        with pytest.raises(EmptyGraphError):
            build_from_genome(genome, num_classes=CLASSES, **kwargs)
        return
    model = build_from_genome(genome, num_classes=CLASSES, **kwargs)
    assert isinstance(model, (SparseFeedForward, SparseRecurrent, RandomWiredCNN))
    assert model.layer_sizes == dag.layer_sizes
    out = model(batch(genome.family, size=2))
    assert out.shape == (2, CLASSES) and bool(torch.isfinite(out).all())
    out.sum().backward()
    assert all(mask.shape == weight.shape for _, weight, mask in model.masked_parameters())
