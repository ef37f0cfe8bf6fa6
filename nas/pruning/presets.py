"""Named pruning set-ups (``nas prune --preset NAME``): the paper's study and the ones past it.

``stier2021-mnist`` is the setting of Stier et al. 2021 (../shared/PAPER.md; their public code
``pruning-ffns/main.py``): a 784-100-10 ReLU MLP on the seeded 50,000 / 10,000 MNIST split,
SGD lr 0.01 without momentum, batch 64, up to 200 epochs; whenever an epoch's validation accuracy
does not beat the previous epoch's the rate is cut tenfold and the momentum set to 0.5 (a fresh
optimizer), and a plateau at 1e-4 stops training; then 25 % steps of every method to 90 %
compression, each followed by 2 epochs of SGD lr 0.01 without momentum.

``lenet-300-100``: LeNet-300-100 (Han et al. 2015 prune it to 8 % of its weights at 98.4 %),
trained with SGD and momentum, cosine annealing and weight decay, then pruned class-blinded in
20 % steps to 90 %, each step retrained for 3 epochs on a cosine schedule.

A preset is a table of :class:`~nas.pruning.experiment.PruneConfig` fields; anything given on the
command line as well overrides it.
"""

from __future__ import annotations

from nas.exceptions import UnknownNameError

__all__ = ["PRESETS", "preset"]

_PAPER_SGD = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.0, "batch_size": 64, "schedule": "plateau",
              "plateau_factor": 0.1, "plateau_patience": 0, "plateau_compare": "previous", "plateau_momentum": 0.5,
              "min_lr": 1e-4}

PRESETS: dict[str, dict] = {
    "stier2021-mnist": {
        "task": "mnist", "arch": "784-100-10", "methods": ("mcb", "mcd", "mcu", "obd", "random"), "rate": 0.25,
        "target": 0.9, "retrain": 2, "epochs": 200, "train": _PAPER_SGD,
    },
    "lenet-300-100": {
        "task": "mnist", "arch": "784-300-100-10", "methods": ("mcb",), "rate": 0.2, "target": 0.9, "retrain": 3,
        "epochs": 40,
        "train": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "batch_size": 128, "schedule": "cosine",
                  "weight_decay": 1e-4},
        "retrain_options": {"lr": 0.01, "schedule": "cosine"},
    },
}


def preset(name: str) -> dict:
    """A copy of preset ``name``'s fields.

    Raises
    ------
    UnknownNameError
        An unknown name (the message lists the presets).
    """
    if name not in PRESETS:
        raise UnknownNameError("pruning preset", name, PRESETS)
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[name].items()}
