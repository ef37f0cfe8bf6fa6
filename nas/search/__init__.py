"""The search: its config (:mod:`.config`), strategies that speak ask/tell (:mod:`.strategies`),
the generation loop (:mod:`.loop`), predictor gating (:mod:`.gating`), the final phase
(:mod:`.final`), workers (:mod:`.worker`) and the search's evaluator (:mod:`.evaluator`).
Import from the modules; this face re-exports the entry points."""

from nas.search.config import SearchConfig
from nas.search.config_files import build_config
from nas.search.loop import SearchRun, run_search
from nas.search.worker import run_worker

__all__ = ["SearchConfig", "build_config", "SearchRun", "run_search", "run_worker"]
