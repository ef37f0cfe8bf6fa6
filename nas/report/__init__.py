"""Reports of search runs: :mod:`.run` reads and exports a run directory, :mod:`.search` writes
``report.md`` and its plots, :mod:`.compare` aggregates runs per strategy over seeds."""

from nas.report.compare import Comparison, aggregate, compare_runs
from nas.report.drawing import draw_genome
from nas.report.run import (
           evaluations_frame,
           export_run,
           final_frame,
           open_run_ledger,
           test_interval,
)
from nas.report.search import RunOutputs, build_report

__all__ = ["RunOutputs", "build_report", "draw_genome", "export_run", "evaluations_frame", "final_frame",
           "open_run_ledger", "test_interval", "compare_runs", "aggregate", "Comparison"]
