"""load_dataset / fetch_dataset / dataset_status end to end on tiny files and a simulated mirror."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest
import torch

from nas.datasets import download as dl
from nas.datasets import registry
from nas.datasets.paths import default_cache_dir, resolve_data_dir
from nas.datasets.fetch import dataset_status, fetch_dataset
from nas.datasets.loading import load_dataset, split_indices
from nas.datasets.registry import FileSpec, Layout, list_datasets
from nas.exceptions import (
    ChecksumError,
    ConfigError,
    DatasetNotFoundError,
    TruncatedFileError,
    UnknownNameError,
)

N_TRAIN, N_TEST = 12, 4


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def idx_gz(array: np.ndarray) -> bytes:
    return gzip.compress(idx_bytes(array), mtime=0)


def shrink_idx_dataset(monkeypatch, name: str, seed: int = 0):
    """``name``'s spec (MNIST layout) shrunk to 12 train / 4 test images whose files (MD5s of the .gz,
    SHA-256s of the IDX bytes) the test owns."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    blobs = {file: idx_gz(a) for file, a in arrays.items()}
    old = registry.DATASETS[name]
    files = tuple(
        FileSpec(f.name, f.role, N_TRAIN if "train" in f.role else N_TEST, md5=hashlib.md5(blobs[f.name]).hexdigest(),
                 sha256=hashlib.sha256(idx_bytes(arrays[f.name])).hexdigest())
        for f in old.layouts[0].files
    )
    spec = dataclasses.replace(old, layouts=(Layout("idx", files),), train_records=N_TRAIN,
                               test_records=N_TEST, default_val=2)
    monkeypatch.setitem(registry.DATASETS, name, spec)
    return arrays, blobs


@pytest.fixture
def tiny_mnist(monkeypatch):
    """MNIST's spec shrunk to 12 train / 4 test images whose files (and MD5s) the test owns."""
    return shrink_idx_dataset(monkeypatch, "mnist")


def test_fashion_mnist_loads_with_its_own_statistics_and_trains(tmp_path, monkeypatch):
    """No real Fashion-MNIST is reachable here: its loader and task run on tiny files in its layout."""
    from nas.training.tasks import get_task
    from nas.training import TrainConfig, train_genome
    from search_spaces.genome import Genome

    arrays, blobs = shrink_idx_dataset(monkeypatch, "fashion_mnist", seed=1)
    write_files(tmp_path / "fashion_mnist", blobs)
    data = get_task("fashion_mnist").load(data_dir=tmp_path)
    assert data.name == "fashion_mnist" and data.input_shape == (1, 28, 28) and len(data.test) == N_TEST
    assert data.info["normalisation"]["mean"] == [0.2860] and data.info["normalisation"]["std"] == [0.3530]
    raw = arrays["t10k-images-idx3-ubyte.gz"].astype(np.float32)[:, None]
    np.testing.assert_allclose(data.test.x.numpy(), (raw / 255 - 0.2860) / 0.3530, rtol=1e-5, atol=1e-5)
    result = train_genome(Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=0), "fashion_mnist",
                          TrainConfig(epochs=1, batch_size=4, device="cpu"), data=data)
    assert result.task == "fashion_mnist" and result.test_examples == N_TEST and 0.0 <= result.test_accuracy <= 1.0


@pytest.fixture
def fake_mirror(monkeypatch):
    served: dict[str, bytes] = {}
    asked: list[str] = []

    def fake_fetch(url, out, *, progress=True, desc=None):
        asked.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in served:
            raise urllib.error.URLError("simulated: offline")
        out.write(served[name])

    monkeypatch.setattr(dl, "_fetch_url", fake_fetch)
    return served, asked


def write_files(folder, blobs):
    for name, blob in blobs.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(blob)


# -------------------------------------------------------------------------------------- names, paths


