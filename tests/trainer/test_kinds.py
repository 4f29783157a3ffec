"""The registry of task kinds: lookups, the one headline rule per kind on hand-made arrays, the
int8 gate's budget, and no task-name branches left outside the registry."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_monitor.errors import InputError
from edge_monitor.profiles import Budgets
from trainer.config import TrainConfig
from trainer.kinds import KINDS, TASKS, kind_of
from trainer.metrics import beat_statistics

DIAGNOSTIC, ARRHYTHMIA = kind_of("diagnostic"), kind_of("arrhythmia")


def test_the_registry_names_every_kind_by_its_own_name():
    assert TASKS == ("diagnostic", "arrhythmia", "ventricular")
    assert all(KINDS[name].name == name for name in TASKS)


@pytest.mark.parametrize("task", ["sleep", "", "Diagnostic", None])
def test_an_unknown_task_is_refused_in_one_line(task):
    with pytest.raises(InputError) as err:
        kind_of(task)
    message = str(err.value)
    assert "\n" not in message
    assert message == f"unknown task {task!r}; choose one of diagnostic, arrhythmia, ventricular"


def test_the_config_refuses_an_unknown_task_through_the_registry():
    with pytest.raises(InputError, match=r"^unknown task 'sleep'; choose one of diagnostic"):
        TrainConfig(task="sleep")


def test_the_diagnostic_headline_is_the_macro_auc_over_defined_classes():
    # class 0: positives 0.9, 0.4 against negatives 0.6, 0.1: 3 of 4 pairs ordered, AUC 0.75;
    # class 1: every pair ordered, AUC 1; class 2 has no positive: undefined, left out
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 0]], dtype=np.float32)
    p = np.array([[0.9, 0.2, 0.5], [0.4, 0.8, 0.5], [0.6, 0.3, 0.5], [0.1, 0.7, 0.5]])
    score = DIAGNOSTIC.score(y, p, DIAGNOSTIC.classes[:3])
    assert score == {"macro_auc": pytest.approx(0.875)}
    assert DIAGNOSTIC.headline(score) == pytest.approx(0.875)


def test_the_arrhythmia_headline_is_the_mean_f1_of_s_and_v():
    # S: 1 hit, 1 false S, 1 missed: F1 2/4; V: both found, none false: F1 1
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 0, 2, 2])
    score = ARRHYTHMIA.score(y, np.eye(4)[pred], ARRHYTHMIA.classes)
    assert score == pytest.approx({"f1_S": 0.5, "f1_V": 1.0, "mean_f1_SV": 0.75})
    assert ARRHYTHMIA.headline(score) == pytest.approx(0.75)


def test_a_class_absent_from_the_split_leaves_the_other_to_decide():
    # no S beat and none predicted: S's F1 is undefined; V: 1 of 2 found, F1 2/3
    y, pred = np.array([0, 2, 2]), np.array([0, 2, 0])
    score = ARRHYTHMIA.score(y, np.eye(4)[pred], ARRHYTHMIA.classes)
    assert math.isnan(score["f1_S"])
    assert score["mean_f1_SV"] == ARRHYTHMIA.headline(score) == pytest.approx(2 / 3)
    # neither defined: NaN, and no RuntimeWarning (the suite turns those into errors)
    assert math.isnan(ARRHYTHMIA.headline({"f1_S": math.nan, "f1_V": math.nan}))


def test_the_stage_record_and_the_score_give_the_same_headline():
    """A bundle's stage record (what the report and the ablation read) and the score breakdown
    (what training and calibration read) rank by one rule."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=200)
    probs = rng.random((200, 4))
    stage = ARRHYTHMIA.stage_test(beat_statistics(y, probs.argmax(1), ARRHYTHMIA.classes))
    score = ARRHYTHMIA.score(y, probs, ARRHYTHMIA.classes)
    assert ARRHYTHMIA.headline(stage) == ARRHYTHMIA.headline(score)
    assert ARRHYTHMIA.onnx_test(y, probs, ARRHYTHMIA.classes) == stage


def test_the_int8_gate_reads_each_kinds_own_budget():
    budgets = Budgets(
        latency_p95_ms=10.0,
        peak_rss_mb=100.0,
        model_kb={"diagnostic": 100.0, "arrhythmia": 50.0},
        max_int8_auc_drop=0.01,
        max_int8_f1_drop=0.05,
    )
    assert DIAGNOSTIC.int8_limit(budgets) == 0.01
    assert ARRHYTHMIA.int8_limit(budgets) == 0.05


def test_the_gate_drop_is_the_headline_loss_or_the_worse_class_loss():
    assert DIAGNOSTIC.gate_drop({"macro_auc": 0.9}, {"macro_auc": 0.85}) == pytest.approx(0.05)
    fp32, int8 = {"f1_S": 0.6, "f1_V": 0.9}, {"f1_S": 0.58, "f1_V": 0.8}
    assert ARRHYTHMIA.gate_drop(fp32, int8) == pytest.approx(0.1)


def test_no_trainer_module_branches_on_a_task_name():
    """Tasks are kinds: a comparison with a task's name outside the registry is a branch that
    a new task would have to edit."""
    root = Path(__file__).resolve().parents[2] / "trainer"
    names = "|".join(TASKS)
    branch = re.compile(rf"""[=!]=\s*["']({names})["']|["']({names})["']\s*[=!]=""")
    found = [
        f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if "kinds" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert not found, found


def test_the_kinds_and_the_report_load_without_torch():
    """A kind's training and prediction import torch when they run: what reads only scores and
    words (the bundle report, the results table) stays light."""
    code = (
        "import sys; import trainer.kinds, trainer.report; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
