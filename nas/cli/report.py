"""``nas report``: rebuild the report of a search run directory from its ledger."""

from __future__ import annotations

from pathlib import Path

import click

from nas.cli.options import check_output_folder
from nas.report import build_report


@click.command(name="report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--compare", multiple=True, type=click.Path(file_okay=False),
              help="Other run directories (other seeds, strategies, --no-gating): drawn on the best-so-far "
                   "plot and aggregated per strategy, with tests between strategies (repeatable).")
def cli(run_dir, compare):
    """Rewrite RUN_DIR/report.md, its plots, evaluations.csv, best/genome.json and, when there are
    final trainings, final.csv; with --compare also compare.csv and compare_tests.csv."""
    if Path(run_dir).is_dir():
        check_output_folder(run_dir, "RUN_DIR")  # a read-only run: one line, not a traceback after the work
    path = build_report(run_dir, compare=compare)
    click.echo(str(path))