def test_list_datasets():
    assert list_datasets() == ["mnist", "fashion_mnist", "cifar10", "reber", "embedded_reber"]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown dataset 'svhn'; expected one of: cifar10, embedded_reber"):
        load_dataset("svhn")
    with pytest.raises(UnknownNameError):
        dataset_status("svhn")


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("NAS_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == tmp_path / "xdg" / "sparse-nas" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "sparse-nas" / "data"


# ------------------------------------------------------------------------------------- tiny MNIST


def test_loads_tiny_mnist_with_shapes_normalisation_and_split(tmp_path, tiny_mnist):
    arrays, blobs = tiny_mnist
    write_files(tmp_path / "mnist", blobs)
    data = load_dataset("mnist", data_dir=tmp_path, download=False)
    assert data.train.x.shape == (N_TRAIN - 2, 1, 28, 28) and data.train.x.dtype == torch.float32
    assert data.val.x.shape == (2, 1, 28, 28) and data.test.x.shape == (N_TEST, 1, 28, 28)
    assert data.train.y.dtype == torch.int64
    assert data.num_classes == 10 and data.input_shape == (1, 28, 28)
    train_idx, val_idx = split_indices(N_TRAIN, 2, 0)
    raw = arrays["train-images-idx3-ubyte.gz"][val_idx].astype(np.float32)[:, None]
    expected = (raw / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(data.val.x.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(data.train.y.numpy(), arrays["train-labels-idx1-ubyte.gz"][train_idx])
    info = data.info
    assert info["normalisation"] == {"scale": "pixel / 255", "mean": [0.1307], "std": [0.3081]}
    assert {f["checksum"] for f in info["files"].values()} == {"verified"}
    assert (info["test_examples"], info["test_expected"], info["partial"]) == (N_TEST, N_TEST, False)


def test_val_fraction_and_seed(tmp_path, tiny_mnist):
    write_files(tmp_path / "mnist", tiny_mnist[1])
    a = load_dataset("mnist", data_dir=tmp_path, download=False, val_fraction=0.5, split_seed=3)
    b = load_dataset("mnist", data_dir=tmp_path, download=False, val_fraction=0.5, split_seed=3)
    c = load_dataset("mnist", data_dir=tmp_path, download=False, val_fraction=0.5, split_seed=4)
    assert len(a.val) == 6 and a.info["val_fraction"] == 0.5
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)
    assert len(load_dataset("mnist", data_dir=tmp_path, download=False, val_fraction=0).val) == 0


@pytest.mark.parametrize("bad", [{"val_fraction": 1.0}, {"val_fraction": -0.1}, {"val_fraction": "0.2"},
                                 {"split_seed": -1}, {"split_seed": 1.5}, {"colour": True}])
def test_bad_arguments_are_config_errors(tmp_path, tiny_mnist, bad):
    write_files(tmp_path / "mnist", tiny_mnist[1])
    with pytest.raises(ConfigError):
        load_dataset("mnist", data_dir=tmp_path, download=False, **bad)


def test_missing_files_without_download_say_where_and_how(tmp_path, tiny_mnist):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "mnist") in message
    assert "train-images-idx3-ubyte.gz" in message and "nas data fetch mnist" in message
    assert "NAS_DATA_DIR" in message and "\n" not in message


def test_missing_files_are_downloaded_and_verified(tmp_path, tiny_mnist, fake_mirror):
    served, asked = fake_mirror
    served.update(tiny_mnist[1])
    data = load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert len(asked) == 4 and asked[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert {f["checksum"] for f in data.info["files"].values()} == {"verified"}
    assert fetch_dataset("mnist", tmp_path, progress=False) == []  # nothing left to fetch
    assert len(asked) == 4


def test_download_impossible_is_dataset_not_found(tmp_path, tiny_mnist, fake_mirror):
    with pytest.raises(DatasetNotFoundError, match="could not download .*nas data fetch mnist"):
        load_dataset("mnist", data_dir=tmp_path, progress=False)


def test_truncated_file_raises_by_default_and_is_reported_when_allowed(tmp_path, tiny_mnist):
    arrays, blobs = tiny_mnist
    imgs = arrays["t10k-images-idx3-ubyte.gz"]
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in imgs.shape)
    blobs = dict(blobs, **{"t10k-images-idx3-ubyte.gz": gzip.compress(header + imgs[:3].tobytes(), mtime=0)})
    write_files(tmp_path / "mnist", blobs)
    with pytest.raises(TruncatedFileError, match="holds 3 of 4 records"):
        load_dataset("mnist", data_dir=tmp_path, download=True)  # download never replaces it
    data = load_dataset("mnist", data_dir=tmp_path, download=False, allow_partial=True)
    assert len(data.test) == 3
    assert (data.info["test_examples"], data.info["test_expected"], data.info["partial"]) == (3, N_TEST, True)
    status = dataset_status("mnist", tmp_path)
    assert [f["status"] for f in status["files"]][2] == "truncated (3 of 4 records)"
    assert not status["ready"] and status["usable_partial"]


def test_status_reports_checksum_mismatch_and_corruption(tmp_path, tiny_mnist):
    arrays, blobs = tiny_mnist
    labels = arrays["train-labels-idx1-ubyte.gz"].copy()
    labels[0] = (labels[0] + 1) % 10  # still valid IDX, other data
    blobs = dict(blobs, **{
        "train-labels-idx1-ubyte.gz": idx_gz(labels),
        "t10k-labels-idx1-ubyte.gz": b"not gzip",
    })
    write_files(tmp_path / "mnist", blobs)
    rows = {f["file"]: f for f in dataset_status("mnist", tmp_path)["files"]}
    assert rows["train-images-idx3-ubyte.gz"]["status"] == "verified"
    assert rows["train-labels-idx1-ubyte.gz"]["status"] == "checksum mismatch"
    assert rows["t10k-labels-idx1-ubyte.gz"]["status"] == "corrupt"
    assert "not a gzip stream" in rows["t10k-labels-idx1-ubyte.gz"]["detail"]
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz: checksum mismatch: expected SHA-256"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_recompressed_and_uncompressed_files_verify(tmp_path, tiny_mnist):
    arrays, _ = tiny_mnist
    folder = tmp_path / "mnist"
    folder.mkdir()
    names = list(arrays)
    # Another gzip level and header for two files, no compression for the other two.
    for name in names[:2]:
        (folder / name).write_bytes(gzip.compress(idx_bytes(arrays[name]), compresslevel=1, mtime=12345))
    for name in names[2:]:
        (folder / name.removesuffix(".gz")).write_bytes(idx_bytes(arrays[name]))
    status = dataset_status("mnist", tmp_path)
    assert status["ready"] and {f["status"] for f in status["files"]} == {"verified"}
    assert [f["file"] for f in status["files"]][2:] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    data = load_dataset("mnist", data_dir=tmp_path, download=False)
    assert {f["checksum"] for f in data.info["files"].values()} == {"verified"}
    np.testing.assert_array_equal(data.test.y.numpy(), arrays["t10k-labels-idx1-ubyte.gz"])


def test_without_a_content_checksum_the_published_md5_decides(tmp_path, tiny_mnist, monkeypatch):
    arrays, blobs = tiny_mnist
    spec = registry.DATASETS["mnist"]
    files = tuple(dataclasses.replace(f, sha256=None) for f in spec.layouts[0].files)
    monkeypatch.setitem(registry.DATASETS, "mnist", dataclasses.replace(spec, layouts=(Layout("idx", files),)))
    name = "train-labels-idx1-ubyte.gz"
    write_files(tmp_path / "mnist", dict(blobs, **{name: gzip.compress(idx_bytes(arrays[name]), compresslevel=1)}))
    rows = {f["file"]: f for f in dataset_status("mnist", tmp_path)["files"]}
    assert rows["train-images-idx3-ubyte.gz"]["status"] == "verified"
    assert rows[name]["status"] == "checksum mismatch"
    assert f"expected MD5 {hashlib.md5(blobs[name]).hexdigest()}, found" in rows[name]["detail"]


def test_status_of_missing_and_generated(tmp_path):
    status = dataset_status("fashion_mnist", tmp_path)
    assert status["folder"] == str(tmp_path / "fashion_mnist")
    assert {f["status"] for f in status["files"]} == {"missing"} and not status["ready"]
    assert dataset_status("reber", tmp_path)["kind"] == "generated"


def test_torchvision_folder_is_found(tmp_path, tiny_mnist):
    write_files(tmp_path / "MNIST" / "raw", tiny_mnist[1])
    assert load_dataset("mnist", data_dir=tmp_path, download=False).info["folder"] == str(tmp_path / "MNIST" / "raw")


# ------------------------------------------------------------------------------------- tiny CIFAR


@pytest.fixture
def tiny_cifar(monkeypatch):
    """CIFAR-10's spec shrunk to batches of 3 records, in both layouts and an archive of each."""
    rng = np.random.default_rng(1)
    batches = [(rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 3, dtype=np.uint8))
               for _ in range(6)]
    old = registry.DATASETS["cifar10"]
    bin_blobs, py_blobs = {}, {}
    for f, (x, y) in zip(old.layouts[0].files, batches):
        bin_blobs[f.name] = np.concatenate([y[:, None], x.reshape(3, -1)], axis=1).tobytes()
    for f, (x, y) in zip(old.layouts[1].files, batches):
        py_blobs[f.name] = pickle.dumps({"labels": y.tolist(), "data": x.reshape(3, -1)}, protocol=2)

    def tarball(blobs):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, blob in blobs.items():
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return buf.getvalue()

    archives = {"cifar-10-binary.tar.gz": tarball(bin_blobs), "cifar-10-python.tar.gz": tarball(py_blobs)}
    bin_layout = dataclasses.replace(old.layouts[0], files=tuple(
        dataclasses.replace(f, records=3, sha256=hashlib.sha256(bin_blobs[f.name]).hexdigest())
        for f in old.layouts[0].files),
                                     archive_md5=hashlib.md5(archives["cifar-10-binary.tar.gz"]).hexdigest())
    py_layout = dataclasses.replace(old.layouts[1], files=tuple(
        dataclasses.replace(f, records=3, md5=hashlib.md5(py_blobs[f.name]).hexdigest()) for f in old.layouts[1].files),
        archive_md5=hashlib.md5(archives["cifar-10-python.tar.gz"]).hexdigest())
    spec = dataclasses.replace(old, layouts=(bin_layout, py_layout), train_records=15, test_records=3, default_val=5)
    monkeypatch.setitem(registry.DATASETS, "cifar10", spec)
    return batches, bin_blobs, py_blobs, archives


