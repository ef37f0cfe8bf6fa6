"""The ``nas`` command line.

Each sub-command lives in its own module ``nas.cli.<name>`` that defines a click command or group
called ``cli``. They are imported lazily, so ``nas --help`` stays fast and a sub-command's heavy
imports (torch, optuna) are paid only when it runs.

Deliberate errors (:class:`~search_spaces.exceptions.SparseNASError`) become one line on stderr
and exit status 1; usage errors (a value outside an option's choices or range, a missing option)
are one line too and keep click's status 2.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from search_spaces.exceptions import SparseNASError

# name -> (module, one-line help shown by ``nas --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("nas.cli.data", "Inspect, fetch and generate datasets."),
    "arch": ("nas.cli.arch", "Sample, describe, export, import, join and compare architectures."),
    "train": ("nas.cli.train", "Train one genome or a cohort of genomes on a task."),
    "predictor": ("nas.cli.predictor", "Fit, evaluate and apply structure-to-performance predictors."),
    "search": ("nas.cli.search", "Run an architecture search (genetic, random, TPE, NSGA-II)."),
    "worker": ("nas.cli.worker", "Train queued candidates of a search from its ledger."),
    "report": ("nas.cli.report", "Rebuild the report of a search run directory."),
    "prune": ("nas.cli.prune", "Prune a trained network step by step (mcb, mcu, mcd, random, obd) over seeds."),
    "priors": ("nas.cli.priors", "Evaluate priors: controlled studies with statistics and a predictor."),
    "bench": ("nas.cli.bench", "Benchmark search strategies over seeds at one compute budget."),
    "export": ("nas.cli.export", "Write a search's best network as one file plain PyTorch loads (torch.export)."),
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx):
        return [name for name, (module, _) in COMMANDS.items() if _available(module)]

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _available(COMMANDS[name][0]):
            return None
        return importlib.import_module(COMMANDS[name][0]).cli

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparse-nas", prog_name="nas")
def cli():
    """sparse-nas: architecture search over sparse networks wired by network-theory priors."""


def main(argv=None) -> int:
    """Entry point of the ``nas`` console script; returns the exit status."""
    shown = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):
        # the product's own warnings (e.g. a CSV cut short) as one line each, without the source
        # line Python adds; every other warning (a library's deprecation) as before
        if category.__module__.split(".")[0] in ("nas", "predictors", "search_spaces"):
            click.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = one_line
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown


def _main(argv) -> int:
    try:
        result = cli.main(args=argv, prog_name="nas", standalone_mode=False)
    except SparseNASError as err:
        click.echo(f"error: {err}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as err:
        # one line, like every other error: what was wrong, and where the valid values are listed
        where = f" (see {err.ctx.command_path} --help)" if err.ctx is not None else ""
        click.echo(f"error: {err.format_message()}{where}", err=True)
        return err.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as err:
        if not _storage_error(err):
            raise
        # the ledger's database went away mid-run (a server restart, a lost network): one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        click.echo(f"error: the ledger's storage failed: {type(err).__name__}: {first}", err=True)
        return 1
    # a command that stops with ctx.exit(code) (e.g. `nas data info NAME` for an unusable dataset)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _storage_error(err: Exception) -> bool:
    """True for the errors a database raises (SQLAlchemy's and Optuna's storage errors)."""
    module = type(err).__module__ or ""
    return module.startswith(("sqlalchemy", "psycopg")) or type(err).__name__ == "StorageInternalError"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
