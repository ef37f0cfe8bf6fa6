"""The named datasets: where their files live, how they are checked, and how they load.

``load_dataset(name, ...)`` returns a :class:`~nas.datasets.base.Dataset` of normalised float32
tensors with a seeded train/validation split; ``dataset_status`` says, file by file, what is in
the data directory (used by ``nas data info``); ``fetch_dataset`` downloads what is missing.

A file on disk is verified by the SHA-256 of its decompressed content (``FileSpec.sha256``), so the
same data re-compressed or stored uncompressed is accepted; a download is verified by the published
MD5 of the file the mirror serves (``FileSpec.md5``, ``Layout.archive_md5``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.datasets import reber  # lazy: the generator is another module's concern
from nas.datasets.base import Dataset, Split
from nas.datasets.cifar import (
    CLASSES as CIFAR_CLASSES,
)
from nas.datasets.cifar import (
    binary_record_count,
    read_cifar_bin,
    read_cifar_pickle,
)
from nas.datasets.download import download_file, extract_tar_members
from nas.datasets.idx import read_idx
from nas.datasets.paths import ENV_VAR, resolve_data_dir
from nas.exceptions import (
    ChecksumError,
    ConfigError,
    CorruptFileError,
    DatasetNotFoundError,
    UnknownNameError,
)

__all__ = [
    "DatasetSpec",
    "FileSpec",
    "Layout",
    "DATASETS",
    "list_datasets",
    "load_dataset",
    "dataset_status",
    "fetch_dataset",
    "split_indices",
]


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    Attributes
    ----------
    name : str
        Path inside the dataset folder, as published (and downloaded). A ``.gz`` file is also
        found decompressed, under the name without ``.gz`` (see :attr:`names`).
    role : str
        ``train_images``, ``train_labels``, ``test_images``, ``test_labels``, ``train_batch`` or
        ``test_batch``.
    records : int
        Records of the official file.
    md5 : str, optional
        Published MD5 of the file as served (torchvision's values); checks downloads, and files on
        disk only where ``sha256`` is unknown.
    sha256 : str, optional
        SHA-256 of the decompressed content (the raw IDX bytes, the CIFAR-10 binary records); how a
        file on disk is verified.
    """

    name: str
    role: str
    records: int
    md5: str | None = None
    sha256: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Names the file is found under, in order of preference: as published, then decompressed."""
        return (self.name, self.name[: -len(".gz")]) if self.name.endswith(".gz") else (self.name,)


@dataclass(frozen=True)
class Layout:
    """One on-disk layout of a dataset's files, and the archive they come in (if any)."""

    name: str  # "idx", "bin", "py"
    files: tuple[FileSpec, ...]
    archive: str | None = None  # archive file name, downloaded into the dataset folder
    archive_md5: str | None = None
    archive_prefix: str = ""  # member name = archive_prefix + FileSpec.name

    @property
    def file_names(self) -> list[str]:
        return [f.name for f in self.files]


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about one named dataset."""

    name: str
    title: str
    folders: tuple[str, ...]  # candidate folders under the data dir; the first is where downloads go
    layouts: tuple[Layout, ...]
    mirrors: tuple[str, ...]
    input_shape: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_records: int
    test_records: int
    default_val: int
    classes: tuple[str, ...] = field(default_factory=tuple)
    citation: str = ""


def _idx_files(md5s: tuple[str, ...], sha256s: tuple[str, ...]) -> tuple[FileSpec, ...]:
    """MNIST's and Fashion-MNIST's four files (they share names and record counts)."""
    names = (
        ("train-images-idx3-ubyte.gz", "train_images", 60_000), ("train-labels-idx1-ubyte.gz", "train_labels", 60_000),
        ("t10k-images-idx3-ubyte.gz", "test_images", 10_000), ("t10k-labels-idx1-ubyte.gz", "test_labels", 10_000),
    )
    return tuple(FileSpec(*f, md5=m, sha256=s) for f, m, s in zip(names, md5s, sha256s))


# MD5s as torchvision lists them (torchvision.datasets.MNIST / FashionMNIST / CIFAR10): the files
# as published. SHA-256s: of the decompressed content, computed from the originals (the published
# .gz files with exactly these MD5s; the CIFAR-10 binary batches of the official archive).
MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    folders=("mnist", "MNIST/raw"),
    layouts=(Layout("idx", _idx_files((
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c",
    ), (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ))),),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    input_shape=(1, 28, 28),
    mean=(0.1307,),
    std=(0.3081,),
    train_records=60_000,
    test_records=10_000,
    default_val=10_000,  # the paper's 50k / 10k split
    classes=tuple(str(d) for d in range(10)),
    citation="LeCun, Bottou, Bengio & Haffner (1998); LeCun, Cortes & Burges, The MNIST database",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST (Zalando)",
    folders=("fashion_mnist", "FashionMNIST/raw"),
    layouts=(Layout("idx", _idx_files((
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310",
    ), (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ))),),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    input_shape=(1, 28, 28),
    mean=(0.2860,),
    std=(0.3530,),
    train_records=60_000,
    test_records=10_000,
    default_val=10_000,
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    citation="Xiao, Rasul & Vollgraf (2017), Fashion-MNIST, arXiv:1708.07747",
)

_CIFAR_BIN = Layout(
    "bin",
    tuple(
        FileSpec(f"cifar-10-batches-bin/data_batch_{i}.bin", "train_batch", 10_000, sha256=sha256)
        for i, sha256 in enumerate((
            "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
            "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
            "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
            "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
            "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
        ), start=1)
    )
    # The shared copy of test_batch.bin holds 1,000 records, so this value could not be computed
    # here; it is the one other CIFAR-10 loaders publish beside the five values above, which match.
    + (FileSpec("cifar-10-batches-bin/test_batch.bin", "test_batch", 10_000,
                sha256="8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b"),),
    archive="cifar-10-binary.tar.gz",
    archive_md5="c32a1d4ab5d03f1284b67883e8d87530",
)
_CIFAR_PY = Layout(
    "py",
    tuple(
        FileSpec(f"cifar-10-batches-py/data_batch_{i}", "train_batch", 10_000, md5)
        for i, md5 in enumerate((
            "c99cafc152244af753f735de768cd75f", "d4bba439e000b95fd0a9bffe97cbabec",
            "54ebc095f3ab1f0389bbae665268c751", "634d18415352ddfa80567beed471001a",
            "482c414d41f54cd18b22e5b47cb7c3cb",
        ), start=1)
    )
    + (FileSpec("cifar-10-batches-py/test_batch", "test_batch", 10_000, "40351d587109b95175f43aff81a1287e"),),
    archive="cifar-10-python.tar.gz",
    archive_md5="c58f30108f718f92721af3b95e74349a",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10 (binary or python layout)",
    folders=("cifar10", "."),  # "." finds torchvision's <root>/cifar-10-batches-py
    layouts=(_CIFAR_BIN, _CIFAR_PY),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    input_shape=(3, 32, 32),
    # Per-channel statistics of the 50,000 training images (pixels scaled to [0, 1]).
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    train_records=50_000,
    test_records=10_000,
    default_val=5_000,
    classes=CIFAR_CLASSES,
    citation="Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST, CIFAR10)}
GENERATED = ("reber", "embedded_reber")


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`: the file-backed ones, then the generated Reber sets."""
    return [*DATASETS, *GENERATED]


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, list_datasets())
    return DATASETS[name]


