"""``nas arch``: sample, describe, export, import, join and compare architectures (genomes).

Every sub-command prints JSON on stdout (``import`` of many graphs without ``--jsonl``: JSON
lines). Bad input (unknown prior, out-of-range parameter, a graph that cannot be generated, an
edgeless graph, unreadable files, duplicate ids, an existing output) raises a typed
:class:`~search_spaces.exceptions.SparseNASError`, which ``nas`` turns into one line and exit 1.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Sequence

import click
import numpy as np

from nas.cli.options import (
    WholeHelpGroup,
    check_output,
    old_spelling,
    overwrite_option,
    renamed,
    seed_option,
    warn_if_large,
)
from nas.exceptions import ConfigError
from nas.provenance import write_text_atomic
from nas.training.equal_cost import ff_nonzero_weights, width_for_weight_target
from predictors.data import genome_record
from predictors.exceptions import EvaluationDataError
from search_spaces.builders import build_model
from search_spaces.distance import layer_distances
from search_spaces.exceptions import InvalidGenomeError
from search_spaces.features import graph_features
from search_spaces.genome import FAMILIES, READOUTS, Genome, architecture_key
from search_spaces.graph_files import (
    GenomeRecord,
    collect_graph_files,
    genome_record_line,
    genomes_from_files,
    read_genomes_jsonl,
    write_genomes_jsonl,
    write_output,
)
from search_spaces.graph_io import (
    READ_FORMATS,
    WRITE_FORMATS,
    GraphFormatError,
    import_genome,
    write_graph,
)
from search_spaces.priors import get_prior, list_priors
from search_spaces.validation import check_value

#: Default width of ``nas arch sample`` for family ``ff``: wide enough that a 100-vertex sparse MLP
#: of any built-in prior learns MNIST (measured: docs/results.md); ``--width 1`` is the paper's
#: network. Recurrent and CNN genomes default to width 1 (a CNN vertex already has its channels).
SAMPLE_WIDTH = 16


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def load_genome(path: str) -> Genome:
    """Read a genome JSON file (``-`` for stdin): a genome, or any record the product writes that
    holds one under ``genome`` (a search's ``best/genome.json``, a line of ``nas arch import
    --jsonl``).

    Raises
    ------
    GraphFormatError
        The file cannot be read.
    InvalidGenomeError
        Its content is not a valid genome.
    """
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise GraphFormatError(f"cannot read genome file {path!r}: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise GraphFormatError(f"cannot read genome file {path!r}: not UTF-8 text (expected genome JSON)") from None
    _, genome = genome_record(text)
    warn_if_large([genome])
    return genome


def _parse_params(prior_name: str, pairs: tuple[str, ...]) -> dict:
    prior = get_prior(prior_name)
    out = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidGenomeError("params", pair, "NAME=VALUE")
        spec = prior.spec(name)
        try:
            value = float(text) if spec.kind == "float" else int(text)
        except ValueError:
            raise InvalidGenomeError(f"params.{name}", text, spec.describe()) from None
        out[name] = spec.validate(value)
    return out


@click.group("arch", cls=WholeHelpGroup)
def cli():
    """Sample, describe, export, import, join and compare architectures (genomes)."""


@cli.command("priors")
def priors_cmd():
    """List the registered priors and their parameter spaces."""
    out = {}
    for name in list_priors():
        prior = get_prior(name)
        out[name] = {
            "doc": prior.doc,
            "min_nodes": prior.min_nodes,
            "params": {p.name: {"kind": p.kind, "low": p.low, "high": p.high, "log": p.log, "doc": p.doc} for p in prior.params},
        }
    _echo_json(out)


@cli.command("sample")
@click.option("--prior", "prior_name", required=True, help="Registered prior (see `nas arch priors`).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Fix a prior parameter; repeatable.")
@click.option("--nodes", type=int, required=True, help="Number of graph vertices.")
@seed_option(default=0, show_default=True, help="Graph seed; also seeds the drawn parameters.")
@click.option("--family", type=click.Choice(FAMILIES), default="ff", show_default=True)
@click.option("--width", type=int, default=None,
              help=f"Units per vertex (1: the paper's network). Default: {SAMPLE_WIDTH} for family ff, else 1.")
@click.option("--readout", type=click.Choice(READOUTS), default="sinks", show_default=True,
              help="Vertices feeding the output: every sink, or the last layer only (the paper's).")
@click.option("--weight-target", type=int,
              help="Family ff: set the width so the MLP's nonzero weights come closest to this.")
@old_spelling("--budget", "budget", type=int)
@click.option("--in-features", type=int, default=784, show_default=True, help="Input size the --weight-target is counted for.")
@click.option("--classes", type=int, default=10, show_default=True, help="Outputs the --weight-target is counted for.")
def sample_cmd(prior_name, params, nodes, seed, family, width, readout, weight_target, budget, in_features, classes):
    """Print a genome as JSON; parameters not given are drawn from the prior's space with SEED."""
    # the genome's own seed rule, checked before the seed draws the prior's parameters
    check_value("Genome", "seed", seed, Genome.constraints["seed"], error=InvalidGenomeError)
    prior = get_prior(prior_name)
    fixed = _parse_params(prior_name, params)
    if nodes < prior.min_nodes:
        raise InvalidGenomeError("nodes", nodes, f"at least {prior.min_nodes} for prior {prior_name!r}")
    drawn = prior.sample_params(nodes, np.random.default_rng(seed), fixed=fixed)
    if width is None:
        width = SAMPLE_WIDTH if family == "ff" else 1
    genome = Genome(prior_name, drawn, nodes=nodes, seed=seed, family=family, width=width, readout=readout)
    genome.dag()  # an edgeless or ungeneratable graph fails here, with its values
    weight_target = renamed(weight_target, budget, "--weight-target", "--budget")
    if weight_target is not None:
        if family != "ff":
            raise ConfigError(f"--weight-target counts the weights of family 'ff' only, got family {family!r}")
        for name, value in (("--weight-target", weight_target), ("--in-features", in_features), ("--classes", classes)):
            if value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        genome = width_for_weight_target(genome, weight_target, lambda g: ff_nonzero_weights(g, in_features, classes))
    click.echo(genome.to_json())


