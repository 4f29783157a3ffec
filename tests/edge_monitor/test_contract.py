"""The typed model contract: what it refuses at load, in one line, and what the device honours."""

import json

import numpy as np
import pytest

from edge_monitor.bundle import embedded_bundle
from edge_monitor.contract import (
    PREFIX,
    BeatInput,
    ModelContract,
    WindowInput,
    read_contract,
)
from edge_monitor.errors import InputError


@pytest.fixture(scope="module")
def beat_meta():
    return read_contract(embedded_bundle("arrhythmia") / "model.onnx").to_metadata()


@pytest.fixture(scope="module")
def window_meta():
    return read_contract(embedded_bundle("diagnostic") / "model.onnx").to_metadata()


def changed(meta: dict, key: str, edit) -> dict:
    value = json.loads(meta[PREFIX + key])
    value = edit(value)
    out = dict(meta)
    if value is None:
        del out[PREFIX + key]
    else:
        out[PREFIX + key] = json.dumps(value)
    return out


def refused(meta: dict, words: str) -> None:
    with pytest.raises(InputError) as info:
        ModelContract.from_metadata(meta, "m.onnx")
    message = str(info.value)
    assert "\n" not in message and words in message, message


def test_version_2_round_trips_and_the_shipped_version_1_bundles_still_load(beat_meta):
    c = ModelContract.from_metadata(beat_meta)
    assert c.version == 2 and isinstance(c.input, BeatInput) and c.activation == "softmax"
    assert ModelContract.from_metadata(c.to_metadata()) == c
    d = read_contract(embedded_bundle("diagnostic") / "model.onnx")
    assert isinstance(d.input, WindowInput) and d.input.aggregate == "mean" and d.multilabel


@pytest.mark.parametrize("task", ["arrhythmia", "ventricular"])
def test_a_version_2_manifest_shows_the_contract_its_model_carries_as_json(task):
    """The filter and the input as dicts a reader can use, not Python reprs; the same values
    the ONNX metadata holds (the trainer writes the manifest from as_json)."""
    folder = embedded_bundle(task)
    manifest = json.loads((folder / "manifest.json").read_text())
    contract = read_contract(folder / "model.onnx")
    assert manifest["contract"] == contract.as_json()
    assert manifest["contract"]["filter"]["high_hz"] == contract.filter.high_hz
    assert manifest["contract"]["input"]["kind"] == contract.input.kind
    meta = contract.to_metadata()
    assert {k: json.loads(meta[PREFIX + k]) for k in manifest["contract"]} == manifest["contract"]


def test_a_version_1_contract_without_its_beat_spec_is_refused_in_one_line():
    meta = read_contract(embedded_bundle("arrhythmia") / "model.onnx")
    v1 = {
        PREFIX + "task": json.dumps("arrhythmia"),
        PREFIX + "fs": "180.0",
        PREFIX + "leads": json.dumps(["MLII"]),
        PREFIX + "classes": json.dumps(meta.classes),
        PREFIX + "inputs": json.dumps(meta.inputs),
        PREFIX + "output": json.dumps("logits"),
        PREFIX + "preprocessing": json.dumps(
            {"fs": 180.0, "lead": "MLII", "filter": meta.filter.as_dict(), "rr_features": []}
        ),
        PREFIX + "version": "1",
    }
    refused(v1, "lacks 'beat'")


@pytest.mark.parametrize(
    "key,edit,words",
    [
        ("filter", lambda v: {**v, "order": 1000000}, "filter.order"),
        ("filter", lambda v: {**v, "low_hz": float("nan")}, "filter.low_hz"),
        ("filter", lambda v: {**v, "sharpness": 3}, "unknown keys sharpness"),
        (
            "filter",
            lambda v: {k: x for k, x in v.items() if k != "high_hz"},
            "missing keys high_hz",
        ),
        ("classes", lambda v: [], "classes"),
        ("classes", lambda v: ["N", "N", "V", "F"], "distinct"),
        ("input", lambda v: {**v, "beat": {**v["beat"], "before": 10**9}}, "beat.before"),
        ("input", lambda v: {**v, "beat": {**v["beat"], "before": "54"}}, "must be a number"),
        ("input", lambda v: {**v, "beat": {**v["beat"], "upright": 1}}, "true or false"),
        ("input", lambda v: {**v, "beat": {**v["beat"], "upright": "yes"}}, "true or false"),
        ("input", lambda v: {**v, "kind": "spectra"}, "input kind"),
        ("input", lambda v: {**v, "rr_features": ["pre_rr_local", "heart_age"]}, "rr_features"),
        ("input", lambda v: {**v, "rr_features": ["local_rr_cv"] * 6}, "each feature once"),
        ("inputs", lambda v: {"beat": [1, 2, 100], "rr": [1, 6]}, "do not match"),
        ("inputs", lambda v: {"beat": [1, 2, -128]}, "positive integers"),
        ("fs", lambda v: 1e9, "contract fs"),
        ("version", lambda v: 3, "version 3"),
        ("activation", lambda v: "relu", "activation"),
        ("thresholds", lambda v: [0.5, 0.5], "threshold count"),
        ("output", lambda v: None, "missing keys output"),
    ],
)
def test_a_beat_contract_out_of_its_ranges_is_refused_at_load(beat_meta, key, edit, words):
    refused(changed(beat_meta, key, edit), words)


