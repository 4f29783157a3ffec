"""The other lead as a second view of the same beats, on real excerpts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import MITDB, SHARED, need
from trainer.datasets.excerpt import write_mitdb_excerpt
from trainer.kinds.arrhythmia import ARRHYTHMIA
from trainer.other_leads import lead2_id, with_other_lead_test, with_other_leads_in_training


@pytest.fixture(scope="module")
def data_and_root(tmp_path_factory):
    """Half a minute of MIT-BIH 201, 208 (DS1) and 100 (DS2); svdb 804, 808, 800 (held out)."""
    root = tmp_path_factory.mktemp("leads")
    for name in ("201", "208", "100"):
        write_mitdb_excerpt(need(MITDB), name, root / "mitdb", seconds=30.0)
    for name in ("804", "808", "800"):
        write_mitdb_excerpt(need(SHARED / "svdb"), name, root / "svdb", seconds=30.0)
    cache = tmp_path_factory.mktemp("cache")
    return ARRHYTHMIA.load(root, None, cache, None, 0), root, cache


def test_training_gains_each_training_records_other_lead_under_the_same_patient(data_and_root):
    data, root, cache = data_and_root
    out = with_other_leads_in_training(data, root, cache)
    n = len(data.train.y)
    assert len(out.train.y) == 2 * n  # every beat once more (Q beats stay out of both)
    np.testing.assert_array_equal(out.train.y[n:], data.train.y)
    np.testing.assert_array_equal(out.train.groups[n:], data.train.groups)
    # the same rhythm: R peaks are re-centred on the other lead, so RR ratios move a little
    np.testing.assert_allclose(out.train.extra[n:], data.train.extra, atol=0.1)
    assert not np.allclose(out.train.x[n:], data.train.x)  # another view of the QRS
    assert out.val is data.val and out.test is data.test
    assert out.source["training_other_leads"]["beats"] == n


def test_the_other_leads_test_is_reported_as_databases_of_their_own(data_and_root):
    data, root, cache = data_and_root
    out = with_other_lead_test(data, root, cache)
    groups = set(out.test.groups.tolist())
    assert groups == {"100", "svdb/800", "mitdb-lead2/100", "svdb-lead2/800"}
    n = len(data.test.y)
    np.testing.assert_array_equal(out.test.y[n:], data.test.y)
    assert out.train is data.train
    assert lead2_id("svdb/800") == "svdb-lead2/800" and lead2_id("100") == "mitdb-lead2/100"
