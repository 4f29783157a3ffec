"""`trainer compress` end to end on tiny real-format data: a loadable, verified bundle, or the
int8 gate's recorded refusal. Whether int8 keeps the tiny models' scores depends on the CPU's
integer kernels (AVX-512 VNNI, AVX2, ARM dot products round and saturate differently), so no test
here expects one verdict from real numerics: the gate's outcomes are forced with a profile whose
allowed drop no model can meet, or one no model can miss."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_monitor.bundle import load_bundle
from edge_monitor.contract import read_contract
from tests.trainer.conftest import ONE_THREAD, gate_profile
from trainer.cli import app
from trainer.metrics import record_bootstrap_f1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def given_student(tiny_mitdb, tmp_path_factory) -> Path:
    """A student trained one epoch on the tiny beats: teacher and student of the quick runs."""
    from trainer.config import TrainConfig
    from trainer.tasks import load_task
    from trainer.train import fit

    root = tmp_path_factory.mktemp("given")
    beats = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "cache")
    cfg = TrainConfig(
        task="arrhythmia", model="student", epochs=1, batch_size=32, threads=ONE_THREAD
    )
    fit(cfg, beats, root / "s" / "model.pt", show_progress=False)
    return root / "s" / "model.pt"


def quick_args(tiny_mitdb, given: Path, profile, out: Path, cache: Path) -> list[str]:
    args = ["compress", "--task", "arrhythmia", "--profile", str(profile)]
    args += ["--data-dir", str(tiny_mitdb), "--out", str(out), "--cache-dir", str(cache)]
    args += ["--epochs", "1", "--prune-ratio", "0", "--latency-runs", "5", "--threads", "1"]
    return [*args, "--teacher", str(given), "--student", str(given)]


def assert_refusal(gate: dict, model: str) -> None:
    """A refusal recorded with its numbers, naming the model, its per-tensor report written."""
    assert gate["model"] == model and not gate["ok"]
    assert gate["drop"] > gate["limit"]
    assert f"refused the {model} model" in gate["message"]
    assert f"lost {gate['drop']:.4f}" in gate["message"]
    assert Path(gate["debug_report"]).stat().st_size > 0


def test_compress_writes_a_bundle_the_device_loads(tiny_mitdb, nstdb_dir, tmp_path):
    """The whole chain: a teacher trained here, students per seed with and without it, noise
    hardening, pruning, export, int8 of teacher and student, latency, manifest and report. The
    profile passes every int8 model and leaves room in every budget, so the bundle is written
    whatever this CPU's int8 kernels do (refusals: the tests below); one calibration method."""
    out = tmp_path / "bundle"
    profile = gate_profile(tmp_path, 1.0)
    args = ["compress", "--task", "arrhythmia", "--profile", str(profile)]
    args += ["--data-dir", str(tiny_mitdb), "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    args += ["--epochs", "1", "--threads", "1", "--latency-runs", "5", "--prune-ratio", "0.5"]
    args += ["--student-seed", "0", "--student-seed", "1"]
    args += ["--harden-noise-prob", "0.5", "--harden-epochs", "1", "--noise-dir", str(nstdb_dir)]
    args += ["--polarity-flip-prob", "0.5"]
    recipe = tmp_path / "recipe.toml"  # for the teacher and every student alike
    recipe.write_text('[train]\nkeep_epoch = "last"\nbatch_size = 48\n')
    args += ["--config", str(recipe)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    stages = manifest["stages"]
    assert all(check["ok"] for check in manifest["checks"].values()), manifest["checks"]
    teacher_gate = json.loads((out / "stages" / "teacher" / "quant.json").read_text())["gate"]
    student_gate = json.loads((out / "stages" / "final" / "quant.json").read_text())["gate"]
    assert (teacher_gate["model"], student_gate["model"]) == ("teacher int8", "student int8")
    assert teacher_gate["ok"] and student_gate["ok"] and student_gate["limit"] == 1.0
    assert stages["final-int8"]["gate"] == student_gate
    expected = {"teacher", "student-pruned", "teacher-int8"}
    expected |= {f"student-{v}-s{s}" for v in ("plain", "kd") for s in (0, 1)}
    assert expected | {"final-fp32", "final-int8"} <= set(stages)
    assert stages["teacher-int8"]["gate"] == teacher_gate
    assert stages["_config"] == {
        "file": str(recipe),
        "train": {"keep_epoch": "last", "batch_size": 48},
    }
    for stage in ("teacher", "student-kd-s0", "student-plain-s1"):
        used = json.loads((out / "stages" / stage / "train_config.json").read_text())
        assert (used["keep_epoch"], used["batch_size"], used["epochs"]) == ("last", 48, 1), stage
    hardened = stages["student-hardened"]
    chosen = [k for k, s in stages.items() if isinstance(s, dict) and s.get("selected")]
    assert hardened["hardening"]["from"] == chosen[0]
    assert hardened["hardening"]["noises"] == ["bw", "ma"]  # the tiny copy has no record 118
    assert "noisy_val_score" in hardened and "noisy_val_score" in stages[chosen[0]]
    assert hardened["hardening"]["kept"] == (
        hardened["hardening"]["selection_after"] > hardened["hardening"]["selection_before"]
    )
    pruning = stages["student-pruned"]["pruning"]
    assert pruning["params_after"] < pruning["params_before"]
    assert pruning["macs_after"] < pruning["macs_before"]
    assert [r["seed"] for r in stages["_ablation"]["rows"]] == [0, 1]
    for variant in ("plain", "kd"):  # every seed's scores summarised as mean and sd
        row = stages["_seeds"][variant]
        assert row["seeds"] == [0, 1]
        entries = [stages[f"student-{variant}-s{s}"] for s in (0, 1)]
        for score in ("val_score", "f1_S", "f1_V"):
            values = [e[score] if score in e else e["test"][score] for e in entries]
            defined = [v for v in values if np.isfinite(v)]  # F1 of a class absent: NaN
            assert row[score]["n"] == len(defined)
            if defined:
                assert row[score]["mean"] == pytest.approx(np.mean(defined))
    assert sum(bool(s.get("selected")) for s in stages.values() if isinstance(s, dict)) == 1
    assert manifest["latency"]["onnx_int8_1t"]["runs"] == 5
    bundle = load_bundle(out)
    assert bundle.contract == read_contract(out / "model.onnx")
    assert bundle.manifest["model"]["bytes"] == (out / "model.onnx").stat().st_size
    final = manifest["stages"]["final-int8"]  # the shipped file's size, with short names
    assert final["short_names"] and final["bytes"] == bundle.manifest["model"]["bytes"]
    assert manifest["final"]["bytes"] == final["bytes"] < final["stage_bytes"]
    report = (out / "report.md").read_text()
    assert "student, distilled, seed 1" in report and "shipped model, int8" in report
    assert "Distillation ablation" in report and "Noise hardening" in report
    assert "Students kd, seeds [0, 1] (mean +- sd)" in report
    assert "recorded noise (bw, ma)" in report
    assert (out / "accuracy_vs_size.png").stat().st_size > 0
    assert (out / "roc_stages.png").stat().st_size > 0
    # the report is regenerated from the manifest alone
    (out / "report.md").unlink()
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    assert (out / "report.md").read_text() == report


def test_record_bootstrap_sees_a_real_difference_and_noise():
    import numpy as np

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 50)
    y = rng.integers(0, 2, size=groups.size)
    perfect = np.eye(2)[y]
    noisy = np.eye(2)[np.where(rng.random(y.size) < 0.3, 1 - y, y)]
    better = record_bootstrap_f1(y, perfect, noisy, groups, cls=1)
    assert better["diff"] > 0.2 and not better["within_noise"]
    same = record_bootstrap_f1(y, noisy, noisy, groups, cls=1)
    assert same["diff"] == 0 and same["within_noise"]


def test_students_trained_with_noise_are_chosen_on_clean_and_noisy_validation(
    tiny_mitdb, nstdb_dir, tmp_path
):
    from trainer.compress import noisy_validation_score, selection_score
    from trainer.config import TrainConfig
    from trainer.tasks import load_task
    from trainer.train import fit, training_noise_for

    data = load_task("arrhythmia", tiny_mitdb, cache_dir=tmp_path / "c")
    cfg = TrainConfig(
        task="arrhythmia", model="tiny", epochs=2, batch_size=32, lr=1e-2, threads=ONE_THREAD
    )
    cfg = TrainConfig(**{**cfg.to_dict(), "noise_prob": 0.5, "noise_dir": str(nstdb_dir)})
    ckpt = fit(cfg, data, tmp_path / "s" / "model.pt", show_progress=False)
    tracks = training_noise_for(cfg, data)
    noisy = noisy_validation_score(tmp_path / "s" / "model.pt", data, tracks)
    assert 0.0 <= noisy <= 1.0
    assert noisy == noisy_validation_score(tmp_path / "s" / "model.pt", data, tracks)  # fixed draw
    # training with noise scores every epoch on the same fixed noisy draw compress uses
    assert ckpt["metrics"]["val_noisy"] == pytest.approx(noisy)
    clean = float(ckpt["metrics"]["val_clean"])
    assert ckpt["metrics"]["val_score"] == pytest.approx((clean + noisy) / 2)
    assert selection_score({"val_score": clean}) == clean
    both = selection_score({"val_score": clean, "noisy_val_score": noisy})
    assert both == pytest.approx((clean + noisy) / 2)


def test_compress_refuses_a_student_trained_for_another_task(
    tiny_mitdb, tiny_ptbxl, given_student, tmp_path
):
    """A diagnostic model given as the arrhythmia chain's student: one line, no traceback.
    (A given student of the right task goes on: the refused-teacher test below.)"""
    from trainer.config import TrainConfig
    from trainer.tasks import load_task
    from trainer.train import fit

    cache = tmp_path / "cache"
    records = load_task("diagnostic", tiny_ptbxl, cache_dir=cache)
    diag = TrainConfig(task="diagnostic", model="tiny", epochs=1, threads=ONE_THREAD)
    fit(diag, records, tmp_path / "d" / "model.pt", show_progress=False)
    args = quick_args(tiny_mitdb, given_student, gate_profile(tmp_path, 1.0), tmp_path / "b", cache)
    args[args.index("--student") + 1] = str(tmp_path / "d" / "model.pt")
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "the student was trained for diagnostic" in result.output
    assert "Traceback" not in result.output


def test_a_refused_teacher_int8_is_recorded_and_the_chain_goes_on(
    tiny_mitdb, given_student, tmp_path, monkeypatch
):
    """The teacher's int8 copy is for the table: its refusal is told and recorded (stage, quant
    record, report table) and the bundle is still written and loads on the device. The chain
    goes on with the student it was given (no students of its own), which it ships."""
    import trainer.compress

    quantize = trainer.compress.quantize_model

    def teacher_loses_everything(fp32, out, *args, **kwargs):
        result = quantize(fp32, out, *args, **kwargs)
        return {**result, "drop": 2.0} if out.parent.name == "teacher" else result

    monkeypatch.setattr(trainer.compress, "quantize_model", teacher_loses_everything)
    out = tmp_path / "bundle"
    args = quick_args(tiny_mitdb, given_student, gate_profile(tmp_path, 1.0), out, tmp_path / "c")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output  # the teacher's refusal blocks nothing
    assert "refused the teacher int8 model" in result.output and "going on" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["student-given"]["selected"]
    assert not [k for k in manifest["stages"] if k.startswith(("student-plain", "student-kd"))]
    gate = manifest["stages"]["teacher-int8"]["gate"]
    assert_refusal(gate, "teacher int8")
    assert (gate["drop"], gate["limit"], gate["from"]) == (2.0, 1.0, "teacher")
    assert json.loads((out / "stages" / "teacher" / "quant.json").read_text())["gate"] == gate
    assert "gate REFUSED" in manifest["stages"]["teacher-int8"]["summary"]
    assert manifest["stages"]["final-int8"]["gate"]["ok"] and manifest["checks"]["int8_drop"]["ok"]
    assert "int8_drop: pass, student int8 " in (out / "report.md").read_text()
    teacher_row = [r for r in (out / "report.md").read_text().splitlines() if "teacher, int8" in r]
    assert teacher_row and "onnx int8 (refused by the gate)" in teacher_row[0]
    assert load_bundle(out).contract == read_contract(out / "model.onnx")


def test_a_refused_student_int8_ends_the_run_with_its_refusal_recorded(
    tiny_mitdb, given_student, tmp_path, monkeypatch
):
    """Every int8 model losing more than the profile allows (a drop of 2 against a limit of 1,
    forced: real int8 numerics differ between CPUs): the teacher's refusal is recorded and the
    chain goes on; the student's ends it with a one-line error naming it, and no bundle."""
    import trainer.compress

    quantize = trainer.compress.quantize_model

    def every_model_loses_everything(fp32, out, *args, **kwargs):
        return {**quantize(fp32, out, *args, **kwargs), "drop": 2.0}

    monkeypatch.setattr(trainer.compress, "quantize_model", every_model_loses_everything)
    out = tmp_path / "bundle"
    profile = gate_profile(tmp_path, 1.0)
    result = CliRunner().invoke(app, quick_args(tiny_mitdb, given_student, profile, out, tmp_path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "refused the teacher int8 model" in result.output
    assert "refused the student int8 model (from student-given)" in result.output
    assert "no bundle written" in result.output
    assert not (out / "manifest.json").exists() and not (out / "model.onnx").exists()
    stages = json.loads((out / "stages" / "stages.json").read_text())
    for stage, model in (("teacher", "teacher int8"), ("final", "student int8")):
        gate = stages[f"{stage}-int8"]["gate"]
        assert_refusal(gate, model)
        assert (gate["drop"], gate["limit"], gate["profile"]) == (2.0, 1.0, profile.stem)
        assert json.loads((out / "stages" / stage / "quant.json").read_text())["gate"] == gate


def test_an_ensemble_of_students_ships_as_one_int8_model(tiny_mitdb, given_student, tmp_path):
    """`trainer ensemble` then `compress --student`: the students of two seeds become one graph
    (twice the parameters), quantized and gated as one, whose fp32 export answers the mean of
    the members' logits; the device loads it like any bundle."""
    import onnxruntime as ort
    import torch

    from trainer.checkpoint import load_checkpoint, save_checkpoint

    model, fields = load_checkpoint(given_student)
    with torch.no_grad():  # a second member: another draw of the same configuration
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    other = tmp_path / "other.pt"
    save_checkpoint(other, model, **{k: v for k, v in fields.items() if k not in SAVED_BY_IT})
    ens = tmp_path / "ens.pt"
    made = CliRunner().invoke(app, ["ensemble", str(given_student), str(other), "--out", str(ens)])
    assert made.exit_code == 0, made.output
    out = tmp_path / "bundle"
    args = quick_args(tiny_mitdb, given_student, gate_profile(tmp_path, 1.0), out, tmp_path / "c")
    args[args.index("--student") + 1] = str(ens)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    single = sum(p.numel() for p in model.parameters())
    assert manifest["model"]["params"] == 2 * single
    bundle = load_bundle(out)
    assert bundle.contract == read_contract(out / "model.onnx")
    members = [load_checkpoint(given_student)[0], load_checkpoint(other)[0]]
    fp32 = ort.InferenceSession(str(out / "stages" / "final" / "model-fp32.onnx"))
    rng = np.random.default_rng(0)
    feeds = {
        i.name: rng.standard_normal([d if isinstance(d, int) else 3 for d in i.shape])
        for i in fp32.get_inputs()
    }
    feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    with torch.no_grad():
        expected = torch.stack([m(*map(torch.from_numpy, feeds.values())) for m in members])
    np.testing.assert_allclose(fp32.run(None, feeds)[0], expected.mean(0).numpy(), atol=1e-4)


SAVED_BY_IT = ("format", "model_config", "state_dict", "created", "git_commit")
