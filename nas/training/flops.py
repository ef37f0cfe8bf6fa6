"""FLOPs per example: the multiply-accumulates (MACs) of one forward pass of one example, counted
from a built network's masks — the one FLOPs counter of the search (its ``flops`` target, its
``flops`` objective and the ``flops`` column of ``evaluations.csv``).

What is counted, per family:

``ff`` (sparse MLP)
    Every nonzero weight and bias once per example: a weight is one multiply-accumulate, a bias one
    add. So an MLP's FLOPs equal its :meth:`nonzero_weights` (and, without layer norm, the DAG's
    analytic count :func:`nas.training.equal_cost.ff_nonzero_weights`).
``rnn:*`` (sparse RNN)
    Per time step, every nonzero input, recurrent and bias weight of every recurrent layer (skip
    layers included; a gated cell's gate blocks each count), times the task's *mean sequence
    length*: the mean of the training split's true lengths (padding is not counted; all steps when
    the split has no lengths). The output layer counts once per example (the last valid step), or
    once per step with ``sequence_output``. The embedding is a lookup: 0.
``cnn`` (random-wired CNN)
    Every convolution's nonzero weights once per output pixel (a grouped or depthwise convolution
    uses each weight once per output position), every DAG edge's weighted sum once per element of
    the stage's vertex output (channels × pixels), and the classifier's weights and biases once.
    Batch norm folds into the convolution at inference and is not counted; nor are activations,
    pooling or the sums of sinks.

Elementwise work (nonlinearities, the gates' products) is never counted: these are MACs of the
weights, the quantity a sparse network saves. FLOPs of an RNN are rounded to an integer.

Examples
--------
>>> import torch
>>> from search_spaces.builders import build_model
>>> from search_spaces.dag import LayeredDAG
>>> dag = LayeredDAG.from_edges(3, [(0, 1), (1, 2)])
>>> model = build_model(dag, "ff", num_classes=2, in_features=4)
>>> model_flops(model) == model.nonzero_weights()
True
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from nas.exceptions import ConfigError
from nas.training.equal_cost import ff_nonzero_weights
from search_spaces.builders import (
    RandomWiredCNN,
    SparseRecurrent,
    WiredStage,
    masked_parameters,
)
from search_spaces.genome import Genome

__all__ = ["model_flops", "mean_sequence_length", "task_flops_counter", "ff_flops"]


def _nonzero(module: nn.Module, masks: dict[int, torch.Tensor]) -> int:
    """Nonzero effective entries (masked where a mask is given) of ``module``'s own parameters."""
    total = 0
    with torch.no_grad():
        for param in module.parameters(recurse=False):
            mask = masks.get(id(param))
            total += int(torch.count_nonzero(param if mask is None else param * mask))
    return total


def _recurrent_flops(model: SparseRecurrent, mean_length: float) -> int:
    masks = {id(weight): mask for _, weight, mask in masked_parameters(model)}
    per_step = sum(_nonzero(layer, masks) for layer in (*model.layers, *model.skips.values()))
    output = sum(_nonzero(m, masks) for m in model.output_layer.modules())
    steps_of_output = mean_length if model.sequence_output else 1.0
    return int(round(mean_length * per_step + steps_of_output * output))


def _cnn_flops(model: RandomWiredCNN, image_shape: tuple[int, ...]) -> int:
    """Counted with forward hooks on one zero image: each module's output size gives its uses."""
    masks = {id(weight): mask for _, weight, mask in masked_parameters(model)}
    counts: list[int] = []

    def conv(module, _inputs, output):
        counts.append(_nonzero(module, masks) * output.shape[-1] * output.shape[-2])

    def stage(module, _inputs, output):  # one MAC per edge and element of a vertex output
        counts.append(int(torch.count_nonzero(module.mask)) * output.shape[-3] * output.shape[-2] * output.shape[-1])

    def linear(module, _inputs, _output):
        counts.append(_nonzero(module, masks))

    hooks = []
    for module in model.modules():
        hook = {nn.Conv2d: conv, WiredStage: stage, nn.Linear: linear}.get(type(module))
        if hook is not None:
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()  # batch norm must not update its statistics
        with torch.no_grad():
            model(torch.zeros(1, *image_shape))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return int(sum(counts))


def model_flops(model: nn.Module, *, mean_length: float | None = None, image_shape: tuple[int, ...] | None = None) -> int:
    """FLOPs (MACs) of one forward pass of one example through a built ``model`` (see the module notes).

    Parameters
    ----------
    model : nn.Module
        A built sparse MLP, sparse RNN or random-wired CNN (any other module: its nonzero
        weights, each used once).
    mean_length : float, optional
        Mean sequence length (required for an RNN).
    image_shape : tuple of int, optional
        ``(channels, height, width)`` of one image (required for a CNN).

    Raises
    ------
    ConfigError
        An RNN without ``mean_length`` or a CNN without ``image_shape``.
    """
    if isinstance(model, SparseRecurrent):
        if mean_length is None or not mean_length > 0:
            raise ConfigError(f"FLOPs of an RNN need the mean sequence length; expected a number > 0, got {mean_length!r}")
        return _recurrent_flops(model, float(mean_length))
    if isinstance(model, RandomWiredCNN):
        if image_shape is None:
            raise ConfigError("FLOPs of a CNN need the image shape (channels, height, width); got None")
        return _cnn_flops(model, tuple(int(s) for s in image_shape))
    masks = {id(weight): mask for _, weight, mask in masked_parameters(model)}
    return int(sum(_nonzero(m, masks) for m in model.modules()))


def mean_sequence_length(data) -> float:
    """The training split's mean true sequence length (all steps when it has no lengths)."""
    split = data.train
    if split.lengths is None:
        return float(split.x.shape[1])
    return float(split.lengths.double().mean())


def ff_flops(genome: Genome, in_features: int, classes: int) -> int:
    """FLOPs of ``genome``'s sparse MLP from its DAG alone: its nonzero weights and biases, each once
    (:func:`~nas.training.equal_cost.ff_nonzero_weights`, equal to :func:`model_flops` of the built
    model; no model is built)."""
    return ff_nonzero_weights(genome, in_features, classes)


def task_flops_counter(task, data) -> Callable[[Genome], int]:
    """``count(genome)``: FLOPs per example of the genome's model for ``task`` on ``data`` (from the
    DAG for ``ff``; by building the model otherwise)."""
    shape = tuple(int(s) for s in data.input_shape)
    length: list[float] = []  # computed on first use: only RNNs need it

    def count(genome: Genome) -> int:
        if genome.family == "ff":
            return ff_flops(genome, int(math.prod(shape)), data.num_classes)
        model = task.build(genome, data)
        if isinstance(model, SparseRecurrent) and not length:
            length.append(mean_sequence_length(data))
        return model_flops(model, mean_length=length[0] if length else None, image_shape=shape)

    return count