def test_cifar_both_layouts_give_the_same_data(tmp_path, tiny_cifar):
    batches, bin_blobs, py_blobs, _ = tiny_cifar
    write_files(tmp_path / "a" / "cifar10", bin_blobs)
    write_files(tmp_path / "b", py_blobs)  # torchvision puts cifar-10-batches-py directly in its root
    a = load_dataset("cifar10", data_dir=tmp_path / "a", download=False)
    b = load_dataset("cifar10", data_dir=tmp_path / "b", download=False)
    assert (a.info["layout"], b.info["layout"]) == ("bin", "py")
    assert a.train.x.shape == (10, 3, 32, 32) and len(a.val) == 5 and len(a.test) == 3
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    raw = batches[5][0].astype(np.float32) / 255
    mean, std = np.array(a.info["normalisation"]["mean"]), np.array(a.info["normalisation"]["std"])
    np.testing.assert_allclose(a.test.x.numpy(), (raw - mean[:, None, None]) / std[:, None, None], atol=1e-5)
    assert {f["checksum"] for f in b.info["files"].values()} == {"verified"}
    assert {f["status"] for f in dataset_status("cifar10", tmp_path / "b")["files"]} == {"verified"}


def test_cifar_fetch_extracts_the_archive(tmp_path, tiny_cifar, fake_mirror):
    served, asked = fake_mirror
    served.update(tiny_cifar[3])
    written = fetch_dataset("cifar10", tmp_path, progress=False)
    assert asked == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert len(written) == 7  # the archive and six batches
    assert load_dataset("cifar10", data_dir=tmp_path, download=False).info["layout"] == "bin"
    fetch_dataset("cifar10", tmp_path, progress=False, layout="py")
    assert load_dataset("cifar10", data_dir=tmp_path, download=False, layout="py").info["layout"] == "py"


