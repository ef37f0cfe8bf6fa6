"""Append records to a result store from a process of its own, optionally killed part-way.

``python tests/helpers/store_append.py MODULE:CLASS LOCATION_JSON OPTIONS_JSON RECORDS_JSON [--kill-after-first]``
opens the store with ``CLASS.load(LOCATION, **OPTIONS)`` (a JSON list location becomes a tuple:
the ledger's ``(url, study)``) and appends the records in one call. With ``--kill-after-first``
the process kills itself with SIGKILL — nothing is cleaned up — as soon as the first record has
reached the storage: after the first JSON line is written and flushed to the temporary file (the
file stores), or after the first trial is added (the ledger).
"""

import importlib
import json
import os
import signal
import sys

import nas.stores.jsonl as jsonl
from nas.ledger import Ledger


def _kill_after_first() -> None:
    def write_then_die(fh, lines):
        fh.write(lines[0].encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    real_add, added = Ledger.add, []

    def add_then_die(self, trial):
        if added:
            os.kill(os.getpid(), signal.SIGKILL)
        real_add(self, trial)
        added.append(trial)

    jsonl._write_lines = write_then_die
    Ledger.add = add_then_die


def main() -> int:
    target, location, options, records = sys.argv[1:5]
    module, _, name = target.partition(":")
    store_type = getattr(importlib.import_module(module), name)
    location = json.loads(location)
    store = store_type.load(tuple(location) if isinstance(location, list) else location, **json.loads(options))
    if "--kill-after-first" in sys.argv[5:]:
        _kill_after_first()
    store.append(json.loads(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