def _layout(spec: DatasetSpec, name: str | None) -> Layout | None:
    if name in (None, "auto"):
        return None
    names = [lay.name for lay in spec.layouts]
    if name not in names:
        raise ConfigError(f"{spec.name}: unknown layout {name!r}; expected one of: auto, {', '.join(names)}")
    return next(lay for lay in spec.layouts if lay.name == name)


def _find(root: Path, fs: FileSpec) -> Path | None:
    """The path of ``fs`` in ``root`` under the first of its names that exists, else None."""
    return next((root / name for name in fs.names if (root / name).is_file()), None)


def _locate(spec: DatasetSpec, data_dir: Path, layout: Layout | None = None) -> tuple[Path, Layout]:
    """The folder and layout to read: the first candidate holding every file, else the default place."""
    layouts = (layout,) if layout else spec.layouts
    for lay in layouts:
        for folder in spec.folders:
            root = data_dir / folder
            if all(_find(root, f) for f in lay.files):
                return root, lay
    # Nothing complete: report against a layout that has some files, else the first (download) one.
    for lay in layouts:
        for folder in spec.folders:
            if any(_find(data_dir / folder, f) for f in lay.files):
                return data_dir / folder, lay
    return data_dir / spec.folders[0], layouts[0]


def _how_to_provide(spec: DatasetSpec, root: Path, layout: Layout, missing: list[str]) -> str:
    every = "all files" if len(missing) == len(layout.files) else ", ".join(missing)
    either = " (gzip-compressed or not)" if any(f.name.endswith(".gz") for f in layout.files) else ""
    return (
        f"{spec.name}: missing {every} in {root} (looked in the data dir from --data-dir, else ${ENV_VAR}, "
        f"else the user cache folder); put {', '.join(layout.file_names)}{either} in that folder, point --data-dir "
        f"or ${ENV_VAR} at a folder holding {spec.folders[0]}/, or run `nas data fetch {spec.name}`"
    )


