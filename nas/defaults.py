"""Per-task defaults of every command, in one table: :data:`TASK_DEFAULTS`.

For each built-in task:

``train``
    The task's training defaults (:class:`~nas.training.config.TrainConfig` fields; see
    docs/training.md for what they reach). ``nas train`` uses them, and every other command
    starts from them: :attr:`nas.training.tasks.Task.train_defaults`.
``search``
    A full ``nas search`` (:class:`~nas.search.config.SearchConfig` fields): ``train`` is the
    screening budget (on top of the task's ``train``), ``final_train`` the survivors' full
    training (on top of the task's ``train``: the whole training set unless it says otherwise).
``search_quick``
    ``nas search --quick``, on top of ``search``: a search that finishes in minutes on a 2-core CPU.
``priors_quick``
    ``nas priors evaluate --quick`` (:class:`~nas.studies.priors.config.StudyConfig` fields;
    ``train`` on top of the task's ``train``). A task without it refuses ``--quick``.

Named set-ups are not per-task defaults and stay with their command: prior-study presets
(:data:`nas.studies.priors.config.PRESETS`) and pruning presets
(:data:`nas.studies.pruning.presets.PRESETS`). A pruning preset names its task and its ``train``
goes on top of that task's ``train`` here (``--epochs`` and ``--train`` on top of both).

Data only, no imports: training, search and studies all read it, in any order.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TASK_DEFAULTS"]

# --- the tasks' training defaults (docs/training.md: what they reach with a dense-ish network) ----
_IMAGE_TRAIN = {"epochs": 10, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "schedule": "cosine"}
_REBER_TRAIN = {"epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "grad_clip": 5.0}

# --- nas search ------------------------------------------------------------------------------------
# A full search: the screening budget (``train``: candidates are compared at this short budget), the
# widths searched and the survivors' full training (``final_train``, on top of the task's training
# defaults; MNIST: 15 epochs instead of the task's 10). Widths start at 2 (width-1 networks of dense or
# deep graphs were the ones below chance) and stop at 16 (width 32 made the final phase alone exceed
# 20 minutes on 2 CPU cores). CNN and RNN vertices keep width 1 (a CNN vertex already has its
# channels; width would multiply them).
#
# ``--quick``: a search that finishes in minutes on a 2-core CPU (measured: docs/search.md). Data
# subsets and short budgets, small graphs, a few generations.
_REBER_SEARCH = {"widths": (1, 1), "train": {"epochs": 1, "lr": 2e-2, "batch_size": 64}}
# reber --quick: one epoch on the full training set, Adam 2e-2, batch 64 (measured: docs/results.md);
# the paper's BA prior (m isolated start nodes: a wide first layer) and layered DAGs
_REBER_SEARCH_QUICK = {
    "population": 8, "generations": 3, "survivors": 3, "nodes": (12, 32), "widths": (1, 1),
    "priors": ("barabasi_albert_original", "layered_random"), "final_top": 0,
    "train": {"epochs": 1, "lr": 2e-2, "batch_size": 64, "val_subset": 1000},
}

# --- nas priors evaluate --quick: minutes on a 2-core CPU (measured: docs/priors.md) ----------------
_IMAGE_PRIORS_QUICK = {
    "per_prior": 6, "seeds": 2, "nodes": (10, 30), "width": 8,
    "train": {"epochs": 2, "lr": 1e-2, "train_subset": 4000, "val_subset": 1000, "test_subset": 2000},
}
_REBER_PRIORS_QUICK = {"per_prior": 6, "seeds": 2, "nodes": (10, 30),
                       "train": {"epochs": 1, "lr": 2e-2, "batch_size": 64, "train_subset": 4000, "val_subset": 1000}}

TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": {
        "train": _IMAGE_TRAIN,
        "search": {"widths": (2, 16), "train": {"epochs": 2, "train_subset": 12000, "val_subset": 5000},
                   "final_train": {"epochs": 15}},
        # screening on 8,000 images, then the best 2 fully trained (3 epochs on all 50,000) over
        # 2 seeds (measured: docs/results.md)
        "search_quick": {
            "population": 12, "generations": 4, "survivors": 4, "nodes": (10, 40), "widths": (8, 16),
            "final_top": 2, "final_seeds": 2,
            "train": {"epochs": 2, "lr": 3e-3, "train_subset": 8000, "val_subset": 2000},
            "final_train": {"epochs": 3},
        },
        "priors_quick": _IMAGE_PRIORS_QUICK,
    },
    "fashion_mnist": {
        "train": {**_IMAGE_TRAIN, "epochs": 15},
        "search": {"widths": (2, 16), "train": {"epochs": 2, "train_subset": 12000, "val_subset": 5000}},
        "search_quick": {
            "population": 8, "generations": 3, "survivors": 4, "nodes": (10, 40), "widths": (4, 16),
            "final_top": 2, "final_seeds": 2,
            "train": {"epochs": 2, "train_subset": 4000, "val_subset": 1000, "test_subset": 2000},
            "final_train": {"epochs": 2},
        },
        "priors_quick": _IMAGE_PRIORS_QUICK,
    },
    "cifar10": {
        "train": {"epochs": 30, "batch_size": 128, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                  "augment": "crop_flip", "weight_decay": 5e-4, "schedule": "cosine", "grad_clip": 5.0},
        # sized for about 20 minutes of one H100/H200 (not yet measured on one): wider vertices (2-4
        # times 16/32/64 channels), screening 3 epochs of 20,000 images and the best 3 trained 40
        # epochs on all 45,000 over 3 seeds, both with the fast recipe (batch 512, one-cycle, label
        # smoothing, bf16 and channels-last on a GPU) and flip test-time augmentation (validation and
        # test scored on each image and its mirror: +1.05 ± 0.13 validation points over 3 seeds of a
        # short CPU run, docs/results.md)
        "search": {
            "population": 16, "generations": 4, "survivors": 4, "nodes": (16, 32), "widths": (2, 4),
            "final_top": 3, "final_seeds": 3,
            "train": {"epochs": 3, "batch_size": 512, "schedule": "onecycle", "lr": 0.2, "label_smoothing": 0.1,
                      "precision": "auto", "channels_last": True, "eval_flip": True, "train_subset": 20000,
                      "val_subset": 5000},
            "final_train": {"epochs": 40, "batch_size": 512, "schedule": "onecycle", "lr": 0.2,
                            "label_smoothing": 0.1, "precision": "auto", "channels_last": True, "eval_flip": True},
        },
        # --quick: Adam throughout (the best of the short CPU budgets tried, one seed each: on one
        # 12-vertex CNN, 4 epochs of 16,000 images gave test 0.547 with Adam + cosine against 0.518
        # with one-cycle SGD + crop/flip + smoothing, and 8 epochs of 8,000 gave 0.494 with the
        # latter); screening two epochs of 4,000 images, then the best 3 trained 3 epochs on 16,000
        # (measured: docs/results.md; 4 final epochs made one search take 11 minutes). Batch,
        # schedule, smoothing, layout and flip evaluation are spelt out: the full search's GPU recipe
        # is above (flip evaluation was measured with flip-trained networks only; these see none).
        "search_quick": {
            "population": 6, "generations": 2, "survivors": 3, "nodes": (8, 16), "widths": (1, 1),
            "min_train_size": 6, "final_top": 3, "final_seeds": 1,
            "train": {"epochs": 2, "optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0, "augment": "none",
                      "batch_size": 128, "schedule": "cosine", "label_smoothing": 0.0, "channels_last": False,
                      "eval_flip": False, "train_subset": 4000, "val_subset": 1000, "test_subset": 1000},
            "final_train": {"epochs": 3, "optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0, "augment": "none",
                            "batch_size": 128, "schedule": "cosine", "label_smoothing": 0.0, "channels_last": False,
                            "eval_flip": False, "train_subset": 16000, "val_subset": 1000, "test_subset": 1000},
        },
    },
    "reber": {
        "train": _REBER_TRAIN,
        "search": _REBER_SEARCH,
        "search_quick": _REBER_SEARCH_QUICK,
        "priors_quick": _REBER_PRIORS_QUICK,
    },
    # the paper's negatives; searched and studied like the default Reber task
    "reber_paper": {
        "train": _REBER_TRAIN,
        "search": _REBER_SEARCH,
        "search_quick": _REBER_SEARCH_QUICK,
        "priors_quick": _REBER_PRIORS_QUICK,
    },
    "embedded_reber": {
        "train": {"epochs": 60, "batch_size": 64, "optimizer": "adam", "lr": 1e-3, "grad_clip": 5.0},
        "search": {"widths": (1, 1), "train": {"epochs": 10, "train_subset": 4000}},
        "search_quick": {
            "population": 8, "generations": 3, "survivors": 4, "nodes": (10, 30), "widths": (1, 1), "final_top": 0,
            "train": {"epochs": 2, "train_subset": 2000, "val_subset": 500, "test_subset": 1000},
        },
    },
}
