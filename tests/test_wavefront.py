"""The wavefront schedule of recurrent stacks: the same numbers as the level-by-level loop."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
from test_stacking_rnn import CELLS, genomes

from nas.datasets.reber import embedded_reber_dataset, reber_classification_dataset
from nas.exceptions import ConfigError
from nas.training import build_seeded, get_task
from nas.training.stacking import StackedRecurrent
from nas.training.stacking.compiled import (
    KERNELS,
    compiled_wavefront,
    current_kernel,
    use_compiled,
    wavefront_kernel,
)
from nas.training.stacking.wavefront import (
    BlockGroup,
    WavefrontPlan,
    wavefront,
    width_groups,
)
from search_spaces.genome import Genome


@pytest.fixture(scope="module")
def reber():
    return reber_classification_dataset(100, seed=0, min_length=11, max_length=24)


@pytest.fixture(scope="module")
def embedded():
    return embedded_reber_dataset(60, seed=0)


def _double(stack: StackedRecurrent) -> StackedRecurrent:
    for layer in stack.layers():
        for name in ("weight", "bias", "mask", "bias_mask"):
            value = getattr(layer, name).detach().double()
            setattr(layer, name, value.requires_grad_(name in ("weight", "bias")))
    return stack


def _run(models, data, schedule: str, double: bool):
    stack = StackedRecurrent(models, torch.device("cpu"), schedule=schedule)
    if double:
        _double(stack)
    x = data.train.x[:16]
    lengths = None if data.train.lengths is None else data.train.lengths[:16]
    out = stack.forward(x, lengths)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)).sum().backward()
    return out.detach(), [p.grad.clone() for p in stack.parameters()]


def _pruned(models):
    """Copies with half of every recurrence masked out (as MCB pruning of ``weight_hh`` leaves them)."""
    out = []
    for model in copy.deepcopy(models):
        for layer in (*model.layers, *model.skips.values()):
            layer.mask_weights(input=True, recurrent=True)
            layer.hh_mask.view(-1)[::2] = 0
            with torch.no_grad():
                layer.weight_hh.mul_(layer.hh_mask)
        out.append(model)
    return out


#: The wavefront's step kernels: compiled (numba) and batched torch.
STEP_KERNELS = ["numba", "torch"]


@pytest.mark.parametrize("kernel", STEP_KERNELS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ["reber", "embedded_reber"])
def test_the_wavefront_equals_the_level_by_level_loop(cell, task, kernel, reber, embedded):
    """Forward and every parameter's gradient, for mixed depths, skips, dead ends, widths and
    readouts, with and without pruned recurrences: equal up to float64 rounding, and within the
    stacked = solo tolerance (1e-4) in float32 (where the compiled steps use their rational tanh)."""
    data = reber if task == "reber" else embedded
    models = [build_seeded(g, get_task(task), data, 0) for g in genomes(cell)]
    for candidates in (models, _pruned(models)):
        for double, tol in ((True, 1e-10), (False, 1e-4)):
            out_l, grads_l = _run(candidates, data, "levels", double)
            with wavefront_kernel(kernel):
                out_w, grads_w = _run(candidates, data, "wavefront", double)
            torch.testing.assert_close(out_w, out_l, atol=tol, rtol=tol)
            for a, b in zip(grads_w, grads_l):
                torch.testing.assert_close(a, b, atol=tol * max(1.0, float(b.abs().max())), rtol=tol)


def test_the_stack_computes_only_the_blocks_its_candidates_have(reber):
    models = [build_seeded(g, get_task("reber"), reber, 0) for g in genomes("gru")]
    stack = StackedRecurrent(models, torch.device("cpu"))
    own = sum(len(m.layer_sizes) + len(m.skip_pairs) for m in models)
    union = sum(len(blocks) for blocks in stack.ih) * len(models)
    assert sum(g.size for g in stack.layout.plan.groups) == own < union
    widths = [w for g in stack.layout.plan.groups for w in [g.width] * g.size]
    assert max(widths) == max(stack.widths)


def test_the_smallest_network_in_a_stack_and_an_unknown_schedule(reber):
    one = Genome("explicit", {}, nodes=2, seed=0, family="rnn:gru", edits=(("add", 0, 1),))
    two = Genome("erdos_renyi", {"p": 0.4}, nodes=7, seed=3, family="rnn:gru")
    models = [build_seeded(g, get_task("reber"), reber, 0) for g in (one, two)]
    out_l, _ = _run(models, reber, "levels", True)
    out_w, _ = _run(models, reber, "wavefront", True)
    torch.testing.assert_close(out_w, out_l)
    with pytest.raises(ConfigError, match="unknown recurrent schedule 'diagonal'"):
        StackedRecurrent(models, torch.device("cpu"), schedule="diagonal")


@pytest.mark.parametrize("kernel", STEP_KERNELS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("groups", ["two", "one"])
def test_the_hand_written_backward_pass_equals_autograd(cell, kernel, groups):
    """gradcheck of the wavefront on two groups of blocks over three levels: a skip reading two
    steps back, level-0 blocks in both groups, widths 2 and 3 in outputs of width 3; and on one
    group whose blocks declare fewer own units and input columns than its width (padding, whose
    weights are zero, which the compiled steps skip)."""
    G = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4}[cell]
    # Rows: candidate p's level l is p*3 + l. Candidate 0: levels 0-2 with a skip 0 -> 2; candidate 1: levels 0-1.
    small = BlockGroup(2, (0, 1, 2, 3), out_row=(0, 1, 2), in_row=(0, 0, 1), delay=(0, 1, 1))
    wide = BlockGroup(3, (0, 1, 2, 3), out_row=(3, 4, 2), in_row=(0, 3, 0), delay=(0, 1, 2))
    plan = WavefrontPlan((small, wide), levels=3, rows=6, width=3, steps=4)
    if groups == "one":  # blocks of 3, 2 and 3 units reading 0, 3 and 2 columns
        wide = BlockGroup(3, (0, 1, 2, 3), out_row=(0, 1, 2), in_row=(0, 0, 1), delay=(0, 1, 1), own=(3, 2, 3),
                          cols=(0, 3, 2))
        plan = WavefrontPlan((wide,), levels=3, rows=3, width=3, steps=4)
    gen = torch.Generator().manual_seed(0)
    B = 2

    def tensors(group, first):
        w, n = group.width, group.size
        shapes = [(4, first, B, G * w), (n - first, G * w, 3), (n - first, 1, G * w), (n, G * w, w), (n, 1, G * w)]
        return [(0.5 * torch.randn(*s, generator=gen, dtype=torch.float64)).requires_grad_() for s in shapes]

    inputs = tensors(small, 1) + tensors(wide, 1) if groups == "two" else tensors(wide, 1)
    if cell == "relu":  # away from the kink at 0
        inputs = [(t.detach() + 0.05 * torch.sign(t.detach())).requires_grad_() for t in inputs]
    if groups == "one":  # zero the padding: block 1's third unit, the columns past each block's input
        with torch.no_grad():
            _, w_ih, _, w_hh, b_hh = inputs
            for q in range(G):
                w_hh[1, q * 3 + 2] = 0
                w_hh[1, :, 2] = 0
                b_hh[1, 0, q * 3 + 2] = 0
                w_ih[0, q * 3 + 2] = 0
                inputs[2][0, 0, q * 3 + 2] = 0
            w_ih[1, :, 2] = 0
        inputs = [t.detach().requires_grad_() for t in inputs]
    masks = [(t != 0).to(t.dtype) for t in inputs]  # padding stays zero when gradcheck perturbs it, as masks keep it
    run = compiled_wavefront if kernel == "numba" else wavefront
    assert torch.autograd.gradcheck(lambda *ts: run(cell, plan, [t * m for t, m in zip(ts, masks)]), inputs,
                                    eps=1e-6, atol=1e-5)
    # Both kernels compute the same level outputs (the compiled ones unit-major, every row padded to
    # the plan's width here); with the rows' own widths as offsets, the same units, compacted.
    S, R, W = plan.wavefront_steps, plan.rows, plan.width
    batched = wavefront(cell, plan, inputs).detach()
    compiled = compiled_wavefront(cell, plan, inputs).detach()
    assert compiled.shape == (S, R * W + 1, B) and not compiled[:, -1].any()
    torch.testing.assert_close(compiled[:, :-1].view(S, R, W, B).permute(0, 1, 3, 2), batched)
    if groups == "one":
        compact = replace(plan, offsets=(0, 3, 5), units=8)
        own = compiled_wavefront(cell, compact, inputs).detach()
        torch.testing.assert_close(own[:, :-1], torch.cat([batched[:, 0], batched[:, 1, :, :2], batched[:, 2]], -1).transpose(1, 2))


def test_width_groups_trade_launches_against_padding():
    widths = [1, 1, 2, 3, 3, 3, 8, 9, 9]
    assert width_groups(widths, launch=0.0, element=1.0) == [(1, 1), (2, 2), (3, 3), (8, 8), (9, 9)]
    assert width_groups(widths, launch=1e6, element=1.0) == [(1, 9)]
    middle = width_groups(widths, launch=6.0, element=1.0)
    assert middle[0][0] == 1 and middle[-1][1] == 9 and 1 < len(middle) < 5
    assert all(a[1] < b[0] for a, b in zip(middle, middle[1:]))  # contiguous, disjoint ranges


@pytest.mark.parametrize("kernel", STEP_KERNELS)
@pytest.mark.parametrize("cell", CELLS)
def test_evaluation_keeps_one_step_and_gives_the_same_outputs(cell, kernel, reber):
    models = [build_seeded(g, get_task("reber"), reber, 0) for g in genomes(cell)]
    stack = StackedRecurrent(models, torch.device("cpu"))
    x, lengths = reber.train.x[:16], reber.train.lengths[:16]
    with wavefront_kernel(kernel):
        trained = stack.forward(x, lengths)
        with torch.no_grad():
            evaluated = stack.forward(x, lengths)
    torch.testing.assert_close(evaluated, trained.detach(), atol=0, rtol=0)


def test_the_compiled_float32_tanh_is_within_an_ulp_of_one():
    numba = pytest.importorskip("numba")
    from nas.training.stacking import kernels

    @numba.njit
    def both(x, out):
        for i in range(x.size):
            out[0, i] = kernels._tanh(x[i], x)
            out[1, i] = kernels._sigmoid(x[i], x)

    x = torch.linspace(-30, 30, 200_001).numpy()
    out = x[None].repeat(2, 0)
    both(x, out)
    exact = torch.from_numpy(x).double()
    assert float((torch.from_numpy(out[0]).double() - exact.tanh()).abs().max()) < 1.2e-7
    assert float((torch.from_numpy(out[1]).double() - exact.sigmoid()).abs().max()) < 1.2e-7
    assert (out[0] >= -1).all() and (out[0] <= 1).all()
    nan = torch.tensor([float("nan")]).numpy()
    both(nan, nan[None].repeat(2, 0))  # NaN in, NaN out: a diverging network stays visible
    result = nan[None].repeat(2, 0)
    both(nan, result)
    assert torch.from_numpy(result).isnan().all()


def test_the_step_kernel_is_chosen_by_name_or_environment(monkeypatch, reber, caplog):
    assert KERNELS == ("auto", "numba", "torch")
    monkeypatch.setenv("NAS_WAVEFRONT_KERNEL", "torch")
    assert current_kernel() == "torch" and not use_compiled(torch.zeros(1))
    with wavefront_kernel("numba"):
        assert current_kernel() == "numba"
    monkeypatch.setenv("NAS_WAVEFRONT_KERNEL", "fortran")
    with pytest.raises(ConfigError, match="unknown wavefront kernel 'fortran'; expected one of"):
        current_kernel()
    with pytest.raises(ConfigError, match="unknown wavefront kernel 'cuda'"), wavefront_kernel("cuda"):
        pass
    monkeypatch.delenv("NAS_WAVEFRONT_KERNEL")
    assert current_kernel() == "auto" and not use_compiled(torch.zeros(1, dtype=torch.int64))
    # Without numba: the torch steps, the same numbers, and one logged line.
    from nas.training.stacking import compiled
    models = [build_seeded(g, get_task("reber"), reber, 0) for g in genomes("gru")]
    with_numba = _run(models, reber, "wavefront", False)
    monkeypatch.setattr(compiled, "numba", None)
    monkeypatch.setattr(compiled, "_noted", [False])
    with caplog.at_level("WARNING", logger="nas.training.stacking.compiled"):
        without = _run(models, reber, "wavefront", False)
        _run(models, reber, "wavefront", False)
    assert [r.getMessage() for r in caplog.records].count(
        "numba is not installed: recurrent stacks run the slower batched-torch wavefront (pip install numba)") == 1
    torch.testing.assert_close(without[0], with_numba[0], atol=1e-5, rtol=1e-4)
