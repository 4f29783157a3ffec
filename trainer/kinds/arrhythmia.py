"""The arrhythmia task: beats of MIT-BIH and svdb (`trainer.datasets.beatdb`), AAMI classes
N S V F, scored by the F1 of S and V beats.

One input per detected beat (the beat, its running template and RR features), inter-patient
splits (de Chazal DS1 -> DS2), class-balanced and augmented training batches. Torch is imported
by the methods that train or predict (see `trainer.kinds.base`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import confusion_matrix

from edge_monitor.beats import RR_FEATURES, BeatSpec
from trainer.config import TrainConfig
from trainer.datasets import beatdb, mitdb
from trainer.kinds.base import TaskKind
from trainer.metrics import beat_statistics, mean_of_defined, record_bootstrap_f1
from trainer.splits import Split, TaskData

if TYPE_CHECKING:
    import torch
    from torch import nn

    from trainer.batches import Batch

HEADLINE_CLASSES = ("S", "V")  # the minority classes an arrhythmia monitor is for
# The RR features a student is trained on and its contract names. The beat sets carry every
# feature the device computes (RR_FEATURES, append-only); `beat_rows` hands a model these.
# local_rr_msd is left out until a pre-registered test adopts it
# (docs/preregistrations/2026-12-06-rr-msd.md): the recipes documented so far keep their inputs.
TRAINED_RR_FEATURES: tuple[str, ...] = RR_FEATURES[:6]


@dataclass(frozen=True)
class RhythmSplit(Split):
    """Beats with the reference rhythm each lies in: what `TrainConfig.af_n_repeat` reads to
    find the N beats of atrial fibrillation / flutter (`trainer.batches.af_counterexamples`)."""

    rhythms: np.ndarray | None = None  # (n,) str, "" where no rhythm is annotated


def beat_rows(beats: mitdb.BeatSet, keep: np.ndarray) -> RhythmSplit:
    """The beats `keep` selects as model inputs: beat and template channels (n, 2, length), RR
    features, the record and reference rhythm of each."""
    x = np.stack([beats.windows[keep], beats.templates[keep]], axis=1)
    columns = [RR_FEATURES.index(n) for n in TRAINED_RR_FEATURES]
    rr = beats.rr[keep][:, columns]
    return RhythmSplit(x, beats.labels[keep], rr, beats.records[keep], beats.rhythms[keep])


def take_rows(split: Split, keep: np.ndarray) -> Split:
    """The rows `keep` selects (a mask or indices) of every per-row array of any split class,
    so a `RhythmSplit` keeps its rhythms."""
    arrays = {f.name: getattr(split, f.name) for f in fields(split)}
    return replace(split, **{k: v[keep] for k, v in arrays.items() if v is not None})


@dataclass(frozen=True)
class Arrhythmia(TaskKind):
    def load(self, data_dir, leads, cache_dir, limit, seed) -> TaskData:
        """Beats of several databases when the data hold mitdb/ and svdb/ (issue 13: DS1 + svdb
        training records, one leave-patients-out fold as validation, DS2 + held-out svdb as
        test), else MIT-BIH alone (DS1 minus 4 validation patients -> DS2). One lead per record
        (`leads` is not used); `limit` beats per split drawn with `seed`."""
        root = beatdb.multi_db_root(data_dir)
        if root is not None:
            return multi_db_data(self, root, cache_dir, limit, seed)
        spec = BeatSpec()
        sets = {
            name: mitdb.load_beats(data_dir, name, spec, cache_dir=cache_dir)
            for name in mitdb.SPLITS
        }
        source = {
            "dataset": "MIT-BIH Arrhythmia (de Chazal DS1 -> DS2)",
            "excluded_paced": list(mitdb.PACED),
        }
        return beat_task_data(self, sets, limit, seed, source, mitdb.resolve_dir(data_dir))

    def leads(self, preprocessing: dict) -> list[str]:
        return [preprocessing["lead"]]

    def lead_option(self, leads: list[str]) -> str | None:
        return None  # the loader reads MLII whatever is asked

    def epoch_size(self, train: Split, input_length: int, cfg: TrainConfig) -> int:
        from trainer.batches import epoch_indices

        return len(epoch_indices(train, cfg, np.random.default_rng(0)))

    def class_weights(self, y: np.ndarray, cfg: TrainConfig) -> torch.Tensor | None:
        from trainer.batches import beat_class_weights

        return beat_class_weights(y, len(self.classes), cfg)

    def batches(self, train, input_length, cfg, rng, noise) -> Iterator[Batch]:
        from trainer.batches import beat_batches

        return beat_batches(train, cfg, rng, noise)

    def loss(self, logits, y, class_weights, cfg) -> torch.Tensor:
        """Weighted cross-entropy with label smoothing, focal when `cfg.focal_gamma` > 0."""
        import torch
        from torch.nn import functional as F

        ce = F.cross_entropy(
            logits, y, weight=class_weights, reduction="none", label_smoothing=cfg.label_smoothing
        )
        if cfg.focal_gamma > 0:
            p_true = torch.softmax(logits, 1).gather(1, y[:, None])[:, 0].detach()
            ce = ce * (1 - p_true) ** cfg.focal_gamma
        return ce.mean()

    def trained_preprocessing(self, preprocessing: dict, cfg: TrainConfig, input_length: int):
        return dict(preprocessing)

    def predict(
        self, model: nn.Module, split: Split, stride: int, batch: int, aggregate: str
    ) -> np.ndarray:
        """Per beat: the softmax of the beat's logits (`stride` and `aggregate` do not apply)."""
        import torch

        model.eval()
        assert split.extra is not None
        x, extra = torch.from_numpy(split.x), torch.from_numpy(split.extra)
        with torch.no_grad():
            out = [
                torch.softmax(model(x[i : i + batch], extra[i : i + batch]), dim=1)
                for i in range(0, len(x), batch)
            ]
        return torch.cat(out).numpy()

    def score(self, y, probs, classes) -> dict:
        stats = beat_statistics(y, probs.argmax(axis=1), tuple(classes))["per_class"]
        f1 = {f"f1_{c}": stats[c]["f1"] for c in HEADLINE_CLASSES}
        return {**f1, "mean_f1_SV": self.headline(f1)}

    def headline(self, score: dict) -> float:
        """The mean F1 of S and V beats over those defined in the split (F1 is NaN for a class
        that is neither in the split nor predicted).

        Why the mean of the defined ones (nanmean) and not a plain mean: a plain mean is NaN as
        soon as one class is absent from a small split (a `--limit` run, a validation record
        set without S beats), and NaN silently breaks every ranking that reads the headline
        (`score > best` is always false, `max` keeps whatever came first). Macro AUC already
        averages over the classes that are defined (`metrics.macro_auc`); this is the same
        rule. NaN only when neither class is defined. On the full MIT-BIH splits both classes
        are present and the two rules give the same number."""
        return mean_of_defined([score[f"f1_{c}"] for c in HEADLINE_CLASSES])

    def gate_drop(self, fp32: dict, int8: dict) -> float:
        """The larger of the S and V F1 losses. As it always was: when S's loss is undefined
        (NaN) the drop is NaN and the gate passes; a NaN V loss is passed over."""
        return max(fp32["f1_S"] - int8["f1_S"], fp32["f1_V"] - int8["f1_V"])

    def evaluate(self, data: TaskData, p_val, p_test, n_boot: int) -> dict:
        """AAMI gross statistics on validation and test, and the confusion of each test record."""
        return {
            "val": beat_statistics(data.val.y, p_val.argmax(1), data.classes),
            "test": beat_statistics(data.test.y, p_test.argmax(1), data.classes),
            "test_per_record": per_record_confusion(data, p_test.argmax(1)),
            "test_per_database": per_database_statistics(
                data.test.y, p_test.argmax(1), data.test.groups, data.classes
            ),
        }

    def stage_test(self, test: dict) -> dict:
        pc = test["per_class"]
        return {
            "accuracy": test["accuracy"],
            **{
                f"{k}_{c}": pc[c][k]
                for c in HEADLINE_CLASSES
                for k in ("se", "ppv")  # Se and +P of S, then of V
            },
            **{f"f1_{c}": pc[c]["f1"] for c in HEADLINE_CLASSES},
        }

    def onnx_test(self, y, probs, classes) -> dict:
        return self.stage_test(beat_statistics(y, probs.argmax(1), tuple(classes)))

    def summary(self, test: dict) -> str:
        t = test
        return (
            f"test S Se/+P {t['se_S']:.3f}/{t['ppv_S']:.3f} F1 {t['f1_S']:.3f}, "
            f"V Se/+P {t['se_V']:.3f}/{t['ppv_V']:.3f} F1 {t['f1_V']:.3f}"
        )

    def cell(self, test: dict) -> str:
        return f"{test['f1_S']:.3f} / {test['f1_V']:.3f}"

    def describe(self, result: dict) -> list[str]:
        test = result["test"]
        lines = [f"test accuracy {test['accuracy']:.4f}"]
        for name, s in test["per_class"].items():
            lines.append(
                f"  {name}: Se {s['se']:.3f}  +P {s['ppv']:.3f}  F1 {s['f1']:.3f}  "
                f"(n={s['support']})"
            )
        return lines

    def paired(
        self, final: Mapping[str, np.ndarray], teacher: Mapping[str, np.ndarray]
    ) -> dict[str, dict]:
        """S and V F1 differences, resampling whole records (beats of a patient are not
        independent)."""
        return {
            f"int8_vs_teacher_f1_{c}": record_bootstrap_f1(
                final["y"], final["int8"], teacher["fp32"], final["groups"], self.classes.index(c)
            )
            for c in HEADLINE_CLASSES
        }


