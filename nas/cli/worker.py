"""``nas worker``: train the queued candidates of a search from its ledger (any number of processes)."""

from __future__ import annotations

import math

import click

from nas.cli.options import (
    data_dir_option,
    device_option,
    old_spelling,
    renamed,
    threads_option,
)
from nas.exceptions import ConfigError
from nas.ledger import Ledger
from nas.search.config_files import load_run_config
from nas.search.worker import run_worker
from nas.training.device import set_threads


@click.command(name="worker")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--storage", help="Ledger URL of the search (sqlite:///..., journal:..., postgresql://...); "
                                "default: the one RUN_DIR's config.json names.")
@click.option("--ledger", "ledger_name", help="The search's ledger name in --storage (default: RUN_DIR's).")
@old_spelling("--study", "study")
@click.option("--max-trials", type=int, help="Stop after this many trials.")
@click.option("--idle-timeout", type=float, default=60.0, show_default=True,
              help="Stop after this many seconds with nothing waiting.")
@click.option("--share", type=int, help="Trials claimed and trained together (default: this worker's share of those "
                                        "waiting among the live workers).")
@old_spelling("--batch", "batch", type=int)
@threads_option("CPU threads for torch (default: this machine's cores shared among its live workers).")
@device_option("Torch device of this worker (default: the search's).")
@data_dir_option("Dataset folder on this machine (default: the search's, else NAS_DATA_DIR, else the cache).")
def cli(run_dir, storage, ledger_name, study, max_trials, idle_timeout, share, batch, threads, device, data_dir):
    """Claim waiting trials, train them with the search's own config, record the results.

    Name the search by its run directory (nas worker runs/mnist-ga) or by --storage and --ledger.
    While idle it also requeues trials whose worker died (heartbeat older than the search's
    stale_after). Ctrl-C requeues the trials being trained and exits.
    """
    if max_trials is not None and not 1 <= max_trials <= 10_000_000:
        raise ConfigError(f"--max-trials must be an integer in [1, 10000000], got {max_trials}")
    ledger_name = renamed(ledger_name, study, "--ledger", "--study")
    share = renamed(share, batch, "--share", "--batch")
    if share is not None and not 1 <= share <= 10_000:
        raise ConfigError(f"--share must be an integer in [1, 10000], got {share}")
    set_threads(threads)  # checks the value; "share" (the default) is set per round by the worker
    if not math.isfinite(idle_timeout) or idle_timeout < 0:
        raise ConfigError(f"--idle-timeout must be a finite number of seconds >= 0, got {idle_timeout}")
    if run_dir is not None:
        config = load_run_config(run_dir)
        storage, ledger_name = storage or config.storage_url, ledger_name or config.ledger
    if storage is None or ledger_name is None:
        raise ConfigError("name the search: a RUN_DIR, or both --storage URL and --ledger NAME")
    ledger = Ledger.open(storage, ledger_name, create=False)
    try:
        done = run_worker(ledger, max_trials=max_trials, idle_timeout=idle_timeout, share=share,
                          threads=threads if threads is not None else "share",
                          echo=lambda line: click.echo(line, err=True), device=device, data_dir=data_dir)
    except KeyboardInterrupt:
        click.echo("interrupted: current trials requeued", err=True)
        raise SystemExit(130)
    click.echo(f"worker done: {done} trial(s) trained")
