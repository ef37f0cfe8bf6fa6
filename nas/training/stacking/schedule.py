"""How recurrent stacks run through time: the schedule (wavefront or level by level) and the
wavefront's step kernel (compiled or batched torch).

Benchmarks compare schedules in one process with :func:`recurrent_schedule`; the stack
(:class:`~nas.training.stacking.rnn.StackedRecurrent`), the planner's cost terms and the memory
model all follow :func:`current_schedule`, so the level-by-level run is the code as it was
before the wavefront (its stacks, chunks and kernels). Training always uses the default.
Likewise :func:`wavefront_kernel` and :func:`current_kernel` choose the wavefront's steps
(:mod:`.compiled`); ``NAS_WAVEFRONT_KERNEL`` sets the default.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from nas.exceptions import ConfigError

__all__ = ["RECURRENT_SCHEDULES", "recurrent_schedule", "current_schedule", "check_schedule", "KERNELS",
           "wavefront_kernel", "current_kernel"]

#: ``wavefront`` (:mod:`.wavefront`: all levels in one batched call per step) or ``levels`` (one
#: recurrence per level over the union of blocks, each a loop over time).
RECURRENT_SCHEDULES = ("wavefront", "levels")
#: ``auto``: compiled where numba imports and the tensors are on the CPU; ``numba``: the same
#: (the name says what was asked for); ``torch``: always the batched-torch steps.
KERNELS = ("auto", "numba", "torch")


class _Choice:
    """One process-wide choice among ``options``: the innermost :meth:`using` block's, else
    ``default`` (or the environment variable ``env``, where set)."""

    def __init__(self, what: str, options: tuple[str, ...], default: str, env: str | None = None):
        self.what, self.options, self.default, self.env = what, options, default, env
        self._active: list[str] = []

    def check(self, name: str) -> str:
        if name not in self.options:
            raise ConfigError(f"unknown {self.what} {name!r}; expected one of {list(self.options)}")
        return name

    def current(self) -> str:
        if self._active:
            return self._active[-1]
        return self.check(os.environ.get(self.env, self.default) if self.env else self.default)

    @contextmanager
    def using(self, name: str):
        self._active.append(self.check(name))
        try:
            yield
        finally:
            self._active.pop()


_SCHEDULE = _Choice("recurrent schedule", RECURRENT_SCHEDULES, "wavefront")
_KERNEL = _Choice("wavefront kernel", KERNELS, "auto", env="NAS_WAVEFRONT_KERNEL")


def check_schedule(name: str) -> str:
    return _SCHEDULE.check(name)


def current_schedule() -> str:
    return _SCHEDULE.current()


def recurrent_schedule(name: str):
    """Within the block, recurrent stacks (and their plans and memory estimates) use ``name``."""
    return _SCHEDULE.using(name)


def current_kernel() -> str:
    """The kernel asked for: the innermost :func:`wavefront_kernel`, else ``NAS_WAVEFRONT_KERNEL``
    (default ``auto``)."""
    return _KERNEL.current()


def wavefront_kernel(name: str):
    """Within the block, wavefronts run with kernel ``name`` (benchmarks compare in one process)."""
    return _KERNEL.using(name)
