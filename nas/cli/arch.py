"""``nas arch``: sample, describe, export, import and compare architectures (genomes).

Every sub-command prints JSON on stdout. Bad input (unknown prior, out-of-range parameter, a graph
that cannot be generated, an edgeless graph, unreadable files) raises a typed
:class:`~search_spaces.exceptions.SparseNASError`, which ``nas`` turns into one line and exit 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from search_spaces.exceptions import InvalidGenomeError, SearchSpaceError
from search_spaces.genome import FAMILIES, MAX_SEED, READOUTS, Genome
from search_spaces.graph_io import READ_FORMATS, WRITE_FORMATS, GraphFormatError, import_genome, write_graph
from search_spaces.priors import get_prior, list_priors

#: Default width of ``nas arch sample`` for family ``ff``: wide enough that a 100-vertex sparse MLP
#: of any built-in prior learns MNIST (measured: docs/results.md); ``--width 1`` is the paper's
#: network. Recurrent and CNN genomes default to width 1 (a CNN vertex already has its channels).
SAMPLE_WIDTH = 16


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def load_genome(path: str) -> Genome:
    """Read a genome JSON file (``-`` for stdin).

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
    return Genome.from_json(text)


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


@click.group("arch")
def cli():
    """Sample, describe, export, import and compare architectures (genomes)."""


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
@click.option("--seed", type=int, default=0, show_default=True, help="Graph seed; also seeds the drawn parameters.")
@click.option("--family", type=click.Choice(FAMILIES), default="ff", show_default=True)
@click.option("--width", type=int, default=None,
              help=f"Units per vertex (1: the paper's network). Default: {SAMPLE_WIDTH} for family ff, else 1.")
@click.option("--readout", type=click.Choice(READOUTS), default="sinks", show_default=True,
              help="Vertices feeding the output: every sink, or the last layer only (the paper's).")
@click.option("--budget", type=int, help="Family ff: set the width so the MLP's nonzero weights come closest to this.")
@click.option("--in-features", type=int, default=784, show_default=True, help="Input size the --budget is counted for.")
@click.option("--classes", type=int, default=10, show_default=True, help="Outputs the --budget is counted for.")
def sample_cmd(prior_name, params, nodes, seed, family, width, readout, budget, in_features, classes):
    """Print a genome as JSON; parameters not given are drawn from the prior's space with SEED."""
    if not 0 <= seed <= MAX_SEED:
        raise InvalidGenomeError("seed", seed, f"an integer in [0, {MAX_SEED}]")
    prior = get_prior(prior_name)
    fixed = _parse_params(prior_name, params)
    if nodes < prior.min_nodes:
        raise InvalidGenomeError("nodes", nodes, f"at least {prior.min_nodes} for prior {prior_name!r}")
    drawn = prior.sample_params(nodes, np.random.default_rng(seed), fixed=fixed)
    if width is None:
        width = SAMPLE_WIDTH if family == "ff" else 1
    genome = Genome(prior_name, drawn, nodes=nodes, seed=seed, family=family, width=width, readout=readout)
    genome.dag()  # an edgeless or ungeneratable graph fails here, with its values
    if budget is not None:
        from nas.budget import ff_nonzero_weights, width_for_budget
        from nas.exceptions import ConfigError

        if family != "ff":
            raise ConfigError(f"--budget counts the weights of family 'ff' only, got family {family!r}")
        for name, value in (("--budget", budget), ("--in-features", in_features), ("--classes", classes)):
            if value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        genome = width_for_budget(genome, budget, lambda g: ff_nonzero_weights(g, in_features, classes))
    click.echo(genome.to_json())


@cli.command("describe")
@click.argument("genome_path", metavar="GENOME.json")
def describe_cmd(genome_path):
    """Print a genome's graph features (name -> value), layer widths, key and WL hash."""
    from search_spaces.features import graph_features

    genome = load_genome(genome_path)
    dag = genome.dag()
    _echo_json(
        {
            "genome": str(genome),
            "key": genome.key,
            "wl_hash": dag.wl_hash(),
            "layer_widths": list(dag.layer_widths),
            "features": graph_features(dag),
        }
    )


@cli.command("export")
@click.argument("genome_path", metavar="GENOME.json")
@click.option("--format", "fmt", type=click.Choice(WRITE_FORMATS), default=None, help="Default: from --out's suffix.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="File to write.")
def export_cmd(genome_path, fmt, out_path):
    """Write a genome's layered DAG as GraphML, an edge list, node-link JSON or a PNG drawing."""
    genome = load_genome(genome_path)
    path = write_graph(genome, out_path, fmt)
    _echo_json({"written": str(path), "format": fmt or path.suffix.lstrip(".")})


@cli.command("import")
@click.argument("graph_path", metavar="GRAPH")
@click.option("--format", "fmt", type=click.Choice(READ_FORMATS), default=None, help="Default: from the suffix.")
@click.option("--family", type=click.Choice(FAMILIES), default="ff", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the genome here.")
def import_cmd(graph_path, fmt, family, out_path):
    """Turn your own graph into a genome (prior `explicit`, edges carried as edits)."""
    genome = import_genome(graph_path, fmt, family=family)
    text = genome.to_json()
    if out_path:
        Path(out_path).write_text(text + "\n")
    click.echo(text)


@cli.command("distance")
@click.argument("a_path", metavar="A.json")
@click.argument("b_path", metavar="B.json")
def distance_cmd(a_path, b_path):
    """Print the NNSTD (Liu et al. 2020) of the networks built from two genomes.

    Both are built by the builders of their family; their main-path masks must have equal shapes.
    """
    from search_spaces.distance import layer_distances

    a, b = load_genome(a_path), load_genome(b_path)
    masks_a, masks_b = network_masks(a), network_masks(b)
    per_layer = layer_distances(masks_a, masks_b)
    click.echo(json.dumps({"nnstd": float(np.mean(per_layer)), "layers": len(per_layer), "layer_distances": per_layer}))


def network_masks(genome: Genome) -> list[np.ndarray]:
    """The main-path masks of the torch network built from ``genome`` (in layer order).

    Uses the model's ``layer_masks()`` (the chain of main-path masks); models without it fall back
    to the masks of ``masked_parameters()`` in order.
    """
    try:
        from search_spaces.builders import build_model
    except ImportError as err:  # the builders are part of the package; say what is missing
        raise SearchSpaceError(f"nas arch distance needs search_spaces.builders: {err}") from None
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
