"""benchmarks/gap_edges.py: where its gaps go, which beats it calls invented, which alarms new."""

import importlib.util
from pathlib import Path

import numpy as np

SPEC = importlib.util.spec_from_file_location(
    "gap_edges", Path(__file__).parents[2] / "benchmarks" / "gap_edges.py"
)
gap_edges = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gap_edges)


def test_gaps_are_the_same_for_a_record_and_cycle_their_lengths():
    a = gap_edges.gap_spans("svdb/800", 128.0, 128 * 700)
    assert a == gap_edges.gap_spans("svdb/800", 128.0, 128 * 700)
    assert a != gap_edges.gap_spans("100", 128.0, 128 * 700)
    assert [length for *_, length in a] == [0.3, 1.0, 3.0, 10.0, 30.0] * 2
    assert all(b <= c for (_, b, _), (c, _, _) in zip(a, a[1:], strict=False))
    assert len(gap_edges.gap_spans("100", 128.0, 128 * 150)) == 2  # a short record: what fits


def test_unmatched_and_place():
    a, b = np.array([100, 500, 900]), np.array([90, 920])
    assert gap_edges.unmatched(a, b, 30).tolist() == [1]
    assert gap_edges.unmatched(a, np.array([], np.int64), 30).tolist() == [0, 1, 2]
    twice = np.array([100, 110, 500])  # one beat detected twice: the second is unmatched
    assert gap_edges.unmatched(twice, np.array([105, 500]), 30).tolist() == [1]
    spans = [(1000, 2000, 10.0)]
    assert gap_edges.place(999, spans, 100.0) == ("before", 10.0)
    assert gap_edges.place(1500, spans, 100.0) == ("inside", 10.0)
    assert gap_edges.place(2400, spans, 100.0) == ("after", 10.0)
    assert gap_edges.place(700, spans, 100.0) == ("elsewhere", 0.0)


def test_an_alarm_cleared_by_a_gap_and_raised_again_is_not_new():
    gapless = [(10, "warning", "PAC")]
    gapped = [
        (10, "warning", "PAC"),
        (100, "inconclusive", "leads_off"),
        (100, "cleared", "PAC"),
        (300, "warning", "PAC"),
        (320, "warning", "PVC"),
        (900, "cleared", "PVC"),
    ]
    assert gap_edges.standing(gapped, 50, 400) == {"warning PAC", "warning PVC"}
    assert gap_edges.standing(gapless, 50, 400) == {"warning PAC"}
    assert gap_edges.standing(gapped, 950, 990) == {"warning PAC"}
    assert gap_edges.standing(gapped, 0, 5) == set()


def test_matches_pairs_each_beat_once():
    pairs, left = gap_edges.matches(np.array([100, 110, 500]), np.array([105, 500]), 30)
    assert pairs == [(0, 0), (2, 1)] and left.tolist() == [1]
