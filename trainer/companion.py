"""A beat bundle turned into a companion for inverted beats: the same int8 model, its contract
saying `reads: qrs_down`, so that a monitor running it beside a beat model of the same contract
gives it the beats whose dominant QRS points down (`edge_monitor.streams.BeatStream`).

Why a separate step and not a compress option: the companion is a deployment choice made after
a model was measured on inverted leads (docs/beat_leads.md); the weights are not touched, only
the contract stamped into the ONNX file and the manifest that vouches for it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import onnx

from edge_monitor.bundle import MANIFEST_FILE, MODEL_FILE, load_bundle
from edge_monitor.contract import BeatInput
from edge_monitor.errors import InputError


def make_companion(source: Path, out: Path, command: str) -> dict:
    """Copy bundle `source` to `out` with its contract reading only QRS-down beats; the copy is
    loaded back through the device's own checks before this returns."""
    bundle = load_bundle(source, probe=False)
    if not isinstance(bundle.contract.input, BeatInput):
        raise InputError(f"{source}: a companion reads beats; this bundle feeds windows")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty: choose a new folder")
    contract = dataclasses.replace(
        bundle.contract, input=dataclasses.replace(bundle.contract.input, reads="qrs_down")
    )
    proto = onnx.load_from_string(bundle.model_bytes)
    onnx.helper.set_model_props(
        proto,
        {**{p.key: p.value for p in proto.metadata_props}, **contract.to_metadata()},
    )
    out.mkdir(parents=True, exist_ok=True)
    for path in bundle.path.iterdir():  # the report and plots: the measured model's own
        if path.is_file() and path.name not in (MODEL_FILE, MANIFEST_FILE):
            shutil.copy2(path, out / path.name)
    data = proto.SerializeToString()
    (out / MODEL_FILE).write_bytes(data)
    manifest = dict(bundle.manifest)
    manifest["model"] = {
        **manifest["model"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    manifest["contract"] = contract.as_json()
    manifest["command"] = f"{manifest.get('command', '')} && {command}".lstrip(" &")
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    load_bundle(out, probe=False)
    return {"out": str(out), "sha256": manifest["model"]["sha256"], "bytes": len(data)}
