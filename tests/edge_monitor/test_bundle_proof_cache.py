"""The proof cache spares an unchanged model its trial run at start-up, and nothing else: the
attacks here are a stranger's bundle (other bytes, a failed proof) and a crafted cache (a shared
folder, links, a FIFO, other owners, forged or malformed entries). Each one must end with the
trial simply running. The conftest points $ECG_EDGE_CACHE at a fresh folder per test."""

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_monitor import bundle_proof, proof_cache
from edge_monitor.bundle import embedded_bundle, load_bundle, sha256_file
from edge_monitor.errors import InputError
from tests.edge_monitor.test_bundle_attacks import _slow, variant

SHA = "ab" * 32
ARGS = {"model": "/x/model.onnx", "threads": [1, 1], "memory_mb": 1024, "p95_ms": None}
ARGS = {**ARGS, "budget_ms": 1.0}
TENSOR = {"name": "ecg", "shape": [1, 1, 500], "type": "tensor(float)"}
REPORT = {"io": {"inputs": [TENSOR], "outputs": [TENSOR]}, "seconds": [1e-4] * 5, "shape": [1, 1]}


@pytest.fixture
def proofs(monkeypatch):
    """The cache folder, and a trial run that must not start (a cache hit needs none)."""
    monkeypatch.setattr(bundle_proof, "_proven", {})
    return proof_cache.cache_dir()