@cli.command("describe")
@click.argument("genome_path", metavar="GENOME.json")
def describe_cmd(genome_path):
    """Print a genome's graph features (name -> value), layer sizes, key, architecture key and WL hash."""
    genome = load_genome(genome_path)
    dag = genome.dag()
    _echo_json(
        {
            "genome": str(genome),
            "key": genome.key,
            "architecture": architecture_key(genome),
            "wl_hash": dag.wl_hash(),
            "layer_sizes": list(dag.layer_sizes),
            "features": graph_features(dag),
        }
    )


@cli.command("export")
@click.argument("genome_path", metavar="GENOME.json")
@click.option("--format", "fmt", type=click.Choice(WRITE_FORMATS), default=None, help="Default: from --out's suffix.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), metavar="FILE", help="File to write.")
@overwrite_option()
def export_cmd(genome_path, fmt, out_path, overwrite):
    """Write a genome's layered DAG as GraphML, an edge list, node-link JSON or a PNG drawing."""
    check_output(out_path, overwrite)
    genome = load_genome(genome_path)
    path = write_graph(genome, out_path, fmt)
    _echo_json({"written": str(path), "format": fmt or path.suffix.lstrip(".")})


@cli.command("import")
@click.argument("graph_paths", metavar="GRAPH_OR_DIR...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(READ_FORMATS), default=None,
              help="Format of every file. Default: from each file's suffix; in directories, only files of this format.")
@click.option("--family", type=click.Choice(FAMILIES), default="ff", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="One graph: also write the genome here.")
@click.option("--jsonl", "jsonl_path", type=click.Path(dir_okay=False), default=None,
              help="Write every genome as a JSON line {id, genome, source} here (all or nothing).")
@click.option("--width", type=click.IntRange(1), default=1, show_default=True,
              help="Units per vertex of every imported network (1: the paper's).")
@click.option("--readout", type=click.Choice(READOUTS), default="sinks", show_default=True,
              help="Which vertices feed the output: every sink, or the last layer only (the paper's networks: last).")
@overwrite_option("Replace an existing --out or --jsonl file.")
def import_cmd(graph_paths, fmt, family, out_path, jsonl_path, width, readout, overwrite):
    """Turn your own graphs into genomes (prior `explicit`, edges carried as edits).

    One graph file: print its genome JSON. Several files or a directory (walked recursively; files
    whose suffix is no graph format are skipped), or --jsonl: one JSON line per graph,
    {"id": ..., "genome": {...}, "source": ...}, written to --jsonl OUT (else printed), with
    id = the file's stem (in a directory: its relative path without suffix). If any file fails,
    the error names it and nothing is written or printed.
    """
    batch = jsonl_path is not None or len(graph_paths) > 1 or Path(graph_paths[0]).is_dir()
    if not batch:
        if out_path:
            check_output(out_path, overwrite)
        genome = import_genome(graph_paths[0], fmt, family=family, width=width, readout=readout)
        text = genome.to_json()
        if out_path:
            write_text_atomic(out_path, text + "\n")
        click.echo(text)
        return
    if out_path:
        raise click.UsageError("--out writes one genome; for several graphs use --jsonl OUT")
    if jsonl_path is not None:
        check_output(jsonl_path, overwrite, "--jsonl")  # first, so that a long import is not wasted
    files, skipped = collect_graph_files(graph_paths, fmt)
    records = genomes_from_files(files, fmt, family=family, width=width, readout=readout)
    summary = f"read {len(records)} graphs; skipped {len(skipped)} files whose suffix is no {fmt or 'graph'} format"
    if jsonl_path is None:
        for record in records:  # nothing is printed before every file parsed
            click.echo(genome_record_line(*record))
        click.echo(summary, err=True)
        return
    path = write_genomes_jsonl(records, jsonl_path, force=overwrite)
    click.echo(f"{summary}; wrote {path}", err=True)
    click.echo(json.dumps({"written": str(path), "graphs": len(records), "skipped": len(skipped)}))


def _read_metrics(path: Path, id_column: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.is_file():
        raise EvaluationDataError(f"metrics file {str(path)!r} does not exist or is not a file")
    try:
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise EvaluationDataError(f"cannot read metrics file {str(path)!r} as UTF-8 CSV: {err}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise EvaluationDataError(f"{path}: expected a CSV header with an {id_column!r} column, the file is empty")
    header = [cell.strip() for cell in rows[0]]
    doubled = sorted({c for c in header if header.count(c) > 1})
    if doubled:
        raise EvaluationDataError(f"{path}: expected unique column names, got {doubled} more than once")
    if id_column not in header:
        raise EvaluationDataError(f"{path}: id column {id_column!r} not found; columns are {header} (choose one with --id-column)")
    if "genome" in header:
        raise EvaluationDataError(f"{path}: expected metrics without a 'genome' column (the join adds it), got one")
    body = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise EvaluationDataError(f"{path}: line {line}: expected {len(header)} fields like the header, got {len(row)}")
        body.append((line, row))
    if not body:
        raise EvaluationDataError(f"{path}: expected at least one row of metrics, got only the header")
    return header, body


def _few(items: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(repr(i) for i in items[:shown]) + more


def join_metrics(records: Sequence[GenomeRecord], metrics_path, id_column: str = "id") -> tuple[list[str], list[list[str]], list[str]]:
    """Join genome records with a CSV of metrics by id (the evaluations format of ``nas predictor``).

    Every metric row must find its genome; genomes without a metric row are dropped (and
    returned). Metric values are kept as written (the predictor checks its target).

    Parameters
    ----------
    records : sequence of (str, Genome, str)
        ``(id, genome, source)``, e.g. from :func:`~search_spaces.graph_files.read_genomes_jsonl`.
    metrics_path : str or Path
        CSV with a header, one row per architecture, an id column and metric columns.
    id_column : str
        Name of the CSV's id column.

    Returns
    -------
    header : list of str
        ``[id_column, "genome", *metric columns]``.
    rows : list of list of str
        One per metric row, in the CSV's order; ``genome`` holds the canonical genome JSON.
    dropped : list of str
        Ids of genomes without a metric row.

    Raises
    ------
    EvaluationDataError
        Missing or unreadable CSV, no id column, a ``genome`` column already there, a row with a
        wrong number of fields, an empty or duplicate id, or ids without a genome (counted, a few
        shown).
    """
    path = Path(metrics_path)
    header, body = _read_metrics(path, id_column)
    at = header.index(id_column)
    genomes = {graph_id: genome for graph_id, genome, _ in records}
    first_line: dict[str, int] = {}
    unmatched = []
    for line, row in body:
        key = row[at].strip()
        if not key:
            raise EvaluationDataError(f"{path}: line {line}: expected an id in column {id_column!r}, got an empty cell")
        if key in first_line:
            raise EvaluationDataError(f"{path}: duplicate id {key!r} on lines {first_line[key]} and {line}; expected one row per id")
        first_line[key] = line
        if key not in genomes:
            unmatched.append(key)
    if unmatched:
        raise EvaluationDataError(
            f"{path}: {len(unmatched)} of {len(body)} metric rows have no genome with that id: {_few(unmatched)}; "
            f"expected every id among the {len(genomes)} genomes"
        )
    others = [i for i in range(len(header)) if i != at]
    out_header = [id_column, "genome", *(header[i] for i in others)]
    rows = [[row[at].strip(), genomes[row[at].strip()].to_json(), *(row[i] for i in others)] for _, row in body]
    dropped = [graph_id for graph_id in genomes if graph_id not in first_line]
    return out_header, rows, dropped


@cli.command("join")
@click.argument("genomes_path", metavar="GENOMES.jsonl")
@click.argument("metrics_path", metavar="METRICS.csv")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Evaluations CSV to write.")
@click.option("--id-column", default="id", show_default=True, help="The id column of METRICS.csv.")
@overwrite_option()
def join_cmd(genomes_path, metrics_path, out_path, id_column, overwrite):
    """Join imported genomes with metrics you measured into an evaluations CSV.

    The output is what `nas predictor evaluate --data OUT --target COLUMN` reads: the id column,
    a `genome` column and the metric columns as written. Metric rows whose id has no genome are an
    error; genomes without metrics are dropped (counted on stderr).
    """
    check_output(out_path, overwrite)
    records = read_genomes_jsonl(genomes_path)
    header, rows, dropped = join_metrics(records, metrics_path, id_column)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = write_output(out_path, buffer.getvalue(), force=overwrite)
    if dropped:
        click.echo(f"dropped {len(dropped)} of {len(records)} genomes without metrics: {_few(dropped)}", err=True)
    click.echo(f"joined {len(rows)} genomes with metrics {header[2:]}; wrote {path}", err=True)
    click.echo(json.dumps({"written": str(path), "rows": len(rows), "dropped": len(dropped), "columns": header}))


@cli.command("distance", short_help="Print the NNSTD (Liu et al. 2020) of the networks built from two genomes.")
@click.argument("a_path", metavar="A.json")
@click.argument("b_path", metavar="B.json")
def distance_cmd(a_path, b_path):
    """Print the NNSTD (Liu et al. 2020) of the networks built from two genomes.

    Both are built by the builders of their family; their main-path masks must have equal shapes.
    """
    a, b = load_genome(a_path), load_genome(b_path)
    masks_a, masks_b = network_masks(a), network_masks(b)
    per_layer = layer_distances(masks_a, masks_b)
    click.echo(json.dumps({"nnstd": float(np.mean(per_layer)), "layers": len(per_layer), "layer_distances": per_layer}))


def network_masks(genome: Genome) -> list[np.ndarray]:
    """The main-path masks of the torch network built from ``genome`` (in layer order).

    Uses the model's ``layer_masks()`` (the chain of main-path masks); models without it fall back
    to the masks of ``masked_parameters()`` in order.
    """
    family = genome.family
    kwargs = {"num_classes": 2}
    if family == "ff":
        kwargs["in_features"] = 1
    elif family.startswith("rnn:"):
        kwargs["vocab_size"] = 2
    else:
        kwargs["in_channels"] = 3
    model = build_model(genome.dag(), family, **kwargs)
    if hasattr(model, "layer_masks"):
        masks = list(model.layer_masks())
    else:
        masks = [mask for _, _, mask in model.masked_parameters()]
    return [np.asarray(m.detach().cpu().numpy() if hasattr(m, "detach") else m) for m in masks]
