"""The named datasets: what their files are, where they live and how one is read and verified.

A file on disk is verified by the SHA-256 of its decompressed content (``FileSpec.sha256``), so the
same data re-compressed or stored uncompressed is accepted; a download is verified by the published
MD5 of the file the mirror serves (``FileSpec.md5``, ``Layout.archive_md5``).

Loading is :mod:`nas.datasets.loading` (``load_dataset``); what the data directory holds and
downloading the rest, :mod:`nas.datasets.fetch` (``dataset_status``, ``fetch_dataset``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nas.datasets.cifar import (
    CLASSES as CIFAR_CLASSES,
)
from nas.datasets.cifar import read_cifar_bin, read_cifar_pickle
from nas.datasets.idx import read_idx
from nas.datasets.paths import ENV_VAR
from nas.exceptions import ConfigError, UnknownNameError

__all__ = [
    "DatasetSpec",
    "FileSpec",
    "Layout",
    "DATASETS",
    "GENERATED",
    "list_datasets",
    "dataset_spec",
    "choose_layout",
    "find_file",
    "locate",
    "how_to_provide",
    "read_file",
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


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of the file-backed dataset ``name``; UnknownNameError lists the names."""
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, list_datasets())
    return DATASETS[name]


def choose_layout(spec: DatasetSpec, name: str | None) -> Layout | None:
    """The layout called ``name`` (None for ``None`` or ``"auto"``: any); ConfigError for another."""
    if name in (None, "auto"):
        return None
    names = [lay.name for lay in spec.layouts]
    if name not in names:
        raise ConfigError(f"{spec.name}: unknown layout {name!r}; expected one of: auto, {', '.join(names)}")
    return next(lay for lay in spec.layouts if lay.name == name)


def find_file(root: Path, fs: FileSpec) -> Path | None:
    """The path of ``fs`` in ``root`` under the first of its names that exists, else None."""
    return next((root / name for name in fs.names if (root / name).is_file()), None)


def locate(spec: DatasetSpec, data_dir: Path, layout: Layout | None = None) -> tuple[Path, Layout]:
    """The folder and layout to read: the first candidate holding every file, else the default place."""
    layouts = (layout,) if layout else spec.layouts
    for lay in layouts:
        for folder in spec.folders:
            root = data_dir / folder
            if all(find_file(root, f) for f in lay.files):
                return root, lay
    # Nothing complete: report against a layout that has some files, else the first (download) one.
    for lay in layouts:
        for folder in spec.folders:
            if any(find_file(data_dir / folder, f) for f in lay.files):
                return data_dir / folder, lay
    return data_dir / spec.folders[0], layouts[0]


def how_to_provide(spec: DatasetSpec, root: Path, layout: Layout, missing: list[str]) -> str:
    """What to do about ``missing`` files: where they were looked for and how to add them."""
    every = "all files" if len(missing) == len(layout.files) else ", ".join(missing)
    either = " (gzip-compressed or not)" if any(f.name.endswith(".gz") for f in layout.files) else ""
    return (
        f"{spec.name}: missing {every} in {root} (looked in the data dir from --data-dir, else ${ENV_VAR}, "
        f"else the user cache folder); put {', '.join(layout.file_names)}{either} in that folder, point --data-dir "
        f"or ${ENV_VAR} at a folder holding {spec.folders[0]}/, or run `nas data fetch {spec.name}`"
    )


def read_file(layout: Layout, path: Path, fs: FileSpec, allow_partial: bool):
    """Read and verify one file of ``layout`` (an :class:`IdxFile` or a :class:`CifarBatch`)."""
    if layout.name == "idx":
        is_img = fs.role.endswith("images")
        return read_idx(path, ndim=3 if is_img else 1, dims=(28, 28) if is_img else None, expected_records=fs.records,
                        sha256=fs.sha256, md5=fs.md5, allow_partial=allow_partial)
    reader = read_cifar_bin if layout.name == "bin" else read_cifar_pickle
    return reader(path, expected_records=fs.records, sha256=fs.sha256, md5=fs.md5, allow_partial=allow_partial)