def forge(folder: Path, sha=SHA, args=ARGS, report=REPORT, mode=0o600) -> Path:
    """An entry exactly as `remember` writes it: what an attacker who can write there writes."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    material = proof_cache.key_material(sha, args)
    path = folder / proof_cache._entry_name(material)
    path.write_text(json.dumps({"key": material, "report": report}))
    path.chmod(mode)
    return path


def no_trial(monkeypatch):
    def spawned(args):
        raise AssertionError("a trial run started")

    monkeypatch.setattr(bundle_proof, "_spawn", spawned)


def test_a_forged_entry_in_a_private_folder_is_read(proofs):
    """The trust boundary itself (and the control for every refusal below)."""
    forge(proofs)
    assert proof_cache.recall(SHA, ARGS) == {**REPORT, "args": ARGS, "cached": True}
    assert proof_cache.recall("cd" * 32, ARGS) is None  # other bytes
    assert proof_cache.recall(SHA, {**ARGS, "memory_mb": 2048}) is None  # other limits
    assert proof_cache.recall(SHA, {**ARGS, "budget_ms": 1000.0}) is None


def test_a_passed_proof_spares_the_next_start_up_its_trial(proofs, tmp_path, monkeypatch):
    folder = shutil.copytree(embedded_bundle("arrhythmia"), tmp_path / "b")
    load_bundle(folder)  # a real trial run, passed
    (entry,) = proofs.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600 and proofs.stat().st_mode & 0o777 == 0o700
    monkeypatch.setattr(bundle_proof, "_proven", {})
    no_trial(monkeypatch)
    assert load_bundle(folder).task == "arrhythmia"


def test_other_limits_are_proven_again(proofs, tmp_path, monkeypatch):
    folder = shutil.copytree(embedded_bundle("arrhythmia"), tmp_path / "b")
    forge(proofs, sha256_file(folder / "model.onnx"), {**ARGS, "budget_ms": 50.0})
    no_trial(monkeypatch)
    with pytest.raises(AssertionError, match="a trial run started"):
        load_bundle(folder, budget_ms=60.0)


def test_a_failed_proof_is_never_written_and_a_shared_folder_never_read(proofs, tmp_path):
    folder = variant(tmp_path / "slow", _slow)  # 3.6 GFLOP per inference, 1 ms allowed
    with pytest.raises(InputError, match="cannot keep up"):
        load_bundle(folder, budget_ms=1.0)
    assert not proofs.exists() or not list(proofs.iterdir())
    # a shared (world-writable) folder holding a forged pass for exactly these bytes and limits
    model = folder / "model.onnx"
    io = bundle_proof.describe(model)["io"]  # the graph's own: a forgery that fits
    report = {**REPORT, "io": io, "shape": io["outputs"][0]["shape"]}
    forge(proofs, sha256_file(model), {**ARGS, "model": str(model.resolve())}, report)
    proofs.chmod(0o777)
    bundle_proof._proven.clear()
    with pytest.raises(InputError, match="cannot keep up"):
        load_bundle(folder, budget_ms=1.0)


def _other_owner(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(path, 65534, 65534)


def _link_entry(entry: Path) -> None:
    real = entry.with_name("real")
    entry.rename(real)
    entry.symlink_to(real)


def _fifo(entry: Path) -> None:
    entry.unlink()
    os.mkfifo(entry, 0o600)


def _big(entry: Path) -> None:
    with entry.open("a") as f:
        f.write(" " * proof_cache.ENTRY_MAX_BYTES)


ATTACKS = {
    "folder writable by all": lambda e: e.parent.chmod(0o777),
    "folder writable by its group": lambda e: e.parent.chmod(0o770),
    "entry writable by others": lambda e: e.chmod(0o606),
    "entry of another owner": _other_owner,
    "folder of another owner": lambda e: _other_owner(e.parent),
    "entry is a link": _link_entry,
    "entry is a FIFO": _fifo,
    "entry over the size cap": _big,
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_entry_no_one_else_could_have_written_is_required(proofs, attack):
    ATTACKS[attack](forge(proofs))
    assert proof_cache.recall(SHA, ARGS) is None


def test_a_linked_cache_folder_is_not_read(proofs, tmp_path):
    forge(tmp_path / "elsewhere")
    proofs.parent.mkdir(parents=True, exist_ok=True)
    proofs.symlink_to(tmp_path / "elsewhere")
    assert proof_cache.recall(SHA, ARGS) is None


def test_an_entry_copied_to_other_bytes_name_is_not_theirs(proofs):
    entry = forge(proofs)
    other = proof_cache._entry_name(proof_cache.key_material("cd" * 32, ARGS))
    shutil.copy(entry, proofs / other)
    entry.unlink()
    assert proof_cache.recall("cd" * 32, ARGS) is None


BAD_REPORTS = {
    "a failed trial": {**REPORT, "failed": "died of SIGKILL"},
    "an unchecked trial": {"io": REPORT["io"], "unchecked": "other than float"},
    "no timings": {**REPORT, "seconds": []},
    "NaN timing": {**REPORT, "seconds": [float("nan")]},
    "negative timing": {**REPORT, "seconds": [-1.0]},
    "text timing": {**REPORT, "seconds": ["0.1"]},
    "no outputs": {**REPORT, "io": {"inputs": [TENSOR], "outputs": []}},
    "a tensor with extra keys": {
        **REPORT,
        "io": {"inputs": [{**TENSOR, "x": 1}], "outputs": [TENSOR]},
    },
    "a shape of floats": {**REPORT, "shape": [1.0, 1.0]},
    "io as a list": {**REPORT, "io": [TENSOR]},
}


@pytest.mark.parametrize("what", BAD_REPORTS)
def test_a_report_unlike_a_passed_trial_is_ignored(proofs, what):
    forge(proofs, report=BAD_REPORTS[what])
    assert proof_cache.recall(SHA, ARGS) is None


JSON = st.recursive(
    st.none() | st.floats() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)
ENTRIES = st.binary(max_size=300) | JSON.map(lambda v: json.dumps({"key": v, "report": v}).encode())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=ENTRIES)
def test_any_bytes_in_an_entry_are_a_miss_not_a_crash(proofs, data):
    entry = forge(proofs)
    entry.write_bytes(data)
    assert proof_cache.recall(SHA, ARGS) is None


def test_the_switch_and_an_unusable_folder_leave_the_trial_to_run(proofs, monkeypatch):
    forge(proofs)
    monkeypatch.setenv(proof_cache.ENV_SWITCH, "off")
    assert proof_cache.recall(SHA, ARGS) is None
    shutil.rmtree(proofs)
    proof_cache.remember(SHA, {**REPORT, "args": ARGS})
    assert not proofs.exists()
    monkeypatch.delenv(proof_cache.ENV_SWITCH)
    proofs.parent.mkdir(parents=True, exist_ok=True)
    proofs.write_text("a file where the folder goes")
    proof_cache.remember(SHA, {**REPORT, "args": ARGS})  # silent
    assert proof_cache.recall(SHA, ARGS) is None


PI4 = "Hardware\t: BCM2835\nRevision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
ZERO = "Hardware\t: BCM2835\nRevision\t: 902120\nModel\t\t: Raspberry Pi Zero 2 W Rev 1.0\n"


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A /proc/cpuinfo to rewrite, as a card moved to another board would see it: the machine,
    read once a process, is read again after each `board(text)` (and afresh after the test)."""
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(proof_cache, "_CPUINFO", str(cpuinfo))

    def boot(text: str) -> None:
        cpuinfo.write_text(text)
        proof_cache._machine.cache_clear()

    yield boot
    proof_cache._machine.cache_clear()


