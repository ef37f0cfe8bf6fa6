"""Named pruning set-ups (``nas prune --preset NAME``): the paper's study and the ones past it.

``stier2021-mnist`` is the setting of Stier et al. 2021 (../shared/PAPER.md; their public code
``pruning-ffns/main.py``): a 784-100-10 ReLU MLP on the seeded 50,000 / 10,000 MNIST split,
SGD lr 0.01 without momentum, batch 64, up to 200 epochs; whenever an epoch's validation accuracy
does not beat the previous epoch's the rate is cut tenfold and the momentum set to 0.5 (a fresh
optimizer), and a plateau at 1e-4 stops training; then 25 % steps of every method to 90 %
compression, each followed by 2 epochs of SGD lr 0.01 without momentum.

``lenet-300-100``: LeNet-300-100 (Han et al. 2015 prune it to 8 % of its weights at 98.4 %),
trained 60 epochs with SGD lr 0.1, momentum 0.9, weight decay 5e-4 and cosine annealing, then
pruned class-blinded in 20 % steps to 95 % (14 steps: 91.4 % after 11), each step retrained for 4 epochs
at lr 0.01 on a cosine schedule.

``stier2021-reber-gru``: the same five methods on a sparse GRU of the paper's Reber study
(Watts–Strogatz, 30 vertices), every weight prunable (input, recurrent, classifier), trained 10
epochs with Adam on 5,000 of the training strings (as the study at CPU scale) and pruned in 25 %
steps to 82 %, retrained 2 epochs after each. Its one-edge skip layers have three input weights
(one per gate): a global threshold can empty one, and that network then stops (``on_empty``).

A preset is a table of :class:`~nas.studies.pruning.experiment.PruneConfig` fields; anything given on the
command line as well overrides it. Its ``train`` options go on top of the task's training defaults
(``train`` of :data:`nas.defaults.TASK_DEFAULTS`, the one table of per-task defaults) and are
checked, as every training option, by ``TrainConfig``'s rules.
"""

from __future__ import annotations

from nas.exceptions import UnknownNameError

__all__ = ["PRESETS", "preset"]

#: A network of the paper's Reber study (Watts–Strogatz, n = 30, k = n // 5, p = 1; a GRU of one
#: unit per vertex reading the last layer, as the study's preset ``stier2021-reber`` builds them).
REBER_GRU = {"prior": "watts_strogatz", "params": {"k": 6, "p": 1.0}, "nodes": 30, "seed": 0, "family": "rnn:gru",
             "edits": [], "width": 1, "readout": "last"}

_PAPER_SGD = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.0, "batch_size": 64, "schedule": "plateau",
              "plateau_factor": 0.1, "plateau_patience": 0, "plateau_compare": "previous", "plateau_momentum": 0.5,
              "min_lr": 1e-4}

PRESETS: dict[str, dict] = {
    "stier2021-mnist": {
        "task": "mnist", "arch": "784-100-10", "methods": ("mcb", "mcd", "mcu", "obd", "random"), "rate": 0.25,
        "target": 0.9, "retrain": 2, "epochs": 200, "train": _PAPER_SGD,
    },
    "lenet-300-100": {
        "task": "mnist", "arch": "784-300-100-10", "methods": ("mcb",), "rate": 0.2, "target": 0.95, "retrain": 4,
        "epochs": 60,
        "train": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 128, "schedule": "cosine",
                  "weight_decay": 5e-4},
        "retrain_options": {"lr": 0.01, "schedule": "cosine"},
    },
    "stier2021-reber-gru": {
        "task": "reber_paper", "genome": REBER_GRU, "methods": ("mcb", "mcd", "mcu", "obd", "random"),
        "weights": "all", "rate": 0.25, "target": 0.8, "retrain": 2, "epochs": 10, "on_empty": "stop",
        "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 64, "grad_clip": 5.0, "train_subset": 5000},
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
