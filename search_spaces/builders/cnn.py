"""Randomly wired convolutional networks for small images (Xie et al. 2019), wired by a LayeredDAG.

Each DAG vertex is a convolution block ``ReLU -> conv 3x3 -> BatchNorm``; the input of a vertex
is the weighted sum of its predecessors' outputs, with learned weights ``sigmoid(w_uv)`` (one per
edge, as in *Exploring Randomly Wired Neural Networks for Image Recognition*). So the same priors
and genomes that wire the sparse MLPs and RNNs wire a CNN for CIFAR-10.

Layout (defaults for 32x32 images)::

    stem     conv 3x3 (in_channels -> channels[0]) + BN                     32x32
    stage 0: the DAG, channels[0], layer-0 stride ``first_stride`` (2)      16x16
    stage k: the DAG, channels[k-1] -> channels[k], layer-0 stride 2        8x8, 4x4
    head     ReLU -> global average pool -> linear

Every stage downsamples by default (``first_stride=2``): a 50-vertex stage at full 32x32
resolution costs about five times as much as at 16x16 and would put a forward/backward pass of
a batch of 8 above a second on a CPU; ``first_stride=1`` keeps the first stage at full resolution.

Every stage is wired by the *same* DAG (one genome, one wiring, as Xie et al. use one generator
per stage). Inside a stage, the layer-0 vertices (the DAG sources) read the stage input, with
stride 2 in downsampling stages; the stage output is the mean of the sink vertices (readout
``sinks``, as Xie et al. aggregate their output nodes) or of the last-layer vertices only (readout
``last``: dead ends are computed, like in the paper's MLP and RNN, but nothing reads them).
``width`` multiplies every stage's channels (a vertex is a block of ``width`` times the channels).

The masked parameter of a stage is its edge-weight matrix ``edge_logits`` ``(N, N)`` with the
DAG adjacency as mask (entry ``[v, u]`` for the edge ``u -> v``, oriented like a Linear weight).
Initial edge logits are 1 (``sigmoid(1) ~ 0.73``) on edges and 0 elsewhere, so
``nonzero_weights`` counts every edge. Vertices of one DAG layer are computed together as groups
of one grouped convolution (``groups`` = vertices), so the cost is a few kernels per layer, not per
vertex.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from search_spaces.builders.masked import (
    BuilderError,
    MaskedModel,
    check_readout,
    check_width,
    readout_units,
    reset_dense_linear,
    uniform_,
)
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import ShapeMismatchError

__all__ = ["RandomWiredCNN", "WiredStage"]


def _reset_conv(conv: nn.Conv2d, generator: torch.Generator | None) -> None:
    # torch's default Conv2d init (Kaiming uniform, a = sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
    uniform_(conv.weight, 1.0 / math.sqrt(fan_in), generator)
    if conv.bias is not None:
        uniform_(conv.bias, 1.0 / math.sqrt(fan_in), generator)


class _LayerConvs(nn.Module):
    """ReLU -> conv 3x3 -> BN for all ``nodes`` vertices of one DAG layer, as grouped convolutions."""

    def __init__(self, nodes: int, in_channels: int, out_channels: int, stride: int, separable: bool):
        super().__init__()
        cin, cout = nodes * in_channels, nodes * out_channels
        if separable:
            # Depthwise 3x3 (one filter per channel of every vertex), then a pointwise 1x1 per vertex.
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
                nn.Conv2d(cin, cout, 1, groups=nodes, bias=False),
            )
        else:
            self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=nodes, bias=False))
        self.norm = nn.BatchNorm2d(cout)

    def reset_parameters(self, generator: torch.Generator | None) -> None:
        for conv in self.conv:
            _reset_conv(conv, generator)
        self.norm.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(torch.relu(x)))


class WiredStage(nn.Module):
    """One stage of a randomly wired network: every DAG vertex a conv block, edges weighted sums.

    Parameters
    ----------
    dag : LayeredDAG
    in_channels, out_channels : int
        Channels of the stage input and of every vertex output.
    stride : int
        Stride of the layer-0 vertices (2 to halve the resolution).
    separable : bool
        Depthwise-separable 3x3 convolutions (as Xie et al.) instead of plain ones.
    readout : {"sinks", "last"}
        The stage output is the mean of the sink vertices or of the last layer's.
    """

    def __init__(
        self,
        dag: LayeredDAG,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        separable: bool = True,
        readout: str = "sinks",
    ):
        super().__init__()
        n = dag.num_nodes
        self.readout = check_readout(readout)
        self.out_channels = int(out_channels)
        adjacency = torch.zeros(n, n)
        for u, v in dag.edges:
            adjacency[v, u] = 1.0
        self.register_buffer("mask", adjacency)
        self.edge_logits = nn.Parameter(torch.zeros(n, n))
        self.layer_nodes = tuple(dag.layers)
        self.blocks = nn.ModuleList(
            _LayerConvs(
                len(nodes),
                in_channels if layer == 0 else out_channels,
                out_channels,
                stride if layer == 0 else 1,
                separable,
            )
            for layer, nodes in enumerate(self.layer_nodes)
        )
        for layer, nodes in enumerate(self.layer_nodes):
            self.register_buffer(f"_nodes_{layer}", torch.tensor(nodes, dtype=torch.long), persistent=False)
        # (layer, name of the buffer holding the positions of its read vertices; None: the whole layer)
        reads = []
        for layer, picked in readout_units(dag, self.readout, 1):
            positions = np.flatnonzero(picked)
            name = None if len(positions) == len(picked) else f"_read_{layer}"
            if name is not None:  # a buffer moves with the module: no copy to the device per forward
                self.register_buffer(name, torch.as_tensor(positions), persistent=False)
            reads.append((layer, name))
        self._reads = tuple(reads)
        # Earlier layers with at least one edge into each layer: the only blocks worth summing.
        self._sources_of = tuple(
            tuple(s for s, t in dag.layer_pairs if t == layer) for layer in range(len(self.layer_nodes))
        )
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        with torch.no_grad():
            self.edge_logits.copy_(self.mask)
        for block in self.blocks:
            block.reset_parameters(generator)

    def _nodes(self, layer: int) -> torch.Tensor:
        return getattr(self, f"_nodes_{layer}")

    def edge_weights(self) -> torch.Tensor:
        """``sigmoid(edge_logits)`` on edges, 0 elsewhere: the aggregation coefficients ``[v, u]``."""
        return torch.sigmoid(self.edge_logits) * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        coefficients = self.edge_weights()
        outputs: list[torch.Tensor] = []  # per layer: (B, nodes, C, H, W)
        for layer, block in enumerate(self.blocks):
            count = len(self.layer_nodes[layer])
            if layer == 0:
                inputs = x.repeat(1, count, 1, 1)  # every source vertex reads the stage input
            else:
                rows = coefficients.index_select(0, self._nodes(layer))
                total = 0
                for source in self._sources_of[layer]:
                    weights = rows.index_select(1, self._nodes(source))
                    total = total + torch.einsum("vu,buchw->bvchw", weights, outputs[source])
                inputs = total.flatten(1, 2)
            out = block(inputs)
            outputs.append(out.view(batch, count, self.out_channels, *out.shape[2:]))
        read = [outputs[layer] if name is None else outputs[layer].index_select(1, getattr(self, name))
                for layer, name in self._reads]
        return (read[0] if len(read) == 1 else torch.cat(read, dim=1)).mean(dim=1)


class RandomWiredCNN(MaskedModel, nn.Module):
    """A randomly wired CNN for small images; every stage wired by ``dag``.

    Parameters
    ----------
    dag : LayeredDAG
    in_channels : int
        Image channels (3 for CIFAR-10).
    num_classes : int
    channels : sequence of int
        Vertex channels per stage, one stage per entry; stages after the first halve the
        resolution. The default ``(16, 32, 64)`` keeps a 50-vertex network trainable on a CPU.
    separable : bool
        Depthwise-separable 3x3 vertex convolutions (default, as Xie et al.) or plain 3x3.
    first_stride : {1, 2}
        Stride of the first stage's layer-0 vertices (later stages always use 2).
    generator : torch.Generator, optional
        Source of the initial weights.
    width : int
        Multiplies every stage's channels.
    readout : {"sinks", "last"}
        Which vertices each stage's output averages.

    Attributes
    ----------
    stem : nn.Sequential
    stages : nn.ModuleList of WiredStage
    output_layer : nn.Linear
    layer_sizes, skip_pairs : tuple
    """

    def __init__(
        self,
        dag: LayeredDAG,
        in_channels: int = 3,
        num_classes: int = 10,
        channels=(16, 32, 64),
        separable: bool = True,
        first_stride: int = 2,
        generator=None,
        width: int = 1,
        readout: str = "sinks",
    ):
        super().__init__()
        channels = tuple(channels)
        self.width = check_width(width)
        self.readout = check_readout(readout)
        if not channels or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 for c in channels):
            raise BuilderError(f"channels must be a non-empty sequence of positive integers, got {channels!r}")
        if first_stride not in (1, 2) or isinstance(first_stride, bool):
            raise BuilderError(f"first_stride must be 1 or 2, got {first_stride!r}")
        self.dag = dag
        self.first_stride = int(first_stride)
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.channels = tuple(int(c) * self.width for c in channels)
        self.separable = bool(separable)
        self.layer_sizes = tuple(dag.layer_sizes)
        self.skip_pairs = tuple(dag.skip_pairs)
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, self.channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(self.channels[0])
        )
        self.stages = nn.ModuleList(
            WiredStage(
                dag,
                self.channels[max(k - 1, 0)],
                c,
                stride=self.first_stride if k == 0 else 2,
                separable=self.separable,
                readout=self.readout,
            )
            for k, c in enumerate(self.channels)
        )
        self.output_layer = nn.Linear(self.channels[-1], self.num_classes)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        _reset_conv(self.stem[0], generator)
        self.stem[1].reset_parameters()
        for stage in self.stages:
            stage.reset_parameters(generator)
        reset_dense_linear(self.output_layer, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for images ``(N, in_channels, H, W)``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ShapeMismatchError(
                f"RandomWiredCNN expects images (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        h = self.stem(x)
        for stage in self.stages:
            h = stage(h)
        h = torch.relu(h).mean(dim=(2, 3))
        return self.output_layer(h)

    # --- masks ------------------------------------------------------------------------------

    def masked_parameters(self):
        for index, stage in enumerate(self.stages):
            yield f"stages.{index}.edge_logits", stage.edge_logits, stage.mask

    def layer_masks(self) -> list[np.ndarray]:
        """The DAG's main-path masks ``(width[l], width[l-1])``, once per stage (stage-major)."""
        one = [self.dag.mask(l - 1, l) for l in range(1, self.dag.num_layers)]
        return [m.copy() for _ in self.stages for m in one]

    def extra_repr(self) -> str:
        return (
            f"channels={list(self.channels)}, separable={self.separable}, first_stride={self.first_stride}, "
            f"layer_sizes={list(self.layer_sizes)}, readout={self.readout}"
        )