def test_cifar_truncated_test_batch(tmp_path, tiny_cifar):
    blobs = dict(tiny_cifar[1])
    blobs["cifar-10-batches-bin/test_batch.bin"] = blobs["cifar-10-batches-bin/test_batch.bin"][: 3073]
    write_files(tmp_path / "cifar10", blobs)
    with pytest.raises(TruncatedFileError, match="holds 1 of 3 records"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    data = load_dataset("cifar10", data_dir=tmp_path, download=False, allow_partial=True)
    assert (data.info["test_examples"], data.info["test_expected"], data.info["partial"]) == (1, 3, True)


def test_reber_names_forward_to_the_generator(monkeypatch):
    reber = pytest.importorskip("nas.datasets.reber")
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return "dataset"

    monkeypatch.setattr(reber, "reber_classification_dataset", fake)
    monkeypatch.setattr(reber, "embedded_reber_dataset", fake)
    assert load_dataset("reber", split_seed=7, n=50) == "dataset"
    assert load_dataset("embedded_reber", split_seed=1, val_fraction=0.25, length=9) == "dataset"
    assert calls == [{"seed": 7, "n": 50}, {"seed": 1, "val_fraction": 0.25, "length": 9}]


def test_generated_sets_take_seed_or_split_seed():
    import torch

    from nas.datasets import load_dataset

    a = load_dataset("reber", n=200, seed=3)
    b = load_dataset("reber", n=200, split_seed=3)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    with pytest.raises(ConfigError, match="seed"):
        load_dataset("reber", n=200, seed=3, split_seed=4)
