"""The wavefront schedule of recurrent stacks: the same numbers as the level-by-level loop."""

from __future__ import annotations

import copy

import pytest
import torch
from test_stacking_rnn import CELLS, genomes

from nas.datasets.reber import embedded_reber_dataset, reber_classification_dataset
from nas.exceptions import ConfigError
from nas.training import build_seeded, get_task
from nas.training.stacking import StackedRecurrent
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


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ["reber", "embedded_reber"])
def test_the_wavefront_equals_the_level_by_level_loop(cell, task, reber, embedded):
    """Forward and every parameter's gradient, for mixed depths, skips, dead ends, widths and
    readouts, with and without pruned recurrences: equal up to float64 rounding, and within the
    stacked = solo tolerance (1e-4) in float32."""
    data = reber if task == "reber" else embedded
    models = [build_seeded(g, get_task(task), data, 0) for g in genomes(cell)]
    for candidates in (models, _pruned(models)):
        for double, tol in ((True, 1e-10), (False, 1e-4)):
            out_l, grads_l = _run(candidates, data, "levels", double)
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


@pytest.mark.parametrize("cell", CELLS)
def test_the_hand_written_backward_pass_equals_autograd(cell):
    """gradcheck of the wavefront on two groups of blocks over three levels: a skip reading two
    steps back, level-0 blocks in both groups, widths 2 and 3 in outputs of width 3."""
    G = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4}[cell]
    # Rows: candidate p's level l is p*3 + l. Candidate 0: levels 0-2 with a skip 0 -> 2; candidate 1: levels 0-1.
    small = BlockGroup(2, (0, 1, 2, 3), out_row=(0, 1, 2), in_row=(0, 0, 1), delay=(0, 1, 1))
    wide = BlockGroup(3, (0, 1, 2, 3), out_row=(3, 4, 2), in_row=(0, 3, 0), delay=(0, 1, 2))
    plan = WavefrontPlan((small, wide), levels=3, rows=6, width=3, steps=4)
    gen = torch.Generator().manual_seed(0)
    B = 2

    def tensors(group, first):
        w, n = group.width, group.size
        shapes = [(4, first, B, G * w), (n - first, G * w, 3), (n - first, 1, G * w), (n, G * w, w), (n, 1, G * w)]
        return [(0.5 * torch.randn(*s, generator=gen, dtype=torch.float64)).requires_grad_() for s in shapes]

    inputs = tensors(small, 1) + tensors(wide, 1)
    if cell == "relu":  # away from the kink at 0
        inputs = [(t.detach() + 0.05 * torch.sign(t.detach())).requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(lambda *ts: wavefront(cell, plan, ts), inputs, eps=1e-6, atol=1e-5)


def test_width_groups_trade_launches_against_padding():
    widths = [1, 1, 2, 3, 3, 3, 8, 9, 9]
    assert width_groups(widths, launch=0.0, element=1.0) == [(1, 1), (2, 2), (3, 3), (8, 8), (9, 9)]
    assert width_groups(widths, launch=1e6, element=1.0) == [(1, 9)]
    middle = width_groups(widths, launch=6.0, element=1.0)
    assert middle[0][0] == 1 and middle[-1][1] == 9 and 1 < len(middle) < 5
    assert all(a[1] < b[0] for a, b in zip(middle, middle[1:]))  # contiguous, disjoint ranges


@pytest.mark.parametrize("cell", CELLS)
def test_evaluation_keeps_one_step_and_gives_the_same_outputs(cell, reber):
    models = [build_seeded(g, get_task("reber"), reber, 0) for g in genomes(cell)]
    stack = StackedRecurrent(models, torch.device("cpu"))
    x, lengths = reber.train.x[:16], reber.train.lengths[:16]
    trained = stack.forward(x, lengths)
    with torch.no_grad():
        evaluated = stack.forward(x, lengths)
    torch.testing.assert_close(evaluated, trained.detach(), atol=0, rtol=0)
