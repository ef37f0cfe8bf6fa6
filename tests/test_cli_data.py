"""``nas data``: info (text and JSON), fetch (offline, never overwriting), reber; ``--data-dir`` before or after
the sub-command."""

from __future__ import annotations

import json
import os
import urllib.error

import pytest
from click.testing import CliRunner

from nas.cli.main import cli, main
from nas.datasets import download as dl
from nas.exceptions import DatasetNotFoundError


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_reports_shared_mnist_verified_and_cifar_truncated(capsys, shared_data_dir, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(shared_data_dir))
    code, out, err = run(capsys, "data", "info")
    assert code == 0, err
    assert "(from NAS_DATA_DIR)" in out
    mnist_block = out.split("mnist:", 1)[1].split("fashion_mnist:", 1)[0]
    assert mnist_block.count("verified") == 4 and ": ready" in mnist_block
    assert "test_batch.bin    truncated (1000 of 10000 records)" in out
    assert "usable only with --allow-partial-data" in out
    assert "fashion_mnist:" in out and "missing" in out
    assert "reber: generated" in out


def test_info_json(capsys, shared_data_dir):
    code, out, _ = run(capsys, "data", "--data-dir", str(shared_data_dir), "info", "--json", "mnist", "cifar10")
    assert code == 0
    payload = json.loads(out)
    assert payload["data_dir_source"] == "--data-dir"
    by_name = {d["name"]: d for d in payload["datasets"]}
    assert list(by_name) == ["mnist", "cifar10"]
    assert [f["status"] for f in by_name["mnist"]["files"]] == ["verified"] * 4
    test_row = by_name["cifar10"]["files"][-1]
    assert (test_row["status"], test_row["records"], test_row["expected"]) == (
        "truncated (1000 of 10000 records)", 1000, 10000)


def test_info_unknown_name_is_one_line_error(capsys, tmp_path):
    code, out, err = run(capsys, "data", "--data-dir", str(tmp_path), "info", "svhn")
    assert code == 1 and out == ""
    assert err.startswith("error: unknown dataset 'svhn'; expected one of:") and err.count("\n") == 1


def test_fetch_without_network_is_one_line_error(capsys, tmp_path, monkeypatch):
    def offline(url, out, *, progress=True, desc=None):
        raise urllib.error.URLError("simulated: Name or service not known")

    monkeypatch.setattr(dl, "_fetch_url", offline)
    code, out, err = run(capsys, "data", "--data-dir", str(tmp_path), "fetch", "--no-progress", "fashion_mnist")
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not download train-images-idx3-ubyte.gz" in errors[0]
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_fetch_never_replaces_the_truncated_shared_file(capsys, shared_data_dir, monkeypatch):
    monkeypatch.setattr(dl, "_fetch_url", lambda *a, **k: pytest.fail("nothing is missing, nothing to download"))
    code, _, err = run(capsys, "data", "--data-dir", str(shared_data_dir), "fetch", "cifar10")
    assert code == 1
    assert "test_batch.bin: truncated (1000 of 10000 records)" in err and "never replaced" in err


def test_fetch_present_files_downloads_nothing(capsys, shared_data_dir, monkeypatch):
    monkeypatch.setattr(dl, "_fetch_url", lambda *a, **k: pytest.fail("nothing is missing, nothing to download"))
    code, out, _ = run(capsys, "data", "--data-dir", str(shared_data_dir), "fetch", "mnist")
    assert code == 0 and "nothing downloaded" in out


def test_fetch_generated_dataset_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "data", "--data-dir", str(tmp_path), "fetch", "reber")
    assert code == 1 and "nothing to fetch" in err


