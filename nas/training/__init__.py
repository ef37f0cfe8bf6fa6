"""Training: the one loop, its config and result, the tasks, and cohort training.

Modules (imports go down this list only): :mod:`.config` (``TrainConfig``, ``TrainResult``),
:mod:`.tasks` (dataset + family + loss + metric + training defaults), :mod:`.batches` (shuffling,
length buckets, augmentation), :mod:`.device` (device, precision, layout), :mod:`.optimization`
(loss, optimizer, schedules, ``PlateauTracker``), :mod:`.evaluation` (scoring a model),
:mod:`.epochs` (the one loop over epochs and steps), :mod:`.loop` (``train_model``,
``train_genome``), and the package :mod:`.stacking` (many candidates stacked and trained together).
"""

from nas.training.config import TrainConfig, TrainResult
from nas.training.evaluation import evaluate
from nas.training.loop import (
    Callback,
    ProgressBar,
    build_seeded,
    train_genome,
    train_model,
)
from nas.training.stacking import train_cohort
from nas.training.tasks import Task, get_task, list_tasks, register_task

__all__ = [
    "TrainConfig", "TrainResult", "Task", "get_task", "list_tasks", "register_task", "Callback", "ProgressBar",
    "build_seeded", "evaluate", "train_genome", "train_model", "train_cohort",
]
