"""``nas data``: inspect the data directory, fetch datasets, generate Reber grammar sets.

``--data-dir`` is accepted before the sub-command (``nas data --data-dir DIR info``) and, like on
every other command, after it (``nas data info --data-dir DIR``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from nas.cli.options import WholeHelpGroup, check_output, seed_option
from nas.datasets.download import DestinationExistsError
from nas.datasets.fetch import dataset_status, fetch_dataset
from nas.datasets.paths import ENV_VAR, resolve_data_dir
from nas.datasets.reber import write_reber_csv
from nas.datasets.registry import list_datasets
from nas.exceptions import ConfigError, DataError, DatasetNotFoundError

_GOOD = {"verified", "no known checksum (record counts ok)"}


def _data_dir_source(data_dir: str | None) -> str:
    if data_dir:
        return "--data-dir"
    return ENV_VAR if os.environ.get(ENV_VAR) else "user cache folder"


# Not click.Path(file_okay=False): its refusal is a multi-line usage error; _data_dir says it in one line.
_data_dir_option = click.option(
    "--data-dir", type=click.Path(), default=None, metavar="DIRECTORY",
    help=f"Folder holding mnist/, fashion_mnist/, cifar10/ (default: ${ENV_VAR}, else the user cache folder).",
)


@click.group(cls=WholeHelpGroup)
@_data_dir_option
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """Inspect, fetch and generate datasets."""
    ctx.ensure_object(dict)["data_dir"] = data_dir


def _data_dir(ctx: click.Context, data_dir: str | None, *, must_exist: bool) -> str | None:
    """The ``--data-dir`` in force (the sub-command's, else the group's), checked.

    A folder named by ``--data-dir`` or ``$NAS_DATA_DIR`` that is a file, or that does not exist
    when ``must_exist`` (a typo, most likely), is an error; the default cache folder need not exist.
    """
    group = ctx.obj["data_dir"]
    if data_dir and group and resolve_data_dir(data_dir) != resolve_data_dir(group):
        raise ConfigError(f"--data-dir given twice: {group!r} before the sub-command and {data_dir!r} after it")
    data_dir = data_dir or group
    source = _data_dir_source(data_dir)
    if source != "user cache folder":
        root = resolve_data_dir(data_dir)
        if root.exists() and not root.is_dir():
            raise DatasetNotFoundError(f"data dir {root} (from {source}) is not a folder")
        if must_exist and not root.exists():
            raise DatasetNotFoundError(
                f"data dir {root} (from {source}) does not exist; give an existing folder holding mnist/, "
                "fashion_mnist/ or cifar10/"
            )
    return data_dir


def _verdict(status: dict) -> str:
    if status["kind"] == "generated":
        return "generated on demand (no files)"
    if status["ready"]:
        return "ready"
    if status["usable_partial"]:
        return "usable only with --allow-partial-data (truncated files)"
    if all(not f["present"] for f in status["files"]):
        return f"missing (run `nas data fetch {status['name']}`)"
    return "not usable"


@cli.command("info")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_data_dir_option
@click.pass_context
def info_cmd(ctx: click.Context, names: tuple[str, ...], as_json: bool, data_dir: str | None) -> None:
    """Show where each dataset's files are and whether they check out.

    With NAMES, only those datasets. A file is verified by the SHA-256 of its uncompressed data, so
    a re-compressed or uncompressed copy of the right data is "verified". Statuses: verified,
    checksum mismatch, truncated (n of m records), no known checksum (record counts ok), corrupt,
    missing.
    """
    data_dir = _data_dir(ctx, data_dir, must_exist=True)
    statuses = [dataset_status(name, data_dir) for name in (names or list_datasets())]
    root = resolve_data_dir(data_dir)
    # datasets asked for by name must be usable (ready, generated, or truncated but accepted with
    # --allow-partial-data); the overview of all datasets only reports
    unusable = [s["name"] for s in statuses if names and not (s["kind"] == "generated" or s["ready"] or s["usable_partial"])]
    if as_json:
        payload = {"data_dir": str(root), "data_dir_source": _data_dir_source(data_dir), "datasets": statuses}
        click.echo(json.dumps(payload, indent=2))
        if unusable:
            ctx.exit(1)
        return
    click.echo(f"data dir: {root} (from {_data_dir_source(data_dir)})")
    for status in statuses:
        where = f" {status['folder']} [{status['layout']}]:" if status["folder"] else ""
        click.echo(f"{status['name']}:{where} {_verdict(status)}")
        width = max((len(f["file"]) for f in status["files"]), default=0)
        for f in status["files"]:
            click.echo(f"  {f['file']:<{width}}  {f['status']}")
            if "detail" in f:
                click.echo(f"  {'':<{width}}  {f['detail']}")
    if unusable:
        click.echo(f"error: not usable: {', '.join(unusable)}", err=True)
        ctx.exit(1)


@cli.command("fetch")
@click.argument("name")
@click.option("--layout", type=click.Choice(["bin", "py"]), default=None, help="CIFAR-10 layout (default: binary).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show download progress bars.")
@_data_dir_option
@click.pass_context
def fetch_cmd(ctx: click.Context, name: str, layout: str | None, progress: bool, data_dir: str | None) -> None:
    """Download and verify the missing files of dataset NAME.

    Files already present are never replaced; problems with them are reported instead.
    """
    data_dir = _data_dir(ctx, data_dir, must_exist=False)
    written = fetch_dataset(name, data_dir, progress=progress, layout=layout)
    for path in written:
        click.echo(f"downloaded {path}")
    status = dataset_status(name, data_dir)
    bad = [f"{f['file']}: {f['status']}" for f in status["files"] if f["status"] not in _GOOD]
    if bad:
        raise DataError(
            f"{name} in {status['folder']}: {'; '.join(bad)}; existing files are never replaced, "
            "move them away and run `nas data fetch` again"
        )
    click.echo(f"{name}: all files present and checked in {status['folder']}"
               + ("" if written else " (nothing downloaded)"))


@cli.command("reber")
@click.option("--n", "n", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of strings.")
@seed_option(default=0, show_default=True, help="Generator seed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, metavar="FILE",
              help="CSV file to write.")
@click.option("--kind", type=click.Choice(["classification", "embedded"]), default="classification",
              show_default=True, help="Valid/invalid classification strings or embedded Reber strings.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def reber_cmd(n: int, seed: int, out: Path, kind: str, overwrite: bool) -> None:
    """Write a generated, seeded Reber grammar set as CSV."""
    if out.exists() and not overwrite:
        raise DestinationExistsError(f"{out} exists; pass --overwrite to replace it")
    check_output(out, overwrite)  # a folder, or a path under a file: one line, nothing written
    # write_reber_csv writes through a temporary file and an atomic rename.
    write_reber_csv(out, n=n, seed=seed, kind=kind)
    click.echo(f"wrote {n} {kind} Reber strings (seed {seed}) to {out}")
