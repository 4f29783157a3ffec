"""The alert engine under any interleaving of quality states, R peaks, beats, clock ticks and
model failures (a hypothesis state machine), and a damaged model through the real Monitor."""

import json

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from edge_monitor.alerts import CLEARED, CRITICAL, INCONCLUSIVE, SIGNAL_RULES, WARNING, AlertEngine
from edge_monitor.quality import FLAT, GOOD, LEADS_OFF, NO_SIGNAL, NOISY, SATURATED

FS = 250.0
STATES = [GOOD, GOOD, LEADS_OFF, FLAT, SATURATED, NOISY, NO_SIGNAL]


class EngineMachine(RuleBasedStateMachine):
    """Invariants: no exception; no rule fires while the signal is bad (nor a beat rule while
    the model is invalid); every alarm that sounded is either cleared later or still active;
    every change from good to bad, or from one bad state to another, says `inconclusive`."""

    def __init__(self):
        super().__init__()
        self.engine = AlertEngine(FS)
        self.t = 0
        self.open: dict[str, str] = {}  # label -> level, from the events alone

    def _take(self, events, source: str):
        for ev in events:
            assert ev.sample <= self.t + 1
            if ev.level in (CRITICAL, WARNING):
                assert self.engine.signal == GOOD, (source, ev)
                if ev.label not in SIGNAL_RULES:
                    assert self.engine.model_ok, (source, ev)
                self.open[ev.label] = ev.level
                assert " 0 bpm" not in ev.message  # a rate alarm raised from stale history
            elif ev.level == CLEARED:
                self.open.pop(ev.label, None)
            elif ev.level == INCONCLUSIVE:
                self.open["signal"] = INCONCLUSIVE

    @rule(state=st.sampled_from(STATES), dt=st.integers(0, 2 * int(FS)))
    def quality(self, state, dt):
        self.t += dt
        before = self.engine.quality
        events = self.engine.on_quality(state, self.t)
        after = self.engine.quality
        if after != before and after != GOOD:
            assert [e for e in events if e.level == INCONCLUSIVE and e.label == after]
        if after == before:
            assert events == []
        self._take(events, "quality")

    @rule(valid=st.booleans())
    def model(self, valid):
        self._take(self.engine.on_model(valid, self.t), "model")

    @rule(
        label=st.sampled_from("NNNSVVVFQ"),
        rr_s=st.floats(0.2, 5.0),
        peak=st.booleans(),
    )
    def beat(self, label, rr_s, peak):
        self.t += int(rr_s * FS)
        if peak:
            self._take(self.engine.on_r_peak(self.t), "r_peak")
        self._take(self.engine.on_beat(self.t, label), "beat")

    @rule(
        seconds=st.floats(0.1, 6.0),
        kind=st.sampled_from(["zero", "sine5", "noise", "spikes"]),
        seed=st.integers(0, 1000),
    )
    def tick(self, seconds, kind, seed):
        n = max(1, int(seconds * FS))
        tt = np.arange(n) / FS
        rng = np.random.default_rng(seed)
        x = {
            "zero": np.zeros(n),
            "sine5": 0.8 * np.sin(2 * np.pi * 5 * tt),  # VF-like
            "noise": 0.3 * rng.standard_normal(n),
            "spikes": np.where(np.arange(n) % int(FS) == 0, 1.0, 0.0),
        }[kind]
        self.t += n
        self._take(self.engine.on_time(self.t, x), "time")

    @invariant()
    def alarms_that_sounded_are_active_or_cleared(self):
        sounding = {k for k, v in self.open.items() if k != "signal"}
        active = {k for k in self.engine.active if k != "signal"}
        assert sounding == active, (self.open, self.engine.active)

    @invariant()
    def frozen_while_blind(self):
        if self.engine.signal != GOOD:
            assert self.engine.active.get("signal") == INCONCLUSIVE
            assert set(self.engine.active) == {"signal"}


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_bad_to_another_bad_state_says_why_and_never_raises():
    """What a loosening electrode does: noisy -> leads off -> flat -> saturated -> noisy."""
    engine = AlertEngine(FS)
    t = 0
    for state in [NOISY, LEADS_OFF, FLAT, SATURATED, NOISY, NO_SIGNAL, GOOD]:
        t += 250
        events = engine.on_quality(state, t)
        if state != GOOD:
            assert [(e.level, e.label) for e in events] == [(INCONCLUSIVE, state)]
    assert engine.active == {}


