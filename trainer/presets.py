"""The named model presets (the CLI's `--model`), as plain dictionaries: kept apart from the
torch networks in trainer.models so that the CLI checks a preset's name without loading torch."""

from __future__ import annotations

# Named presets: the CLI's --model. Sizes chosen to train on a 2-core CPU in minutes. The
# teachers are ensembles of small ResNets: on these data sets (1.5 k PTB-XL records, 18 MIT-BIH
# training patients) one large network overfitted (exploratory runs: 557 K parameters, fold-9
# AUC 0.935, no better than 26 K), while the average of independently trained members was
# better on validation than any member (fold 9: 0.946 for three students, 0.931-0.939 alone).
PRESETS: dict[str, dict[str, dict]] = {
    "diagnostic": {
        "seed_cnn": {"arch": "seed_cnn", "in_channels": 12, "n_classes": 5, "input_length": 1000},
        "teacher": {"widths": (32, 64, 64), "head_hidden": 32, "members": 3},
        "student": {"widths": (16, 32, 32), "blocks_per_stage": 1, "head_hidden": 32},
        "tiny": {"widths": (8, 8), "head_hidden": 8, "dropout": 0.0},
    },
    "arrhythmia": {
        "teacher": {
            "in_channels": 2,
            "n_classes": 4,
            "input_length": 128,
            "n_extra": 6,
            "widths": (16, 32, 32),
            "head_hidden": 16,
            "members": 5,
        },
        "student": {
            "in_channels": 2,
            "n_classes": 4,
            "input_length": 128,
            "n_extra": 6,
            "widths": (8, 16, 24),
            "blocks_per_stage": 1,
            "head_hidden": 16,
        },
        # the upper bound for the beat model is 50 K: room for a student 3.8x this
        # size, for what the 9 K one may be too small to take from its ensemble teacher
        "student-l": {
            "in_channels": 2,
            "n_classes": 4,
            "input_length": 128,
            "n_extra": 6,
            "widths": (16, 32, 48),
            "blocks_per_stage": 1,
            "head_hidden": 24,
        },
        "tiny": {
            "in_channels": 2,
            "n_classes": 4,
            "input_length": 128,
            "n_extra": 6,
            "widths": (4, 8),
            "head_hidden": 8,
            "dropout": 0.0,
        },
    },
    # 4 s of one lead at 125 Hz -> P(VT/VF): see trainer.kinds.ventricular
    "ventricular": {
        "teacher": {
            "in_channels": 1,
            "n_classes": 1,
            "input_length": 500,
            "widths": (12, 24, 32),
            "head_hidden": 16,
        },
        "student": {
            "in_channels": 1,
            "n_classes": 1,
            "input_length": 500,
            "widths": (8, 16, 32),
            "head_hidden": 16,
        },
        "tiny": {
            "in_channels": 1,
            "n_classes": 1,
            "input_length": 500,
            "widths": (4, 8),
            "head_hidden": 8,
            "dropout": 0.0,
        },
    },
}
