import numpy as np

from trainer.batches import (
    augment_beats,
    beat_class_weights,
    beat_epoch_indices,
    diagnostic_batches,
)
from trainer.config import TrainConfig
from trainer.tasks import Split


def test_rare_classes_weigh_more_and_augmentation_keeps_shapes():
    y = np.array([0] * 900 + [1] * 20 + [2] * 70 + [3] * 10)
    w = beat_class_weights(y, 4, TrainConfig(task="arrhythmia"))
    assert w[3] > w[1] > w[2] > w[0]
    x = np.random.default_rng(0).normal(size=(8, 2, 128)).astype(np.float32)
    out = augment_beats(x, 3, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == np.float32 and not np.allclose(out, x)


def test_an_inverted_lead_negates_beat_and_template_together():
    """polarity_flip_prob: a share of beats as an inverted lead gives them (both channels), the
    rest as recorded; 0 draws nothing, so older seeds train as they did."""
    x = np.abs(np.random.default_rng(0).normal(size=(2000, 2, 128))).astype(np.float32) + 1.0
    out = augment_beats(x, 0, np.random.default_rng(1), flip_prob=0.5)
    negative = out.mean(axis=2) < 0
    assert np.array_equal(negative[:, 0], negative[:, 1])  # beat and template together
    assert 0.45 < negative[:, 0].mean() < 0.55
    same = augment_beats(x, 3, np.random.default_rng(2), flip_prob=0.0)
    rng = np.random.default_rng(2)  # the draws as they were before the option (6 Dec)
    shift = rng.integers(-3, 4, size=len(x))
    idx = np.clip(np.arange(128)[None, :] - shift[:, None], 0, 127)
    before = x.copy()
    before[:, 0] = np.take_along_axis(x[:, 0], idx, axis=1)
    before = before * rng.uniform(0.8, 1.2, size=(len(x), 1, 1)).astype(np.float32)
    before = (before + rng.normal(0, 0.02, size=x.shape)).astype(np.float32)
    assert np.array_equal(same, before) and (same.mean(axis=2) > 0).all()


def test_an_epoch_keeps_every_minority_beat_and_a_share_of_normal_ones():
    y = np.array([0] * 1000 + [1] * 30 + [2] * 50)
    idx = beat_epoch_indices(y, 0.25, np.random.default_rng(0))
    assert len(idx) == len(set(idx)) == 80 + 250
    assert set(np.flatnonzero(y != 0)) <= set(idx)


def test_diagnostic_batches_are_random_crops_of_whole_records():
    x = np.arange(3 * 2 * 1000, dtype=np.float32).reshape(3, 2, 1000)
    split = Split(x, np.eye(3, 5, dtype=np.float32), None, np.arange(3))
    cfg = TrainConfig(batch_size=4, crops_per_record=2)
    batches = list(diagnostic_batches(split, 250, cfg, np.random.default_rng(0)))
    crops = np.concatenate([b[0].numpy() for b in batches])
    assert crops.shape == (6, 2, 250)
    assert np.all(np.diff(crops, axis=2) == 1)  # contiguous samples of one record and lead
