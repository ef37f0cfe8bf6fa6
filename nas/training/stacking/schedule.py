"""Which schedule recurrent stacks run: the wavefront (the default) or level by level.

Benchmarks compare the two in one process with :func:`recurrent_schedule`; the stack
(:class:`~nas.training.stacking.rnn.StackedRecurrent`), the planner's cost terms and the memory
model all follow :func:`current_schedule`, so the level-by-level run is the code as it was
before the wavefront (its stacks, chunks and kernels). Training always uses the default.
"""

from __future__ import annotations

from contextlib import contextmanager

from nas.exceptions import ConfigError

__all__ = ["RECURRENT_SCHEDULES", "recurrent_schedule", "current_schedule", "check_schedule"]

#: ``wavefront`` (:mod:`.wavefront`: all levels in one batched call per step) or ``levels`` (one
#: recurrence per level over the union of blocks, each a loop over time).
RECURRENT_SCHEDULES = ("wavefront", "levels")
_active = ["wavefront"]


def check_schedule(name: str) -> str:
    if name not in RECURRENT_SCHEDULES:
        raise ConfigError(f"unknown recurrent schedule {name!r}; expected one of {list(RECURRENT_SCHEDULES)}")
    return name


def current_schedule() -> str:
    return _active[-1]


@contextmanager
def recurrent_schedule(name: str):
    """Within the block, recurrent stacks (and their plans and memory estimates) use ``name``."""
    _active.append(check_schedule(name))
    try:
        yield
    finally:
        _active.pop()
