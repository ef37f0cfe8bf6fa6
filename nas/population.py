"""Population training: many sparse feed-forward candidates trained *together*.

Small sparse MLPs leave a GPU (and even a CPU core) idle; the cost of training one is launches and
memory traffic, not FLOPs. So candidates of family ``ff`` are stacked: per layer, the (padded)
weights, masks and biases of P candidates become one ``(P, out, in)`` tensor and the layer is one
batched matmul (``baddbmm``) for all of them.

Exactness (a candidate trained alone and inside a population from the same seed gives the same
result within floating-point tolerance):

* Every level of the stack is padded to the widest candidate; a shallower candidate is carried
  unchanged through the levels below its own depth (see :class:`StackedFeedForward`). Padded rows/columns have **zero masks and zero, masked biases**, so a padded unit is
  ReLU(0) = 0 forever and receives zero gradient; the union of all skip pairs is stacked and a
  candidate without a pair has an all-zero mask there. The input and output layers are masked the
  same way. So padding never changes a candidate's function.
* Every candidate sees the same batches in the same order as a solo run (one shuffling generator
  seeded with ``config.seed``) and starts from the same weights (:func:`nas.train.build_seeded`).
* The loss is the *sum* of per-candidate mean losses, so each candidate's gradient is exactly its
  own. Adam/AdamW/SGD are elementwise, so per-candidate optimizer state is automatic; gradient
  clipping is done per candidate; the cosine schedule is shared (same budget).
* Early stopping and the plateau schedule are per candidate (:class:`nas.train.PlateauTracker`),
  realised by scaling each candidate's update — the update of all three optimizers is linear in
  the learning rate, so scaling it equals a per-candidate learning rate, and a scale of 0 freezes
  a stopped candidate. Its best-validation weights are kept in a per-candidate snapshot.
* Before training, the stacked forward is checked against each candidate's own module on a few
  examples; a disagreement raises :class:`~nas.exceptions.TrainingError` instead of training a
  different function.

Other families (RNN, CNN) and feed-forward models with layer norm fall back to training one after
another with :func:`nas.train.train_genome`.

Grouping: one stack costs what its padded shape costs, for every candidate in it. A shallow
candidate carried through the levels of a deep one pads each of those levels to its last layer's
width, and the skip fan-out grows with the square of the padded total width, so one stack of a
mixed-depth population can cost far more than training its members one by one (measured with
``scripts/bench_grouping.py``: 32 candidates of depth 2–85, one training step 2.9 s as one stack,
0.19 s one by one, 0.08 s as the 8 planned stacks; see ``docs/benchmarks.md``). So the
candidates, sorted by depth, are split into contiguous groups by dynamic programming over a cost
model of a training step (:func:`plan_stacks`): multiply-adds, elementwise work and a fixed
overhead per stacked layer (kernel launches, optimizer calls), with per-device constants
(:data:`STEP_COST`). Few deep levels shared by many candidates stay together; a deep outlier gets
its own stack.

Memory: each group is cut into chunks whose estimated footprint (parameters, gradients,
optimizer state, snapshots, activations) fits in a safety share of the device's free memory
(``torch.cuda.mem_get_info`` on GPU, ``MemAvailable`` on CPU).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from nas.device import device_name, free_memory_bytes, resolve_device
from nas.exceptions import ConfigError, TrainingError
from nas.train import (
    PlateauTracker,
    TrainConfig,
    TrainResult,
    augment_batch,
    autocast,
    check_augment,
    build_seeded,
    count_nonzero_weights,
    count_parameters,
    count_test_examples,
    epoch_order,
    evaluate,
    make_augment_generator,
    make_generator,
    make_optimizer,
    make_step_schedule,
    prepare_data,
    total_steps,
    train_genome,
)
from nas.tasks import get_task

__all__ = [
    "train_population", "StackedFeedForward", "choose_chunk_size", "candidate_bytes", "plan_stacks", "step_cost",
    "step_terms", "MEMORY_SAFETY", "STEP_COST", "GROUPINGS",
]

#: Share of the device's free memory a population chunk may plan to use.
MEMORY_SAFETY = 0.5

#: Seconds per multiply-add, per element of the skip/carry bookkeeping, and per stacked layer
#: (launches, autograd and optimizer calls) of one training step. ``cpu``: least-squares fit to
#: 40 timed steps of stacks of 1–11 MNIST candidates on the 2-core CPU, one torch thread (median
#: error 7 %). ``cuda``: an estimate (H100-class throughput, ~10 kernels of ~5-10 µs per layer),
#: not yet measured; only the ratios matter for the plan.
STEP_COST = {
    "cpu": {"mac": 1.0e-10, "element": 5.2e-9, "layer": 1.4e-4},
    "cuda": {"mac": 2.0e-13, "element": 1.0e-11, "layer": 1.0e-4},
}

#: ``cost``: contiguous groups by depth that minimise :func:`step_cost`; ``none``: one stack per
#: memory chunk (every depth padded to the deepest).
GROUPINGS = ("cost", "none")


# --- stacking ------------------------------------------------------------------------------------


def _pad(t: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    out = torch.zeros(tuple(shape), dtype=t.dtype)
    out[tuple(slice(0, s) for s in t.shape)] = t.detach().cpu()
    return out


def _stackable(model) -> bool:
    needed = ("input_layer", "main", "skips", "output_layer", "layer_widths")
    if not all(hasattr(model, name) for name in needed):
        return False
    norms = getattr(model, "norms", None)
    return norms is None or len(norms) == 0


@dataclass
class _Layer:
    """One stacked layer: weight (P, out, in), bias (P, out) and their 0/1 masks."""

    weight: torch.Tensor
    bias: torch.Tensor
    mask: torch.Tensor
    bias_mask: torch.Tensor


def padded_widths(models) -> list[int]:
    """Per stacked level, the widest candidate there (a shallow candidate's last layer counts at
    every level it is carried through)."""
    depth = max(len(m.layer_widths) for m in models)
    return [max(m.layer_widths[min(l, len(m.layer_widths) - 1)] for m in models) for l in range(depth)]


class StackedFeedForward:
    """P :class:`SparseFeedForward` models as stacked, padded tensors.

    ``forward(x)`` maps ``(B, in_features)`` to logits ``(P, B, classes)``, computing
    ``h_0 = ReLU(input(x))``, ``h_l = ReLU(main_l(h_{l-1})) + Σ_s ReLU(skip_{s→l}(h_s))`` and the
    output from the last layer — the formula of ``SparseFeedForward`` — for all P at once.

    Candidates of different depths share one stack: a candidate with ``L`` layers occupies levels
    ``0..L-1`` and is *carried* unchanged through the deeper levels (its main mask there is zero and
    a fixed 0/1 carry adds ``h_{l-1}``; states are ReLU outputs, so ``h_l = h_{l-1}`` exactly), so
    the output layer reads its real last layer.
    ``unstack(i, model)`` writes candidate i's trained weights back into its own module.
    """

    def __init__(self, models: Sequence[torch.nn.Module], device: torch.device):
        self.depths = [len(m.layer_widths) for m in models]
        self.depth = max(self.depths)
        self.size = len(models)
        self.widths = padded_widths(models)
        self.skip_pairs = sorted({tuple(p) for m in models for p in m.skip_pairs})
        self.in_features = models[0].input_layer.in_features
        self.classes = models[0].output_layer.out_features
        W = self.widths
        self.input = self._stack(models, lambda m: (m.input_layer.weight, m.input_layer.bias, None), (W[0], self.in_features))
        self.main = [
            self._stack(models, lambda m, l=l: self._main(m, l), (W[l], W[l - 1])) for l in range(1, self.depth)
        ]
        carry = torch.tensor([[1.0 if l >= d else 0.0 for d in self.depths] for l in range(self.depth)])
        self.carry = carry.view(self.depth, self.size, 1, 1).to(device)
        self.carried = [bool(carry[l].any()) for l in range(self.depth)]
        # Skip layers fan out per *source* level: one stacked layer from h_s to all levels s+2..L-1
        # at once (rows of level t start at offset[t] - offset[s+2]), so a deep, skip-rich stack
        # costs one matmul per level instead of one per skip pair.
        self.offset = [0]
        for w in W:
            self.offset.append(self.offset[-1] + w)
        self.skip_sources = sorted({s for s, _ in self.skip_pairs})
        self.fanout = {src: self._stack_fanout(models, src) for src in self.skip_sources}
        self.output = self._stack(models, lambda m: (m.output_layer.weight, m.output_layer.bias, None), (self.classes, W[-1]))
        for layer in self.layers():
            for name in ("weight", "bias", "mask", "bias_mask"):
                setattr(layer, name, getattr(layer, name).to(device))
            layer.weight.requires_grad_(True)
            layer.bias.requires_grad_(True)

    @staticmethod
    def _main(model, l: int):
        if l >= len(model.layer_widths):
            return None  # a shallower candidate, carried through this level
        layer = model.main[l - 1]
        return layer.weight, layer.bias, layer.mask

    def _stack_fanout(self, models, src: int) -> _Layer:
        base = self.offset[src + 2]
        shape = (self.offset[-1] - base, self.widths[src])
        weights, biases, masks, bias_masks = [], [], [], []
        for m in models:
            weight, bias, mask, bias_mask = (torch.zeros(shape), torch.zeros(shape[0]), torch.zeros(shape), torch.zeros(shape[0]))
            for s, t in m.skip_pairs:
                if s != src:
                    continue
                layer = m.skips[f"{s}_{t}"]
                out, inp = layer.weight.shape
                rows = slice(self.offset[t] - base, self.offset[t] - base + out)
                layer_mask = layer.mask.detach().float().cpu()
                weight[rows, :inp] = (layer.weight.detach().cpu() * layer_mask).float()
                mask[rows, :inp] = layer_mask
                if layer.bias is not None:
                    bias[rows] = layer.bias.detach().cpu().float()
                    bias_mask[rows] = 1.0
            weights.append(weight)
            biases.append(bias)
            masks.append(mask)
            bias_masks.append(bias_mask)
        return _Layer(torch.stack(weights), torch.stack(biases), torch.stack(masks), torch.stack(bias_masks))

    @staticmethod
    def _stack(models, pick, shape) -> _Layer:
        weights, biases, masks, bias_masks = [], [], [], []
        for m in models:
            got = pick(m)
            if got is None:  # candidate lacks this layer or skip pair: all-zero mask
                weights.append(torch.zeros(shape))
                biases.append(torch.zeros(shape[0]))
                masks.append(torch.zeros(shape))
                bias_masks.append(torch.zeros(shape[0]))
                continue
            w, b, mask = got
            ones = torch.ones(w.shape) if mask is None else mask.detach().float().cpu()
            weights.append(_pad(w * ones.to(w.device), shape).float())
            biases.append(_pad(b, (shape[0],)).float() if b is not None else torch.zeros(shape[0]))
            masks.append(_pad(ones, shape))
            bias_masks.append(_pad(torch.ones(w.shape[0]) if b is not None else torch.zeros(w.shape[0]), (shape[0],)))
        return _Layer(torch.stack(weights), torch.stack(biases), torch.stack(masks), torch.stack(bias_masks))

    def layers(self) -> list[_Layer]:
        return [self.input, *self.main, *self.fanout.values(), self.output]

    def parameters(self) -> list[torch.Tensor]:
        return [t for layer in self.layers() for t in (layer.weight, layer.bias)]

    @staticmethod
    def _apply(layer: _Layer, h: torch.Tensor) -> torch.Tensor:
        # (P, B, in) -> (P, B, out); masks make padded and absent connections exactly zero.
        return torch.baddbmm((layer.bias * layer.bias_mask).unsqueeze(1), h, (layer.weight * layer.mask).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(P, B, classes)`` for inputs ``x`` of shape ``(B, in_features)``."""
        P = self.size
        w_in = (self.input.weight * self.input.mask).reshape(P * self.widths[0], self.in_features)
        b_in = (self.input.bias * self.input.bias_mask).reshape(-1)
        # One GEMM for the shared input: (B, in) @ (in, P*W0).
        h0 = torch.addmm(b_in, x, w_in.t()).view(x.shape[0], P, self.widths[0]).transpose(0, 1)
        hidden = [torch.relu(h0)]
        # Sum of the skip outputs still to be read, covering levels t..L-1 when level t is computed.
        pending = self._fan_out(0, hidden[0], None)
        for t in range(1, self.depth):
            h = torch.relu(self._apply(self.main[t - 1], hidden[t - 1]))
            if pending is not None:
                h = h + pending[..., : self.widths[t]]
                pending = pending[..., self.widths[t]:]
            if self.carried[t]:
                # A carried candidate's units all lie within both levels' widths; the rest is padding (zero).
                prev = hidden[t - 1]
                gap = self.widths[t] - self.widths[t - 1]
                prev = prev[..., : self.widths[t]] if gap < 0 else F.pad(prev, (0, gap)) if gap > 0 else prev
                h = h + self.carry[t] * prev
            hidden.append(h)
            pending = self._fan_out(t, h, pending)
        return self._apply(self.output, hidden[-1])

    def _fan_out(self, src: int, h: torch.Tensor, pending):
        """Add ReLU(skip_{src→t}(h_src)) for every later level t to ``pending`` (levels src+1..L-1)."""
        if src not in self.fanout:
            return pending
        out = F.pad(torch.relu(self._apply(self.fanout[src], h)), (self.widths[src + 1], 0))
        return out if pending is None else pending + out

    @torch.no_grad()
    def unstack(self, index: int, model: torch.nn.Module) -> torch.nn.Module:
        """Copy candidate ``index``'s weights into ``model`` (its own, unpadded module)."""

        def put(layer: _Layer, module):
            out, inp = module.weight.shape
            module.weight.copy_(layer.weight[index, :out, :inp].to(module.weight.device, module.weight.dtype))
            if module.bias is not None:
                module.bias.copy_(layer.bias[index, :out].to(module.bias.device, module.bias.dtype))

        put(self.input, model.input_layer)
        for l in range(1, len(model.layer_widths)):
            put(self.main[l - 1], model.main[l - 1])
        for s, t in model.skip_pairs:
            module = model.skips[f"{s}_{t}"]
            out, inp = module.weight.shape
            start = self.offset[t] - self.offset[s + 2]
            layer = self.fanout[s]
            module.weight.copy_(layer.weight[index, start:start + out, :inp].to(module.weight.device, module.weight.dtype))
            if module.bias is not None:
                module.bias.copy_(layer.bias[index, start:start + out].to(module.bias.device, module.bias.dtype))
        put(self.output, model.output_layer)
        return model


