"""`trainer ensemble`: students of one configuration and test split as one checkpoint whose
logits are the mean of theirs; anything else is refused in one line."""

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
    with pytest.raises(InputError, match="different checkpoints"):
        save_ensemble([first, tmp_path / "." / "a.pt"], tmp_path / "ens.pt")


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
