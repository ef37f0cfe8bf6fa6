"""``nas worker``: train the queued candidates of a search from its ledger (any number of processes)."""

from __future__ import annotations

import click


@click.command(name="worker")
@click.option("--storage", required=True, help="Ledger URL of the search (sqlite:///..., journal:..., postgresql://...).")
@click.option("--study", required=True, help="Study name of the search.")
@click.option("--max-trials", type=int, help="Stop after this many trials.")
@click.option("--idle-timeout", type=float, default=60.0, show_default=True,
              help="Stop after this many seconds with nothing waiting.")
@click.option("--batch", type=int, default=1, show_default=True, help="Trials claimed and trained together.")
@click.option("--threads", type=int, help="CPU threads for torch in this worker (default: torch's choice).")
def cli(storage, study, max_trials, idle_timeout, batch, threads):
    """Claim waiting trials, train them with the search's own config, record the results.

    While idle it also requeues trials whose worker died (heartbeat older than the search's
    stale_after). Ctrl-C requeues the trials being trained and exits.
    """
    from nas.device import set_threads
    from nas.exceptions import ConfigError
    from nas.ledger import Ledger
    from nas.runner import run_worker

    set_threads(threads)

    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"--max-trials must be >= 1, got {max_trials}")
    if batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {batch}")
    ledger = Ledger.open(storage, study, create=False)
    try:
        done = run_worker(ledger, max_trials=max_trials, idle_timeout=idle_timeout, batch=batch,
                          echo=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        click.echo("interrupted: current trials requeued", err=True)
        raise SystemExit(130)
    click.echo(f"worker done: {done} trial(s) trained")