# --- grouping ------------------------------------------------------------------------------------


def _padded_entries(widths: Sequence[int], sources: Sequence[int], in_features: int, classes: int) -> tuple[int, list[int]]:
    """Weight entries of one candidate padded to ``widths`` (input, main, output and the fan-out skip
    layers of ``sources``), and the rows of each fan-out layer (see :class:`StackedFeedForward`)."""
    total = sum(widths)
    tails = [total - sum(widths[: s + 2]) for s in sources]
    entries = in_features * widths[0] + classes * widths[-1] + sum(widths[l] * widths[l - 1] for l in range(1, len(widths)))
    entries += sum(widths[s] * tail for s, tail in zip(sources, tails))
    return entries, tails


def _terms(widths: Sequence[int], sources: Sequence[int], size: int, in_features: int, classes: int,
           batch: int) -> tuple[float, float, int]:
    """(multiply-adds, bookkeeping elements, stacked layers) of one training step of a stack."""
    macs, _ = _padded_entries(widths, sources, in_features, classes)  # one multiply-add per entry and example
    total, done, elements = sum(widths), 0, 0
    for w in widths:  # the running sum of pending skip outputs still to be read at each level
        elements += total - done
        done += w
    return float(size * batch * macs), float(size * batch * elements), len(widths) + len(sources) + 1


