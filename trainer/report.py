"""A bundle's report.md and plots, regenerated from its manifest.json alone (`trainer report`)."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from edge_monitor.bundle import MANIFEST_FILE, read_inside, read_manifest
from edge_monitor.errors import InputError
from trainer.kinds import TaskKind, kind_of

# table rows in the seed project's order; absent stages are skipped, students listed per seed
ROWS = [
    ("baseline", "seed-style CNN baseline"),
    ("teacher", "teacher"),
    ("teacher-int8", "teacher, int8"),
    ("student-plain", "student, labels only"),
    ("student-kd", "student, distilled"),
    ("student-given", "student, given (--student)"),
    ("student-hardened", "student, noise-hardened"),
    ("student-pruned", "student, pruned + fine-tuned"),
    ("final-fp32", "shipped model, fp32 ONNX"),
    ("final-int8", "shipped model, int8 ONNX (model.onnx)"),
]


def stage_rows(stages: dict) -> list[tuple[str, str]]:
    rows = []
    for key, label in ROWS:
        if key in ("student-plain", "student-kd"):
            for k in sorted(s for s in stages if s.startswith(key + "-s")):
                mark = " (carried on)" if stages[k].get("selected") else ""
                rows.append((k, f"{label}, seed {k.rsplit('-s', 1)[1]}{mark}"))
        if key in stages:
            rows.append((key, label))
    return rows


def load_manifest(bundle: Path) -> dict:
    """The manifest as the device reads a stranger's (edge_monitor.bundle.read_manifest: a
    FIFO, a symlink out, a huge or corrupt file, a missing key are refused in one line)."""
    path = bundle / MANIFEST_FILE
    if not path.exists():
        raise InputError(f"no {MANIFEST_FILE} in {bundle}")
    return read_manifest(path, bundle)


def stage_of(manifest: dict, key: str) -> dict:
    """A stage's record; the shipped int8 model's size is model.onnx's own (short names), in
    older manifests too, whose final-int8 record holds the quantizer's file size."""
    s = manifest["stages"][key]
    return {**s, "bytes": manifest["model"]["bytes"]} if key == "final-int8" else s


def table_rows(manifest: dict) -> list[list[str]]:
    kind, stages, lat = kind_of(manifest["task"]), manifest["stages"], manifest["latency"]
    latency_of = {
        "teacher": lat["torch_teacher_fp32_1t"]["p50_ms"],
        "final-fp32": lat["onnx_fp32_1t"]["p50_ms"],
        "final-int8": lat["onnx_int8_1t"]["p50_ms"],
    }
    rows = []
    for key, label in stage_rows(stages):
        s = stage_of(manifest, key)
        size = f"{s['bytes'] / 1024:.1f}" if "bytes" in s else "-"
        ms = f"{latency_of[key]:.3f}" if key in latency_of else "-"
        rows.append(
            [
                label,
                s["kind"],
                f"{s['params']:,}",
                f"{s['macs'] / 1e6:.2f}",
                size,
                kind.cell(s["test"]),
                ms,
            ]
        )
    return rows


def render_markdown(
    manifest: dict, bundle: Path | None = None, figures: set[str] | None = None
) -> str:
    """report.md: the stage table and notes from the manifest; the shipped model's per-class
    figures and the ROC figures where `bundle` keeps the test probabilities. `figures`: the
    ROC figures there are (default: those in `bundle`)."""
    kind = kind_of(manifest["task"])
    lines = _table(manifest, kind) + _latency(manifest["latency"]) + _comparisons(manifest)
    lines += _chain_notes(manifest["stages"])
    lines += per_class_lines(manifest, shipped_probs(bundle) if bundle else None)
    lines += ["", "Checks against the profile:", ""]
    for name, c in manifest["checks"].items():
        lines.append(f"- {name}: {'pass' if c['ok'] else 'FAIL'}, {c['detail']}")
    lines += ["", "![accuracy versus size](accuracy_vs_size.png)", ""]
    if figures is None:
        figures = {name for name, _ in FIGURES if bundle is not None and (bundle / name).exists()}
    for name, alt in FIGURES if bundle is not None else ():
        if name in figures:
            lines += [f"![{alt}]({name})", ""]
        else:
            lines += [f"{alt}: not drawn ({FIGURE_NEEDS[name]} under stages/).", ""]
    return "\n".join(lines)


