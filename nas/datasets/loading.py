"""Loading a named dataset: normalised float32 tensors with a seeded train/validation split.

``load_dataset(name, ...)`` returns a :class:`~nas.datasets.base.Dataset`; file-backed datasets
are read and verified as :mod:`nas.datasets.registry` describes them (missing files are fetched,
:mod:`nas.datasets.fetch`), the Reber grammars are generated (:mod:`nas.datasets.reber`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.datasets import reber  # lazy: the generator is another module's concern
from nas.datasets.base import Dataset, Split
from nas.datasets.fetch import fetch_dataset
from nas.datasets.paths import resolve_data_dir
from nas.datasets.registry import (
    DatasetSpec,
    Layout,
    choose_layout,
    dataset_spec,
    find_file,
    how_to_provide,
    locate,
    read_file,
)
from nas.exceptions import ConfigError, CorruptFileError, DatasetNotFoundError

__all__ = ["load_dataset", "split_indices"]


def _check_split_args(val_fraction: float | None, split_seed: int) -> None:
    if val_fraction is not None:
        if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
            raise ConfigError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
        raise ConfigError(f"split_seed must be a non-negative integer, got {split_seed!r}")


def _read_files(spec: DatasetSpec, root: Path, lay: Layout, allow_partial: bool):
    """uint8 images (N, C, H, W) and int64 labels for train and test, plus per-file provenance."""
    files: dict[str, Any] = {}
    parts: dict[str, list[np.ndarray]] = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    for fs in lay.files:
        path = find_file(root, fs) or root / fs.name
        parsed = read_file(lay, path, fs, allow_partial)
        split = fs.role.split("_")[0]
        if lay.name == "idx":
            parts[f"{split}_{'x' if fs.role.endswith('images') else 'y'}"].append(parsed.array)
        else:
            parts[f"{split}_x"].append(parsed.images)
            parts[f"{split}_y"].append(parsed.labels)
        files[fs.name] = {"path": str(path), "records": parsed.records, "expected": fs.records,
                          "checksum": parsed.checksum, "sha256": parsed.sha256}
    out = {}
    for split in ("train", "test"):
        xs, ys = parts[f"{split}_x"], parts[f"{split}_y"]
        x = xs[0] if len(xs) == 1 else np.concatenate(xs)
        y = ys[0] if len(ys) == 1 else np.concatenate(ys)
        n = min(len(x), len(y))  # a partial images file and a complete labels file pair up to n
        x = x[:n].reshape(n, *spec.input_shape)
        y = y[:n]
        if n and int(y.max()) >= len(spec.classes):
            raise CorruptFileError(f"{spec.name} {split} labels: expected 0..{len(spec.classes) - 1}, found {int(y.max())}")
        out[split] = (x, y)
    return out, files


def _to_tensor(x: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    # One float32 copy, then in-place scaling: CIFAR-10's 600 MB train set is never held twice as float.
    t = torch.from_numpy(np.array(x, dtype=np.float32))
    shape = (1, len(mean)) + (1,) * (t.dim() - 2)
    t.mul_(1.0 / 255.0).sub_(torch.tensor(mean).view(shape)).div_(torch.tensor(std).view(shape))
    return t


def split_indices(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded train / validation split of ``n`` training examples.

    Parameters
    ----------
    n : int
        Examples in the training files.
    n_val : int
        Examples held out for validation.
    seed : int
        Seed of a fresh :func:`numpy.random.default_rng`.

    Returns
    -------
    train, val : numpy.ndarray
        Disjoint int64 index arrays covering ``range(n)``, in random (seeded) order, so that the
        first examples of either split are a random sample.

    Examples
    --------
    >>> train, val = split_indices(10, 3, seed=0)
    >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(10))
    (7, 3, True)
    """
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]


def _labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(y.astype(np.int64))