def _cost(terms: tuple[float, float, int], constants: dict) -> float:
    macs, elements, layers = terms
    return constants["mac"] * macs + constants["element"] * elements + constants["layer"] * layers


def _constants(device) -> dict:
    return STEP_COST.get(torch.device(device).type, STEP_COST["cpu"])


def step_terms(models: Sequence[torch.nn.Module], batch: int) -> tuple[float, float, int]:
    """The regressors of :data:`STEP_COST` for ``models`` as one stack: (multiply-adds, bookkeeping
    elements, stacked layers) of one training step with batches of ``batch``."""
    sources = sorted({s for m in models for s, _ in m.skip_pairs})
    return _terms(padded_widths(models), sources, len(models), models[0].input_layer.in_features,
                  models[0].output_layer.out_features, batch)


def step_cost(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> float:
    """Estimated seconds of one training step of ``models`` as one stack (see :data:`STEP_COST`)."""
    return _cost(step_terms(models, batch), _constants(device))


def plan_stacks(models: Sequence[torch.nn.Module], batch: int, device: torch.device | str = "cpu") -> list[list[int]]:
    """Split ``models`` into stacks that minimise the summed :func:`step_cost`.

    The models are ordered by (depth, total width) and cut only between depths, into contiguous
    groups, by dynamic programming over the distinct depths (O(D²) group costs for D depths).

    Returns
    -------
    list of list of int
        Indices into ``models``; every index exactly once; groups from shallow to deep.
    """
    constants = _constants(device)
    order = sorted(range(len(models)), key=lambda i: (len(models[i].layer_widths), sum(models[i].layer_widths), i))
    runs: list[list[int]] = []  # indices of each distinct depth, shallow to deep
    for i in order:
        if runs and len(models[runs[-1][0]].layer_widths) == len(models[i].layer_widths):
            runs[-1].append(i)
        else:
            runs.append([i])
    in_features, classes = models[0].input_layer.in_features, models[0].output_layer.out_features
    # Per run: its members' widest layer per level and their skip sources.
    shapes = []
    for run in runs:
        depth = len(models[run[0]].layer_widths)
        widths = [max(models[i].layer_widths[l] for i in run) for l in range(depth)]
        sources = {s for i in run for s, _ in models[i].skip_pairs}
        shapes.append((widths, sources, len(run)))
    D = len(runs)
    best = [0.0] + [float("inf")] * D
    cut = [0] * (D + 1)
    for first in range(D):
        widths: list[int] = []
        sources: set[int] = set()
        size = 0
        for last in range(first, D):  # group = runs first..last, padded incrementally
            run_widths, run_sources, run_size = shapes[last]
            carried = widths[-1] if widths else 0  # earlier (shallower) members carry their last width on
            widths = [max(widths[l] if l < len(widths) else carried, run_widths[l]) for l in range(len(run_widths))]
            sources |= run_sources
            size += run_size
            cost = best[first] + _cost(_terms(widths, sorted(sources), size, in_features, classes, batch), constants)
            if cost < best[last + 1]:
                best[last + 1], cut[last + 1] = cost, first
    groups, end = [], D
    while end > 0:
        start = cut[end]
        groups.append([i for run in runs[start:end] for i in run])
        end = start
    return groups[::-1]


# --- memory --------------------------------------------------------------------------------------


def candidate_bytes(model: torch.nn.Module, widths: Sequence[int], config: TrainConfig, skip_sources: Sequence[int] = ()) -> int:
    """Estimated device bytes one stacked candidate needs while training.

    Per parameter entry (padded): weight, mask, gradient, two optimizer states, best snapshot,
    pre-step copy and the masked weight of the forward (8 floats). Per example of a batch: each
    layer's pre-activation, activation and gradient (3 floats per unit), also for the fan-out skip
    layers of ``skip_sources`` (see :class:`StackedFeedForward`).
    """
    classes = model.output_layer.out_features
    entries, tails = _padded_entries(widths, skip_sources, model.input_layer.in_features, classes)
    total = sum(widths)
    # Fan-out outputs and the padded running sum of pending skip outputs, per source.
    units = total + classes + 2 * sum(tails) + len(skip_sources) * total
    batch = max(config.batch_size, config.eval_batch_size)
    return 4 * (8 * entries + 3 * units * batch)


def choose_chunk_size(per_candidate: int, device: torch.device, reserved: int = 0, safety: float = MEMORY_SAFETY) -> int:
    """How many candidates fit in ``safety`` × free memory of ``device`` after ``reserved`` bytes.

    Raises
    ------
    TrainingError
        Not even one candidate fits; the message gives both figures.
    """
    free = free_memory_bytes(device)
    budget = safety * free - reserved
    if per_candidate > budget:
        raise TrainingError(
            f"population cannot fit even one candidate on {device}: one needs about {per_candidate / 2**20:.1f} MiB, "
            f"{safety:.0%} of the free {free / 2**20:.1f} MiB minus {reserved / 2**20:.1f} MiB of data leaves "
            f"{max(budget, 0) / 2**20:.1f} MiB"
        )
    return max(1, int(budget // per_candidate))


# --- training ------------------------------------------------------------------------------------


def _per_candidate_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # out (P, B, C); mean cross-entropy per candidate, as F.cross_entropy does for one model.
    P, B, C = out.shape
    return F.cross_entropy(out.float().reshape(P * B, C), y.repeat(P), reduction="none").view(P, B).mean(dim=1)


@torch.no_grad()
def _evaluate_stacked(stack: StackedFeedForward, x, y, config, device):
    P = stack.size
    loss_sum = torch.zeros(P, device=device)
    correct = torch.zeros(P, device=device)
    for start in range(0, x.shape[0], config.eval_batch_size):
        part = slice(start, start + config.eval_batch_size)
        with autocast(device, config):
            out = stack.forward(x[part])
        out = out.float()
        loss_sum += _per_candidate_loss(out, y[part]) * out.shape[1]
        correct += (out.argmax(dim=-1) == y[part]).sum(dim=1)
    n = x.shape[0]
    return (loss_sum / n).tolist(), (correct / n).tolist()


def _clip_per_candidate(params: list[torch.Tensor], max_norm: float) -> None:
    # Same arithmetic as torch.nn.utils.clip_grad_norm_, one norm per candidate.
    sq = sum(p.grad.float().pow(2).flatten(1).sum(dim=1) for p in params)
    coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))).to(p.grad.dtype))


