"""Deployment bundles: the int8 `model.onnx` and the `manifest.json` that vouches for it.

The manifest records how the model was made and measured (written by `trainer compress`). A
bundle is proven before it runs, every refusal one line: both files are regular files of bounded
size inside the bundle folder (no FIFO, device or symlink out of it), the manifest is a JSON
object with the known keys, the model matches the manifest's sha256 and keeps every weight inside
the hashed file (no ONNX external data), its graph takes and gives what its contract says, and a
trial run in a child process under a memory limit answers on zeros as fast as the stream needs
(`bundle_proof`; a passed trial of the same bytes under the same limits is remembered per user,
`proof_cache`). The contract inside the ONNX file stays the authority on preprocessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from edge_monitor import bundle_proof, proof_cache
from edge_monitor.contract import BeatInput, ModelContract, read_contract
from edge_monitor.errors import DataNotFoundError, InputError, check_keys, first_line

if TYPE_CHECKING:
    from edge_monitor.profiles import DeviceProfile

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
# A manifest is a few KB of numbers and names: a MiB holds any honest one, and caps what a
# manifest swapped for /dev/zero or a giant file can make the device read.
MANIFEST_MAX_BYTES = 1 << 20
# The shipped int8 models are 40-60 KB and no profile allows one over 150 KB; a model of 50 MiB
# could not keep up on a Pi anyway, and the whole file is held in memory to hash and check it.
MODEL_MAX_BYTES = 50 << 20


@dataclass(frozen=True)
class Bundle:
    path: Path
    model_path: Path
    manifest: dict
    contract: ModelContract
    # the bytes whose sha256 was checked: sessions are built from them, never by reopening
    # model_path, so a file swapped after loading is never what runs
    model_bytes: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def model_source(self) -> Path | bytes:
        return self.model_bytes if self.model_bytes is not None else self.model_path

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


def load_bundle(
    path: Path,
    *,
    probe: bool = True,
    profile: DeviceProfile | None = None,
    budget_ms: float | None = None,
) -> Bundle:
    """A bundle folder (or its manifest.json), proven: bounded regular files inside the folder,
    known keys, matching hash, no external data, a contract that fits the graph and, unless
    `probe` is False (tests that load many bundles), a trial run in a child process that must
    answer within the memory and time a stream allows (the profile's, or `budget_ms` per
    inference). Every refusal is one InputError / DataNotFoundError line."""
    path = Path(path)
    folder = path.parent if path.name == MANIFEST_FILE else path
    manifest_path = folder / MANIFEST_FILE
    if folder.is_file():
        raise InputError(
            f"{folder} is a file: a bundle is a folder holding model.onnx and {MANIFEST_FILE}"
        )
    if folder.exists() and not folder.is_dir():  # a FIFO, /dev/zero: there, but no folder
        raise InputError(
            f"{folder} is not a folder: a bundle is a folder holding model.onnx and {MANIFEST_FILE}"
        )
    if not folder.is_dir():
        raise DataNotFoundError(f"bundle folder not found: {folder}")
    if not os.path.lexists(manifest_path):
        raise InputError(f"not a bundle (no {MANIFEST_FILE}): {folder}")
    manifest = read_manifest(manifest_path, folder)
    model = manifest["model"]
    if model["file"] != MODEL_FILE:
        raise InputError(f"{manifest_path}: model file {model['file']!r} is not {MODEL_FILE!r}")
    model_path = folder / MODEL_FILE
    if not os.path.lexists(model_path):
        raise DataNotFoundError(f"bundle model missing: {model_path}")
    data = read_inside(model_path, folder, MODEL_MAX_BYTES, "model")
    digest = hashlib.sha256(data).hexdigest()
    if not isinstance(model["sha256"], str) or model["sha256"].lower() != digest:
        raise InputError(
            f"{model_path} does not match the sha256 in its manifest: refusing a changed model"
        )
    if type(model["bytes"]) is not int or model["bytes"] != len(data):  # bool is no size either
        raise InputError(
            f"{manifest_path}: model bytes {model['bytes']!r} is not the size of {MODEL_FILE} "
            f"({len(data)} bytes)"
        )
    bundle_proof.refuse_external_data(data, str(model_path))
    if probe:
        report = bundle_proof.trial_run(model_path, profile, budget_ms, digest)
    else:
        report = bundle_proof.describe(model_path)
    contract = read_contract(model_path, data)  # safe now: the trial run loaded it under a limit
    if contract.task != manifest["task"]:
        raise InputError(
            f"{manifest_path}: task {manifest['task']!r} but the model's contract says "
            f"{contract.task!r}"
        )
    _check_stated_contract(manifest.get("contract"), contract, manifest_path)
    bundle_proof.check_graph(contract, report, str(model_path))
    if probe:
        bundle_proof.check_trial(contract, report, str(model_path))
        proof_cache.remember(digest, report)  # passed every check: worth keeping
    return Bundle(folder, model_path, manifest, contract, data)


def check_model_set(bundles: list[Bundle]) -> None:
    """What one monitor runs: some model, one beat model at most (two would feed the rhythm
    rules every beat twice; their heart rate divided by a zero interval), and a companion for
    its inverted beats only beside it."""
    if not bundles:
        raise InputError("no model bundle to run")
    beat_models = [b.name for b in bundles if reads(b) == "all"]
    companions = [b.name for b in bundles if reads(b) == "qrs_down"]
    if len(beat_models) > 1:
        raise InputError(
            f"one beat model at a time, not {len(beat_models)}: {', '.join(beat_models)}"
        )
    if len(companions) > 1:
        raise InputError(
            f"one model for inverted beats at a time, not {len(companions)}: "
            f"{', '.join(companions)}"
        )
    if companions and not beat_models:
        raise InputError(
            f"{companions[0]} reads a beat model's inverted beats only: give the beat model too"
        )


def reads(bundle: Bundle) -> str | None:
    """Which beats a beat bundle reads ("all" or "qrs_down"); None for a window model."""
    model_input = bundle.contract.input
    return model_input.reads if isinstance(model_input, BeatInput) else None


def as_beat_model(bundle: Bundle) -> Bundle:
    """A companion seen as the beat model it stands beside (reading every beat): its inputs are
    that model's very inputs. Any other bundle as it is."""
    if reads(bundle) != "qrs_down":
        return bundle
    beat_input = dataclasses.replace(bundle.contract.input, reads="all")
    return dataclasses.replace(
        bundle, contract=dataclasses.replace(bundle.contract, input=beat_input)
    )


