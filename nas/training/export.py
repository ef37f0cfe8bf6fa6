"""A trained network as one self-contained file for plain PyTorch: ``torch.export.load(path).module()``
runs it without sparse-nas.

The file (``torch.export``'s ``.pt2`` format) holds the network with its input normalisation in
front, so it takes images as ``torchvision.transforms.ToTensor`` gives them (float pixels in
[0, 1], shape ``(N, C, H, W)``, any batch size) and returns one logit per class. ``torch.export``
captures the computation for every input of that shape: exact for feed-forward and convolutional
networks; a recurrent network loops over a sequence's time steps, which a captured graph would fix
to one length, so it is refused. The genome, task, class names and normalisation travel inside the
file (``extra_files["sparse_nas.json"]``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import torch

from nas.exceptions import ConfigError
from nas.provenance import atomic_path

__all__ = ["EXPORTABLE_FAMILIES", "Normalised", "check_exportable", "export_program", "METADATA_FILE"]

#: Families whose captured computation holds for every input.
EXPORTABLE_FAMILIES = ("ff", "cnn")
#: The name of the metadata inside the exported file.
METADATA_FILE = "sparse_nas.json"


class Normalised(torch.nn.Module):
    """``network((x - mean) / std)``: pixels in [0, 1] in, logits out."""

    def __init__(self, network: torch.nn.Module, mean, std):
        super().__init__()
        self.network = network
        shape = (1, len(mean), 1, 1)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - self.mean) / self.std)


def check_exportable(genome) -> None:
    """Raise :class:`ConfigError` for a genome whose network one captured graph cannot hold (recurrent)."""
    if genome.family not in EXPORTABLE_FAMILIES:
        raise ConfigError(f"family {genome.family!r} cannot be exported: a recurrent network loops over time "
                          f"steps, which the captured graph would fix to one length; expected one of "
                          f"{list(EXPORTABLE_FAMILIES)} (use best/model.pt, the state dict, with sparse-nas)")


def export_program(model: torch.nn.Module, genome, task, data, path: str | os.PathLike) -> Path:
    """Write ``model`` (``genome``'s trained network for ``task``, built on ``data``) with
    ``torch.export`` (see the module notes).

    Raises
    ------
    ConfigError
        A recurrent genome (see the module notes), or data without its normalisation.
    """
    check_exportable(genome)
    norm = data.info.get("normalisation")
    if not norm:
        raise ConfigError(f"dataset {data.name!r} records no normalisation; expected image data")
    wrapped = Normalised(model.cpu().eval(), norm["mean"], norm["std"]).eval()
    example = torch.rand((2, *data.input_shape))
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad():
        program = torch.export.export(wrapped, (example,), dynamic_shapes={"x": {0: batch}})
    meta = {"genome": genome.to_dict(), "task": task.name, "classes": data.info.get("classes"),
            "input": "float pixels in [0, 1], shape (N, C, H, W)", "normalisation": norm,
            "output": "one logit per class"}
    buffer = io.BytesIO()  # torch.export.save wants a .pt2 name; the atomic temporary file has another
    torch.export.save(program, buffer, extra_files={METADATA_FILE: json.dumps(meta)})
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)
