"""benchmarks/ventricular_alarms.py's stream log keeps the gate's bad verdicts with their reasons,
so the fusion replays them as the device sees them (the disagree_p rule reads them)."""

import importlib.util
import sys
from pathlib import Path

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.events import QualityEvent
from edge_monitor.quality import GOOD, QualitySpec
from edge_monitor.ventricular import FusionSpec, ModelView
from tests.conftest import SHARED, need

SPEC = importlib.util.spec_from_file_location(
    "ventricular_misses", Path(__file__).parents[2] / "benchmarks" / "ventricular_misses.py"
)
misses = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(misses)
alarms = sys.modules["ventricular_alarms"]  # as the benchmark imported it
Options = alarms.StreamOptions


def test_bad_verdicts_round_trip_through_the_log_and_the_replay():
    folder = need(SHARED / "cudb")
    bundles = [load_bundle(embedded_bundle(k), probe=False) for k in ("arrhythmia", "ventricular")]
    # no gate exemption: the gate's own verdicts on cu07 are logged whatever the VT/VF model
    # reads there (with the 7 Dec retrained model and the exemption at 0.9, none stood)
    log = alarms.stream_record(folder, "cu07", bundles)
    logged = [e for e in log if e["t"] == "q"]
    assert logged and all(e["state"] != GOOD for e in logged)
    assert {e["reason"] for e in logged if e["state"] == "noisy"} >= {"disagreement"}
    events = alarms.to_events(log)
    back = [e.segment.as_json() for e in events if isinstance(e, QualityEvent)]
    assert back == [{k: v for k, v in e.items() if k != "t"} for e in logged]
    view = ModelView.of(bundles[1].name, bundles[1].contract)
    ref = alarms.episodes_of("cudb", folder, "cu07")
    fused = alarms.fused(log, view, ref["fs"], FusionSpec())
    assert sum(isinstance(e, QualityEvent) for e in fused) == len(logged)  # passed through
    spans = misses.blind_spans(log, view, ref["fs"], FusionSpec(), ref["n"])
    assert all(a <= b for a, b, _ in spans)
    assert any(e["t"] == "b" for e in log)  # beats in the log: every event has a sample
    isolated = misses.isolated_segments(log, view, FusionSpec(), ref)
    assert isolated["tp"] + isolated["fn"] > 0  # cu07's VF, segments astride its edges skipped
    assert sum(isolated.values()) <= ref["n"] // int(misses.SEGMENT_S * ref["fs"])


def _plain_and_flagged(tmp_path, tag: str, **flag) -> tuple[list, list]:
    """cu07's log streamed plain and with one stream flag: two cache entries, one tagged."""
    folder = need(SHARED / "cudb")
    bundles = [load_bundle(embedded_bundle(k), probe=False) for k in ("arrhythmia", "ventricular")]
    plain = alarms.cached_log(tmp_path, "cudb/cu07", folder, bundles, Options(0.9))
    options = Options(0.9, **flag)
    flagged = alarms.cached_log(tmp_path, "cudb/cu07", folder, bundles, options)
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(names) == 2 and sum(tag in n for n in names) == 1
    assert alarms.cached_log(tmp_path, "cudb/cu07", folder, bundles, options) == flagged
    return plain, flagged


def test_an_inverted_stream_is_its_own_cache_entry(tmp_path):
    """--inverted streams the negated leads; its log never answers for the record as recorded."""
    plain, turned = _plain_and_flagged(tmp_path, "-inverted", inverted=True)
    assert turned != plain  # the beat model reads an inverted lead differently


def test_an_all_beats_stream_is_its_own_cache_entry_and_holds_every_beat(tmp_path):
    """--all-beats logs every reported beat (withhold_slow_regular reads them), in its own cache
    entry; the plain log keeps the V beats alone, as the earlier caches did."""
    plain, every = _plain_and_flagged(tmp_path, "-allbeats", all_beats=True)
    beats = [e for e in every if e["t"] == "b"]
    assert {e["label"] for e in plain if e["t"] == "b"} == {"V"}
    assert len(beats) > len([e for e in plain if e["t"] == "b"]) and "N" in {
        e["label"] for e in beats
    }
    assert [e for e in every if e["t"] != "b"] == [e for e in plain if e["t"] != "b"]


def test_stream_options_name_the_cache_entries_the_earlier_caches_hold():
    """The options' tag is the suffix the positional arguments wrote before they became one
    dataclass: every cache already streamed (and every --code-from replay) still matches."""
    assert Options().tag() == ""
    assert Options(0.9).tag() == "-exempt0.9"
    full = Options(0.9, organised=True, second_lead="auto", inverted=True, all_beats=True)
    assert full.tag() == "-exempt0.9-organised-secondauto-inverted-allbeats"
    args = alarms.parser().parse_args(["--gate-exempt-p", "0.9", "--all-beats", "--inverted"])
    organised = QualitySpec.organised_qrs  # the command line's default: the gate's own
    assert Options.of(args) == Options(0.9, organised, None, inverted=True, all_beats=True)
