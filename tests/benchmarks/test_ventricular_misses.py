"""benchmarks/ventricular_misses.py: shockable 8 s segments sorted into the AHA's classes
(VF/flutter, rapid VT, slower VT) on real annotations, and counted as the alarm score counts."""

import importlib.util
import sys
from pathlib import Path

import pytest

from edge_monitor.alert_rules import CLEARED, CRITICAL, AlertEvent
from tests.conftest import MITDB, SHARED, need

SPEC = importlib.util.spec_from_file_location(
    "ventricular_misses", Path(__file__).parents[2] / "benchmarks" / "ventricular_misses.py"
)
misses = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(misses)
alarms = sys.modules["ventricular_alarms"]  # as the benchmark imported it


def reference(db: str, name: str) -> tuple[Path, dict]:
    folder = need(SHARED / db)
    return folder, alarms.episodes_of(db, folder, name)


def segment_at(ref: dict, seconds: float) -> tuple[int, int]:
    """The benchmark's 8 s segment (cut from the record's start) that holds `seconds`."""
    seg = int(misses.SEGMENT_S * ref["fs"])
    s0 = int(seconds * ref["fs"]) // seg * seg
    return s0, s0 + seg


@pytest.mark.parametrize(
    ("db", "name", "seconds", "expected"),
    [
        ("mitdb", "223", 600.0, "vt_<150bpm"),  # the slow (VT at ~110 bpm
        ("mitdb", "207", 1560.0, "vf_flutter"),  # its bracketed ventricular flutter
        ("cudb", "cu23", 400.0, "vf_flutter"),  # bracketed VF
    ],
)
def test_a_segment_gets_the_class_of_its_annotation(db, name, seconds, expected):
    folder, ref = reference(db, name)
    vt, beats = misses.vt_reference(folder, name, db, ref["n"])
    s0, s1 = segment_at(ref, seconds)
    assert any(a <= s0 and s1 <= b for a, b in ref["vf"])
    assert misses.rhythm_class(vt, beats, ref["fs"], s0, s1) == expected


def test_the_classes_count_what_the_alarm_score_counts():
    """On 223 with an alarm standing through its first VT episode only: the classes' tp / fn add
    up to the pooled score's, segment for segment."""
    need(MITDB)
    folder, ref = reference("mitdb", "223")
    a, b = ref["vf"][0]
    events = [AlertEvent(a, CRITICAL, "VT", ""), AlertEvent(b, CLEARED, "VT", "")]
    by = misses.rhythm_counts(events, ref, folder, "mitdb/223")
    seg = alarms.score(events, ref)["segments"]
    assert sum(c["tp"] for c in by.values()) == seg["tp"] > 0
    assert sum(c["fn"] for c in by.values()) == seg["fn"] > 0
    pooled = misses.pooled_rhythms({"mitdb/223": by})
    assert pooled["all"] == pooled["mitdb"] == {"vt_<150bpm": {**by["vt_<150bpm"], "n": 10,
        "se": round(by["vt_<150bpm"]["tp"] / 10, 3)}}  # fmt: skip
