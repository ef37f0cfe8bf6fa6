"""Choose the default structure-to-performance predictor on a prior study (a *selection* study).

Every candidate pipeline is scored per cell (model family) with :func:`predictors.compare_predictors`
on identical repeated 5-fold splits; the printout gives R² per cell and its mean over cells. Run it
on a study that is *not* the one the chosen predictor is then reported on, so the choice does not
flatter the reported figure (docs/results.md: selected on the seed-1 pilot study, reported on the
seed-0 study).

    python scripts/select_predictor.py runs/reber-pilot --repeats 5 --out selection.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def candidates(seed: int) -> dict:
    """The fixed list of candidate pipelines (declared before looking at any study)."""
    from predictors import make_paper_predictor, make_predictor

    return {
        "paper": make_paper_predictor(seed),
        "rf_extended": make_predictor("rf", "extended", random_state=seed),
        "rf_extended_mf033": make_predictor("rf", "extended", random_state=seed, max_features=0.33),
        "extra_trees_extended": make_predictor("extra_trees", "extended", random_state=seed),
        "hgb_extended": make_predictor("hgb", "extended", random_state=seed),
        "rf_paper_mf033": make_predictor("rf", "paper", random_state=seed, max_features=0.33),
        "rf_extended_mf033_leaf5": make_predictor("rf", "extended", random_state=seed, max_features=0.33, min_samples_leaf=5),
        "bayes_ridge_extended": make_predictor("bayes_ridge", "extended", random_state=seed),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from nas.studies.priors.table import genome_table
    from predictors import compare_predictors
    from search_spaces.exceptions import SparseNASError

    try:
        frame, _ = genome_table(args.study)
    except SparseNASError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    table: dict = {}
    for family, part in frame.groupby("family", sort=False):
        result = compare_predictors(candidates(args.seed), list(part["genome"]), part["test_accuracy"].to_numpy(),
                                    n_splits=5, n_repeats=args.repeats, random_state=args.seed, n_bootstrap=0)
        table[family] = {name: result.mean[name]["r2"] for name in result.names}
        table[family]["n"] = len(part)
    names = list(candidates(args.seed))
    print(f"{'pipeline':<24}" + "".join(f"{f:>12}" for f in table) + f"{'mean':>10}")
    for name in names:
        values = [table[f][name] for f in table]
        print(f"{name:<24}" + "".join(f"{v:>12.3f}" for v in values) + f"{sum(values) / len(values):>10.3f}")
    print("genomes per cell: " + ", ".join(f"{f} {table[f]['n']}" for f in table))
    if args.out:
        args.out.write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
