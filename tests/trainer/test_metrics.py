import json
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from trainer.metrics import (
    beat_statistics,
    bootstrap_ci,
    macro_auc,
    multilabel_f1,
    paired_bootstrap,
    per_class_auc,
    tune_thresholds,
    write_json,
)


def scored(n=300, k=3, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < 0.3).astype(float)
    return y, y + noise * rng.normal(size=y.shape)


def test_macro_auc_matches_sklearn():
    y, p = scored()
    assert np.isclose(macro_auc(y, p), roc_auc_score(y, p, average="macro"))
    np.testing.assert_allclose(per_class_auc(y, p), roc_auc_score(y, p, average=None))


def test_class_without_positives_is_skipped_not_fatal():
    y, p = scored()
    y[:, 1] = 0
    assert np.isnan(per_class_auc(y, p)[1])
    assert np.isclose(macro_auc(y, p), roc_auc_score(y[:, [0, 2]], p[:, [0, 2]]))


def test_bootstrap_ci_brackets_the_estimate_and_narrows_with_data():
    y, p = scored(n=200)
    lo, hi = bootstrap_ci(macro_auc, y, p, n_boot=100)
    assert lo < macro_auc(y, p) < hi
    y2, p2 = scored(n=2000)
    lo2, hi2 = bootstrap_ci(macro_auc, y2, p2, n_boot=100)
    assert hi2 - lo2 < hi - lo


def test_paired_bootstrap_separates_a_real_gap_from_noise():
    y, good = scored(noise=0.5, seed=1)
    rng = np.random.default_rng(2)
    worse = good + 2.0 * rng.normal(size=good.shape)
    real = paired_bootstrap(macro_auc, y, good, worse, n_boot=100)
    assert real["diff"] > 0 and not real["within_noise"]
    same = paired_bootstrap(
        macro_auc, y, good, good + 1e-9 * rng.normal(size=good.shape), n_boot=100
    )
    assert same["within_noise"]


def test_thresholds_tuned_for_f1_beat_a_fixed_half():
    y, p = scored(noise=0.6)
    p = 1 / (1 + np.exp(-(p - 1.5)))  # badly calibrated: a 0.5 threshold misses most positives
    tuned = multilabel_f1(y, p, tune_thresholds(y, p))["macro_f1"]
    fixed = multilabel_f1(y, p, np.full(3, 0.5))["macro_f1"]
    assert tuned > fixed


def test_beat_statistics_match_sklearn_recall_and_precision():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 500)
    pred = np.where(rng.random(500) < 0.7, y, rng.integers(0, 4, 500))
    stats = beat_statistics(y, pred, ("N", "S", "V", "F"))
    se = recall_score(y, pred, average=None)
    ppv = precision_score(y, pred, average=None)
    for k, name in enumerate("NSVF"):
        assert np.isclose(stats["per_class"][name]["se"], se[k])
        assert np.isclose(stats["per_class"][name]["ppv"], ppv[k])
    assert np.sum(stats["confusion"]) == 500


def _refuse(token):
    raise ValueError(f"{token} is not JSON")


SCORES = st.recursive(
    st.floats() | st.integers() | st.none() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@given(SCORES)
def test_metrics_files_are_strict_json_with_null_for_undefined_scores(tmp_path_factory, obj):
    """What Python's json writes as a bare NaN / Infinity (no other reader accepts it) is null;
    every finite value is kept."""
    path = tmp_path_factory.mktemp("m") / "metrics.json"
    write_json(path, {"test": obj, "auc": np.float64("nan"), "per_class": np.array([0.5, np.inf])})
    back = json.loads(path.read_text(), parse_constant=_refuse)

    def same(a, b):
        if isinstance(a, float) and not math.isfinite(a):
            return b is None
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    assert same(obj, back["test"])
    assert back["auc"] is None and back["per_class"] == [0.5, None]


def test_numpy_keys_are_written_as_their_values(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {np.int64(3): 1.0, np.str_("S"): {np.int32(0): np.float32(0.5)}})
    assert json.loads(path.read_text()) == {"3": 1.0, "S": {"0": 0.5}}