def _table(manifest: dict, kind: TaskKind) -> list[str]:
    head = ["stage", "kind", "params", "M MACs", "file KB", f"test {kind.column}"]
    head.append("ms / inference")
    data = manifest["stages"]["_data"]
    lines = [
        f"# {kind.name} bundle for {manifest['profile']['name']}",
        "",
        f"Test split: {data['dataset']} ({data['test_size']} {kind.unit}). Made by "
        f"`{manifest['command']}` at commit {manifest['git_commit'][:12]}, seed "
        f"{manifest['seed']}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    return lines + ["| " + " | ".join(r) + " |" for r in table_rows(manifest)]


def _latency(lat: dict) -> list[str]:
    return [
        "",
        f"Latency: p50 per batch-1 inference on {lat['host']}, one thread, measured in one run. "
        f"int8 is {lat['speedup_int8_vs_torch_teacher']:.0f}x faster than the torch teacher and "
        f"{lat['speedup_int8_vs_onnx_fp32']:.2f}x the speed of its own fp32 ONNX twin; with the "
        f"profile's threads {lat['profile_threads']}: p95 "
        f"{lat['onnx_int8_profile']['p95_ms']:.3f} ms, "
        f"p99 {lat['onnx_int8_profile']['p99_ms']:.3f} ms.",
    ]


def _comparisons(manifest: dict) -> list[str]:
    lines = ["", "Paired comparisons on the same test items (bootstrap of the difference):", ""]
    for name, c in manifest["stages"]["_comparisons"].items():
        if c["diff"] is None:
            lines.append(f"- {name}: undefined (the class is absent from the test split)")
            continue
        verdict = "within noise" if c["within_noise"] else "beyond noise"
        lines.append(
            f"- {name}: {c['diff']:+.4f} (95% CI {c['ci_low']:+.4f} to {c['ci_high']:+.4f}), "
            f"{verdict}"
        )
    return lines


def seed_line(row: dict) -> str:
    """One line of a student variant's seed summary (stages["_seeds"]): mean +- sd of each."""
    return ", ".join(
        f"{k} {v['mean']:.3f}" + (f" +- {v['sd']:.3f}" if v["sd"] is not None else "")
        for k, v in row.items()
        if isinstance(v, dict) and v["n"]
    )


def _chain_notes(stages: dict) -> list[str]:
    """The chain's decisions: the student carried on, distillation, hardening, pruning."""
    lines = []
    picked = [k for k, s in stages.items() if isinstance(s, dict) and s.get("selected")]
    if picked:
        lines += ["", f"Student carried on (best validation score): {picked[0]}."]
    ablation = stages.get("_ablation")
    if ablation and ablation["mean_diff"] is not None:
        per_seed = "; ".join(
            f"seed {r['seed']}: {r['plain']:.3f} -> {r['kd']:.3f}" for r in ablation["rows"]
        )
        sd = f" (sd {ablation['sd_diff']:.3f})" if ablation["sd_diff"] is not None else ""
        lines += [
            "",
            f"Distillation ablation, {ablation['metric']} without -> with the teacher: {per_seed}; "
            f"mean difference {ablation['mean_diff']:+.3f}{sd} over {len(ablation['rows'])} "
            "seed(s).",
        ]
    for variant, row in (stages.get("_seeds") or {}).items():
        lines += ["", f"Students {variant}, seeds {row['seeds']} (mean +- sd): {seed_line(row)}."]
    hardening = stages.get("student-hardened", {}).get("hardening")
    if hardening:
        lines += [
            "",
            f"Noise hardening: {hardening['from']} fine-tuned with recorded noise"
            + (f" ({', '.join(hardening['noises'])})" if "noises" in hardening else "")
            + " on "
            f"{hardening['noise_prob']:.0%} of the training beats; mean of clean and noisy "
            f"validation {hardening['selection_before']:.4f} -> "
            f"{hardening['selection_after']:.4f}: "
            f"{'carried on' if hardening['kept'] else 'not carried on'}.",
        ]
    pruning = stages.get("student-pruned", {}).get("pruning")
    if pruning:
        lines += [
            "",
            f"Pruning: {pruning['ratio']:.0%} of inner channels, parameters "
            f"{pruning['params_before']:,} -> {pruning['params_after']:,}, MACs "
            f"{pruning['macs_removed']:.0%} fewer; validation score change "
            f"{-pruning['val_drop']:+.4f} (tolerance {pruning['tolerance']}): "
            f"{'shipped' if pruning['kept'] else 'not shipped'}.",
        ]
    return lines


def per_class_lines(manifest: dict, got: tuple[np.ndarray, np.ndarray] | None) -> list[str]:
    """The shipped model class by class: Se / +P / F1 and the confusion matrix for beats,
    AUC for windows; from its test probabilities when kept, else what the manifest holds."""
    kind, classes = kind_of(manifest["task"]), manifest["contract"]["classes"]
    head = ["", f"Shipped int8 model, class by class ({manifest['stages']['_data']['dataset']}):"]
    if kind.multilabel:
        return head + _auc_lines(manifest, classes, got)
    return head + _beat_lines(manifest, classes, got)


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["", "| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _beat_lines(manifest: dict, classes: list[str], got) -> list[str]:
    from trainer.metrics import beat_statistics

    if got is None:  # the manifest keeps Se / +P / F1 of the headline classes only
        test = manifest["stages"]["final-int8"]["test"]
        named = [c for c in classes if f"se_{c}" in test]
        rows = [[c, *(_cell(test[f"{k}_{c}"]) for k in ("se", "ppv", "f1")), "-"] for c in named]
        return _md_table(["class", "Se", "+P", "F1", "beats"], rows) + [
            "",
            f"Other classes and the confusion matrix need {PROBS_NOTE}.",
        ]
    stats = beat_statistics(got[0], got[1].argmax(1), tuple(classes))
    pc = stats["per_class"]
    rows = [
        [c, *(_cell(pc[c][k]) for k in ("se", "ppv", "f1")), f"{pc[c]['support']:,}"]
        for c in classes
    ]
    matrix = [
        [c, *(f"{n:,}" for n in row)] for c, row in zip(classes, stats["confusion"], strict=True)
    ]
    return (
        _md_table(["class", "Se", "+P", "F1", "beats"], rows)
        + ["", "-: undefined (no beat of the class in the test split, or none predicted as it)."]
        + ["", "Confusion matrix (rows: reference label, columns: predicted):"]
        + _md_table(["reference \\ predicted", *classes], matrix)
    )


def _auc_lines(manifest: dict, classes: list[str], got) -> list[str]:
    """Per-class test AUC of the shipped model beside the stages that recorded theirs."""
    from trainer.metrics import per_class_auc

    columns: dict[str, dict] = {}
    if got is not None:
        auc = per_class_auc(got[0], got[1])
        columns["shipped int8"] = dict(zip(classes, auc.tolist(), strict=True))
    stages = manifest["stages"]
    for key, label in stage_rows(stages):
        if "per_class_auc" in stages[key].get("test", {}) and (
            key == "teacher" or stages[key].get("selected")
        ):
            columns[label] = stages[key]["test"]["per_class_auc"]
    thresholds = manifest["contract"].get("thresholds") or [None] * len(classes)
    rows = [
        [c, *(_cell(col.get(c)) for col in columns.values()), _cell(t, 2)]
        for c, t in zip(classes, thresholds, strict=True)
    ]
    lines = _md_table(["class", *(f"AUC, {k}" for k in columns), "threshold (validation)"], rows)
    return lines + (
        [] if got is not None else ["", f"The shipped model's column needs {PROBS_NOTE}."]
    )


def _cell(v: float | None, digits: int = 3) -> str:
    return "-" if v is None or v != v else f"{v:.{digits}f}"


PROBS_NOTE = (
    "the test probabilities in stages/final/onnx_test_probs.npz (written by `trainer compress`; "
    "`benchmarks/bundle_test_probs.py` recomputes them for a bundle without stages/)"
)


def write_report(bundle: Path) -> Path:
    """report.md and its figures, from manifest.json and the stage probabilities kept beside
    it. A ROC figure that cannot be drawn again (stages/ left out, as in the embedded bundles)
    is kept as it is: manifest and probabilities never change once a bundle is made."""
    manifest = load_manifest(bundle)
    try:
        made = Path(tempfile.mkdtemp(dir=bundle, prefix=".report-"))
    except OSError as exc:
        raise InputError(f"{bundle}: cannot write the report there ({exc.strerror})") from None
    try:  # everything is drawn aside first: a refused bundle keeps its files as they were
        plot_accuracy_vs_size(manifest, made / "accuracy_vs_size.png")
        plot_roc_classes(manifest, bundle, made / "roc_classes.png")
        plot_roc_stages(manifest, bundle, made / "roc_stages.png")
        kept = {name for name, _ in FIGURES if (made / name).exists() or (bundle / name).exists()}
        (made / "report.md").write_text(render_markdown(manifest, bundle, kept))
        for path in made.iterdir():
            os.replace(path, bundle / path.name)
    except InputError:  # a file of the bundle refused, already named (InputError is a ValueError)
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        # a manifest from elsewhere, or edited: its figures are data, never a traceback
        what = f"{type(exc).__name__}: {exc}"[:200]
        raise InputError(f"{bundle}: its manifest lacks what the report needs ({what})") from exc
    finally:
        shutil.rmtree(made, ignore_errors=True)
    return bundle / "report.md"


NPZ_MAX_BYTES = 1 << 30  # test probabilities of a few hundred thousand beats are tens of MB


def load_npz(path: Path, bundle: Path) -> dict[str, np.ndarray]:
    """A bundle's saved arrays, read whole (no pickles) through `read_inside`, as the device
    reads a stranger's bundle file (a FIFO would block np.load, /dev/zero never ends); a file
    that is not one is named in one line."""
    data = read_inside(path, bundle, NPZ_MAX_BYTES, "saved arrays file")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as d:
            return {k: d[k] for k in d.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        what = f"{type(exc).__name__}: {exc}"[:160]
        raise InputError(f"{path}: not a readable .npz of arrays ({what})") from None


FIGURES = (
    ("roc_classes.png", "ROC of the shipped model per class"),
    ("roc_stages.png", "ROC per stage"),
)
FIGURE_NEEDS = {
    "roc_classes.png": "it needs the shipped model's test probabilities",
    "roc_stages.png": "it needs the test probabilities of two stages or more",
}


def plot_accuracy_vs_size(manifest: dict, path: Path) -> None:
    from trainer.report_plots import SizePoint
    from trainer.report_plots import plot_accuracy_vs_size as draw

    kind, stages = kind_of(manifest["task"]), manifest["stages"]
    points = []
    for key, label in stage_rows(stages):
        s = stage_of(manifest, key)
        kb = s.get("bytes", 4 * s["params"]) / 1024  # torch stages: fp32 weights
        points.append(SizePoint(label, kb, kind.headline(s["test"]), s["kind"]))
    title = f"{stages['_data']['dataset']}: accuracy versus size"
    draw(points, kind.metric, title, path)


def stage_probs(manifest: dict, bundle: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Test labels and probabilities of the stages the bundle keeps, by the stage's label; of
    the students trained per seed only the one carried on (the table has the others)."""
    curves = {}
    stages_dir = bundle / "stages"
    for key, label in stage_rows(manifest["stages"]):
        if key.startswith(PER_SEED) and not manifest["stages"][key].get("selected"):
            continue
        if key in ("final-fp32", "final-int8", "teacher-int8"):
            folder = "final" if key.startswith("final") else "teacher"
            npz = stages_dir / folder / "onnx_test_probs.npz"
            precision = key.split("-")[-1]
            if npz.exists() and precision in (d := load_npz(npz, bundle)):
                curves[label] = (d["y"], d[precision])
        elif (stages_dir / key / "predictions.npz").exists():
            d = load_npz(stages_dir / key / "predictions.npz", bundle)
            curves[label] = (d["y_test"], d["p_test"])
    return curves


PER_SEED = ("student-plain-s", "student-kd-s")


def shipped_probs(bundle: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The shipped int8 model's test labels and probabilities, where the bundle keeps them
    (stages/final/onnx_test_probs.npz; the embedded bundles ship without stages/)."""
    npz = bundle / "stages" / "final" / "onnx_test_probs.npz"
    if not npz.exists():
        return None
    d = load_npz(npz, bundle)
    return d["y"], d["int8"]


def _one_vs_rest(y: np.ndarray, p: np.ndarray, c: int, multilabel: bool):
    return (y[:, c] if multilabel else (y == c).astype(int)), p[:, c]


def plot_roc_stages(manifest: dict, bundle: Path, path: Path) -> bool:
    """Micro-averaged ROC (windows) or S and V one-vs-rest ROC (beats), one styled curve per
    stage kept; False when the bundle keeps fewer than two stages' probabilities (one curve
    compares nothing: `plot_roc_classes` draws the shipped model)."""
    from trainer.report_plots import Curve, plot_roc_panels

    kind = kind_of(manifest["task"])
    probs = stage_probs(manifest, bundle)
    if len(probs) < 2:
        return False
    classes = manifest["contract"]["classes"]
    panels = {}
    for panel in kind.roc_panels:
        curves = []
        for label, (y, p) in probs.items():
            if panel == "micro":
                curves.append(Curve(label, y.ravel(), p.ravel()))
            else:
                truth, score = _one_vs_rest(y, p, classes.index(panel), kind.multilabel)
                curves.append(Curve(label, truth, score))
        panels["micro average" if panel == "micro" else f"{panel} vs rest"] = curves
    title = f"{manifest['stages']['_data']['dataset']}: test ROC per stage"
    plot_roc_panels(panels, not kind.multilabel, title, path)
    return True


def plot_roc_classes(manifest: dict, bundle: Path, path: Path) -> bool:
    """The shipped int8 model's ROC, one styled curve per class (and the micro average for
    windows); False when the bundle keeps no test probabilities of it."""
    from trainer.report_plots import Curve, plot_roc_panels

    kind, got = kind_of(manifest["task"]), shipped_probs(bundle)
    if got is None:
        return False
    y, p = got
    classes = manifest["contract"]["classes"]
    curves = [Curve(c, *_one_vs_rest(y, p, k, kind.multilabel)) for k, c in enumerate(classes)]
    if kind.multilabel:
        curves.append(Curve("micro average", y.ravel(), p.ravel()))
    title = f"{manifest['stages']['_data']['dataset']}: shipped int8 model, test ROC per class"
    plot_roc_panels({"each class vs rest": curves}, not kind.multilabel, title, path)
    return True
