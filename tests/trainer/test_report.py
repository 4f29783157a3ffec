"""trainer report: per-class figures people read, from a bundle's manifest and test probabilities.

The manifests are the embedded bundles' own; the test probabilities are small drawn arrays (the
report's arithmetic is what is checked: its confusion matrix and AUCs against direct counts).
"""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from edge_monitor.bundle import MANIFEST_FILE, embedded_bundle
from trainer.report import write_report
from trainer.report_plots import curve_style, place_labels


def bundle_copy(tmp_path, task: str, probs: tuple[np.ndarray, np.ndarray] | None):
    """The embedded bundle's manifest in a folder, with the shipped model's test
    probabilities in stages/final when given."""
    folder = tmp_path / task
    folder.mkdir()
    shutil.copy(embedded_bundle(task) / MANIFEST_FILE, folder / MANIFEST_FILE)
    if probs is not None:
        (folder / "stages" / "final").mkdir(parents=True)
        y, p = probs
        np.savez(folder / "stages" / "final" / "onnx_test_probs.npz", int8=p, y=y, fp32=p)
    return folder


def beats(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    p = rng.dirichlet(np.ones(4), n)
    p[np.arange(n), y] += rng.random(n)  # better than chance, not perfect
    return y, p / p.sum(1, keepdims=True)


def test_a_beat_report_has_se_ppv_f1_per_class_and_the_confusion_matrix(tmp_path):
    y, p = beats()
    folder = bundle_copy(tmp_path, "arrhythmia", (y, p))
    text = write_report(folder).read_text()
    for name in ("report.md", "accuracy_vs_size.png", "roc_classes.png", "roc_stages.png"):
        assert (folder / name).stat().st_size > 0
    assert "| class | Se | +P | F1 | beats |" in text
    counts = np.zeros((4, 4), int)
    np.add.at(counts, (y, p.argmax(1)), 1)
    for k, c in enumerate("NSVF"):
        assert f"| {c} | " + " | ".join(f"{n:,}" for n in counts[k]) + " |" in text
        tp, support = counts[k, k], counts[k].sum()
        assert f"| {c} | {tp / support:.3f} | {tp / counts[:, k].sum():.3f} |" in text
    assert "![ROC of the shipped model per class](roc_classes.png)" in text


def test_a_class_absent_from_the_test_split_reads_undefined_not_nan(tmp_path):
    y, p = beats()
    y[y == 3] = 0  # no F beat in the split
    text = write_report(bundle_copy(tmp_path, "arrhythmia", (y, p))).read_text()
    assert "| F | - | " in text and "nan" not in text


def test_a_window_report_has_the_auc_of_each_class(tmp_path):
    rng = np.random.default_rng(1)
    y = (rng.random((120, 5)) < 0.3).astype(int)
    p = np.clip(0.6 * y + 0.5 * rng.random((120, 5)), 0, 1)
    folder = bundle_copy(tmp_path, "diagnostic", (y, p))
    text = write_report(folder).read_text()
    assert "AUC, shipped int8" in text and "AUC, teacher" in text
    assert "threshold (validation)" in text
    for k, c in enumerate(("NORM", "MI", "STTC", "CD", "HYP")):
        assert f"| {c} | {roc_auc_score(y[:, k], p[:, k]):.3f} |" in text
    assert (folder / "roc_classes.png").stat().st_size > 0


def test_a_bundle_without_test_probabilities_reports_what_its_manifest_holds(tmp_path):
    folder = bundle_copy(tmp_path, "arrhythmia", None)
    (folder / "roc_stages.png").write_bytes(b"\x89PNG drawn when the bundle was made")
    text = write_report(folder).read_text()
    test = json.loads((folder / MANIFEST_FILE).read_text())["final"]["test"]
    row = f"| S | {test['se_S']:.3f} | {test['ppv_S']:.3f} | {test['f1_S']:.3f} | - |"
    assert row in text  # the manifest's S row
    assert "confusion matrix need" in text
    assert "![ROC per stage](roc_stages.png)" in text  # kept: it cannot be drawn again here
    assert "ROC of the shipped model per class: not drawn" in text
    assert not (folder / "roc_classes.png").exists()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 300), st.floats(0, 200)),
        min_size=1,
        max_size=14,
    )
)
def test_placed_labels_overlap_neither_each_other_nor_any_marker(points):
    pts = np.array(points)
    w, h, marker = 16.0, 11.0, 4.0
    centres = place_labels(pts, (w, h), marker=marker, bounds=(0, 0, 300, 200))
    assert centres.shape == pts.shape
    for a, b in itertools.combinations(centres, 2):
        assert abs(a[0] - b[0]) >= w or abs(a[1] - b[1]) >= h
    for c in centres:
        dx = np.maximum(np.abs(pts[:, 0] - c[0]) - w / 2, 0)
        dy = np.maximum(np.abs(pts[:, 1] - c[1]) - h / 2, 0)
        assert np.all(np.hypot(dx, dy) > marker)


