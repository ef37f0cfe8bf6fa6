"""Write a synthetic evaluations file (known truth) to try ``nas predictor`` end to end.

The target is a smooth function of two structural features plus noise
(:func:`predictors.synthetic.synthetic_accuracy`); it is not a model of real training results.

Usage::

    python scripts/make_synthetic_evaluations.py --n 200 --seed 0 --out evals.csv
    nas predictor evaluate --data evals.csv --target test_accuracy --group-by prior
"""

from __future__ import annotations

import argparse
from pathlib import Path

from predictors.synthetic import synthetic_evaluations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of architectures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.01, help="std of the Gaussian noise on the target")
    parser.add_argument("--nodes", type=int, nargs=2, default=(10, 30), metavar=("LOW", "HIGH"))
    parser.add_argument("--out", type=Path, required=True, help="destination .csv")
    args = parser.parse_args(argv)
    df = synthetic_evaluations(args.n, seed=args.seed, noise=args.noise, nodes=tuple(args.nodes))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(args.out)
    print(f"wrote {len(df)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