# ---------------------------------------------------------------------------------------- fetch


def fetch_dataset(
    name: str, data_dir: str | os.PathLike | None = None, *, progress: bool = True, layout: str | None = None
) -> list[Path]:
    """Download the missing files of a dataset into the data directory and verify them.

    Files already present, compressed or not, are never replaced (they are verified when loaded or
    by :func:`dataset_status`). Downloads are checked against the published MD5 of the file served.
    CIFAR-10 comes as the official archive; only the batch files of the chosen layout (default:
    binary) are extracted from it, each checked against its known checksum before it is kept.

    Parameters
    ----------
    name : str
        ``mnist``, ``fashion_mnist`` or ``cifar10``.
    data_dir : str or path-like, optional
        See :func:`nas.datasets.paths.resolve_data_dir`.
    progress : bool
        Show progress bars on stderr.
    layout : {"bin", "py"}, optional
        CIFAR-10 layout to fetch.

    Returns
    -------
    list of pathlib.Path
        Files written now (empty when everything was present).

    Raises
    ------
    DownloadError
        No mirror reachable or the folder is not writable.
    ChecksumError
        A download (or an extracted batch) whose checksum differs from the known one (it is discarded).
    """
    if name in GENERATED:
        raise ConfigError(f"{name} is generated by the project, there is nothing to fetch; use `nas data reber`")
    spec = _spec(name)
    root, lay = _locate(spec, resolve_data_dir(data_dir), _layout(spec, layout))
    missing = [f for f in lay.files if _find(root, f) is None]
    if not missing:
        return []
    if lay.archive is None:
        return [
            download_file([m + f.name for m in spec.mirrors], root / f.name, md5=f.md5, progress=progress)
            for f in missing
        ]
    archive = root / lay.archive
    written = []
    if not archive.is_file():
        written.append(
            download_file([m + lay.archive for m in spec.mirrors], archive, md5=lay.archive_md5, progress=progress)
        )
    members = {lay.archive_prefix + f.name: root / f.name for f in missing}
    md5s = {lay.archive_prefix + f.name: f.md5 for f in missing if f.md5}
    sha256s = {lay.archive_prefix + f.name: f.sha256 for f in missing if f.sha256}
    written += extract_tar_members(archive, members, md5s=md5s, sha256s=sha256s)
    return written


# --------------------------------------------------------------------------------------- status


