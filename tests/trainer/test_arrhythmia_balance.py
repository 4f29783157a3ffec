"""Per-patient class balance of beat epochs (TrainConfig.record_cap)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.errors import InputError
from trainer.batches import beat_epoch_indices, capped_minority
from trainer.config import TrainConfig


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=300),
    n_records=st.integers(1, 6),
    cap=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_no_record_gives_more_than_cap_beats_of_a_minority_class(labels, n_records, cap, seed):
    y = np.array(labels)
    groups = np.array([f"r{i % n_records}" for i in range(len(y))])
    idx = capped_minority(y, groups, cap, np.random.default_rng(seed))
    assert len(idx) == len(set(idx.tolist())) and np.all(y[idx] != 0)
    for rec in set(groups.tolist()):
        for cls in (1, 2, 3):
            have = int(((groups == rec) & (y == cls)).sum())
            got = int(((groups[idx] == rec) & (y[idx] == cls)).sum())
            assert got == min(have, cap)  # all of a small record, exactly cap of a large one


def test_without_a_cap_every_minority_beat_is_drawn_and_n_keeps_its_share():
    y = np.array([0] * 1000 + [1] * 300 + [2] * 50)
    groups = np.array(["a"] * 700 + ["b"] * 650)
    free = beat_epoch_indices(y, 0.25, np.random.default_rng(0), groups, 0)
    capped = beat_epoch_indices(y, 0.25, np.random.default_rng(0), groups, 100)
    assert len(free) == 350 + 250
    assert int((y[capped] == 1).sum()) == 100 and int((y[capped] == 0).sum()) == 250


def test_a_negative_cap_is_refused():
    with pytest.raises(InputError, match="record_cap"):
        TrainConfig(task="arrhythmia", record_cap=-1)
