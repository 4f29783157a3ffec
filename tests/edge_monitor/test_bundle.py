"""Bundles are verified before they run: hash, keys, contract."""

import json
import shutil

import pytest

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.errors import DataNotFoundError, InputError


@pytest.fixture
def bundle_copy(tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(embedded_bundle("arrhythmia"), dst)
    return dst


def test_the_embedded_bundles_load_and_meet_their_profile():
    b = load_bundle(embedded_bundle("arrhythmia"))
    assert b.task == "arrhythmia" and b.contract.classes == ["N", "S", "V", "F"]
    assert all(c["ok"] for c in b.manifest["checks"].values())
    assert b.manifest["model"]["bytes"] <= 80 * 1024


def test_a_changed_model_is_refused(bundle_copy):
    with (bundle_copy / "model.onnx").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(InputError, match="sha256"):
        load_bundle(bundle_copy)


def test_manifest_keys_are_checked(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "surprise": 1}))
    with pytest.raises(InputError, match="unknown keys surprise"):
        load_bundle(bundle_copy)
    del manifest["model"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="missing keys model"):
        load_bundle(bundle_copy)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_bundle(bundle_copy)


def test_missing_folder_and_missing_manifest(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_bundle(tmp_path / "nowhere")
    with pytest.raises(InputError, match="no manifest.json"):
        load_bundle(tmp_path)


def test_the_sha256_is_hex_in_either_case(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["sha256"] = manifest["model"]["sha256"].upper()
    path.write_text(json.dumps(manifest))
    assert load_bundle(bundle_copy, probe=False).task == "arrhythmia"


@pytest.mark.parametrize("size", [-1, "lots", None, 1e308, True, 0, 37925])
def test_a_model_size_that_is_not_the_files_is_refused(bundle_copy, size):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["bytes"] = size
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="model bytes") as info:
        load_bundle(bundle_copy, probe=False)
    assert "\n" not in str(info.value)
