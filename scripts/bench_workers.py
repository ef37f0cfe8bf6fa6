"""A search trained in its own process vs the same search served by external `nas worker`s.

Runs ``nas search --task TASK --quick --seed S`` twice into fresh run directories: once training
in process, once with ``--external-workers`` and ``--workers`` ``nas worker RUN_DIR`` processes
started as soon as the study exists (same machine, the run's SQLite ledger). Both searches are
the same trajectory (same seed). Prints both wall times and, last, ``ratio: X.XX`` (external /
in process).

Usage::

    python scripts/bench_workers.py --workers 2 --data-dir ../shared/data --json figures.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _search(out: Path, task: str, seed: int, extra: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nas", "search", "--task", task, "--quick", "--seed", str(seed),
                             "--out", str(out), "--no-progress", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    env = dict(os.environ)
    if args.data_dir:
        env["NAS_DATA_DIR"] = str(Path(args.data_dir).resolve())
    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    t0 = time.perf_counter()
    local = _search(folder / "local", args.task, args.seed, [], env)
    _, err = local.communicate()
    if local.returncode != 0:
        print(f"{parser.prog}: error: the in-process search failed: {err.strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    in_process = time.perf_counter() - t0

    t0 = time.perf_counter()
    run = folder / "external"
    search = _search(run, args.task, args.seed, ["--external-workers"], env)
    while not (run / "config.json").is_file() and search.poll() is None:
        time.sleep(0.1)
    workers = [subprocess.Popen([sys.executable, "-m", "nas", "worker", str(run), "--idle-timeout", "10"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(args.workers)]
    _, err = search.communicate()
    external = time.perf_counter() - t0
    trained = []
    for w in workers:
        out, werr = w.communicate(timeout=120)
        trained.append(int(out.split("worker done: ")[1].split()[0]) if "worker done" in out else None)
    if search.returncode != 0:
        print(f"{parser.prog}: error: the external-worker search failed: {err.strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    def best(d: Path):
        meta = json.loads((d / "best" / "model.json").read_text())
        return f"{meta['key']} at {meta.get('final', {}).get('test_accuracy_mean', float('nan')):.4f}"

    figures = {"task": args.task, "seed": args.seed, "workers": args.workers, "cpu_count": os.cpu_count(),
               "in_process_s": in_process, "external_s": external, "trials_per_worker": trained,
               "best_in_process": best(folder / "local"), "best_external": best(run), "ratio": external / in_process}
    print(f"in process:           {in_process:7.1f} s (best survivor {figures['best_in_process']})")
    print(f"{args.workers} external workers:  {external:7.1f} s (best survivor {figures['best_external']}; trials per "
          f"worker {trained})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print(f"ratio: {figures['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