def beat_preprocessing(spec: BeatSpec) -> dict:
    """What the device must do to a lead before the model (the bundle contract's preprocessing).
    `source_fs` is MIT-BIH's rate: the device resamples any source rate to `fs`."""
    return {
        "fs": spec.fs,
        "source_fs": 360.0,
        "lead": "MLII",
        "filter": mitdb.ARRHYTHMIA_FILTER.as_dict(),
        "beat": spec.as_dict(),
        "rr_features": list(TRAINED_RR_FEATURES),
        "normalization": "beat minus its median, over the running median QRS amplitude",
        "channels": ["beat", "template"],
    }


def beat_task_data(
    kind: TaskKind, sets: dict[str, mitdb.BeatSet], limit, seed, source: dict, data_dir
) -> TaskData:
    """Train / val / test beat sets as model inputs (beat and template channels, RR features),
    Q beats left out, `limit` beats per split drawn with `seed`."""
    rng = np.random.default_rng(seed)
    splits, counts = {}, {}
    for name in mitdb.SPLITS:
        beats = sets[name]
        keep = np.flatnonzero(beats.labels < len(kind.classes))
        if limit is not None and len(keep) > limit:
            keep = np.sort(rng.choice(keep, size=limit, replace=False))
        splits[name] = beat_rows(beats, keep)
        labels = beats.labels[keep]
        counts[name] = {
            "records": sorted(set(beats.records.tolist())),
            "beats": {c: int((labels == i).sum()) for i, c in enumerate(kind.classes)},
        }
    return TaskData(
        kind.name,
        kind.classes,
        splits["train"],
        splits["val"],
        splits["test"],
        beat_preprocessing(BeatSpec()),
        {**source, "splits": counts},
        data_dir,
    )