# --- a damaged model through the real Monitor -------------------------------------------


def _damaged_copy(bundle_dir, out_dir):
    """The embedded beat model with its output multiplied by NaN: every answer is NaN."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from edge_monitor.bundle import sha256_file

    out_dir.mkdir()
    model = onnx.load(str(bundle_dir / "model.onnx"))
    out_name = model.graph.output[0].name
    for node in model.graph.node:
        for i, name in enumerate(node.output):
            if name == out_name:
                node.output[i] = "undamaged"
    model.graph.initializer.append(helper.make_tensor("nan", TensorProto.FLOAT, [], [np.nan]))
    model.graph.node.append(helper.make_node("Mul", ["undamaged", "nan"], [out_name]))
    onnx.save(model, str(out_dir / "model.onnx"))
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["model"]["sha256"] = sha256_file(out_dir / "model.onnx")
    manifest["model"]["bytes"] = (out_dir / "model.onnx").stat().st_size
    (out_dir / "manifest.json").write_text(json.dumps(manifest))
    return out_dir


def test_a_model_answering_nan_is_inconclusive_never_a_label(tmp_path, sample_record):
    import wfdb

    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.pipeline import BeatEvent, Monitor
    from edge_monitor.reporting import json_text

    bundle = load_bundle(_damaged_copy(embedded_bundle("arrhythmia"), tmp_path / "damaged"))
    rec = wfdb.rdrecord(str(sample_record), sampto=int(60 * 360))
    monitor = Monitor([bundle], rec.fs, rec.sig_name)
    events = []
    for a in range(0, rec.sig_len, 180):
        events += monitor.push(rec.p_signal[a : a + 180])
    events += monitor.finish()
    beats = [e for e in events if isinstance(e, BeatEvent)]
    assert len(beats) > 50 and all(b.label is None and b.probs is None for b in beats)
    levels = [(e.level, e.label) for e in events if hasattr(e, "level")]
    assert levels.count((INCONCLUSIVE, "model_invalid")) == 1
    assert not [lv for lv in levels if lv[0] in (CRITICAL, WARNING) and lv[1] not in SIGNAL_RULES]
    line = json_text(beats[0].to_json())
    assert json.loads(line)["label"] is None and "NaN" not in line
    assert monitor.heart_rate is not None  # the R peaks still give a rate


def test_a_window_model_answering_nan_is_reported_without_probabilities(tmp_path):
    onnx = pytest.importorskip("onnx")
    from numpy.testing import assert_array_equal
    from onnx import numpy_helper

    from edge_monitor.bundle import load_bundle, sha256_file
    from edge_monitor.pipeline import Monitor, WindowEvent
    from tests.conftest import write_window_model

    folder = write_window_model(tmp_path / "w")
    model = onnx.load(str(folder / "model.onnx"))
    w = numpy_helper.to_array(model.graph.initializer[0]).copy()
    w[:] = np.inf
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    onnx.save(model, str(folder / "model.onnx"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"]["sha256"] = sha256_file(folder / "model.onnx")
    manifest["model"]["bytes"] = (folder / "model.onnx").stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))
    bundle = load_bundle(folder)
    monitor = Monitor([bundle], 100.0, ["II"])
    t = np.arange(3000) / 100.0
    x = (0.5 * np.sin(2 * np.pi * 1.2 * t) ** 15).reshape(-1, 1)
    events = monitor.push(x)
    windows = [e for e in events if isinstance(e, WindowEvent)]
    assert windows and all(w.probs is None for w in windows)
    assert monitor.record_probs() == {}
    assert_array_equal(
        [e.label for e in events if getattr(e, "level", "") == INCONCLUSIVE][:1], ["model_invalid"]
    )


def test_alert_thresholds_and_rule_timings_are_validated():
    from edge_monitor.alert_rules import RULES, AlertSpec, Rule

    for bad in ({"af_rmssd": float("nan")}, {"tachy_bpm": -1.0}, {"vf_min_hz": 20.0}):
        with pytest.raises(ValueError):
            AlertSpec(**bad)
    with pytest.raises(ValueError):
        Rule("x", WARNING, "x", raise_k=3, raise_n=2)
    assert (
        RULES["VF"].debouncer(100).cooldown == 100
        and RULES["asystole"].debouncer(100).cooldown == 0
    )
