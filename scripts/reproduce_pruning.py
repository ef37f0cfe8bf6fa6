"""Reproduce the paper's pruning study, and go past it: LeNet-300-100 and a sparse GRU on Reber.

Each study is a ``nas prune`` preset (``nas.studies.pruning.presets``) run with ``--seeds`` seeds; the
result JSON is written as it goes (an interrupted run keeps its finished steps) and a Markdown
file beside it holds the tables (mean ± std per compression level, the paper's figures beside
them for ``stier2021-mnist``, and every method against the first, paired by seed).

Usage::

    python scripts/reproduce_pruning.py --preset stier2021-mnist --seeds 25 --out runs/pruning/paper.json
    python scripts/reproduce_pruning.py --preset lenet-300-100 --seeds 3 --out runs/pruning/lenet.json
    python scripts/reproduce_pruning.py --preset stier2021-reber-gru --seeds 5 --out runs/pruning/reber.json
    python scripts/reproduce_pruning.py --table runs/pruning/paper.json     # the tables of a finished run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    from nas.cli.options import parse_key_values
    from nas.training.device import set_threads
    from nas.studies.pruning.experiment import PruneConfig, check_out, run_pruning
    from nas.studies.pruning.presets import PRESETS, preset
    from nas.studies.pruning.report import PAPER_TABLE, markdown_tables
    from search_spaces.exceptions import SparseNASError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="stier2021-mnist")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", help="Result JSON (a .md with the tables beside it); must not exist.")
    parser.add_argument("--table", metavar="RESULT", help="Only print the tables of an existing result JSON.")
    parser.add_argument("--epochs", type=int, default=None, help="Base training epochs (default: the preset's).")
    parser.add_argument("--target", type=float, default=None, help="Compression to reach (default: the preset's).")
    parser.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                        help="A TrainConfig option on top of the preset's (e.g. train_subset=2000 for a smoke run).")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.table is not None:
        try:
            result = json.loads(Path(args.table).read_text())
            reference = PAPER_TABLE if result["config"]["arch"] == "784-100-10" else None
            print(markdown_tables(result, reference), end="")
        except (OSError, ValueError, KeyError) as err:
            print(f"{parser.prog}: error: cannot read the result {args.table!r}: {err}", file=sys.stderr)
            return 1
        return 0
    if args.out is None or args.seeds < 1:
        parser.error(f"give --out RESULT.json and --seeds >= 1 (got --out {args.out!r}, --seeds {args.seeds})")
    out = Path(args.out)
    tables = out.with_suffix(".md")
    set_threads(args.threads)
    try:
        for path in (out, tables):
            if path.exists():
                raise FileExistsError(f"{str(path)!r} exists; expected a new file")
        check_out(out)
        fields = {**preset(args.preset), "seeds": args.seeds, "data_dir": args.data_dir, "device": args.device}
        fields["train"] = {**fields.get("train", {}), **parse_key_values(args.train, "--train")}
        fields.update({k: v for k, v in (("epochs", args.epochs), ("target", args.target)) if v is not None})
        config = PruneConfig(**fields)
        started = time.perf_counter()
        run_pruning(config, out, echo=lambda line: print(line, file=sys.stderr, flush=True))
    except (SparseNASError, FileExistsError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    result = json.loads(out.read_text())
    text = (f"`python scripts/reproduce_pruning.py --preset {args.preset} --seeds {args.seeds}`: "
            f"{(time.perf_counter() - started) / 60:.1f} min on {result['base'][0]['device']} "
            f"({result['provenance'].get('platform', '?')}).\n\n"
            + markdown_tables(result, PAPER_TABLE if args.preset == "stier2021-mnist" else None))
    tables.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