def _load_files(spec, data_dir, allow_partial, download, val_fraction, split_seed, progress, options) -> Dataset:
    unknown = set(options) - ({"layout"} if len(spec.layouts) > 1 else set())
    if unknown:
        accepted = "layout" if len(spec.layouts) > 1 else "none"
        raise ConfigError(f"{spec.name}: unexpected option(s) {sorted(unknown)}; accepted: {accepted}")
    data_dir = resolve_data_dir(data_dir)
    layout = choose_layout(spec, options.get("layout"))
    root, lay = locate(spec, data_dir, layout)
    missing = [f.name for f in lay.files if find_file(root, f) is None]
    if missing:
        if not download:
            raise DatasetNotFoundError(how_to_provide(spec, root, lay, missing) + " (download=False)")
        try:
            fetch_dataset(spec.name, data_dir, progress=progress, layout=lay.name)
        except DatasetNotFoundError as err:
            raise type(err)(f"{err}; {how_to_provide(spec, root, lay, missing)}") from err
        root, lay = locate(spec, data_dir, lay)

    arrays, files = _read_files(spec, root, lay, allow_partial)
    (train_x, train_y), (test_x, test_y) = arrays["train"], arrays["test"]

    n = len(train_x)
    if val_fraction is None:
        n_val = spec.default_val if n == spec.train_records else round(n * spec.default_val / spec.train_records)
    else:
        n_val = int(round(n * float(val_fraction)))
    if n_val >= n:
        raise ConfigError(f"{spec.name}: a validation split of {n_val} leaves no training examples out of {n}")
    order = np.random.default_rng(split_seed).permutation(n)

    # Index the uint8 arrays (4x smaller than float32) and convert each split once.
    val_idx, train_idx = order[:n_val], order[n_val:]
    partial = any(f["records"] < f["expected"] for f in files.values())
    info = {
        "data_dir": str(data_dir),
        "folder": str(root),
        "layout": lay.name,
        "files": files,
        "normalisation": {"scale": "pixel / 255", "mean": list(spec.mean), "std": list(spec.std)},
        "split_seed": int(split_seed),
        "val_fraction": n_val / n,
        "train_examples": n - n_val,
        "val_examples": n_val,
        "train_expected": spec.train_records,
        "test_examples": len(test_x),
        "test_expected": spec.test_records,
        "partial": partial,
        "classes": list(spec.classes),
        "citation": spec.citation,
    }
    return Dataset(
        name=spec.name,
        train=Split(_to_tensor(train_x[train_idx], spec.mean, spec.std), _labels(train_y[train_idx])),
        val=Split(_to_tensor(train_x[val_idx], spec.mean, spec.std), _labels(train_y[val_idx])),
        test=Split(_to_tensor(test_x, spec.mean, spec.std), _labels(test_y)),
        num_classes=len(spec.classes),
        input_shape=spec.input_shape,
        info=info,
    )


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    allow_partial: bool = False,
    download: bool = True,
    val_fraction: float | None = None,
    split_seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> Dataset:
    """Load a named dataset as normalised tensors with a seeded train / validation split.

    Parameters
    ----------
    name : str
        ``mnist``, ``fashion_mnist``, ``cifar10``, ``reber`` or ``embedded_reber``.
    data_dir : str or path-like, optional
        Folder holding ``mnist/``, ``fashion_mnist/``, ``cifar10/``; else ``NAS_DATA_DIR``, else
        the user cache folder.
    allow_partial : bool
        Use a truncated file (e.g. CIFAR-10's ``test_batch.bin`` with 1,000 of 10,000 records);
        ``info["partial"]``, ``info["test_examples"]`` and ``info["test_expected"]`` say so.
    download : bool
        Download missing files (with a progress bar, verified, never overwriting).
    val_fraction : float, optional
        Share of the training files held out for validation; default 10,000 of MNIST's and
        Fashion-MNIST's 60,000, 5,000 of CIFAR-10's 50,000.
    split_seed : int
        Seed of the train/validation permutation (for Reber: the generator seed).
    progress : bool
        Progress bars while downloading.
    **options
        Reber: forwarded to the generator. CIFAR-10: ``layout`` (``"auto"``, ``"bin"``, ``"py"``).

    Returns
    -------
    Dataset
        Images float32 ``(N, 1, 28, 28)`` / ``(N, 3, 32, 32)``, ``(x / 255 - mean) / std`` per
        channel; labels int64.

    Raises
    ------
    UnknownNameError
        ``name`` is not a dataset.
    DatasetNotFoundError
        Files are missing and cannot be downloaded (the message says where and how to add them).
    TruncatedFileError, CorruptFileError, ChecksumError
        A file is truncated (without ``allow_partial``), malformed, or fails its checksum.
    ConfigError
        Bad ``val_fraction``, ``split_seed`` or option.
    """
    if name == "reber" or name == "embedded_reber":
        make = reber.reber_classification_dataset if name == "reber" else reber.embedded_reber_dataset
        if val_fraction is not None:
            options["val_fraction"] = val_fraction
        if "seed" in options and options["seed"] != split_seed and split_seed != 0:
            raise ConfigError(
                f"{name}: give the generator seed once, as seed= or split_seed=; got seed={options['seed']!r} "
                f"and split_seed={split_seed!r}"
            )
        options.setdefault("seed", split_seed)  # a generated set's seed draws the strings and the split
        return make(**options)
    spec = dataset_spec(name)
    _check_split_args(val_fraction, split_seed)
    return _load_files(spec, data_dir, allow_partial, download, val_fraction, split_seed, progress, options)