def test_the_machine_is_read_once_a_process(board):
    board(PI4)
    first = proof_cache.key_material(SHA, ARGS)
    Path(proof_cache._CPUINFO).write_text(ZERO)  # not re-read until the cache is cleared
    assert proof_cache.key_material(SHA, ARGS) == first
    board(ZERO)
    assert proof_cache.key_material(SHA, ARGS) != first


def test_a_proof_from_another_board_with_the_same_uname_is_not_read(proofs, board, monkeypatch):
    """A card image moved from a Pi 4 to a Pi Zero 2 W keeps host name, kernel and machine:
    the Pi 4's timings must not pass a model on the slower board."""
    board(PI4 + "BogoMIPS\t: 108.00\n")
    forge(proofs)
    board(PI4 + "BogoMIPS\t: 100.00\n")  # a state, not the board: still read
    assert proof_cache.recall(SHA, ARGS) is not None
    board(ZERO + "BogoMIPS\t: 108.00\n")
    assert proof_cache.recall(SHA, ARGS) is None
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # the same board, other CPUs online
    board(PI4)
    assert proof_cache.recall(SHA, ARGS) is None


@pytest.mark.parametrize("value", ["rel", "./cache", "   ", "~nosuchuser123/x"])
def test_a_relative_cache_folder_is_ignored(monkeypatch, tmp_path, value):
    """A relative $ECG_EDGE_CACHE or $XDG_CACHE_HOME would make the trusted folder whichever
    one the monitor is started in (an unpacked download holding its own `proofs`); the XDG
    spec says to ignore such a value."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECG_EDGE_CACHE", value)
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert proof_cache.cache_dir() == tmp_path / "home" / ".cache" / "ecg-edge" / "proofs"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert proof_cache.cache_dir() == tmp_path / "xdg" / "ecg-edge" / "proofs"
    monkeypatch.setenv("ECG_EDGE_CACHE", "~/c")
    assert proof_cache.cache_dir() == tmp_path / "home" / "c" / "proofs"


def test_a_model_swapped_in_for_its_trial_is_refused_and_never_remembered(
    proofs, tmp_path, monkeypatch
):
    """Someone who can write the bundle folder swaps a fast model in between the hash and the
    trial (the child opened the name again), then the slow one back: the slow model's sha256
    must not be remembered as passed, nor let through on the next start-up."""
    slow = variant(tmp_path / "slow", _slow)  # 3.6 GFLOP per inference
    fast = variant(tmp_path / "fast", lambda model: None)
    model, spawn = slow / "model.onnx", bundle_proof._spawn
    slow_bytes = model.read_bytes()

    def raced(args):
        model.write_bytes((fast / "model.onnx").read_bytes())
        try:
            return spawn(args)
        finally:
            model.write_bytes(slow_bytes)

    monkeypatch.setattr(bundle_proof, "_spawn", raced)
    with pytest.raises(InputError, match="changed while it was hashed and tried"):
        load_bundle(slow, budget_ms=20.0)
    assert not proofs.exists() or not list(proofs.iterdir())
    monkeypatch.setattr(bundle_proof, "_spawn", spawn)
    bundle_proof._proven.clear()
    with pytest.raises(InputError, match="cannot keep up"):
        load_bundle(slow, budget_ms=20.0)
