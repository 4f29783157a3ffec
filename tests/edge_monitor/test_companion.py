"""A companion beat model for inverted beats: its contract, the model sets a monitor accepts, and
the routing on a real record (each beat read by exactly one of the two models: the companion where
the dominant QRS points down, on the beat lead and the second lead alike)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import wfdb

from edge_monitor.bundle import check_companion, check_model_set, embedded_bundle, load_bundle
from edge_monitor.contract import ModelContract
from edge_monitor.errors import InputError
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.companion import make_companion


@pytest.fixture(scope="module")
def beat_bundle():
    return load_bundle(embedded_bundle("arrhythmia"), probe=False)


@pytest.fixture(scope="module")
def companion(tmp_path_factory, beat_bundle):
    """The embedded beat model itself as a companion: same answers, so the routing is what the
    tests below can see (which runner counted the beat)."""
    out = tmp_path_factory.mktemp("companion") / "down"
    make_companion(beat_bundle.path, out, "test")
    return load_bundle(out, probe=False)


def test_the_contract_says_what_it_reads_and_old_contracts_read_every_beat(beat_bundle, companion):
    assert beat_bundle.contract.input.reads == "all"
    assert companion.contract.input.reads == "qrs_down"
    as_json = companion.contract.as_json()
    assert as_json["input"]["reads"] == "qrs_down"
    assert "reads" not in beat_bundle.contract.as_json()["input"]  # the shipped hash holds
    assert ModelContract.from_json(as_json) == companion.contract
    bad = json.loads(json.dumps(as_json))
    bad["input"]["reads"] = "qrs_up"
    with pytest.raises(InputError, match="reads 'qrs_up'"):
        ModelContract.from_json(bad)


def test_a_companion_runs_only_beside_its_own_beat_model(beat_bundle, companion):
    check_model_set([beat_bundle, companion])
    with pytest.raises(InputError, match="give the beat model too"):
        check_model_set([companion])
    with pytest.raises(InputError, match="one model for inverted beats"):
        check_model_set([beat_bundle, companion, companion])
    check_companion(beat_bundle, companion)
    with pytest.raises(InputError, match="not a model for inverted beats"):
        check_companion(beat_bundle, beat_bundle)
    other_input = dataclasses.replace(companion.contract.input, lead="V1")
    other = dataclasses.replace(
        companion,
        contract=dataclasses.replace(companion.contract, input=other_input, leads=["V1"]),
    )
    with pytest.raises(InputError, match="contracts differ in more than provenance"):
        check_companion(beat_bundle, other)


def _run(bundles, signal, fs, names, second):
    monitor = Monitor(bundles, fs, names, second_lead=second)
    beats = [e for e in monitor.stream(signal) if isinstance(e, BeatEvent)]
    return monitor, beats


@pytest.mark.parametrize("sign", [1, -1])
def test_each_beat_is_read_by_one_model_the_companion_where_the_qrs_points_down(
    beat_bundle, companion, svdb_800, sign
):
    signal, fs, names = svdb_800
    monitor, beats = _run([beat_bundle, companion], sign * signal, fs, names, None)
    stream = monitor.beats[0]
    down = sum(b.qrs_down for b in beats)
    assert len(beats) > 30
    assert stream.down_model.count == down and stream.model.count == len(beats) - down
    # svdb 800's ECG1 points up: turned over, nearly every beat is the companion's
    assert (down < len(beats) // 10) if sign == 1 else (down > 9 * len(beats) // 10)
    # the companion here is the beat model itself: the answers are the same as without it
    _, alone = _run([beat_bundle], sign * signal, fs, names, None)
    assert [(b.sample, b.label, b.probs) for b in beats] == [
        (b.sample, b.label, b.probs) for b in alone
    ]
    assert all(b.model == beat_bundle.name for b in beats)  # the rules see one beat model


def test_the_second_lead_has_its_own_companion(beat_bundle, companion, svdb_800):
    signal, fs, names = svdb_800
    mixed = np.column_stack([signal[:, 0], -signal[:, 1]])  # ECG2 turned over only
    monitor, beats = _run([beat_bundle, companion], mixed, fs, names, 1)
    twin = monitor.second.stream
    assert twin.down_model is not None and twin.down_model.count > 9 * len(beats) // 10
    assert monitor.beats[0].down_model.count < len(beats) // 10


def test_the_shipped_companion_changes_only_the_beats_that_point_down(beat_bundle, svdb_800):
    """With the embedded companion (another model), a beat pointing up keeps the beat model's
    very answer; those pointing down get the companion's, which differs."""
    signal, fs, names = svdb_800
    companion = load_bundle(embedded_bundle("arrhythmia-inverted"), probe=False)
    mixed = signal.copy()
    mixed[len(mixed) // 4 :] *= -1  # the electrodes swapped a quarter of the way through
    _, alone = _run([beat_bundle], mixed, fs, names, None)
    _, paired = _run([beat_bundle, companion], mixed, fs, names, None)
    assert [b.sample for b in paired] == [b.sample for b in alone]
    down = [(a, b) for a, b in zip(alone, paired, strict=True) if b.qrs_down]
    up = [(a, b) for a, b in zip(alone, paired, strict=True) if not b.qrs_down]
    assert len(down) >= 8 and len(up) >= 8
    assert all(a.probs == b.probs for a, b in up)
    assert sum(a.probs != b.probs for a, b in down) > len(down) // 2


def test_a_companion_named_like_its_beat_model_is_refused(beat_bundle, tmp_path):
    out = tmp_path / beat_bundle.name
    make_companion(beat_bundle.path, out, "test")
    with pytest.raises(InputError, match="both named arrhythmia"):
        Monitor([beat_bundle, load_bundle(out, probe=False)], 360.0, ["MLII"])


def test_the_cli_reads_an_inverted_record_with_the_embedded_companion(sample_record, tmp_path):
    """`classify` on a record turned over: the embedded companion runs beside the beat model,
    the summary names it and the verdict says the inverted beats were read by it."""
    import os

    from typer.testing import CliRunner

    from edge_monitor.bundle import EMBEDDED_COMPANION, embedded_beat_bundles
    from edge_monitor.cli import app

    assert [p.name for p in embedded_beat_bundles()] == ["arrhythmia", EMBEDDED_COMPANION]
    rec = wfdb.rdrecord(str(sample_record), sampto=360 * 60)
    wfdb.wrsamp(
        "inv", fs=rec.fs, units=rec.units, sig_name=rec.sig_name, p_signal=-rec.p_signal,
        fmt=["16"] * rec.n_sig, write_dir=str(tmp_path),
    )  # fmt: skip
    out = CliRunner().invoke(app, ["classify", os.path.join(tmp_path, "inv"), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output.splitlines()[-1])
    assert summary["inverted_beats_model"] == EMBEDDED_COMPANION
    assert summary["beat_lead_inverted_share"] > 0.9
    table = CliRunner().invoke(app, ["classify", os.path.join(tmp_path, "inv")])
    assert f"read by {EMBEDDED_COMPANION}" in table.output.replace("\n", " ")
