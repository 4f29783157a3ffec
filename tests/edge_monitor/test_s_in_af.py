"""An S beat while the AF warning stands is reported N (AAMI: beats of AF are N), with the
model's own label kept beside it; nothing else about the beats changes."""

from __future__ import annotations

import json

import pytest
import wfdb

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.pipeline import BeatEvent, Monitor
from edge_monitor.reporting import json_text


@pytest.fixture(scope="module")
def beat_bundle():
    return load_bundle(embedded_bundle("arrhythmia"))


def _beats(bundle, path, relabel: bool) -> tuple[list[BeatEvent], list[set[str]]]:
    """The beats, and which alerts stood when each came (read before the beat drives them)."""
    rec = wfdb.rdrecord(str(path))
    monitor = Monitor([bundle], rec.fs, list(rec.sig_name), s_in_af_as_n=relabel)
    beats, standing = [], []
    step = int(rec.fs)
    for a in range(0, len(rec.p_signal), step):
        before = set(monitor.engine.active)
        for ev in monitor.push(rec.p_signal[a : a + step]):
            if isinstance(ev, BeatEvent):
                beats.append(ev)
                standing.append(before | set(monitor.engine.active))
    return beats, standing


def test_s_beats_inside_a_standing_af_warning_are_reported_n(beat_bundle, tiny_mitdb):
    """MIT-BIH 201 (atrial fibrillation from its first seconds): the same beats, probabilities
    and sample numbers either way; only model S beats under the AF warning turn N."""
    relabelled, standing = _beats(beat_bundle, tiny_mitdb / "201", relabel=True)
    raw, _ = _beats(beat_bundle, tiny_mitdb / "201", relabel=False)
    assert [b.sample for b in relabelled] == [b.sample for b in raw]
    assert [b.probs for b in relabelled] == [b.probs for b in raw]
    changed = [(r, m) for r, m in zip(relabelled, raw, strict=True) if r.label != m.label]
    assert changed, "201's AF holds S readings under the warning (else this test proves nothing)"
    for reported, model in changed:
        assert model.label == "S" and reported.label == "N" and reported.model_label == "S"
        assert model.model_label is None
    for beat, alerts in zip(relabelled, standing, strict=True):
        if beat.model_label is not None:
            assert "AF" in alerts
    line = json.loads(json_text(changed[0][0].to_json()))
    assert line["label"] == "N" and line["model_label"] == "S"
    assert "model_label" not in raw[0].to_json()


def test_sinus_rhythm_keeps_every_model_label(beat_bundle, tiny_mitdb):
    beats, _ = _beats(beat_bundle, tiny_mitdb / "100", relabel=True)
    assert len(beats) > 100
    assert all(b.model_label is None for b in beats)
