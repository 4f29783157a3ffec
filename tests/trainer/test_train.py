"""A tiny real training run on real excerpts: the loss falls and the checkpoint describes itself."""

import json
from dataclasses import replace

import pytest
import torch

from edge_monitor.errors import DataNotFoundError
from tests.trainer.conftest import ONE_THREAD
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.evaluate import evaluate_checkpoint
from trainer.tasks import load_task
from trainer.train import fit, mean_state

pytestmark = pytest.mark.slow


def test_arrhythmia_training_learns_and_round_trips(tiny_mitdb, tmp_path):
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia",
        model="tiny",
        epochs=6,
        patience=6,
        batch_size=32,
        lr=1e-2,
        majority_keep=0.5,
        threads=ONE_THREAD,
    )
    ckpt = fit(cfg, data, tmp_path / "run" / "model.pt", show_progress=False)
    losses = [h["train_loss"] for h in ckpt["history"]]
    assert losses[-1] < 0.8 * losses[0]
    model, loaded = load_checkpoint(tmp_path / "run" / "model.pt")  # weights_only inside
    assert loaded["classes"] == ["N", "S", "V", "F"]
    assert loaded["preprocessing"]["fs"] == 180.0 and loaded["train_config"]["seed"] == 0
    result = evaluate_checkpoint(
        tmp_path / "run" / "model.pt", tiny_mitdb, tmp_path / "ev", cache_dir=tmp_path / "c"
    )
    assert (tmp_path / "ev" / "roc.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["test"]["confusion"] == result["test"]["confusion"]
    assert sum(map(sum, saved["test"]["confusion"])) == len(data.test)
    per_record = saved["test_per_record"]
    assert set(per_record) == {"100", "232"}
    assert sum(sum(map(sum, cm)) for cm in per_record.values()) == len(data.test)


def test_diagnostic_training_is_reproducible_with_a_seed(tiny_ptbxl, tmp_path):
    data = load_task("diagnostic", tiny_ptbxl, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="diagnostic", model="tiny", epochs=3, batch_size=16, lr=1e-2, threads=ONE_THREAD
    )
    a = fit(cfg, data, tmp_path / "a.pt", show_progress=False)
    b = fit(cfg, data, tmp_path / "b.pt", show_progress=False)
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key])


