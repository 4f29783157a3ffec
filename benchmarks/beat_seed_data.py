"""The beats each seed of benchmarks/beat_seeds.py trains, validates and is scored on: the
multi-database split of its patient fold with the run's options applied in one fixed order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trainer.atrial_context import with_p_coherence
from trainer.datasets import beatdb
from trainer.datasets.rhythm_strips import load_strips
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import (
    TRAINED_RR_FEATURES,
    joined,
    multi_db_data,
    take_rows,
    with_training_beats,
)
from trainer.other_leads import with_other_lead_test, with_other_leads_in_training


def seed_data(args, seed: int, root: Path):
    """Seed i validates on patient fold i (of beatdb.N_FOLDS)."""
    fold = seed % beatdb.N_FOLDS
    if args.other_leads and args.p_coherence:
        raise SystemExit("--p-coherence reads each record's beats in order: not with --other-leads")
    train_on = tuple(args.train_on) if args.train_on else None
    data = multi_db_data(kind_of("arrhythmia"), root, None, None, seed, fold, train_on)
    if args.refit:
        data = with_validation_in_training(data)
    if args.other_leads:  # first: the late S then go from both leads, p_coherence reads both
        data = with_other_leads_in_training(data, root)
    if args.af_strips:
        data = with_training_beats(data, load_strips(None), "ptbxl_af_strips")
    if args.p_coherence:  # after the strips: it reads each record's beats in order
        data = with_p_coherence(data)
    if args.drop_late_s:
        data = without_late_s(data, args.drop_late_s)
    if args.score_other_leads:
        data = with_other_lead_test(data, root)
    return data


def scoring_data(args, root: Path):
    """The test beats the seeds' ensembles are scored on, with the seeds' input options."""
    data = multi_db_data(kind_of("arrhythmia"), root, None, None, 0)
    if args.p_coherence:
        data = with_p_coherence(data)
    return with_other_lead_test(data, root) if args.score_other_leads else data


def without_late_s(data, ratio: float):
    """Training and validation without the S labels that came on time (previous RR >= `ratio`
    of the patient's long mean RR): a quarter of svdb's S (svdb/865's atrial runs labelled beat
    by beat) against 2 % of MIT-BIH DS1's and ~1 % of either test set's (docs/beat_data.md).
    They teach "S = short in an irregular rhythm", which reads AF's N beats as S. The test
    split keeps every beat."""
    s = data.classes.index("S")
    late = TRAINED_RR_FEATURES.index("pre_rr_long")

    def kept(split):
        return take_rows(split, ~((split.y == s) & (split.extra[:, late] >= ratio)))

    return replace(data, train=kept(data.train), val=kept(data.val))


def with_validation_in_training(data):
    """--refit: every training patient trains (the fold's validation beats join training and
    are still scored, now optimistically). With the last or averaged epochs kept, validation
    chooses nothing, so the fold need not be held out: seeds then differ by seed alone, not by
    which fifth of the patients each one never saw."""
    merged = joined(data.train, data.val)
    return replace(data, train=merged, source={**data.source, "validation_in_training": True})
