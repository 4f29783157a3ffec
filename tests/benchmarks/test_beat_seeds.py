"""The S prior correction of benchmarks/beat_seeds.py: chosen on validation, baked in."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from trainer.models import build_model, ensemble_of, preset

SPEC = importlib.util.spec_from_file_location(
    "beat_seeds", Path(__file__).parents[2] / "benchmarks" / "beat_seeds.py"
)
beat_seeds = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(beat_seeds)
import beat_seed_data  # noqa: E402  (importable once beat_seeds put benchmarks/ on the path)


def test_the_cv_shift_is_the_best_mean_over_folds_not_one_folds_best():
    n = len(beat_seeds.S_BIASES)
    curves = [[0.5] * n for _ in range(3)]
    curves[0][0] = 0.99  # one fold's lucky peak
    for c in curves:
        c[4] += 0.2
    assert beat_seeds.cv_bias(curves) == beat_seeds.S_BIASES[4]


def test_a_shift_baked_into_an_ensemble_moves_its_s_logit_alone():
    torch.manual_seed(0)
    members = [build_model(preset("arrhythmia", "student")).eval() for _ in range(2)]
    ens = ensemble_of(members).eval()
    x, rr = torch.randn(5, 2, 128), torch.randn(5, 6)
    before = ens(x, rr).detach()
    beat_seeds.add_s_bias(ens, -1.5)
    after = ens(x, rr).detach()
    delta = (after - before).numpy()
    assert np.allclose(delta[:, 1], -1.5, atol=1e-5) and np.allclose(delta[:, [0, 2, 3]], 0)
    probs = torch.softmax(before, 1).numpy()
    assert np.array_equal(beat_seeds.s_shifted(probs, -1.5).argmax(1), after.numpy().argmax(1))


def test_late_s_labels_leave_training_and_validation_but_never_the_test():
    from trainer.kinds.arrhythmia import RhythmSplit
    from trainer.splits import TaskData

    pre = beat_seed_data.TRAINED_RR_FEATURES.index("pre_rr_long")
    rr = np.zeros((6, len(beat_seed_data.TRAINED_RR_FEATURES)), np.float32)
    rr[:, pre] = [0.7, 1.0, 0.96, 1.2, 0.5, 1.0]
    y = np.array([1, 1, 1, 0, 1, 2])  # S early, S on time, S on time, N late, S early, V

    def split():
        rhythms = np.array(["AFIB", "N", "AFIB", "AFL", "", "N"])
        return RhythmSplit(np.arange(6.0)[:, None], y.copy(), rr.copy(), np.arange(6), rhythms)

    data = TaskData("arrhythmia", ("N", "S", "V", "F"), split(), split(), split(), {}, {})
    out = beat_seed_data.without_late_s(data, 0.95)
    for part in (out.train, out.val):
        assert part.groups.tolist() == [0, 3, 4, 5]  # the on-time S beats alone are gone
        assert part.x[:, 0].tolist() == [0.0, 3.0, 4.0, 5.0]
        assert part.rhythms.tolist() == ["AFIB", "AFL", "", "N"]  # the rhythms follow their rows
    assert out.test.groups.tolist() == list(range(6))


def test_one_seed_has_no_sd_and_the_summary_stays_strict_json():
    import json

    one = beat_seeds.mean_sd([{"val": 0.7, "mitdb": {"f1_S": 0.6}}])
    assert one["val"] == {"mean": 0.7, "sd": None} and one["mitdb"]["f1_S"]["sd"] is None
    json.dumps(one, allow_nan=False)
    two = beat_seeds.mean_sd([{"val": 0.6}, {"val": 0.8}])
    assert np.isclose(two["val"]["sd"], np.std([0.6, 0.8], ddof=1))