def test_distillation_follows_the_teacher_and_alpha_zero_is_plain_training(tiny_mitdb, tmp_path):
    from trainer.checkpoint import load_checkpoint

    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    base = TrainConfig(
        task="arrhythmia", model="tiny", epochs=3, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    fit(base, data, tmp_path / "teacher.pt", show_progress=False)
    teacher = load_checkpoint(tmp_path / "teacher.pt")
    plain = fit(base, data, tmp_path / "plain.pt", show_progress=False)
    zero = fit(
        replace(base, kd_alpha=0.0),
        data,
        tmp_path / "zero.pt",
        show_progress=False,
        teacher=teacher,
    )
    assert [h["train_loss"] for h in zero["history"]] == [h["train_loss"] for h in plain["history"]]
    kd = fit(
        replace(base, kd_alpha=0.9), data, tmp_path / "kd.pt", show_progress=False, teacher=teacher
    )
    assert kd["distillation"]["alpha"] == 0.9 and kd["distillation"]["teacher_size"]
    assert [h["train_loss"] for h in kd["history"]] != [h["train_loss"] for h in plain["history"]]


def test_a_teacher_for_another_task_is_refused(tiny_mitdb, tiny_ptbxl, tmp_path):
    from edge_monitor.errors import InputError
    from trainer.checkpoint import load_checkpoint

    beats = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    fit(
        TrainConfig(task="arrhythmia", model="tiny", epochs=1, threads=ONE_THREAD),
        beats,
        tmp_path / "t.pt",
        show_progress=False,
    )
    records = load_task("diagnostic", tiny_ptbxl, cache_dir=tmp_path / "c")
    with pytest.raises(InputError, match="teacher was trained for arrhythmia"):
        fit(
            TrainConfig(task="diagnostic", model="tiny", epochs=1, threads=ONE_THREAD),
            records,
            tmp_path / "s.pt",
            show_progress=False,
            teacher=load_checkpoint(tmp_path / "t.pt"),
        )


def test_training_with_recorded_noise_changes_the_run_and_is_recorded(
    tiny_mitdb, nstdb_dir, tmp_path
):
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=2, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    plain = fit(cfg, data, tmp_path / "plain" / "model.pt", show_progress=False)
    noisy_cfg = replace(cfg, noise_prob=1.0, noise_snr_min_db=6.0, noise_dir=str(nstdb_dir))
    noisy = fit(noisy_cfg, data, tmp_path / "noisy" / "model.pt", show_progress=False)
    assert noisy["train_config"]["noise_prob"] == 1.0
    assert noisy["history"][0]["train_loss"] != plain["history"][0]["train_loss"]
    missing = replace(cfg, noise_prob=0.5, noise_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="not found"):
        fit(missing, data, tmp_path / "x" / "model.pt", show_progress=False)


def test_fine_tuning_with_frozen_batchnorm_keeps_its_statistics(tiny_mitdb, tmp_path):
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=2, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    fit(cfg, data, tmp_path / "base" / "model.pt", show_progress=False)

    def statistics(model):
        return [
            t.clone()
            for k, t in model.state_dict().items()
            if k.endswith(("running_mean", "running_var"))
        ]

    for freeze in (True, False):
        model, _ = load_checkpoint(tmp_path / "base" / "model.pt")
        before = statistics(model)
        tuned = replace(cfg, freeze_batchnorm=freeze)
        fit(tuned, data, tmp_path / f"ft-{freeze}" / "model.pt", show_progress=False, init=model)
        after = statistics(load_checkpoint(tmp_path / f"ft-{freeze}" / "model.pt")[0])
        same = all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
        assert before and same == freeze


def test_an_anchor_keeps_the_answers_on_clean_beats_while_learning_noise(
    tiny_mitdb, nstdb_dir, tmp_path
):
    from trainer.train import predict

    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=3, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    fit(cfg, data, tmp_path / "base" / "model.pt", show_progress=False)
    base_probs = predict(load_checkpoint(tmp_path / "base" / "model.pt")[0], data.train, cfg.task)
    noisy = replace(cfg, noise_prob=1.0, noise_snr_min_db=0.0, noise_snr_max_db=6.0)
    noisy = replace(noisy, noise_dir=str(nstdb_dir), freeze_batchnorm=True)
    drift = {}
    for weight in (0.0, 5.0):
        model, _ = load_checkpoint(tmp_path / "base" / "model.pt")
        out = tmp_path / f"anchor-{weight}" / "model.pt"
        fit(replace(noisy, anchor_weight=weight), data, out, show_progress=False, init=model)
        probs = predict(load_checkpoint(out)[0], data.train, cfg.task)
        drift[weight] = float(abs(probs - base_probs).mean())
    assert drift[5.0] < drift[0.0]


def test_keep_last_keeps_the_final_epoch_whatever_the_validation_says():
    from trainer.train import Best

    model = torch.nn.Linear(2, 1)
    for last, kept in ((False, 1), (True, 2)):
        best = Best()
        for epoch, score in enumerate((0.5, 0.9, 0.3)):
            with torch.no_grad():
                model.bias.fill_(float(epoch))
            best.offer(model, epoch, score, {"val_x": score}, last=last)
        assert best.epoch == kept and best.state["bias"].item() == kept
        assert best.stale == (1 if not last else 0)  # "last" never counts towards patience


def test_keep_last_trains_every_epoch_and_keeps_the_last(tiny_mitdb, tmp_path):
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=4, patience=1, batch_size=64, keep_epoch="last"
    )
    ckpt = fit(replace(cfg, threads=ONE_THREAD), data, tmp_path / "m.pt", show_progress=False)
    assert len(ckpt["history"]) == 4 and ckpt["metrics"]["best_epoch"] == 4
    assert ckpt["metrics"]["val_score"] == ckpt["history"][-1]["val_score"]
    with pytest.raises(Exception, match="keep_epoch"):
        TrainConfig(task="arrhythmia", keep_epoch="median")


def test_keep_average_keeps_the_mean_of_the_last_epochs_and_writes_the_last(tiny_mitdb, tmp_path):
    """...and never stops early, with patience 0 too (it stopped after epoch 1)."""
    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia",
        model="tiny",
        epochs=4,
        patience=0,
        batch_size=64,
        keep_epoch="average",
        average_epochs=2,
        threads=ONE_THREAD,
    )
    ckpt = fit(cfg, data, tmp_path / "m.pt", show_progress=False, last_out=tmp_path / "last.pt")
    assert len(ckpt["history"]) == 4 and ckpt["metrics"]["averaged_epochs"] == 2
    averaged, _ = load_checkpoint(tmp_path / "m.pt")
    last, last_meta = load_checkpoint(tmp_path / "last.pt")
    assert last_meta["metrics"]["val_score"] == ckpt["history"][-1]["val_score"]
    a, b = averaged.state_dict(), last.state_dict()
    weights = [k for k, v in a.items() if v.is_floating_point()]
    assert any(not torch.equal(a[k], b[k]) for k in weights)  # not the last epoch's weights
    for bad in (0, 2.5, True):
        with pytest.raises(Exception, match="average_epochs"):
            TrainConfig(task="arrhythmia", keep_epoch="average", average_epochs=bad)
    with pytest.raises(Exception, match="last_out"):  # "best" may stop early: no last epoch
        fit(replace(cfg, keep_epoch="best"), data, tmp_path / "b.pt", last_out=tmp_path / "l.pt")


def test_mean_state_averages_floats_and_keeps_the_last_counters():
    states = [
        {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(1)},
        {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(2)},
    ]
    mean = mean_state(states)
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0])) and mean["n"].item() == 2
