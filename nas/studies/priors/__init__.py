"""Prior studies: which random-graph priors wire sparse networks that learn (``nas priors evaluate``).

* settings: :class:`StudyConfig`, :data:`PRESETS`, :func:`build_study_config`;
* genomes: :func:`draw_study_genomes` (equal sizes per prior, optional edge / weight matching);
* running: :func:`run_study` (cohort training, appended to the study's store (:class:`StudyStore`), resumable);
* report: :func:`write_report` (tests between priors, seed noise and its R² ceiling, correlations,
  predictor study).
"""

from nas.studies.priors.config import PRESETS, QUICK, StudyConfig, build_study_config
from nas.studies.priors.report import write_report
from nas.studies.priors.run import run_study
from nas.studies.priors.sampling import StudyGenome, draw_study_genomes
from nas.studies.priors.store import StudyStore

__all__ = ["StudyConfig", "PRESETS", "QUICK", "build_study_config", "StudyGenome", "draw_study_genomes", "run_study",
           "StudyStore", "write_report"]
