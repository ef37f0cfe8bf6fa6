"""One racer of the claim contract test: claim waiting trials of STUDY until none is left.

``python tests/helpers/claim_race.py URL STUDY START_FILE READY_FILE`` opens the ledger, creates
READY_FILE, waits until START_FILE exists (so all racers start together), claims trials one at a
time as fast as it can, and prints the claimed trial numbers as one JSON list.
"""

import json
import sys
import time
from pathlib import Path


def main() -> int:
    from nas.ledger import Ledger

    url, study, start, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    ledger = Ledger.open(url, study, create=False)
    ready.touch()
    deadline = time.monotonic() + 60
    while not start.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    claimed = []
    while (claim := ledger.claim()) is not None:
        claimed.append(claim.number)
    print(json.dumps(claimed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
