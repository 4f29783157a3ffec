"""N beats inside annotated atrial fibrillation / flutter as emphasized counter-examples
(`TrainConfig.af_n_repeat`, issue 13): found on a real record, kept and repeated by the epoch
draw, and today's draw unchanged at the default."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.beats import BeatSpec
from edge_monitor.errors import InputError
from tests.conftest import MITDB, need
from trainer.batches import af_counterexamples, beat_epoch_indices, epoch_indices
from trainer.config import TrainConfig
from trainer.datasets import beatdb, mitdb
from trainer.datasets.excerpt import write_mitdb_excerpt
from trainer.kinds.arrhythmia import ARRHYTHMIA, RhythmSplit, beat_task_data
from trainer.splits import Split


@pytest.fixture(scope="module")
def af_and_sinus(tmp_path_factory):
    """The first minute of MIT-BIH 201 (atrial fibrillation from its 60th sample on, DS1) and
    of 100 (sinus rhythm throughout), through the device recipe."""
    root = tmp_path_factory.mktemp("af") / "mitdb"
    for name in ("201", "100"):
        write_mitdb_excerpt(need(MITDB), name, root, seconds=60.0)
    return beatdb.load_db_beats(beatdb.MITDB, root, ["201", "100"], BeatSpec(), None)


def test_the_beats_of_a_real_af_stretch_are_found_and_sinus_beats_are_not(af_and_sinus):
    beats = af_and_sinus
    in_201 = beats.records == "201"
    assert in_201.sum() > 50 and (~in_201).sum() > 50
    assert set(beats.rhythms[in_201].tolist()) == {"AFIB"}  # every beat after sample 60
    assert "AFIB" not in beats.rhythms[~in_201].tolist()
    assert set(beats.rhythms[~in_201].tolist()) <= {"N", ""}
    data = beat_task_data(ARRHYTHMIA, dict.fromkeys(mitdb.SPLITS, beats), None, 0, {}, None)
    emphasis = af_counterexamples(data.train, TrainConfig(task="arrhythmia", af_n_repeat=3))
    assert np.array_equal(emphasis, data.train.groups == "201")


@given(st.lists(st.integers(1, 50), min_size=0, max_size=8), st.lists(st.integers(0, 400)))
def test_each_beat_gets_the_rhythm_episode_it_lies_in(gaps, beats):
    starts = np.cumsum([0, *gaps])[:-1] + 10 if gaps else np.array([], np.int64)
    ends = np.append(starts[1:], 350) if len(starts) else np.array([], np.int64)
    names = np.array([f"R{i}" for i in range(len(starts))], dtype=str)
    samples = np.array(beats, np.int64)
    got = mitdb.beat_rhythms(samples, names, starts, ends)
    for s, r in zip(samples, got, strict=True):
        inside = [n for n, a, b in zip(names, starts, ends, strict=True) if a <= s < b]
        assert r == (inside[-1] if inside else "")


@given(
    st.integers(2, 300),
    st.lists(st.integers(0, 3), min_size=2, max_size=300),
    st.floats(0.05, 1.0),
    st.integers(1, 5),
    st.integers(0, 2**31),
)
@settings(max_examples=60, deadline=None)
def test_an_epoch_holds_every_af_n_beat_k_times_and_k1_is_todays_draw(n_af, labels, keep, k, seed):
    y = np.array(labels)
    emphasis = np.random.default_rng(seed).random(len(y)) < n_af / 300
    idx = beat_epoch_indices(y, keep, np.random.default_rng(seed), None, 0, emphasis, k)
    counts = np.bincount(idx, minlength=len(y))
    normal = y == 0
    minority = np.flatnonzero(~normal)
    assert np.all(counts[minority] == 1)
    if k == 1:  # today's draw, spelled out: every minority beat, a `keep` share of N, shuffled
        rng = np.random.default_rng(seed)
        ns = np.flatnonzero(normal)
        if len(ns):
            chosen = rng.choice(ns, size=max(1, int(keep * len(ns))), replace=False)
            assert np.array_equal(idx, rng.permutation(np.concatenate([minority, chosen])))
        return
    assert np.all(counts[normal & emphasis] == k)
    rest = normal & ~emphasis
    if rest.any():
        assert np.all(counts[rest] <= 1)
        assert counts[rest].sum() == max(1, int(keep * rest.sum()))


def test_k_is_validated_and_needs_the_rhythms_it_reads():
    with pytest.raises(InputError, match="af_n_repeat"):
        TrainConfig(task="arrhythmia", af_n_repeat=0)
    cfg = TrainConfig.from_dict({"task": "arrhythmia", "af_n_repeat": 4})
    y = np.array([0, 0, 0, 1])
    plain = Split(np.zeros((4, 2, 8), np.float32), y, np.zeros((4, 6), np.float32), np.arange(4))
    with pytest.raises(InputError, match="rhythms"):
        epoch_indices(plain, cfg, np.random.default_rng(0))
    assert af_counterexamples(plain, TrainConfig(task="arrhythmia")) is None
    rhythmic = RhythmSplit(*vars(plain).values(), np.array(["AFIB", "AFL", "N", "AFIB"]))
    idx = epoch_indices(rhythmic, cfg, np.random.default_rng(0))
    assert np.bincount(idx, minlength=4).tolist() == [4, 4, 1, 1]  # the S beat in AF: once
    assert ARRHYTHMIA.epoch_size(rhythmic, 0, cfg) == len(idx)


def test_beat_errors_counts_the_false_s_that_lie_in_af():
    spec = importlib.util.spec_from_file_location(
        "beat_errors", Path(__file__).parents[2] / "benchmarks" / "beat_errors.py"
    )
    beat_errors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(beat_errors)
    y = np.array([0, 0, 0, 0, 1])
    rhythms = np.array(["AFIB", "AFL", "N", "AFIB", "AFIB"])
    split = RhythmSplit(np.zeros((5, 2, 8)), y, np.ones((5, 6)), np.array(["219"] * 5), rhythms)
    out = beat_errors.model_errors(beat_errors.Beats.of(split), np.array([1, 0, 1, 1, 1]))
    assert (out["mitdb"]["N->S"], out["mitdb"]["N->S_in_AF"], out["mitdb"]["N_in_AF"]) == (3, 2, 3)
