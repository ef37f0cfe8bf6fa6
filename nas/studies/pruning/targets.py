"""Which weights of a network are pruned: the parts of a feed-forward or recurrent network.

A pruning run names the parts it prunes (``weights=``, ``nas prune --weights``); every other
weight, every bias and every embedding is left alone.

=============  =================================================================================
family         parts
=============  =================================================================================
feed-forward   ``input`` (the first, dense layer), ``hidden`` (the DAG's masked layers between
               vertices and the skip layers; a dense MLP's hidden-to-hidden layers), ``output``
               (the classifier)
recurrent      ``input`` (every recurrent layer's input weights ``weight_ih``: layer 0's dense
               ones from the embedding and the DAG-masked ones), ``recurrent`` (every
               hidden-to-hidden ``weight_hh``), ``output`` (the classifier)
=============  =================================================================================

``all`` (the default) is every part. Dense weights get a mask of ones before pruning starts
(:func:`make_prunable`), which leaves the network's function unchanged; the masks then hide
and zero what pruning removes, on every builder the same way. A random-wired CNN's weights have
no masks and cannot be pruned (``PruningError``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nas.exceptions import PruningError
from nas.studies.pruning.networks import DenseMLP
from search_spaces.builders.feedforward import SparseFeedForward
from search_spaces.builders.masked import MaskedLinear
from search_spaces.builders.recurrent import SparseRecurrent

__all__ = ["PARTS", "network_kind", "parse_weights", "make_prunable", "prunable"]

#: The parts each kind of network can prune, in the order they are listed.
PARTS = {"ff": ("input", "hidden", "output"), "rnn": ("input", "recurrent", "output")}


def network_kind(model) -> str:
    """``"ff"`` for a (sparse or dense) MLP, ``"rnn"`` for a sparse recurrent network.

    Raises
    ------
    PruningError
        Any other network (a random-wired CNN, a plain torch module).
    """
    if isinstance(model, (SparseFeedForward, DenseMLP)):
        return "ff"
    if isinstance(model, SparseRecurrent):
        return "rnn"
    raise PruningError(f"pruning needs a feed-forward (ff) or recurrent (rnn:*) network; got {type(model).__name__}")


def parse_weights(spec, kind: str) -> tuple[str, ...]:
    """The parts ``spec`` names for a network of ``kind`` (``"all"`` or a comma-separated list).

    Raises
    ------
    PruningError
        A part this kind of network does not have (the message lists the valid ones), or none.

    >>> parse_weights("all", "rnn")
    ('input', 'recurrent', 'output')
    >>> parse_weights("recurrent, input", "rnn")
    ('input', 'recurrent')
    """
    valid = PARTS[kind]
    names = [part.strip() for part in str(spec).split(",") if part.strip()]
    if names == ["all"]:
        return valid
    bad = [n for n in names if n not in valid]
    if not names or bad:
        family = "a feed-forward" if kind == "ff" else "a recurrent"
        raise PruningError(f"{family} network has no weights {', '.join(map(repr, bad or names)) or repr(spec)} to prune; "
                           f"expected 'all' or some of: {', '.join(valid)}")
    return tuple(p for p in valid if p in names)


def _masked(layer: nn.Module) -> MaskedLinear:
    """``layer`` itself when masked, else a :class:`MaskedLinear` copy of a dense linear layer
    (mask of ones, same weights, bias and device)."""
    if isinstance(layer, MaskedLinear):
        return layer
    scratch = torch.Generator().manual_seed(0)  # the draws are overwritten; never the global RNG
    copy = MaskedLinear(layer.in_features, layer.out_features, np.ones((layer.out_features, layer.in_features),
                        dtype=np.float32), bias=layer.bias is not None, generator=scratch)
    with torch.no_grad():
        copy.weight.copy_(layer.weight)
        if layer.bias is not None:
            copy.bias.copy_(layer.bias)
    return copy.to(layer.weight.device)


def _recurrent_layers(model):
    return [(f"layers.{i}", layer) for i, layer in enumerate(model.layers)] + [
        (f"skips.{key}", layer) for key, layer in model.skips.items()]


def make_prunable(model, parts) -> None:
    """Give the dense weights among ``parts`` a mask of ones, in place (the function is unchanged).

    Raises
    ------
    PruningError
        See :func:`network_kind` and :func:`parse_weights`.
    """
    kind = network_kind(model)
    parts = parse_weights(",".join(parts) if not isinstance(parts, str) else parts, kind)
    if "input" in parts and kind == "ff":
        model.input_layer = _masked(model.input_layer)
    if "output" in parts:
        model.output_layer = _masked(model.output_layer)
    if kind == "rnn":
        for _, layer in _recurrent_layers(model):
            layer.mask_weights(input="input" in parts, recurrent="recurrent" in parts)


def prunable(model, weights="all") -> tuple[list[str], list[torch.nn.Parameter], list[torch.Tensor]]:
    """Names, weights and masks of the parts of ``model`` that ``weights`` names, masks made first.

    Parameters
    ----------
    model : SparseFeedForward, DenseMLP or SparseRecurrent
    weights : str or sequence of str
        ``"all"`` or parts of :data:`PARTS` (a comma-separated string or a sequence).

    Raises
    ------
    PruningError
        A network that cannot be pruned, or a part it does not have.
    """
    kind = network_kind(model)
    parts = parse_weights(weights if isinstance(weights, str) else ",".join(weights), kind)
    make_prunable(model, parts)
    named: list[tuple[str, torch.nn.Parameter, torch.Tensor]] = []
    if kind == "ff":
        if "input" in parts:
            named.append(("input_layer.weight", model.input_layer.weight, model.input_layer.mask))
        if "hidden" in parts:
            named += [(f"main.{i}.weight", layer.weight, layer.mask) for i, layer in enumerate(model.main)]
            named += [(f"skips.{key}.weight", layer.weight, layer.mask) for key, layer in model.skips.items()]
    else:
        layers = _recurrent_layers(model)
        if "input" in parts:
            named += [(f"{name}.weight_ih", layer.weight_ih, layer.mask) for name, layer in layers]
        if "recurrent" in parts:
            named += [(f"{name}.weight_hh", layer.weight_hh, layer.hh_mask) for name, layer in layers]
    if "output" in parts:
        named.append(("output_layer.weight", model.output_layer.weight, model.output_layer.mask))
    if not named:  # e.g. the hidden part of a one-hidden-layer MLP
        raise PruningError(f"{type(model).__name__} has no {', '.join(parts)} weights to prune")
    return [n for n, _, _ in named], [w for _, w, _ in named], [m for _, _, m in named]