def _verify(stack: StackedFeedForward, models, x: torch.Tensor, device) -> None:
    with torch.no_grad():
        stacked = stack.forward(x)
        for i, model in enumerate(models):
            own = model.to(device).eval()(x)
            model.train()
            finite = torch.isfinite(own)
            if not torch.equal(finite, torch.isfinite(stacked[i])):
                raise TrainingError(f"stacked forward of candidate {i} is non-finite where its module's is not (or vice versa)")
            # Non-finite outputs (a diverged or poisoned candidate) are the loop's business, not a formula mismatch.
            err = float((stacked[i] - own)[finite].abs().max()) if finite.any() else 0.0
            scale = 1.0 + (float(own[finite].abs().max()) if finite.any() else 0.0)
            if not err <= 1e-4 * scale:
                raise TrainingError(
                    f"stacked forward of candidate {i} differs from its module by {err:.3g}; expected agreement within "
                    f"{1e-4 * scale:.3g} (the builder's SparseFeedForward formula changed?)"
                )


def _train_group(models, indices, data, task, config, device, flat, on_error) -> dict[int, TrainResult]:
    """Train one stack of candidates; return their results keyed by input index."""
    started = time.perf_counter()
    x_train, y_train = flat["train"], data.train.y
    stack = StackedFeedForward(models, device)
    _verify(stack, models, x_train[: min(8, x_train.shape[0])], device)
    params = stack.parameters()
    P = stack.size
    n = x_train.shape[0]
    budget_steps = total_steps(n, config)
    optimizer = make_optimizer(params, config)
    scheduler = make_step_schedule(optimizer, config, budget_steps)
    tracker = PlateauTracker(P, config)
    generator = make_generator(config.seed, device)
    augmenter = make_augment_generator(config, device)  # the same draws as each candidate's solo run
    image_shape = tuple(data.train.x.shape[1:])
    keep_best = config.patience is not None
    best = [p.detach().clone() for p in params] if keep_best else None
    history: list[list[dict]] = [[] for _ in range(P)]
    epochs_run = [0] * P
    steps_run = [0] * P
    errors: dict[int, str] = {}
    clock = 0.0
    steps = 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        active = [not s for s in tracker.stopped]
        scale = torch.tensor([tracker.lr_scale[i] if active[i] else 0.0 for i in range(P)], device=device)
        rescale = bool((scale != 1.0).any())
        order = epoch_order(n, generator, device)
        loss_sum = torch.zeros(P, device=device)
        first_bad = torch.full((P,), -1, dtype=torch.long, device=device)
        epoch_steps = 0
        for start in range(0, n, config.batch_size):
            if steps >= budget_steps:
                break
            idx = order[start:start + config.batch_size]
            x = x_train[idx]
            if augmenter is not None:
                x = augment_batch(x.view(-1, *image_shape), config.augment, augmenter).flatten(1)
            with autocast(device, config):
                out = stack.forward(x)
            losses = _per_candidate_loss(out, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            if config.grad_clip is not None:
                _clip_per_candidate(params, config.grad_clip)
            before = [p.detach().clone() for p in params] if rescale else None
            optimizer.step()
            if rescale:
                with torch.no_grad():
                    for p, old in zip(params, before):
                        view = scale.view(-1, *([1] * (p.dim() - 1)))
                        # where(): a frozen candidate keeps its weights even if its update is NaN.
                        p.copy_(torch.where(view == 0, old, torch.lerp(old, p, view)))
            if scheduler is not None:
                scheduler.step()
            detached = losses.detach()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), steps, first_bad)
            loss_sum += detached
            steps += 1
            epoch_steps += 1
        if epoch_steps == 0:
            break
        bad = first_bad.tolist()
        for i in range(P):
            if active[i] and bad[i] >= 0:
                message = (f"non-finite training loss of population candidate {indices[i]} in epoch {epoch} at step "
                           f"{bad[i]} (task {task.name!r}, lr={config.lr}); expected finite losses")
                if on_error == "raise":
                    raise TrainingError(message)
                errors[i] = message
                tracker.stopped[i] = True
                active[i] = False
        val_loss, val_metric = _evaluate_stacked(stack, flat["val"], data.val.y, config, device)
        clock += time.perf_counter() - t0
        train_loss = (loss_sum / epoch_steps).tolist()
        lr = optimizer.param_groups[0]["lr"]
        for i in range(P):
            if not active[i]:
                continue
            epochs_run[i] = epoch
            steps_run[i] = steps
            improved = tracker.update(i, epoch, val_metric[i])
            if keep_best and improved:
                with torch.no_grad():
                    for snap, p in zip(best, params):
                        snap[i].copy_(p[i])
            history[i].append({"epoch": epoch, "train_loss": train_loss[i], "val_loss": val_loss[i],
                               "val_accuracy": val_metric[i], "lr": lr * tracker.lr_scale[i], "steps": steps,
                               "elapsed_s": clock})
        if all(tracker.stopped) or steps >= budget_steps:
            break
    if keep_best:
        with torch.no_grad():
            for snap, p in zip(best, params):
                p.copy_(snap)
    train_time = time.perf_counter() - started

    results = {}
    for i, (model, index) in enumerate(zip(models, indices)):
        t0 = time.perf_counter()
        if i in errors or not history[i]:
            results[index] = _failed_result(task, config, device, data, model, errors.get(i, "no epoch completed"),
                                            epochs_run[i], steps_run[i], history[i])
            continue
        stack.unstack(i, model)
        test_loss, test_metric = evaluate(model, data.test, task, config, device)
        chosen = history[i][tracker.best_epoch[i] - 1] if keep_best else history[i][-1]
        used, expected = count_test_examples(data)
        results[index] = TrainResult(
            task=task.name, metric=task.metric_name, test_accuracy=test_metric, val_accuracy=chosen["val_accuracy"],
            test_loss=test_loss, val_loss=chosen["val_loss"], epochs=epochs_run[i], steps=steps_run[i],
            # The group trained together: its wall time is shared evenly between its candidates.
            wall_time_s=train_time / P + (time.perf_counter() - t0), device=device_name(device),
            parameters=count_parameters(model), nonzero_weights=count_nonzero_weights(model),
            test_examples=used, test_expected=expected, stopped_early=bool(tracker.stopped[i]),
            best_epoch=int(chosen["epoch"]), history=history[i], config=config.to_dict(), model=model,
        )
    return results


