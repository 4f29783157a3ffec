"""Deployment bundles: the int8 `model.onnx` and the `manifest.json` that vouches for it.

The manifest records how the model was made and measured (written by `trainer compress`); the
device checks the model's sha256 against it before loading, so a swapped or damaged file is
refused rather than run. The contract inside the ONNX file stays the authority on preprocessing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from edge_monitor.contract import ModelContract, read_contract
from edge_monitor.errors import DataNotFoundError, InputError

BUNDLE_FORMAT = "ecg-edge/bundle-1"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
MANIFEST_KEYS = {
    "format",
    "task",
    "created",
    "git_commit",
    "command",
    "seed",
    "profile",
    "model",
    "contract",
    "stages",
    "final",
    "latency",
    "checks",
}
MODEL_KEYS = {"file", "sha256", "bytes", "params", "macs"}


@dataclass(frozen=True)
class Bundle:
    path: Path
    model_path: Path
    manifest: dict
    contract: ModelContract

    @property
    def task(self) -> str:
        return self.contract.task

    @property
    def name(self) -> str:
        return self.path.name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_bundle(path: Path) -> Bundle:
    """A bundle folder (or its manifest.json), verified: known keys, matching hash, a contract."""
    path = Path(path)
    folder = path.parent if path.name == MANIFEST_FILE else path
    manifest_path = folder / MANIFEST_FILE
    if folder.is_file():
        raise InputError(
            f"{folder} is a file: a bundle is a folder holding model.onnx and {MANIFEST_FILE}"
        )
    if not folder.is_dir():
        raise DataNotFoundError(f"bundle folder not found: {folder}")
    if not manifest_path.exists():
        raise InputError(f"not a bundle (no {MANIFEST_FILE}): {folder}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise InputError(f"{manifest_path}: expected a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(
            f"{manifest_path}: format {manifest.get('format')!r} is not {BUNDLE_FORMAT!r}"
        )
    _check_keys(manifest, MANIFEST_KEYS, str(manifest_path))
    model = manifest["model"]
    if not isinstance(model, dict):
        raise InputError(f"{manifest_path}: 'model' must be an object")
    _check_keys(model, MODEL_KEYS, f"{manifest_path} model")
    model_path = folder / Path(str(model["file"])).name  # never outside the bundle
    if not model_path.exists():
        raise DataNotFoundError(f"bundle model missing: {model_path}")
    if sha256_file(model_path) != model["sha256"]:
        raise InputError(
            f"{model_path} does not match the sha256 in its manifest: refusing a changed model"
        )
    contract = read_contract(model_path)
    if contract.task != manifest["task"]:
        raise InputError(
            f"{manifest_path}: task {manifest['task']!r} but the model's contract says "
            f"{contract.task!r}"
        )
    return Bundle(folder, model_path, manifest, contract)


def _check_keys(obj: dict, expected: set[str], where: str) -> None:
    if missing := expected - set(obj):
        raise InputError(f"{where}: missing keys {', '.join(sorted(missing))}")
    if unknown := set(obj) - expected:
        raise InputError(f"{where}: unknown keys {', '.join(sorted(unknown))}")


def embedded_bundle(task: str) -> Path:
    """The bundle shipped inside the package for a task."""
    root = Path(str(resources.files("edge_monitor") / "default_models" / task))
    if not (root / MANIFEST_FILE).exists():
        raise DataNotFoundError(f"no embedded {task} bundle in this install ({root})")
    return root