def multi_db_data(
    kind: TaskKind,
    root: Path,
    cache_dir,
    limit,
    seed,
    fold: int = beatdb.VALIDATION_FOLD,
    train_on: tuple[str, ...] | None = None,
) -> TaskData:
    """MIT-BIH DS1 + svdb training records, patient fold `fold` of them as validation, MIT-BIH
    DS2 + the held-out svdb records as test (`trainer.datasets.beatdb`). `train_on` limits
    training and validation to some databases (a control: the test stays the same)."""
    available = beatdb.available_records(root)
    split = beatdb.multi_db_split(available, fold=fold)
    if train_on is not None:
        kept = {n: r for n, r in available.items() if n in train_on}
        split = replace(beatdb.multi_db_split(kept, fold=fold), test=split.test)
    spec = BeatSpec()
    test_ids = [r for ids in split.test.values() for r in ids]
    sets = {
        "train": beatdb.load_ids(split.train, root, spec, cache_dir),
        "val": beatdb.load_ids(split.val, root, spec, cache_dir),
        "test": beatdb.load_ids(test_ids, root, spec, cache_dir),
    }
    source = {
        "dataset": "MIT-BIH DS1 + svdb training records -> MIT-BIH DS2, held-out svdb",
        "databases": {n: beatdb.REGISTRY[n].notes for n in split.test},
        "folds": split.folds,
        "validation_fold": fold,
        "excluded_paced": list(mitdb.PACED),
    }
    return beat_task_data(kind, sets, limit, seed, source, beatdb.MITDB.resolve(root / "mitdb"))


def with_training_beats(data: TaskData, beats: mitdb.BeatSet, name: str) -> TaskData:
    """`data` with `beats` added to training only (counter-examples such as
    `trainer.datasets.rhythm_strips`): validation and test keep their reference beats."""
    extra = beat_rows(beats, beats.labels < len(data.classes))
    assert isinstance(data.train, RhythmSplit)
    merged = joined(data.train, extra)
    added = {"records": len(set(extra.groups.tolist())), "beats": int(len(extra.y))}
    return replace(data, train=merged, source={**data.source, f"training_{name}": added})


def joined(first: Split, second: Split) -> Split:
    """The rows of two splits of one class, first's then second's (a field None in first
    stays None)."""
    return type(first)(
        *(
            None
            if getattr(first, f.name) is None
            else np.concatenate([getattr(first, f.name), getattr(second, f.name)])
            for f in fields(first)
        )
    )


def per_database_statistics(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, classes) -> dict:
    """AAMI gross statistics of each database's records (record ids "<db>/<record>")."""
    dbs = np.array([beatdb.database_of(str(g)) for g in groups])
    return {
        name: beat_statistics(y[dbs == name], pred[dbs == name], tuple(classes))
        for name in sorted(set(dbs.tolist()))
    }


def per_record_confusion(data: TaskData, pred: np.ndarray) -> dict[str, list[list[int]]]:
    """Confusion matrix of each test record: where the gross statistics come from."""
    labels = list(range(len(data.classes)))
    return {
        str(r): confusion_matrix(
            data.test.y[data.test.groups == r], pred[data.test.groups == r], labels=labels
        ).tolist()
        for r in np.unique(data.test.groups)
    }


ARRHYTHMIA = Arrhythmia(
    name="arrhythmia",
    classes=("N", "S", "V", "F"),  # AAMI; Q (15 beats outside paced records) left out
    multilabel=False,
    unit="beats",
    metric="test mean F1 of S and V",
    column="F1 S / V",
    int8_budget="max_int8_f1_drop",
    prune_tolerance=0.01,
    roc_panels=HEADLINE_CLASSES,
    noise_training=True,
)