def test_a_stage_without_a_score_is_in_the_key_not_the_plot(tmp_path):
    from trainer.report_plots import SizePoint, plot_accuracy_vs_size

    points = [SizePoint("a", 40.0, 0.8, "onnx int8"), SizePoint("b", 400.0, float("nan"), "torch")]
    plot_accuracy_vs_size(points, "score", "title", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def test_the_first_28_curves_differ_in_colour_or_line_style_and_neighbours_in_both():
    styles = [tuple(curve_style(i).values()) for i in range(28)]
    assert len(set(styles)) == 28
    for a, b in itertools.pairwise(styles):
        assert a[0] != b[0] and a[1] != b[1]


def test_the_shipped_int8_row_gives_model_onnx_own_size():
    """Bundles written before short names were proven record the quantizer's file size in
    their final-int8 stage: the report shows model.onnx's (the manifest's model bytes)."""
    from trainer.report import stage_of

    manifest = {"model": {"bytes": 73829}, "stages": {"final-int8": {"bytes": 120125}}}
    assert stage_of(manifest, "final-int8")["bytes"] == 73829
    manifest["stages"]["teacher-int8"] = {"bytes": 5}
    assert stage_of(manifest, "teacher-int8")["bytes"] == 5


def _report_cli(folder) -> tuple[int, str]:
    from typer.testing import CliRunner

    from trainer.cli import app

    got = CliRunner().invoke(app, ["report", str(folder)])
    return got.exit_code, got.output


def test_a_strangers_manifest_is_refused_in_one_line_not_a_traceback(tmp_path):
    """`trainer report` read manifest.json with json.loads and indexed it: a corrupt file, a JSON
    array, a manifest without stages gave tracebacks (edge-monitor refused the same bundles)."""
    good = json.loads((embedded_bundle("arrhythmia") / MANIFEST_FILE).read_text())
    no_stages = {k: v for k, v in good.items() if k != "stages"}
    odd_stages = {**good, "stages": {"final-int8": "not a stage"}}
    cases = {
        "corrupt": ("{ not json", "not valid JSON"),
        "array": ("[1, 2]", "expected a JSON object"),
        "no_stages": (json.dumps(no_stages), "missing keys stages"),
        "odd_stages": (json.dumps(odd_stages), "its manifest lacks what the report needs"),
        # its figures draw, then the text fails: the figures once landed in the bundle
        "checks_list": (json.dumps({**good, "checks": [1]}), "lacks what the report needs"),
    }
    for name, (text, said) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / MANIFEST_FILE).write_text(text)
        code, output = _report_cli(folder)
        assert code == 1 and said in output, (name, output)
        assert "Traceback" not in output
        assert sorted(p.name for p in folder.iterdir()) == [MANIFEST_FILE]  # nothing written


def test_a_corrupt_probabilities_file_is_named_in_one_line_and_the_bundle_left_as_it_was(tmp_path):
    folder = bundle_copy(tmp_path, "arrhythmia", beats())
    npz = folder / "stages" / "final" / "onnx_test_probs.npz"
    write_report(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    npz.write_bytes(b"PK\x03\x04garbage, not a zip")
    code, output = _report_cli(folder)
    assert code == 1 and "onnx_test_probs.npz: not a readable .npz" in output, output
    assert "manifest lacks" not in output  # the file at fault is named, not the manifest
    assert "Traceback" not in output
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".report-")]  # cleaned up
