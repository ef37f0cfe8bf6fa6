"""Search benchmarks (``nas bench search``): strategies × seeds on one task at one compute budget.

:mod:`.config` (``BenchConfig``), :mod:`.store` (``bench.json`` and ``runs.jsonl``: a result
store), :mod:`.run` (checks before anything is trained, then every run as a normal, resumable
search run directory), :mod:`.curves` (a run's anytime curve against trained example-epochs),
:mod:`.compare` (quality, tests against the baseline, the compute ratio) and :mod:`.report` (the
outputs: ``report.md``, ``anytime.png``, the tables).
"""

from nas.studies.bench.compare import BenchSummary, compute_ratio, summarize
from nas.studies.bench.config import BenchConfig, run_name, search_options
from nas.studies.bench.curves import Trace, area, compute_to_reach, read_trace, value_at
from nas.studies.bench.report import OUTPUTS, write_bench_report
from nas.studies.bench.run import BenchPlan, prepare_bench, run_bench
from nas.studies.bench.store import (
    BenchError,
    BenchExistsError,
    BenchNotFoundError,
    BenchSettingsError,
    BenchStore,
)

__all__ = ["BenchConfig", "BenchPlan", "BenchStore", "BenchSummary", "Trace", "BenchError", "BenchExistsError",
           "BenchNotFoundError", "BenchSettingsError", "OUTPUTS", "prepare_bench", "run_bench", "write_bench_report",
           "summarize", "compute_ratio", "read_trace", "value_at", "area", "compute_to_reach", "run_name",
           "search_options"]
