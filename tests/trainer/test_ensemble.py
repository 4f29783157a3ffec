"""`trainer ensemble`: students of one configuration and test split as one checkpoint whose
logits are the mean of theirs; anything else is refused in one line."""

import math
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edge_monitor.errors import InputError
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.cli import app
from trainer.ensemble import save_ensemble
from trainer.models import ModelConfig, build_model
from trainer.presets import PRESETS

TEST_RECORDS = ["cudb/cu03", "mitdb/207"]


def student(path: Path, seed: int, *, task="ventricular", test=TEST_RECORDS, model="tiny") -> Path:
    """A checkpoint as the chain writes one (random weights: what is checked is the plumbing)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(**PRESETS["ventricular"][model])
    save_checkpoint(
        path,
        build_model(cfg).eval(),
        task=task,
        classes=["VT/VF"],
        preprocessing={"fs": 125.0, "window": 500},
        train_config={"seed": seed, "threads": 1},
        data={"splits": {"test": {"records": test}, "val": {"records": [f"v{seed}"]}}},
        metrics={"val_score": 0.9 + seed / 100, "best_epoch": seed + 1},
        resources={"train_seconds": 10.0, "peak_rss_mb": 100.0 + seed},
    )
    return path


def test_the_ensemble_answers_the_mean_of_its_members_logits(tmp_path):
    members = [student(tmp_path / f"s{s}.pt", s) for s in (1, 2, 3)]
    ckpt = save_ensemble(members, tmp_path / "ens.pt")
    ens, saved = load_checkpoint(tmp_path / "ens.pt")
    x = torch.randn(4, 1, 500)
    with torch.no_grad():
        expected = torch.stack([load_checkpoint(m)[0](x) for m in members]).mean(0)
        torch.testing.assert_close(ens(x), expected)
    assert saved["model_config"]["members"] == 3 and saved["task"] == "ventricular"
    assert saved["lineage"]["member_seeds"] == [1, 2, 3]
    assert saved["metrics"]["val_score"] == pytest.approx(0.92)
    one_member = sum(p.numel() for p in load_checkpoint(members[0])[0].parameters())
    assert ckpt["size"]["params"] == 3 * one_member


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"task": "arrhythmia"}, "differs from"),
        ({"test": ["mitdb/100"]}, "tested on other records"),
        ({"model": "student"}, "one model config"),
    ],
)
def test_members_that_answer_different_questions_are_refused(tmp_path, second, message):
    first = student(tmp_path / "a.pt", 0)
    other = student(tmp_path / "b.pt", 1, **second)
    with pytest.raises(InputError, match=message):
        save_ensemble([first, other], tmp_path / "ens.pt")
    assert not (tmp_path / "ens.pt").exists()


def test_one_member_or_the_same_one_twice_is_no_ensemble(tmp_path):
    first = student(tmp_path / "a.pt", 0)
    with pytest.raises(InputError, match="at least two"):
        save_ensemble([first], tmp_path / "ens.pt")
    with pytest.raises(InputError, match="given twice"):
        save_ensemble([first, tmp_path / "." / "a.pt"], tmp_path / "ens.pt")
    os.link(first, tmp_path / "hard.pt")  # another name of the same file
    with pytest.raises(InputError, match="given twice"):
        save_ensemble([first, tmp_path / "hard.pt"], tmp_path / "ens.pt")
    shutil.copy(first, tmp_path / "copy.pt")  # another file of the same weights
    with pytest.raises(InputError, match="same weights"):
        save_ensemble([first, tmp_path / "copy.pt"], tmp_path / "ens.pt")
    assert not (tmp_path / "ens.pt").exists()


def test_an_ensemble_is_not_a_member_and_never_overwrites_one(tmp_path):
    a, b = student(tmp_path / "a.pt", 0), student(tmp_path / "b.pt", 1)
    save_ensemble([a, b], tmp_path / "ens.pt")
    with pytest.raises(InputError, match="an ensemble already"):
        save_ensemble([a, tmp_path / "ens.pt"], tmp_path / "ens2.pt")
    before = a.read_bytes()
    (tmp_path / "link.pt").symlink_to(a)
    for out in (a, tmp_path / "b.pt", tmp_path / "." / "a.pt", tmp_path / "link.pt"):
        with pytest.raises(InputError, match="would overwrite"):
            save_ensemble([a, b], out)
    # a file or a link already at the old temporary name is never written through
    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    (tmp_path / "new.tmp").symlink_to(keep)
    save_ensemble([a, b], tmp_path / "new.pt")
    assert keep.read_text() == "mine" and not (tmp_path / "new.pt").is_symlink()
    assert a.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def damaged(path: Path, seed: int, damage) -> Path:
    ckpt = torch.load(student(path, seed), weights_only=True)
    damage(ckpt)
    torch.save(ckpt, path)
    return path


def first_float(ckpt: dict) -> torch.Tensor:
    return next(v for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_members_that_cannot_be_averaged_honestly_are_refused(tmp_path):
    a = student(tmp_path / "a.pt", 0)
    for name, value in (("nan", math.nan), ("inf", math.inf)):
        bad = damaged(tmp_path / f"{name}.pt", 1, lambda c, v=value: first_float(c).fill_(v))
        with pytest.raises(InputError, match="not finite real numbers"):
            save_ensemble([a, bad], tmp_path / "ens.pt")
    bad = damaged(tmp_path / "t.pt", 2, lambda c: c.update(classes=torch.tensor([1.0, 2.0])))
    with pytest.raises(InputError, match="not plain values"):
        save_ensemble([bad, a], tmp_path / "ens.pt")

    def huge(c: dict) -> None:  # past any float
        c["metrics"]["val_score"] = 10**400
        c["resources"]["train_seconds"] = -(10**400)

    big = damaged(tmp_path / "big.pt", 3, huge)
    assert save_ensemble([a, big], tmp_path / "ens.pt")["metrics"]["val_score"] == 0.9
    assert not (tmp_path / "ens.pt").is_symlink()


@pytest.mark.parametrize(
    "config",
    # (not a width of 10**12: with overcommit on, torch may map it and the kernel kill the run)
    [{"widths": [-8, 16]}, {"input_length": 0}, {"input_length": -5}],
)
def test_a_model_config_that_cannot_be_built_or_run_is_one_line(tmp_path, config):
    a = student(tmp_path / "a.pt", 0)
    bad = damaged(tmp_path / "b.pt", 1, lambda c: c["model_config"].update(config))
    with pytest.raises(InputError) as said:
        save_ensemble([a, bad], tmp_path / "ens.pt")
    assert "\n" not in str(said.value)
    assert not (tmp_path / "ens.pt").exists()


def test_strange_paths_are_refused_without_blocking(tmp_path):
    a = student(tmp_path / "a.pt", 0)
    os.mkfifo(tmp_path / "fifo.pt")  # opening it to read would wait for a writer forever
    with pytest.raises(InputError, match="not a checkpoint file"):
        save_ensemble([a, tmp_path / "fifo.pt"], tmp_path / "ens.pt")
    long = tmp_path / ("x" * 300 + ".pt")
    with pytest.raises(InputError, match="cannot"):
        save_ensemble([a, long], tmp_path / "ens.pt")
    with pytest.raises(InputError, match="cannot write"):
        save_ensemble([a, student(tmp_path / "b.pt", 1)], long)


@pytest.mark.parametrize(
    "damage",
    [
        {"data": "str"},
        {"data": {"splits": {"test": None}}},
        {"data": None},
        {"metrics": None},
        {"resources": {"train_seconds": "x"}},
        {"train_config": None},
        {"model_config": None},
        {"model_config": {"widths": "abc"}},
    ],
)
def test_a_damaged_member_is_refused_or_described_without_a_traceback(tmp_path, damage):
    """Fields a stranger's checkpoint may lack or garble: a member that cannot say what it was
    tested on, or holds no model, is refused; a missing score or resource is left out."""
    a = student(tmp_path / "a.pt", 0)
    b = student(tmp_path / "b.pt", 1)
    ckpt = torch.load(b, weights_only=True)
    ckpt.update(damage)
    torch.save(ckpt, b)
    try:
        saved = save_ensemble([a, b], tmp_path / "ens.pt")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert "test" not in str(damage) and "model_config" not in str(damage)
        assert saved["model_config"]["members"] == 2


def test_where_the_ensemble_cannot_go_is_said_in_one_line(tmp_path):
    a, b = student(tmp_path / "a.pt", 0), student(tmp_path / "b.pt", 1)
    for out, said in (
        (tmp_path, "is a folder"),
        (Path(""), "needs a file name"),
        (a / "x.pt", "cannot write"),
        (Path("/proc/no/such/x.pt"), "cannot write"),
    ):
        with pytest.raises(InputError, match=said):
            save_ensemble([a, b], out)
    assert (
        not list(tmp_path.glob("*.tmp")) and not (tmp_path.parent / f"{tmp_path.name}.tmp").exists()
    )


def test_the_command_says_what_it_wrote_or_why_not_in_one_line(tmp_path):
    members = [str(student(tmp_path / f"s{s}.pt", s)) for s in (0, 1)]
    out = tmp_path / "ens.pt"
    result = CliRunner().invoke(app, ["ensemble", *members, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 members" in result.output and out.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    bad = CliRunner().invoke(app, ["ensemble", members[0], str(tmp_path / "junk.pt"), "--out", "x"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "not a readable ecg-edge checkpoint" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
