"""Training on several ranks: two CPU processes (gloo) through the real fit loop.

The ranks must hold the same weights after training (DDP averages their gradients), those weights
must be one process's weights up to float rounding (same seed, same global batches, BatchNorm
over the global batch), and only rank 0 may write.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer import distributed
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.models import ModelConfig, build_model, preset
from trainer.splits import Split, TaskData

CLASSES = ("N", "S", "V", "F")
# one process against two after one short epoch (2 steps of 64 rows: the smallest run with more
# than one optimiser step, so the ranks must agree after a step that started from averaged
# gradients): only float rounding differs (batch sums split over ranks, BatchNorm statistics from
# sums); measured 6e-8 (ensemble) and 2.9e-7 (student) here. Over hundreds of steps
# rounding grows as it does between two thread counts of one process (benchmarks/ddp_parity.py),
# so the check is kept short.
PARITY_ATOL = 1e-4


def _split(n: int, seed: int) -> Split:
    """Beat-shaped rows whose class shows in the beat, so the loss has something to learn."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    x = rng.normal(size=(n, 2, 128)).astype(np.float32)
    x[:, 0, 60:68] += y[:, None]
    extra = rng.normal(size=(n, 6)).astype(np.float32)
    return Split(x, y.astype(np.int64), extra, np.arange(n) // 40)


def _data() -> TaskData:
    return TaskData("arrhythmia", CLASSES, _split(128, 1), _split(40, 2), _split(40, 3), {}, {})


def _ensemble() -> torch.nn.Module:
    """A two-member ensemble (the teacher's shape): its members' losses through one DDP step."""
    cfg = ModelConfig(
        in_channels=2, n_classes=4, input_length=128, n_extra=6, widths=(4, 8), head_hidden=8
    )
    return build_model(ModelConfig(**{**cfg.to_dict(), "members": 2, "dropout": 0.0}))


def _fits(out: Path) -> list[dict]:
    """What rank 0 (or one process) trains: an ensemble from scratch, then the student preset
    (dropout) distilled from it with recorded noise and an anchor (a second job: the followers
    reuse the split they hold)."""
    from trainer.train import fit

    torch.manual_seed(0)
    first_init, second_init = _ensemble(), build_model(preset("arrhythmia", "student"))
    data = _data()
    cfg = TrainConfig(task="arrhythmia", model="tiny", epochs=1, batch_size=64, threads=1)
    first = fit(cfg, data, out / "a" / "model.pt", init=first_init)
    noise = [np.random.default_rng(4).normal(size=5000).astype(np.float32)]
    second_cfg = TrainConfig(
        **{**cfg.to_dict(), "noise_prob": 0.5, "anchor_weight": 0.5, "epochs": 1}
    )
    teacher = load_checkpoint(out / "a" / "model.pt")
    second = fit(
        second_cfg, data, out / "b" / "model.pt", init=second_init, teacher=teacher,
        noise_tracks=noise,
    )  # fmt: skip
    return [first, second]


def _rank(rank: int, port: int, root: Path) -> None:
    """One of two training processes, as torchrun would start it; each in its own folder."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    (root / f"rank{rank}").mkdir()
    os.chdir(root / f"rank{rank}")
    states = []

    def follow(ranks: distributed.Ranks) -> None:
        from trainer.train import train_job

        while (received := distributed.receive_job(ranks)) is not None:
            states.append(train_job(*received, ranks).state_dict())

    distributed.launch(lambda: _fits(Path("run")), follow)
    if rank == 1:  # the harness, not the trainer, keeps what rank 1 trained
        torch.save(states, root / "harness" / "rank1.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_train_one_model_and_only_rank_0_writes(tmp_path):
    (tmp_path / "harness").mkdir()
    torch.multiprocessing.spawn(_rank, args=(_free_port(), tmp_path), nprocs=2)
    followed = torch.load(tmp_path / "harness" / "rank1.pt", weights_only=True)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p) for p in written] == [
        "harness/rank1.pt",
        "rank0/run/a/model.pt",
        "rank0/run/b/model.pt",
    ]
    alone = _fits(tmp_path / "alone")  # the same fits in one process, no process group
    assert len(followed) == 2
    for name, rank1, single in zip("ab", followed, alone, strict=True):
        rank0 = load_checkpoint(tmp_path / "rank0" / "run" / name / "model.pt")[1]
        assert rank0["resources"]["ranks"]["world_size"] == 2
        assert rank0["state_dict"].keys() == rank1.keys() == single["state_dict"].keys()
        for key, value in rank0["state_dict"].items():
            assert torch.equal(value, rank1[key]), key  # DDP: the ranks agree exactly
            if value.is_floating_point():
                assert torch.allclose(value, single["state_dict"][key], atol=PARITY_ATOL), key
            else:
                assert torch.equal(value, single["state_dict"][key]), key
        moved = max(
            float((v - single["state_dict"][k]).abs().max())
            for k, v in rank0["state_dict"].items()
            if v.is_floating_point()
        )
        assert moved < PARITY_ATOL


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 70))
def test_ranks_share_every_row_once_and_their_losses_weigh_as_one(world, rows):
    y = torch.arange(rows)
    batch = (y[:, None].float(), None, y, y[:, None].float())
    shares = [
        distributed.shard(batch, distributed.Ranks(r, world, r, torch.device("cpu")))
        for r in range(world)
    ]
    if rows < world:  # an empty share would have no loss: every rank skips the batch alike
        assert all(s is None for s in shares)
        return
    assert all(s is not None and len(s.batch[2]) > 0 for s in shares)  # none without a loss
    assert torch.equal(torch.cat([s.batch[2] for s in shares]), y)  # type: ignore[union-attr]
    weights = [s.weight for s in shares]  # type: ignore[union-attr]
    assert sum(weights) == pytest.approx(world)  # mean over ranks of weighted means: global


@pytest.mark.slow
def test_torchrun_trains_through_the_cli(tiny_mitdb, tmp_path):
    """`torchrun -m trainer train` end to end: one checkpoint, one summary, from rank 0."""
    out = tmp_path / "run"
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"),
        *(f"--master_port={_free_port()}", "-m", "trainer", "train", "--task", "arrhythmia"),
        *("--model", "tiny", "--data-dir", str(tiny_mitdb), "--epochs", "1", "--threads", "1"),
        *("--limit", "400", "--no-evaluate", "--out", str(out)),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("kept the best epoch") == 1
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "train_config.json"]
    ckpt = load_checkpoint(out / "model.pt")[1]
    assert ckpt["resources"]["ranks"] == {"world_size": 2, "backend": "gloo", "device": "cpu"}
