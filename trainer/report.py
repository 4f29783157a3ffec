"""A bundle's report.md and plots, regenerated from its manifest.json alone (`trainer report`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge_monitor.bundle import MANIFEST_FILE
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
    path = bundle / MANIFEST_FILE
    if not path.exists():
        raise InputError(f"no {MANIFEST_FILE} in {bundle}")
    return json.loads(path.read_text())


def table_rows(manifest: dict) -> list[list[str]]:
    kind, stages, lat = kind_of(manifest["task"]), manifest["stages"], manifest["latency"]
    latency_of = {
        "teacher": lat["torch_teacher_fp32_1t"]["p50_ms"],
        "final-fp32": lat["onnx_fp32_1t"]["p50_ms"],
        "final-int8": lat["onnx_int8_1t"]["p50_ms"],
    }
    rows = []
    for key, label in stage_rows(stages):
        s = stages[key]
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


def render_markdown(manifest: dict) -> str:
    kind = kind_of(manifest["task"])
    lines = _table(manifest, kind) + _latency(manifest["latency"]) + _comparisons(manifest)
    lines += _chain_notes(manifest["stages"])
    lines += ["", "Checks against the profile:", ""]
    for name, c in manifest["checks"].items():
        lines.append(f"- {name}: {'pass' if c['ok'] else 'FAIL'}, {c['detail']}")
    lines += ["", "![accuracy versus size](accuracy_vs_size.png)", "", "![ROC](roc_stages.png)", ""]
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
        if isinstance(v, dict)
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


def write_report(bundle: Path) -> Path:
    manifest = load_manifest(bundle)
    (bundle / "report.md").write_text(render_markdown(manifest))
    plot_accuracy_vs_size(manifest, bundle / "accuracy_vs_size.png")
    plot_roc_stages(manifest, bundle, bundle / "roc_stages.png")
    return bundle / "report.md"


def plot_accuracy_vs_size(manifest: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind, stages = kind_of(manifest["task"]), manifest["stages"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in stage_rows(stages):
        if key in stages:
            s = stages[key]
            kb = s.get("bytes", 4 * s["params"]) / 1024  # torch stages: fp32 weights
            ax.scatter(kb, kind.headline(s["test"]))
            ax.annotate(label, (kb, kind.headline(s["test"])), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("model size, KB (ONNX file, or fp32 weights for torch)")
    ax.set_ylabel(kind.metric)
    ax.set_title(f"{stages['_data']['dataset']}: accuracy versus size", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roc_stages(manifest: dict, bundle: Path, path: Path) -> None:
    """Micro-averaged ROC (diagnostic) or S and V one-vs-rest ROC (beats), one curve per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    kind = kind_of(manifest["task"])
    curves = {}
    stages_dir = bundle / "stages"
    for key, label in stage_rows(manifest["stages"]):
        if key in ("final-fp32", "final-int8", "teacher-int8"):
            folder = "final" if key.startswith("final") else "teacher"
            npz = stages_dir / folder / "onnx_test_probs.npz"
            if npz.exists():
                d = np.load(npz)
                curves[label] = (d["y"], d[key.split("-")[-1]])
        elif (stages_dir / key / "predictions.npz").exists():
            d = np.load(stages_dir / key / "predictions.npz")
            curves[label] = (d["y_test"], d["p_test"])
    classes = manifest["contract"]["classes"]
    panels = kind.roc_panels
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, (y, p) in curves.items():
            if panel == "micro":
                truth, score = y.ravel(), p.ravel()
            else:
                c = classes.index(panel)
                truth, score = (y == c).astype(int), p[:, c]
            fpr, tpr, _ = roc_curve(truth, score)
            ax.plot(fpr, tpr, lw=1, label=label)
        ax.plot([0, 1], [0, 1], "k:", lw=0.5)
        ax.set_title(f"{panel}{' average' if panel == 'micro' else ' vs rest'}", fontsize=9)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{manifest['stages']['_data']['dataset']}: test ROC per stage", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