def check_companion(beat_model: Bundle, down: Bundle) -> None:
    """A companion reads some of the beat model's beats in its place, from the very same
    window, template and RR features: every part of its contract but the provenance must be
    the beat model's, or its answers would not mean the same."""
    if reads(down) != "qrs_down":
        raise InputError(f"{down.name} is not a model for inverted beats (its contract)")
    if down.name == beat_model.name:  # events, latencies and the summary name models by folder
        raise InputError(
            f"the beat model and its companion are both named {down.name}: rename one folder"
        )
    a, b = (
        dataclasses.replace(as_beat_model(x).contract, provenance={}) for x in (beat_model, down)
    )
    if a != b:
        raise InputError(
            f"{down.name} cannot read {beat_model.name}'s inverted beats: their contracts "
            "differ in more than provenance (input, filter, classes, output, thresholds ...)"
        )


def _check_stated_contract(stated: object, contract: ModelContract, manifest_path: Path) -> None:
    """A manifest written as JSON (ModelContract.as_json: its filter a dict) must state the
    contract its model carries; the device follows the model's, so a manifest that says
    otherwise was edited by hand or belongs to another model. Older manifests (the filter as
    text, or version 1's preprocessing) are not compared."""
    if not isinstance(stated, dict):
        raise InputError(f"{manifest_path}: 'contract' must be an object")
    if not isinstance(stated.get("filter"), dict):
        return
    try:  # compared as read: a key stated at its absent meaning ("upright": false) is the same
        same = ModelContract.from_json(stated, str(manifest_path)) == contract
    except (InputError, ValueError, OverflowError, RecursionError):  # whatever a hand wrote
        same = False
    if not same:
        raise InputError(
            f"{manifest_path}: its contract differs from the one inside {MODEL_FILE}, which the "
            "device follows (a manifest edited by hand, or another model's)"
        )


