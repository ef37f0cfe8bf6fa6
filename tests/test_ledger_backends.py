"""Ledger contracts on every storage backend (SQLite, journal file, PostgreSQL): claims are
exactly-once under a race of several processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from nas.ledger import Ledger
from search_spaces.genome import Genome

HELPERS = Path(__file__).resolve().parent / "helpers"


def test_racing_processes_claim_every_trial_exactly_once(storage_url, study_name, tmp_path):
    ledger = Ledger.open(storage_url, study_name, directions=["maximize"])
    queued = [ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=i)) for i in range(200)]
    start, ready = tmp_path / "go", [tmp_path / f"ready-{i}" for i in range(4)]
    racers = [subprocess.Popen([sys.executable, str(HELPERS / "claim_race.py"), storage_url, study_name, str(start),
                                str(r)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    start.touch()  # all at once
    claimed = []
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err
        claimed += json.loads(out)
    assert sorted(claimed) == sorted(queued)  # every trial once: none lost, none twice
