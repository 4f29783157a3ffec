"""The trainer CLI: exit codes, and one clear line (no traceback) for bad input."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.conftest import isolate
from tests.trainer.conftest import fewer_resamples
from trainer.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, needle: str) -> None:
    assert result.exit_code == 1, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    assert needle in text
    assert len(text.splitlines()) <= 2  # one message (the terminal may wrap it once)


def test_data_info_on_a_missing_folder(tmp_path):
    assert_one_line_error(run("data", "info", str(tmp_path / "none")), "not found")


def test_data_info_on_an_empty_folder(tmp_path):
    assert_one_line_error(run("data", "info", str(tmp_path)), "neither")


def test_download_without_network_fails_cleanly(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "trainer", "data", "download", "mitdb", "--to", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "error:" in out.stderr


def test_unknown_dataset_name_is_an_error(tmp_path):
    r = run("data", "download", "ptb", "--to", str(tmp_path))
    assert r.exit_code == 2 and "'ptb' is not a data set" in r.output
    assert "Traceback" not in r.output


def test_unknown_lead(tiny_ptbxl, tmp_path):
    r = run(
        "train",
        "--task",
        "diagnostic",
        "--data-dir",
        str(tiny_ptbxl),
        "--leads",
        "V9",
        "--out",
        str(tmp_path / "r"),
    )
    assert_one_line_error(r, "unknown lead")


def test_bad_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    assert_one_line_error(run("evaluate", str(bad)), "not a readable")
    assert_one_line_error(run("evaluate", str(tmp_path / "nope.pt")), "not found")


def test_patience_without_early_stopping_is_refused_before_the_data_loads(tmp_path):
    """The VT/VF task keeps its last epoch by default: --patience would be silently ignored."""
    out = tmp_path / "r"
    r = run("train", "--task", "ventricular", "--patience", "3", "--out", str(out))
    assert_one_line_error(r, "--patience does nothing with keep_epoch = 'last'")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[train]\nkeep_epoch = "average"\n')
    r = run(
        "train", "--task", "arrhythmia", "--config", str(cfg), "--patience", "3", "--out", str(out)
    )
    assert_one_line_error(r, "keep_epoch = 'average'")
    assert not out.exists()


def test_unknown_config_key_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\nepochs = 2\nwarmup = 3\n")
    assert_one_line_error(run("train", "--config", str(cfg), "--out", str(tmp_path)), "warmup")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[train]\nwarmup = 3\n", "warmup"),
        ('[train]\nepochs = "six"\n', "epochs must be int"),
        ("[train]\nkeep_epoch = true\n", "keep_epoch must be str"),
        ("train = 3\n", "must be a table"),
        ('[train]\nkeep_epoch = "first"\n', "keep_epoch must be"),
        (b"\xff\xfe", "not readable"),
        ("[train]\nlr = nan\n", "lr must lie in"),
        ("[train]\nthreads = 0\n", "threads must lie in"),
        ("[train]\nepochs = 1180591620717411303424\n", "epochs must lie in"),
        ("[train]\nseed = 7\n", "seed set by trainer compress's own options"),
        ('[train]\nnoise_prob = 0.5\ntask = "diagnostic"\n', "noise_prob, task set by"),
        ("[train]\nfreeze_batchnorm = true\n", "freeze_batchnorm set by"),
    ],
)
def test_compress_refuses_a_bad_recipe_file_before_any_work(tmp_path, text, needle):
    """`trainer compress --config`: one line, no bundle folder, for a file of strangers."""
    cfg, out = tmp_path / "recipe.toml", tmp_path / "bundle"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = run("compress", "--task", "ventricular", "--config", str(cfg), "--out", str(out))
    assert_one_line_error(r, needle)
    assert not out.exists()
    assert_one_line_error(
        run("compress", "--config", str(tmp_path), "--out", str(out)), "not a regular file"
    )


def test_a_recipe_the_flags_upset_is_refused_before_the_data_loads(tmp_path):
    cfg, out = tmp_path / "recipe.toml", tmp_path / "bundle"
    cfg.write_text("[train]\nnoise_snr_max_db = 10.0\n")
    args = ("compress", "--task", "arrhythmia", "--config", str(cfg), "--out", str(out))
    assert_one_line_error(run(*args, "--noise-snr-min", "30"), "SNR bounds be ordered")
    assert not out.exists()


def test_compress_refuses_recipe_paths_that_would_hang_or_flood_it(tmp_path):
    """A FIFO (the read would wait for a writer), a link to /dev/zero (endless), a name past
    the file system's limit, a file far past a recipe's size: each one line, at once."""
    import os

    out = tmp_path / "bundle"
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n[train]\n")
    for path, needle in [
        (fifo, "not a regular file"),
        (zero, "not a regular file"),
        (tmp_path / ("x" * 300 + ".toml"), "not readable"),
        (big, "over 1 MiB"),
    ]:
        r = run("compress", "--task", "ventricular", "--config", str(path), "--out", str(out))
        assert_one_line_error(r, needle)
    assert not out.exists()


def test_data_info_counts_mitdb_beats(tiny_mitdb):
    r = run("data", "info", str(tiny_mitdb))
    assert r.exit_code == 0, r.output
    assert "train (2 records)" in r.output and "test (2 records)" in r.output


@pytest.fixture(scope="module")
def trained_run(tiny_ptbxl, tmp_path_factory):
    """`trainer train` of a tiny diagnostic model, two epochs, evaluated on the test fold: the
    run the evaluate and prune tests start from (trained once for both). Its output text."""
    home = tmp_path_factory.mktemp("cli")
    out = home / "run"
    args = ["train", "--task", "diagnostic", "--model", "tiny", "--data-dir", str(tiny_ptbxl)]
    args += ["--epochs", "2", "--threads", "1", "--out", str(out)]
    with fewer_resamples(), pytest.MonkeyPatch.context() as mp:
        isolate(mp, home / "cache")  # module scope: before the autouse isolation
        r = run(*args)
    assert r.exit_code == 0, r.output
    return out, r.output


@pytest.mark.slow
def test_train_and_evaluate_from_the_command_line(trained_run, tiny_ptbxl, tmp_path, few_resamples):
    out, output = trained_run
    assert "test macro AUC" in output and (out / "metrics.json").exists()

    def evaluate(*more):
        return run("evaluate", str(out / "model.pt"), "--data-dir", str(tiny_ptbxl), *more)

    r = evaluate("--out", str(tmp_path / "ev"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ev" / "roc-evaluate.png").exists()
    # beside the run by default: its own files, the training run's metrics.json untouched; a
    # limited evaluation gets files named by its limit, the whole-split one is kept
    trained = (out / "metrics.json").read_bytes()
    r = evaluate()
    assert r.exit_code == 0, r.output
    full = (out / "metrics-evaluate.json").read_bytes()
    r = evaluate("--limit", "100")
    assert r.exit_code == 0, r.output
    assert "scored with --limit 100" in r.output and (out / "metrics.json").read_bytes() == trained
    assert "metrics-evaluate-limit-100.json" in r.output.replace("\n", "")
    assert (out / "metrics-evaluate.json").read_bytes() == full
    assert strict_json(out / "metrics-evaluate.json")["limit"] is None
    (tmp_path / "afile").write_text("")
    r = evaluate("--out", str(tmp_path / "afile"))
    assert r.exit_code == 1 and "is a file" in r.output and "Traceback" not in r.output
    own = strict_json(out / "metrics-evaluate-limit-100.json")
    assert own["limit"] == 100 and own["checkpoint"] == str(out / "model.pt")
    assert {p.name for p in out.iterdir()} >= {
        "roc-evaluate.png",
        "predictions-evaluate.npz",
        "roc-evaluate-limit-100.png",
        "predictions-evaluate-limit-100.npz",
    }
    # the eight test records (fold 10) have no STTC nor HYP: their AUC is undefined, and the
    # files say null where Python's json writes a bare NaN (not JSON)
    for written in [*out.glob("*.json"), *(tmp_path / "ev").glob("*.json")]:
        strict_json(written)
    per_class = strict_json(out / "metrics.json")["test"]["per_class_auc"]
    assert per_class["STTC"] is None and per_class["HYP"] is None


def strict_json(path):
    def refuse(token):
        raise ValueError(f"{path.name}: {token} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.mark.slow
def test_prune_fine_tunes_and_scores_a_narrower_model(
    trained_run, tiny_ptbxl, tmp_path, few_resamples
):
    """Pruned from the trained run, which teaches it (distillation) as it is fine-tuned."""
    model = str(trained_run[0] / "model.pt")
    r = run(
        "prune",
        model,
        "--ratio",
        "0.5",
        "--epochs",
        "1",
        "--data-dir",
        str(tiny_ptbxl),
        "--out",
        str(tmp_path / "pruned"),
        "--teacher",
        model,
    )
    assert r.exit_code == 0, r.output
    assert "fewer" in r.output and "test macro AUC" in r.output
    from trainer.checkpoint import load_checkpoint

    _, ckpt = load_checkpoint(tmp_path / "pruned" / "model.pt")
    assert ckpt["lineage"]["after"]["params"] < ckpt["lineage"]["before"]["params"]
    assert ckpt["model_config"]["inner_widths"] == [4, 4]
    assert ckpt["distillation"]["alpha"] == 0.5


def test_choices_refuse_a_bad_task_preset_or_profile_in_one_message():
    for args, needle in [
        (["train", "--task", "sleep"], "'sleep' is not a task: choose one of diagnostic"),
        (["train", "--model", "huge"], "'huge' is not a model preset: choose one of"),
        (["compress", "--profile", "rpi9"], "'rpi9' is not a device profile"),
        (["models", "--task", "sleep"], "'sleep' is not a task"),
    ]:
        r = run(*args)
        assert r.exit_code == 2 and needle in " ".join(r.output.split()), r.output
        assert "Traceback" not in r.output


@pytest.mark.parametrize("flag", ["--polarity-flip-prob", "--harden-noise-prob", "--noise-prob"])
def test_beat_options_asked_of_a_window_task_are_refused_not_ignored(tmp_path, flag):
    out = tmp_path / "bundle"
    r = run("compress", "--task", "ventricular", "--out", str(out), flag, "0.5")
    assert_one_line_error(r, f"{flag}: options of the beat model")
    assert not out.exists()  # refused before any work


@pytest.mark.parametrize("task", ["ventricular", "arrhythmia"])
@pytest.mark.parametrize("value", ["nan", "-0.5", "1.5", "inf"])
def test_beat_option_shares_outside_0_to_1_are_refused_before_any_work(tmp_path, task, value):
    out = tmp_path / "bundle"
    for flag in ("--polarity-flip-prob", "--harden-noise-prob", "--noise-prob"):
        r = run("compress", "--task", task, "--out", str(out), flag, value)
        assert_one_line_error(r, f"{flag} must lie in [0, 1]")
        assert not out.exists()


def test_the_task_choices_come_from_the_kind_registry():
    from trainer.cli import TASKS
    from trainer.kinds import KINDS

    assert tuple(TASKS.names()) == tuple(KINDS) and TASKS.complete("arr") == ["arrhythmia"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["train", "--task", "nosuch"], 2),  # refused before the work starts
        (["train", "--model", "huge"], 2),
        (["compress", "--profile", "nosuch"], 2),
    ],
)
def test_help_and_refusals_import_neither_torch_nor_the_training_libraries(args, code):
    """`trainer --help` and a bad argument answer at once: torch, sklearn, matplotlib and onnx
    load where the work starts. A fresh interpreter, as a user's shell starts one."""
    code = (
        "import sys; from typer.testing import CliRunner; from trainer.cli import app; "
        f"r = CliRunner().invoke(app, {args!r}); assert r.exit_code == {code}, r.output; "
        "print(sorted(m for m in ('torch', 'sklearn', 'matplotlib', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_progress_is_a_bar_on_a_terminal_lines_in_a_pipe_and_silent_off_rank_0(monkeypatch):
    import io

    from rich.console import Console

    from trainer import progress as prog

    def run_job(terminal: bool, total: int | None = 20) -> str:
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=100)
        with prog.progress("reading records", total, console=console) as advance:
            for _ in range(total or 1):
                advance(1)
        return out.getvalue()

    assert run_job(False) == ""  # done at once (a warm cache): a pipe hears nothing
    monkeypatch.setattr(prog, "QUIET_S", 0.0)  # as if every step were slow
    lines = run_job(False).splitlines()
    assert lines == [f"reading records: {k}/20" for k in range(2, 21, 2)]
    assert run_job(False, None).splitlines() == ["reading records: 0 s"]  # one line, at the end
    assert "reading records" in run_job(True) and "\x1b[" in run_job(True)
    monkeypatch.setenv("RANK", "1")  # torchrun's other ranks: rank 0 speaks for the job
    assert run_job(False) == run_job(True) == ""
