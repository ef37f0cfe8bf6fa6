"""Torch modules from layered DAGs: sparse feed-forward, sparse recurrent, random-wired CNN.

This is the only part of :mod:`search_spaces` that imports torch. Every model exposes its masks
the same way (:meth:`masked_parameters` yielding ``(name, weight, mask)``, :meth:`nonzero_weights`,
:meth:`layer_masks`), so pruning and NNSTD work on any of them. See ``docs/builders.md``.

Examples
--------
>>> from search_spaces import Genome
>>> model = build_from_genome(Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=1),
...                           num_classes=10, in_features=784)
>>> type(model).__name__
'SparseFeedForward'
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from search_spaces.builders.cnn import RandomWiredCNN, WiredStage
from search_spaces.builders.feedforward import SparseFeedForward
from search_spaces.builders.masked import (
    BuilderError,
    MaskedLinear,
    MaskedModel,
    check_readout,
    check_width,
    masked_parameters,
    nonzero_weights,
)
from search_spaces.builders.recurrent import (
    CELLS,
    GATES,
    MaskedRecurrentLayer,
    SparseRecurrent,
)
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import InvalidGenomeError
from search_spaces.genome import FAMILIES, genome_from_any

__all__ = [
    "build_model",
    "build_from_genome",
    "family_options",
    "BuilderError",
    "MaskedLinear",
    "MaskedModel",
    "MaskedRecurrentLayer",
    "SparseFeedForward",
    "SparseRecurrent",
    "RandomWiredCNN",
    "WiredStage",
    "masked_parameters",
    "nonzero_weights",
    "CELLS",
    "GATES",
]

# Keyword options each family accepts beyond the common arguments (documented in build_model).
_OPTIONS = {
    "ff": ("layer_norm", "generator"),
    "rnn": ("embedding_dim", "generator"),
    "cnn": ("channels", "separable", "first_stride", "generator"),
}


def family_options(family: str) -> tuple[str, ...]:
    """Names of the extra ``**options`` that :func:`build_model` accepts for ``family``."""
    _check_family(family)
    return _OPTIONS[family.split(":", 1)[0]]


def _check_family(family) -> None:
    if family not in FAMILIES:
        raise InvalidGenomeError("family", family, f"one of {list(FAMILIES)}")


def _positive_int(name: str, value, family: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BuilderError(f"family {family!r} needs {name} as a positive integer, got {value!r}")
    return int(value)


def _no_extra(family: str, **given) -> None:
    extra = sorted(name for name, value in given.items() if value is not None and value is not False)
    if extra:
        raise BuilderError(f"family {family!r} does not use {', '.join(extra)}; got {given}")


def build_model(
    dag: LayeredDAG,
    family: str,
    *,
    num_classes: int,
    in_features: int | None = None,
    vocab_size: int | None = None,
    in_channels: int | None = None,
    sequence_output: bool = False,
    width: int = 1,
    readout: str = "sinks",
    **options: Any,
) -> nn.Module:
    """Build the torch module of ``family`` wired by ``dag``.

    Parameters
    ----------
    dag : LayeredDAG
    family : str
        One of :data:`search_spaces.genome.FAMILIES`.
    num_classes : int
        Number of output logits.
    in_features : int, optional
        ``ff``: input size after flattening (required). ``rnn:*``: size of real-valued input
        features ``(B, T, F)`` (give this *or* ``vocab_size``).
    vocab_size : int, optional
        ``rnn:*``: number of symbols including the padding index 0, for int64 ``(B, T)`` input.
    in_channels : int, optional
        ``cnn``: image channels (required).
    sequence_output : bool
        ``rnn:*`` only: logits at every step ``(B, T, num_classes)``.
    width : int
        Units per vertex (``cnn``: a multiplier of the channels), in ``[1, MAX_WIDTH]``.
    readout : {"sinks", "last"}
        ``sinks``: every vertex without a successor feeds the output; ``last``: only the last DAG
        layer (the paper's construction).
    **options
        ``ff``: ``layer_norm`` (bool). ``rnn:*``: ``embedding_dim`` (int, default 16).
        ``cnn``: ``channels`` (tuple of int, default ``(16, 32, 64)``), ``separable`` (bool,
        default True), ``first_stride`` (1 or 2, default 2). Every family: ``generator`` (a
        ``torch.Generator`` for the initial weights; the global torch generator when omitted).

    Returns
    -------
    torch.nn.Module
        :class:`SparseFeedForward`, :class:`SparseRecurrent` or :class:`RandomWiredCNN`.

    Raises
    ------
    InvalidGenomeError
        ``family`` is not one of ``FAMILIES``.
    BuilderError
        ``dag`` is not a LayeredDAG, or an argument the family needs is missing or invalid, or
        one it does not use was given; the message names what the family needs. A width or
        readout outside the allowed values (the message names them).
    """
    _check_family(family)
    structure = {"width": check_width(width), "readout": check_readout(readout)}
    if not isinstance(dag, LayeredDAG):
        raise BuilderError(f"build_model needs a LayeredDAG, got {type(dag).__name__}")
    num_classes = _positive_int("num_classes", num_classes, family)
    kind = family.split(":", 1)[0]
    unknown = sorted(set(options) - set(_OPTIONS[kind]))
    if unknown:
        raise BuilderError(f"family {family!r} accepts the options {list(_OPTIONS[kind])}, got unknown {unknown}")
    build = {"ff": _build_ff, "rnn": _build_rnn, "cnn": _build_cnn}[kind]
    return build(dag, family, num_classes, in_features, vocab_size, in_channels, sequence_output, options, structure)


def _build_ff(dag, family, num_classes, in_features, vocab_size, in_channels, sequence_output, options, structure):
    """A :class:`SparseFeedForward` (``in_features`` required)."""
    _no_extra(family, vocab_size=vocab_size, in_channels=in_channels, sequence_output=sequence_output)
    if in_features is None:
        raise BuilderError("family 'ff' needs in_features (the flattened input size, e.g. 784 for MNIST)")
    return SparseFeedForward(
        dag,
        _positive_int("in_features", in_features, family),
        num_classes,
        layer_norm=bool(options.get("layer_norm", False)),
        generator=options.get("generator"),
        **structure,
    )


def _build_rnn(dag, family, num_classes, in_features, vocab_size, in_channels, sequence_output, options, structure):
    """A :class:`SparseRecurrent` (``vocab_size`` or ``in_features``)."""
    _no_extra(family, in_channels=in_channels)
    if (vocab_size is None) == (in_features is None):
        raise BuilderError(
            f"family {family!r} needs exactly one of vocab_size (int64 symbol input) and in_features "
            f"(float (B, T, F) input), got vocab_size={vocab_size!r}, in_features={in_features!r}"
        )
    return SparseRecurrent(
        dag,
        family.split(":", 1)[1],
        num_classes,
        vocab_size=None if vocab_size is None else _positive_int("vocab_size", vocab_size, family),
        input_size=None if in_features is None else _positive_int("in_features", in_features, family),
        embedding_dim=_positive_int("embedding_dim", options.get("embedding_dim", 16), family),
        sequence_output=bool(sequence_output),
        generator=options.get("generator"),
        **structure,
    )


def _build_cnn(dag, family, num_classes, in_features, vocab_size, in_channels, sequence_output, options, structure):
    """A :class:`RandomWiredCNN` (``in_channels`` required)."""
    _no_extra(family, in_features=in_features, vocab_size=vocab_size, sequence_output=sequence_output)
    if in_channels is None:
        raise BuilderError("family 'cnn' needs in_channels (image channels, e.g. 3 for CIFAR-10)")
    return RandomWiredCNN(
        dag,
        in_channels=_positive_int("in_channels", in_channels, family),
        num_classes=num_classes,
        channels=options.get("channels", (16, 32, 64)),
        separable=bool(options.get("separable", True)),
        first_stride=options.get("first_stride", 2),
        generator=options.get("generator"),
        **structure,
    )


def build_from_genome(genome, **kwargs: Any) -> nn.Module:
    """Build the model of a genome (a Genome, its dict or its JSON) with its own family.

    Keyword arguments are those of :func:`build_model` (``num_classes``, ``in_features``, ...).

    Raises
    ------
    EmptyGraphError
        The genome's graph has no edges.
    InvalidGenomeError, BuilderError
        As for :func:`build_model`.
    """
    genome = genome_from_any(genome)
    return build_model(genome.dag(), genome.family, width=genome.width, readout=genome.readout, **kwargs)
