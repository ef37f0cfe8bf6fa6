"""The ledger under load, per backend: claim races, throughput with trivial training, requeue time.

For every storage given (``--sqlite``, ``--journal``, ``--postgres URL``):

* **race**: ``--trials`` trials queued, ``--workers`` processes claim them as fast as they can;
  prints how many claims were made and how many trials were claimed twice;
* **throughput**: the same processes claim *and complete* each trial (trivial training: the
  value is the trial number) — trials per second the ledger sustains;
* **requeue**: a process claims a trial and is killed (SIGKILL); the time until an idle worker's
  check (``requeue_stale``, polled every 0.1 s here) has failed and requeued it.

``--plain-sqlite`` runs the SQLite race on Optuna's RDBStorage without this project's
``BEGIN IMMEDIATE`` (the state before the fix), to show the double claims it allowed.

Usage::

    python scripts/bench_ledger.py --sqlite --journal --postgres postgresql://USER:PW@127.0.0.1/DB --json figures.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def _open(url: str, study: str, plain: bool):
    from nas.ledger import Ledger

    if not plain:
        return Ledger.open(url, study, create=False)
    import optuna

    storage = optuna.storages.RDBStorage(url)  # Optuna's own SQLite handling: no write lock taken on read
    return Ledger(optuna.load_study(study_name=study, storage=storage), url)


def _worker(url: str, study: str, start: str, ready: str, mode: str, plain: bool) -> int:
    """One racing process: claim (and with mode "complete", complete) until nothing is waiting."""
    ledger = _open(url, study, plain)
    Path(ready).touch()
    while not Path(start).exists():
        time.sleep(0.002)
    claimed = []
    while (claim := ledger.claim()) is not None:
        claimed.append(claim.number)
        if mode == "complete":
            ledger.complete(claim, [float(claim.number)], {})
    print(json.dumps(claimed))
    return 0


def _queue(url: str, n: int):
    from nas.ledger import Ledger
    from search_spaces.genome import Genome

    study = f"bench-{uuid.uuid4().hex[:10]}"
    ledger = Ledger.open(url, study, directions=["maximize"])
    for i in range(n):
        ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=i))
    return ledger, study


def _race(url: str, n: int, workers: int, mode: str, plain: bool = False) -> dict:
    ledger, study = _queue(url, n)
    folder = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    start, ready = folder / "go", [folder / f"ready-{i}" for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "worker", url, study, str(start), str(r), mode]
                              + (["--plain-sqlite"] if plain else []), stdout=subprocess.PIPE, text=True) for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.perf_counter()
    start.touch()
    claimed = [x for p in procs for x in json.loads(p.communicate(timeout=900)[0])]
    seconds = time.perf_counter() - t0
    return {"trials": n, "workers": workers, "claims": len(claimed), "double_claimed": len(claimed) - len(set(claimed)),
            "seconds": seconds, "trials_per_s": len(set(claimed)) / seconds}


def _requeue_time(url: str) -> float:
    ledger, study = _queue(url, 1)
    victim = subprocess.Popen([sys.executable, "-c", f"""
import time
from nas.ledger import Ledger
ledger = Ledger.open({url!r}, {study!r}, create=False)
assert ledger.claim() is not None
print("claimed", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    assert victim.stdout.readline().strip() == "claimed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    t0 = time.perf_counter()
    while not ledger.requeue_stale(60.0):  # a dead process on this host: stale at once
        time.sleep(0.1)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="bench", choices=["bench", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--journal", action="store_true")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--plain-sqlite", action="store_true")
    parser.add_argument("--json", default=None)
    args, rest = parser.parse_known_args(argv)
    if args.role == "worker":
        return _worker(*rest[:5], plain=args.plain_sqlite)
    if args.trials < 1 or args.workers < 1:
        parser.error(f"--trials and --workers must be >= 1; got {args.trials}, {args.workers}")
    folder = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    urls = {}
    if args.sqlite:
        urls["sqlite"] = f"sqlite:///{folder / 'ledger.db'}"
    if args.journal:
        urls["journal"] = f"journal:{folder / 'ledger.log'}"
    if args.postgres:
        urls["postgresql"] = args.postgres
    if not urls:
        parser.error("name at least one backend: --sqlite, --journal, --postgres URL")
    figures = {"cpu_count": os.cpu_count(), "backends": {}}
    for name, url in urls.items():
        row = {"race": _race(url, args.trials, args.workers, "claim"),
               "throughput": _race(url, args.trials, args.workers, "complete"),
               "requeue_s": _requeue_time(url)}
        if name == "sqlite" and args.plain_sqlite:
            row["race_without_begin_immediate"] = _race(url, args.trials, args.workers, "claim", plain=True)
        figures["backends"][name] = row
        race, put = row["race"], row["throughput"]
        print(f"{name:10s} race: {race['claims']} claims of {race['trials']} trials by {race['workers']} processes, "
              f"{race['double_claimed']} double-claimed; throughput {put['trials_per_s']:.1f} trials/s "
              f"(claim + complete); requeue {row['requeue_s']:.2f} s after a SIGKILL")
        if "race_without_begin_immediate" in row:
            plain = row["race_without_begin_immediate"]
            print(f"{'':10s} without BEGIN IMMEDIATE: {plain['double_claimed']} of {plain['trials']} double-claimed")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