def read_manifest(manifest_path: Path, folder: Path) -> dict:
    """A bundle's manifest, read as a stranger's file: a regular file inside `folder`, of bounded
    size, a JSON object of this format with the keys it must have (`trainer report` reads
    through it too)."""
    data = read_inside(manifest_path, folder, MANIFEST_MAX_BYTES, "manifest")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit integer
        first = first_line(exc)
        raise InputError(f"{manifest_path}: not valid JSON ({first})") from exc
    except RecursionError as exc:
        raise InputError(f"{manifest_path}: not valid JSON (nested too deeply)") from exc
    if not isinstance(manifest, dict):
        raise InputError(f"{manifest_path}: expected a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(
            f"{manifest_path}: format {manifest.get('format')!r} is not {BUNDLE_FORMAT!r}"
        )
    check_keys(manifest, MANIFEST_KEYS, str(manifest_path))
    if not isinstance(manifest["model"], dict):
        raise InputError(f"{manifest_path}: 'model' must be an object")
    check_keys(manifest["model"], MODEL_KEYS, f"{manifest_path} model")
    return manifest


def read_inside(path: Path, folder: Path, cap: int, what: str) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `cap` bytes inside `folder`
    (after symlinks). Checked before opening (a FIFO would block, a serial device would reset
    its board, /dev/zero never ends) and again on the open descriptor, then read up to the cap."""
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError) as exc:  # a dangling link, a loop of links
        raise InputError(f"{path}: cannot be resolved ({exc.__class__.__name__})") from exc
    if not inside:
        raise InputError(f"{path} leads out of the bundle folder (to {real}): refused")
    _check_regular(os.stat(real), path, cap, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened ({exc.strerror})") from exc
    try:
        _check_regular(os.fstat(fd), path, cap, what)  # the file opened is the file checked
        chunks, left = [], cap + 1
        while left > 0 and (block := os.read(fd, min(left, 1 << 20))):
            chunks.append(block)
            left -= len(block)
    finally:
        os.close(fd)
    if left <= 0:
        raise InputError(f"{path} grew past {cap} bytes while read: refused")
    return b"".join(chunks)


def _check_regular(st: os.stat_result, path: Path, cap: int, what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path} is not a regular file: a bundle's {what} must be one")
    if st.st_size > cap:
        raise InputError(f"{path} is {st.st_size} bytes: a bundle's {what} is at most {cap} bytes")


def embedded_bundle(task: str) -> Path:
    """The bundle shipped inside the package for a task."""
    root = Path(str(resources.files("edge_monitor") / "default_models" / task))
    if not (root / MANIFEST_FILE).exists():
        raise DataNotFoundError(f"no embedded {task} bundle in this install ({root})")
    return root


# the embedded beat model's companion for inverted beats (docs/beat_leads.md)
EMBEDDED_COMPANION = "arrhythmia-inverted"


def embedded_beat_bundles() -> list[Path]:
    """The embedded beat model and, where this install ships one, its companion: what runs
    wherever the embedded beat model runs."""
    companion = Path(str(resources.files("edge_monitor") / "default_models" / EMBEDDED_COMPANION))
    paths = [embedded_bundle("arrhythmia")]
    return paths + [companion] if (companion / MANIFEST_FILE).exists() else paths
