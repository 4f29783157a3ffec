"""Markdown tables for the README from the benchmark JSON files (so the README matches them).

Usage: python benchmarks/results_table.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def diagnostic_rows(results: dict) -> list[str]:
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
    cmp = results.get("diag-teacher-vs-seed-cnn")
    if cmp:
        verdict = "within noise" if cmp["within_noise"] else "beyond noise"
        rows.append("")
        rows.append(
            f"Teacher minus seed CNN, paired bootstrap on the same "
            f"{results['diag-teacher']['test']['records']} test records: "
            f"{cmp['diff']:+.3f} AUC (95% CI {cmp['ci_low']:+.3f} to {cmp['ci_high']:+.3f}), "
            f"{verdict}."
        )
    return rows


def arrhythmia_rows(results: dict) -> list[str]:
    if "arr-teacher" not in results:
        return []
    r = results["arr-teacher"]
    pc = r["test"]["per_class"]
    rows = [
        "| model (MIT-BIH DS2, 22 records) | params | MACs / beat | class | Se | +P | F1 | beats |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for i, (cls, s) in enumerate(pc.items()):
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
            noise = "within noise" if c["within_noise"] else "beyond noise"
            rows.append(
                f"| {p['seed']} ({p['with_teacher']['size']['params']:,} params) | "
                f"{a['macro_auc']:.3f} | {b['macro_auc']:.3f} | {c['diff']:+.3f} "
                f"({c['ci_low']:+.3f} to {c['ci_high']:+.3f}), {noise} |"
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


def prune_rows(d: dict) -> list[str]:
    size = d["size"]
    rows = [
        "| pruned model | params | MACs | test score before -> after |",
        "| --- | ---: | ---: | --- |",
    ]
    if d["task"] == "diagnostic":
        c = d["pruned_minus_original"]
        noise = "within noise" if c["within_noise"] else "beyond noise"
        score = (
            f"macro AUC {d['before']['macro_auc']:.3f} -> {d['after']['macro_auc']:.3f} "
            f"({c['diff']:+.3f}, CI {c['ci_low']:+.3f} to {c['ci_high']:+.3f}, {noise})"
        )
    else:
        b, a = d["before"]["per_class"], d["after"]["per_class"]
        score = ", ".join(f"{k} F1 {b[k]['f1']:.3f} -> {a[k]['f1']:.3f}" for k in "SV")
    rows.append(
        f"| {d['task']} student, {d['ratio']:.0%} of inner channels | "
        f"{size['before']['params']:,} -> {size['after']['params']:,} | "
        f"{size['before']['macs'] / 1e6:.2f} -> {size['after']['macs'] / 1e6:.2f} M "
        f"({d['mac_reduction']:.0%} fewer) | {score} |"
    )
    return rows


def qrs_rows(qrs: dict) -> list[str]:
    s = qrs["summary"]
    return [
        f"R-peak detector, all {s['records']} MIT-BIH records ({s['reference_beats']:,} beats, "
        f"{s['tolerance_ms']:.0f} ms window): gross Se {s['gross_se']:.4f}, "
        f"+P {s['gross_ppv']:.4f}; "
        f"{s['realtime_factor']:.0f}x real time on one core; records under 0.99 on either: "
        f"{', '.join(s['records_below_0.99'])}.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="benchmarks/results")
    args = ap.parse_args()
    root = Path(args.results)
    lines: list[str] = []
    if (root / "teachers.json").exists():
        results = json.loads((root / "teachers.json").read_text())
        lines += diagnostic_rows(results) + [""] + arrhythmia_rows(results) + [""]
    for task in ("diagnostic", "arrhythmia"):
        path = root / f"distill_{task}.json"
        if path.exists():
            lines += distill_rows(task, json.loads(path.read_text())) + [""]
    for task in ("diagnostic", "arrhythmia"):
        path = root / f"prune_{task}.json"
        if path.exists():
            lines += prune_rows(json.loads(path.read_text())) + [""]
    if (root / "qrs_mitdb.json").exists():
        lines += qrs_rows(json.loads((root / "qrs_mitdb.json").read_text()))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
