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
import tempfile
from pathlib import Path

import onnx

from edge_monitor.bundle import MANIFEST_FILE, MODEL_FILE, load_bundle
from edge_monitor.contract import PREFIX, BeatInput
from edge_monitor.errors import InputError


def make_companion(source: Path, out: Path, command: str) -> dict:
    """Copy bundle `source` to `out` with its contract reading only QRS-down beats. The copy is
    written beside `out` and loaded back through the device's own checks; only then does it
    take the name `out` (a failure leaves nothing behind)."""
    bundle = load_bundle(source, probe=False)
    if not isinstance(bundle.contract.input, BeatInput):
        raise InputError(f"{source}: a companion reads beats; this bundle feeds windows")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: --out names a new folder")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty: choose a new folder")
    contract = dataclasses.replace(
        bundle.contract, input=dataclasses.replace(bundle.contract.input, reads="qrs_down")
    )
    proto = onnx.load_from_string(bundle.model_bytes)
    others = {p.key: p.value for p in proto.metadata_props if not p.key.startswith(PREFIX)}
    del proto.metadata_props[:]  # a version-1 contract's keys must not survive beside version 2's
    onnx.helper.set_model_props(proto, {**others, **contract.to_metadata()})
    data = proto.SerializeToString()
    manifest = dict(bundle.manifest)
    manifest["model"] = {
        **manifest["model"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    manifest["contract"] = contract.as_json()
    manifest["command"] = f"{manifest.get('command', '')} && {command}".lstrip(" &")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for path in bundle.path.iterdir():  # the report and plots: the measured model's own
            if path.is_file() and path.name not in (MODEL_FILE, MANIFEST_FILE):
                shutil.copy2(path, work / path.name)
        (work / MODEL_FILE).write_bytes(data)
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        load_bundle(work, probe=False)
        if out.exists():
            out.rmdir()  # empty (checked above)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"out": str(out), "sha256": manifest["model"]["sha256"], "bytes": len(data)}