@pytest.mark.parametrize(
    "key,edit,words",
    [
        ("input", lambda v: {**v, "stride": 0}, "stride = 0"),
        ("input", lambda v: {**v, "window": 100}, "do not match"),
        ("input", lambda v: {**v, "aggregate": "median"}, "aggregate"),
        ("input", lambda v: {**v, "stride": 2.5}, "stride"),
        ("thresholds", lambda v: [float("inf")] * 5, "threshold"),
    ],
)
def test_a_window_contract_out_of_its_ranges_is_refused_at_load(window_meta, key, edit, words):
    refused(changed(window_meta, key, edit), words)


def test_a_contract_without_the_upright_switch_reads_its_lead_as_recorded(beat_meta):
    """The switch came after the first bundles: theirs were trained on leads as recorded."""
    assert "upright" not in json.loads(beat_meta[PREFIX + "input"])["beat"]
    old = ModelContract.from_metadata(beat_meta)
    assert old.input.beat.upright is False
    turned = ModelContract.from_metadata(
        changed(beat_meta, "input", lambda v: {**v, "beat": {**v["beat"], "upright": True}})
    )
    assert turned.input.beat.upright is True
    assert ModelContract.from_metadata(turned.to_metadata()) == turned
    assert ModelContract.from_metadata(old.to_metadata()).to_metadata() == old.to_metadata()


def test_unknown_top_level_keys_and_deep_json_are_refused(beat_meta):
    refused({**beat_meta, PREFIX + "colour": '"red"'}, "unknown keys colour")
    deep = "[" * 200_000 + "]" * 200_000
    refused({**beat_meta, PREFIX + "provenance": deep}, "not JSON")


def test_a_mean_aggregated_window_model_aggregates_by_mean_on_the_device(tmp_path, sample_record):
    """Over the windows of good signal (a record's verdict reads only those): real ECG here."""
    import wfdb

    from edge_monitor.bundle import load_bundle
    from edge_monitor.pipeline import Monitor, WindowEvent
    from tests.conftest import write_window_model

    rec = wfdb.rdrecord(str(sample_record), sampto=360 * 60)
    x = rec.p_signal[:, :1]
    results = {}
    for how in ("mean", "max"):
        bundle = load_bundle(write_window_model(tmp_path / how, aggregate=how))
        monitor = Monitor([bundle], rec.fs, ["II"])
        windows = [e for e in monitor.push(x) if isinstance(e, WindowEvent) and e.quality_ok]
        assert len(windows) > 10
        probs = np.array([[w.probs[c] for c in ("NORM", "MI")] for w in windows])
        got = monitor.record_probs()[bundle.name]
        expected = probs.mean(axis=0) if how == "mean" else probs.max(axis=0)
        assert [got["NORM"], got["MI"]] == pytest.approx(expected, abs=2e-4)
        results[how] = got["NORM"]
    assert results["mean"] < results["max"]


def test_a_multi_lead_contract_reads_its_leads_in_its_own_order_whatever_their_spelling():
    contract = read_contract(embedded_bundle("diagnostic") / "model.onnx")
    written = ["Lead V6", "d1", "lead ii", "D3", "avr", "aVL", "AVF", "V1", "V2", "V3", "V4"]
    written += ["V 5", "MLII"]
    assert contract.check_leads(written) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]
    with pytest.raises(InputError, match=r"needs lead\(s\) II;"):
        contract.check_leads([n for n in written if n != "lead ii"])  # MLII is not lead II
    with pytest.raises(InputError) as info:
        contract.check_leads([*written, "Lead I"], "the diagnostic model")
    assert str(info.value).startswith(
        "channels 1 (d1) and 13 (Lead I) are both lead I: the diagnostic model reads each lead"
    )
    assert "\n" not in str(info.value)
