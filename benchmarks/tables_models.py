"""Markdown rows for the model benchmarks: teachers, distillation, pruning, int8 speed, R peaks.

Each function takes one JSON file of benchmarks/results/ (as its benchmark wrote it) and returns
table lines; `results_table.py` puts them into a dated results file.
"""

from __future__ import annotations


def noise_verdict(c: dict) -> str:
    """'within noise' or 'beyond noise' for a paired bootstrap comparison."""
    return "within noise" if c["within_noise"] else "beyond noise"


def diagnostic_rows(results: dict) -> list[str]:
    """The diagnostic teacher and the seed-style CNN on the PTB-XL test fold (teachers.json)."""
    rows = [
        "| model (PTB-XL subset, fold 10) | params | MACs / window | test macro AUC (95% CI) | "
        "macro F1 | train time | peak RSS |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name in ("diag-seed-cnn", "diag-teacher"):
        if name not in results:
            continue
        r = results[name]
        t = r["test"]
        lo, hi = t["macro_auc_ci95"]
        rows.append(
            f"| {r['model']} | {r['size']['params']:,} | {r['size']['macs'] / 1e6:.1f} M | "
            f"{t['macro_auc']:.3f} ({lo:.3f}-{hi:.3f}) | {t['macro_f1']:.3f} | "
            f"{r['resources']['train_seconds']:.0f} s | {r['resources']['peak_rss_mb']:.0f} MB |"
        )
    if "diag-teacher" in results:
        prior = results["diag-teacher"]["label_prior_baseline"]
        rows.append(
            f"| label prior (baseline) | 0 | 0 | {prior['macro_auc']:.3f} | "
            f"{prior['macro_f1']:.3f} | | |"
        )
    if cmp := results.get("diag-teacher-vs-seed-cnn"):
        rows += [
            "",
            f"Teacher minus seed CNN, paired bootstrap on the same "
            f"{results['diag-teacher']['test']['records']} test records: "
            f"{cmp['diff']:+.3f} AUC (95% CI {cmp['ci_low']:+.3f} to {cmp['ci_high']:+.3f}), "
            f"{noise_verdict(cmp)}.",
        ]
    return rows


def arrhythmia_rows(results: dict) -> list[str]:
    """The arrhythmia teacher per class on DS2, and its seeds side by side (teachers.json)."""
    if "arr-teacher" not in results:
        return []
    r = results["arr-teacher"]
    rows = [
        "| model (MIT-BIH DS2, 22 records) | params | MACs / beat | class | Se | +P | F1 | beats |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for i, (cls, s) in enumerate(r["test"]["per_class"].items()):
        head = (
            f"| {r['model']} | {r['size']['params']:,} | {r['size']['macs'] / 1e6:.2f} M"
            if i == 0
            else "| | |"
        )
        rows.append(
            f"{head} | {cls} | {s['se']:.3f} | {s['ppv']:.3f} | {s['f1']:.3f} | {s['support']} |"
        )
    rows.append("")
    seeds = {k: v for k, v in results.items() if k.startswith("arr-teacher")}
    if len(seeds) > 1:
        rows += [
            "| arrhythmia teacher, seed | S Se | S +P | V Se | V +P | S Se on record 232 |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, v in sorted(seeds.items()):
            pc = v["test"]["per_class"]
            seed = name.rsplit("seed", 1)[-1] if "-seed" in name else "0"
            rows.append(
                f"| {seed} | {pc['S']['se']:.3f} | {pc['S']['ppv']:.3f} | "
                f"{pc['V']['se']:.3f} | {pc['V']['ppv']:.3f} | "
                f"{v.get('record_232_S_se', float('nan')):.3f} |"
            )
        rows.append("")
    rows.append(
        f"Accuracy {r['test']['accuracy']:.3f}; trained in "
        f"{r['resources']['train_seconds']:.0f} s, peak RSS "
        f"{r['resources']['peak_rss_mb']:.0f} MB."
    )
    return rows


def distill_rows(task: str, d: dict) -> list[str]:
    """The same student trained with and without its teacher (same seed and budget)."""
    if task == "diagnostic":
        rows = [
            "| diagnostic student, seed | without teacher | with teacher | difference (95% CI) |",
            "| --- | --- | --- | --- |",
        ]
        for p in d["pairs"]:
            a, b = p["without_teacher"]["test"], p["with_teacher"]["test"]
            c = p["kd_minus_plain"]
            rows.append(
                f"| {p['seed']} ({p['with_teacher']['size']['params']:,} params) | "
                f"{a['macro_auc']:.3f} | {b['macro_auc']:.3f} | {c['diff']:+.3f} "
                f"({c['ci_low']:+.3f} to {c['ci_high']:+.3f}), {noise_verdict(c)} |"
            )
        return rows
    rows = [
        "| arrhythmia student, seed | teacher | S Se | S +P | V Se | V +P |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in d["pairs"]:
        for name in ("without_teacher", "with_teacher"):
            pc = p[name]["test"]["per_class"]
            rows.append(
                f"| {p['seed']} ({p[name]['size']['params']:,} params) | "
                f"{name.replace('_', ' ')} | {pc['S']['se']:.3f} | {pc['S']['ppv']:.3f} | "
                f"{pc['V']['se']:.3f} | {pc['V']['ppv']:.3f} |"
            )
    return rows


def prune_rows(d: dict, what: str = "student") -> list[str]:
    """One pruned model: size before -> after and its test score (prune_*.json)."""
    size = d["size"]
    rows = [
        "| pruned model | params | MACs | test score before -> after |",
        "| --- | ---: | ---: | --- |",
    ]
    if d["task"] == "diagnostic":
        c = d["pruned_minus_original"]
        score = (
            f"macro AUC {d['before']['macro_auc']:.3f} -> {d['after']['macro_auc']:.3f} "
            f"({c['diff']:+.3f}, CI {c['ci_low']:+.3f} to {c['ci_high']:+.3f}, {noise_verdict(c)})"
        )
    else:
        b, a = d["before"]["per_class"], d["after"]["per_class"]
        score = ", ".join(f"{k} F1 {b[k]['f1']:.3f} -> {a[k]['f1']:.3f}" for k in "SV")
    rows.append(
        f"| {d['task']} {what}, {d['ratio']:.0%} of inner channels | "
        f"{size['before']['params']:,} -> {size['after']['params']:,} | "
        f"{size['before']['macs'] / 1e6:.2f} -> {size['after']['macs'] / 1e6:.2f} M "
        f"({d['mac_reduction']:.0%} fewer) | {score} |"
    )
    if dep := d.get("deployed"):
        rows += ["", deployed_line(d, dep)]
    return rows


def deployed_line(d: dict, dep: dict) -> str:
    """Sizes and one-thread latencies of the pruned model's ONNX files, before -> after."""
    b, a = dep["before"], dep["after"]
    return (
        f"Deployed, same run, one thread: fp32 ONNX {b['onnx_fp32_bytes'] / 1024:.0f} -> "
        f"{a['onnx_fp32_bytes'] / 1024:.0f} KB, {b['fp32_p50_ms']:.2f} -> "
        f"{a['fp32_p50_ms']:.2f} ms ({dep['fp32_speedup']:.2f}x faster); int8 "
        f"{b['onnx_int8_bytes'] / 1024:.0f} -> {a['onnx_int8_bytes'] / 1024:.0f} KB, "
        f"{b['int8_p50_ms']:.2f} -> {a['int8_p50_ms']:.2f} ms "
        f"({dep['int8_speedup']:.2f}x); parameter sparsity {d['parameter_sparsity']:.0%}."
    )


def qrs_rows(qrs: dict) -> list[str]:
    """The streaming R-peak detector over all MIT-BIH records (qrs_mitdb.json)."""
    s = qrs["summary"]
    return [
        f"R-peak detector, all {s['records']} MIT-BIH records ({s['reference_beats']:,} beats, "
        f"{s['tolerance_ms']:.0f} ms window): gross Se {s['gross_se']:.4f}, "
        f"+P {s['gross_ppv']:.4f}; "
        f"{s['realtime_factor']:.0f}x real time on one core; records under 0.99 on either: "
        f"{', '.join(s['records_below_0.99'])}.",
    ]


def int8_rows(d: dict) -> list[str]:
    """fp32 ONNX against int8, per model of each bundle (int8_speed.json)."""
    rows = [
        "| model (one thread, same run) | MACs | fp32 ONNX p50 | int8 p50 | int8 speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in d["rows"]:
        rows.append(
            f"| {r['bundle']} {r['model']} | {r['macs'] / 1e6:.2f} M | {r['fp32_p50_ms']:.3f} ms | "
            f"{r['int8_p50_ms']:.3f} ms | {r['int8_speedup']:.2f}x |"
        )
    return rows


def student_speed_rows(d: dict) -> list[str]:
    """The int8 student against the torch teacher and its own fp32 twin (int8_speed.json)."""
    rows = [
        "| bundle (one thread, same run) | torch teacher p50 | int8 student p50 "
        "| int8 student vs torch teacher | int8 vs its own fp32 ONNX |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in d.get("students", []):
        rows.append(
            f"| {r['bundle']} | {r['torch_teacher_p50_ms']:.3f} ms | "
            f"{r['int8_student_p50_ms']:.4f} ms | {r['int8_student_vs_torch_teacher']:.0f}x | "
            f"{r['int8_student_vs_its_fp32_onnx']:.2f}x |"
        )
    return rows