def _failed_result(task, config, device, data, model, message, epochs, steps, history) -> TrainResult:
    used, expected = count_test_examples(data)
    nan = float("nan")
    return TrainResult(
        task=task.name, metric=task.metric_name, test_accuracy=nan, val_accuracy=nan, test_loss=nan, val_loss=nan,
        epochs=epochs, steps=steps, wall_time_s=0.0, device=device_name(device), parameters=count_parameters(model),
        nonzero_weights=count_nonzero_weights(model), test_examples=used, test_expected=expected, stopped_early=False,
        best_epoch=0, history=history, config=config.to_dict(), error=message, model=None,
    )


def train_population(genomes, task, config: TrainConfig, data=None, data_dir=None, chunk_size: int | None = None,
                     on_error: str = "raise", grouping: str = "cost") -> list[TrainResult]:
    """Train several genomes; feed-forward ones together as stacked, padded tensors.

    Parameters
    ----------
    genomes : sequence of Genome, dict or JSON string
    task : Task or str
    config : TrainConfig
        Shared by all candidates (each still has its own early stopping and plateau schedule).
    data : Dataset, optional
        Loaded with ``task.load(data_dir)`` when omitted.
    data_dir : path, optional
    chunk_size : int, optional
        Most candidates per stack; by default chosen from the device's free memory.
    on_error : {"raise", "record"}
        What a diverging (non-finite loss) candidate does: ``"raise"`` a :class:`TrainingError`
        for the whole call (like :func:`nas.train.train_genome`), or ``"record"`` it — that
        candidate is frozen, its result has ``error`` set, NaN metrics and no model, and the
        others train on. Only stacked candidates can be recorded; a solo fallback always raises.
    grouping : {"cost", "none"}
        How candidates of different depths share stacks (see the module docstring): ``"cost"``
        (default) follows :func:`plan_stacks`; ``"none"`` pads every chunk to its deepest member
        (the benchmark's comparison). Results are the same either way, within float tolerance.

    Returns
    -------
    list of TrainResult
        One per genome, in input order, each with its own trained module in ``model`` and the
        genome in ``genome``. ``wall_time_s`` of stacked candidates is their group's training time
        shared evenly, plus their own test evaluation.

    Raises
    ------
    ConfigError
        A genome whose family does not fit the task, an empty population or a bad chunk size.
    TrainingError
        A candidate's loss became non-finite (the message names the candidate, epoch and step), or
        not even one candidate fits in memory.
    DeviceError
        ``config.device`` does not exist.
    """
    from search_spaces.genome import genome_from_any

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    task = get_task(task)
    genomes = [genome_from_any(g) for g in genomes]
    if not genomes:
        raise ConfigError("train_population needs at least one genome; got an empty population")
    if on_error not in ("raise", "record"):
        raise ConfigError(f"on_error = {on_error!r}; expected 'raise' or 'record'")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"chunk_size = {chunk_size!r}; expected an integer >= 1 or None")
    if grouping not in GROUPINGS:
        raise ConfigError(f"grouping = {grouping!r}; expected one of {list(GROUPINGS)}")
    for g in genomes:
        task.check_family(g.family)
    device = resolve_device(config.device)
    if data is None:
        data = task.load(data_dir=data_dir)

    results: dict[int, TrainResult] = {}
    stackable = task.target == "class" and not task.sequence
    members: list[tuple[int, torch.nn.Module]] = []
    for i, g in enumerate(genomes):
        model = build_seeded(g, task, data, config.seed) if g.family == "ff" and stackable else None
        if model is not None and _stackable(model):
            members.append((i, model))
        else:
            results[i] = train_genome(g, task, config, data=data)

    if members:
        check_augment(config, tuple(data.train.x.shape[1:]))
        prepared = prepare_data(data, config, device)
        flat = {name: getattr(prepared, name).x.reshape(len(getattr(prepared, name)), -1) for name in ("train", "val")}
        data_bytes = sum(t.numel() * t.element_size() for t in flat.values()) if device.type == "cuda" else 0
        # Similar candidates side by side, so a chunk pads to similar depths and widths.
        members.sort(key=lambda item: (len(item[1].layer_widths), sum(item[1].layer_widths)))
        if grouping == "cost":
            groups = [[members[k] for k in g] for g in plan_stacks([m for _, m in members], config.batch_size, device)]
        else:
            groups = [members]
        for group in groups:
            models = [m for _, m in group]
            sources = sorted({s for m in models for s, _ in m.skip_pairs})
            per = candidate_bytes(models[0], padded_widths(models), config, sources)
            size = chunk_size or choose_chunk_size(per, device, reserved=data_bytes)
            for start in range(0, len(group), size):
                chunk = group[start:start + size]
                results.update(_train_group([m for _, m in chunk], [i for i, _ in chunk], prepared, task, config, device,
                                            flat, on_error))
    out = []
    for i, g in enumerate(genomes):
        results[i].genome = g.to_dict()
        out.append(results[i])
    return out