def test_reber_writes_csv_and_refuses_to_overwrite(capsys, tmp_path):
    pytest.importorskip("nas.datasets.reber")
    out_file = tmp_path / "sets" / "reber.csv"
    code, out, err = run(capsys, "data", "reber", "--n", "40", "--seed", "3", "--out", str(out_file))
    assert code == 0, err
    lines = out_file.read_text().splitlines()
    assert lines[0].startswith("string,label") and len(lines) == 41
    first = out_file.read_bytes()
    code, _, err = run(capsys, "data", "reber", "--n", "40", "--seed", "4", "--out", str(out_file))
    assert code == 1 and "exists; pass --overwrite" in err and out_file.read_bytes() == first
    code, _, _ = run(capsys, "data", "reber", "--n", "40", "--seed", "3", "--out", str(out_file), "--overwrite")
    assert code == 0 and out_file.read_bytes() == first  # same seed, same file


def test_reber_embedded_kind(capsys, tmp_path):
    pytest.importorskip("nas.datasets.reber")
    out_file = tmp_path / "emb.csv"
    code, _, err = run(capsys, "data", "reber", "--n", "10", "--out", str(out_file), "--kind", "embedded")
    assert code == 0, err
    assert out_file.read_text().splitlines()[0] == "string,split"


def test_reber_bad_kind_is_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "data", "reber", "--out", str(tmp_path / "x.csv"), "--kind", "spiral")
    assert code == 2 and "Invalid value for '--kind'" in err


# ------------------------------------------------------------------------- --data-dir after `info`


def test_info_takes_data_dir_after_the_subcommand(shared_data_dir, monkeypatch):
    monkeypatch.delenv("NAS_DATA_DIR", raising=False)
    runner = CliRunner()
    after = runner.invoke(cli, ["data", "info", "--data-dir", str(shared_data_dir), "mnist"])
    before = runner.invoke(cli, ["data", "--data-dir", str(shared_data_dir), "info", "mnist"])
    assert after.exit_code == 0, after.output
    assert "(from --data-dir)" in after.output and after.output.count("verified") == 4
    assert before.exit_code == 0 and before.output == after.output
    same = runner.invoke(cli, ["data", "--data-dir", str(shared_data_dir), "info", "--data-dir", str(shared_data_dir)])
    assert same.exit_code == 0, same.output


def test_info_json_with_data_dir_after_the_subcommand(shared_data_dir):
    result = CliRunner().invoke(cli, ["data", "info", "mnist", "--json", "--data-dir", str(shared_data_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["data_dir_source"] == "--data-dir" and payload["data_dir"] == os.path.abspath(shared_data_dir)
    assert [f["status"] for f in payload["datasets"][0]["files"]] == ["verified"] * 4


@pytest.mark.parametrize("where", ["after", "before"])
@pytest.mark.parametrize("bad", ["missing", "file"])
def test_bad_data_dir_is_one_line_error(capsys, tmp_path, where, bad):
    path = tmp_path / "no-such-folder"
    if bad == "file":
        path = tmp_path / "a-file"
        path.write_text("x")
    argv = ["data", "info", "--data-dir", str(path)] if where == "after" else ["data", "--data-dir", str(path), "info"]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(f"error: data dir {path} (from --data-dir) ") and err.count("\n") == 1
    assert ("does not exist" if bad == "missing" else "is not a folder") in err
    result = CliRunner().invoke(cli, argv)  # the click command itself fails with the same typed error
    assert result.exit_code != 0 and isinstance(result.exception, DatasetNotFoundError)


def test_missing_nas_data_dir_is_one_line_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "typo"))
    code, _, err = run(capsys, "data", "info")
    assert code == 1 and err.count("\n") == 1 and "(from NAS_DATA_DIR) does not exist" in err


def test_two_different_data_dirs_are_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "data", "--data-dir", str(tmp_path), "info", "--data-dir", str(tmp_path / "other"))
    assert code == 1 and err.startswith("error: --data-dir given twice") and err.count("\n") == 1


def test_fetch_takes_data_dir_after_the_subcommand(capsys, shared_data_dir, monkeypatch):
    monkeypatch.setattr(dl, "_fetch_url", lambda *a, **k: pytest.fail("nothing is missing, nothing to download"))
    code, out, _ = run(capsys, "data", "fetch", "mnist", "--data-dir", str(shared_data_dir))
    assert code == 0 and "nothing downloaded" in out