def _read_file(layout: Layout, path: Path, fs: FileSpec, allow_partial: bool):
    """Read and verify one file of ``layout`` (an :class:`IdxFile` or a :class:`CifarBatch`)."""
    if layout.name == "idx":
        is_img = fs.role.endswith("images")
        return read_idx(path, ndim=3 if is_img else 1, dims=(28, 28) if is_img else None, expected_records=fs.records,
                        sha256=fs.sha256, md5=fs.md5, allow_partial=allow_partial)
    reader = read_cifar_bin if layout.name == "bin" else read_cifar_pickle
    return reader(path, expected_records=fs.records, sha256=fs.sha256, md5=fs.md5, allow_partial=allow_partial)


def _file_status(layout: Layout, root: Path, fs: FileSpec) -> dict[str, Any]:
    path = _find(root, fs)
    if path is None:
        return {"file": fs.name, "path": str(root / fs.name), "present": False, "expected": fs.records,
                "status": "missing", "records": None}
    row: dict[str, Any] = {"file": path.relative_to(root).as_posix(), "path": str(path), "present": True,
                           "expected": fs.records}
    try:
        if layout.name == "bin" and fs.sha256 is None:
            # The size alone gives the record count; with no checksum to compare, reading is not needed.
            records, _ = binary_record_count(path, fs.records)
            checksum = "no known checksum"
        else:
            parsed = _read_file(layout, path, fs, allow_partial=True)
            records, checksum = parsed.records, parsed.checksum
    except ChecksumError as err:
        return {**row, "status": "checksum mismatch", "records": fs.records, "detail": str(err)}
    except CorruptFileError as err:
        return {**row, "status": "corrupt", "records": None, "detail": str(err)}
    if records < fs.records:
        return {**row, "status": f"truncated ({records} of {fs.records} records)", "records": records}
    if checksum == "verified":
        return {**row, "status": "verified", "records": records}
    return {**row, "status": "no known checksum (record counts ok)", "records": records}


def dataset_status(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """What the data directory holds for one dataset, file by file (reads and checks every file).

    Parameters
    ----------
    name : str
        Any name of :func:`list_datasets`.
    data_dir : str or path-like, optional
        See :func:`nas.datasets.paths.resolve_data_dir`.

    Returns
    -------
    dict
        ``name``, ``title``, ``kind`` (``"files"`` or ``"generated"``), ``folder``, ``layout``,
        ``files`` (one dict per file: ``file``, ``path``, ``present``, ``status``, ``records``,
        ``expected`` and, for errors, ``detail``), and ``ready`` (every file present and usable
        without ``allow_partial``) / ``usable_partial`` (usable with it).
    """
    if name in GENERATED:
        return {"name": name, "title": "Reber grammar (generated, seeded)", "kind": "generated", "folder": None,
                "layout": None, "files": [], "ready": True, "usable_partial": True}
    spec = _spec(name)
    root, lay = _locate(spec, resolve_data_dir(data_dir))
    files = [_file_status(lay, root, fs) for fs in lay.files]
    good = {"verified", "no known checksum (record counts ok)"}
    ready = all(f["status"] in good for f in files)
    usable_partial = all(f["status"] in good or f["status"].startswith("truncated") for f in files)
    return {"name": name, "title": spec.title, "kind": "files", "folder": str(root), "layout": lay.name,
            "files": files, "ready": ready, "usable_partial": usable_partial}


# ---------------------------------------------------------------------------------------- load


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
        path = _find(root, fs) or root / fs.name
        parsed = _read_file(lay, path, fs, allow_partial)
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
    layout = _layout(spec, options.get("layout"))
    root, lay = _locate(spec, data_dir, layout)
    missing = [f.name for f in lay.files if _find(root, f) is None]
    if missing:
        if not download:
            raise DatasetNotFoundError(_how_to_provide(spec, root, lay, missing) + " (download=False)")
        try:
            fetch_dataset(spec.name, data_dir, progress=progress, layout=lay.name)
        except DatasetNotFoundError as err:
            raise type(err)(f"{err}; {_how_to_provide(spec, root, lay, missing)}") from err
        root, lay = _locate(spec, data_dir, lay)

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
    spec = _spec(name)
    _check_split_args(val_fraction, split_seed)
    return _load_files(spec, data_dir, allow_partial, download, val_fraction, split_seed, progress, options)
