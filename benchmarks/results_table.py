"""Markdown tables for the README from the benchmark JSON files (so the README matches them).

Usage: python benchmarks/results_table.py [--results benchmarks/results] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_monitor.alerts import AlertSpec


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


def prune_rows(d: dict, what: str = "student") -> list[str]:
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
        f"| {d['task']} {what}, {d['ratio']:.0%} of inner channels | "
        f"{size['before']['params']:,} -> {size['after']['params']:,} | "
        f"{size['before']['macs'] / 1e6:.2f} -> {size['after']['macs'] / 1e6:.2f} M "
        f"({d['mac_reduction']:.0%} fewer) | {score} |"
    )
    if dep := d.get("deployed"):
        b, a = dep["before"], dep["after"]
        rows += [
            "",
            f"Deployed, same run, one thread: fp32 ONNX {b['onnx_fp32_bytes'] / 1024:.0f} -> "
            f"{a['onnx_fp32_bytes'] / 1024:.0f} KB, {b['fp32_p50_ms']:.2f} -> "
            f"{a['fp32_p50_ms']:.2f} ms ({dep['fp32_speedup']:.2f}x faster); int8 "
            f"{b['onnx_int8_bytes'] / 1024:.0f} -> {a['onnx_int8_bytes'] / 1024:.0f} KB, "
            f"{b['int8_p50_ms']:.2f} -> {a['int8_p50_ms']:.2f} ms "
            f"({dep['int8_speedup']:.2f}x); parameter sparsity {d['parameter_sparsity']:.0%}.",
        ]
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


def edge_rows(edge: dict) -> list[str]:
    r, s = edge["replay_headless"], edge["run_serial"]
    rows = ["| figure | value | budget (issue) |", "| --- | ---: | --- |"]
    for name, m in edge["models"].items():
        lat, one = m["latency_profile_threads"], m["latency_1_thread"]
        rows.append(
            f"| {name} int8 latency p50 / p95 / p99, 2 threads | {lat['p50_ms']:.3f} / "
            f"{lat['p95_ms']:.3f} / {lat['p99_ms']:.3f} ms | p95 <= 20 ms (rpi4 profile) |"
        )
        rows.append(f"| {name} int8 latency p99, 1 thread | {one['p99_ms']:.3f} ms | report |")
    rows += [
        f"| headless replay of a 30-min record (process, imports included) | "
        f"{r['wall_s_process']:.2f} s = {r['realtime_factor_process']:.0f}x real time | "
        ">= 500x, < 4 s |",
        f"| the same, pipeline loop alone | {r['realtime_factor_pipeline']:.0f}x real time | |",
        f"| the same with the live UI drawing | "
        f"{edge['replay_with_ui']['realtime_factor_process']:.0f}x real time | report |",
        f"| cold start to the first beat | {r['cold_start_to_first_beat_s']:.2f} s | <= 1.5 s |",
        f"| peak RSS, `edge-monitor replay` | {r['peak_rss_mb']:.0f} MB | <= 170 MB |",
        f"| peak RSS, `edge-monitor run` (serial) | {s['peak_rss_mb']:.0f} MB | <= 140 MB |",
    ]
    return rows


def stream_rows(d: dict) -> list[str]:
    train, stream = d["training_path_final_int8"], d["stream"]["per_class"]
    rows = [
        "| path (MIT-BIH DS2, shipped int8 beat model) | S Se | S +P | S F1 | V Se | V +P | V F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| training path (reference R peaks), from the bundle's manifest | {train['se_S']:.3f} | "
        f"{train['ppv_S']:.3f} | {train['f1_S']:.3f} | {train['se_V']:.3f} | "
        f"{train['ppv_V']:.3f} | {train['f1_V']:.3f} |",
        f"| device path (`Monitor`: live detector, causal DSP), 150 ms matching | "
        f"{stream['S']['se']:.3f} | {stream['S']['ppv']:.3f} | {stream['S']['f1']:.3f} | "
        f"{stream['V']['se']:.3f} | {stream['V']['ppv']:.3f} | {stream['V']['f1']:.3f} |",
    ]
    missed = sum(r["missed"] for r in d["stream_per_record"].values())
    extra = sum(r["extra"] for r in d["stream_per_record"].values())
    ref = sum(r["reference"] for r in d["stream_per_record"].values())
    rows.append("")
    rows.append(f"Beats missed by the device path: {missed} of {ref}; extra detections: {extra}.")
    return rows


def int8_rows(d: dict) -> list[str]:
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


def _condition(key: str, e: dict) -> str:
    return "no noise added" if key == "clean" else f"{e['noise']} {e['snr_db']:+g} dB"


def noise_rows(d: dict) -> list[str]:
    rows = [
        "| noise, SNR | R-peak Se / +P | V Se / +P | S Se / +P | false critical / h "
        "(in noise) | critical events found | inconclusive: noisy / clean time | "
        "beats still analysed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, e in d["summary"].items():
        a, g = e["all"], e["gated"]
        name = _condition(key, e)
        rows.append(
            f"| {name} | {a['r_peak_se']:.3f} / {a['r_peak_ppv']:.3f} "
            f"| {a['V_se']:.3f} / {a['V_ppv']:.3f} | {a['S_se']:.3f} / {a['S_ppv']:.3f} "
            f"| {e['false_critical_per_hour']:.2f} ({e['false_critical_per_noisy_hour']:.2f}) "
            f"| {e['critical_events_found']} / {e['critical_events']} "
            f"| {e['inconclusive_noisy']:.1%} / {e['inconclusive_clean']:.1%} "
            f"| {g['coverage']:.1%} |"
        )
    return rows


def noise_training_rows(
    clean: dict, noisy: dict, what: str = "clean-trained -> noise-trained", events: bool = False
) -> list[str]:
    rows = [
        f"| condition ({what}) | false critical / h | V Se / +P | S Se / +P |"
        + (" critical events found |" if events else ""),
        "| --- | --- | --- | --- |" + (" --- |" if events else ""),
    ]
    for key, a in clean["summary"].items():
        b = noisy["summary"].get(key)
        if b is None:
            continue
        name = _condition(key, a)
        x, y = a["all"], b["all"]
        rows.append(
            f"| {name} | {a['false_critical_per_hour']:.2f} -> {b['false_critical_per_hour']:.2f} "
            f"| {x['V_se']:.3f} / {x['V_ppv']:.3f} -> {y['V_se']:.3f} / {y['V_ppv']:.3f} "
            f"| {x['S_se']:.3f} / {x['S_ppv']:.3f} -> {y['S_se']:.3f} / {y['S_ppv']:.3f} |"
            + (
                f" {a['critical_events_found']}/{a['critical_events']} -> "
                f"{b['critical_events_found']}/{b['critical_events']} |"
                if events
                else ""
            )
        )
    return rows


def mixer_rows(check: dict) -> list[str]:
    leads = list(next(iter(check.values())))
    rows = [
        "| record | nominal SNR | " + " | ".join(f"{lead}: measured" for lead in leads) + " |",
        "| --- | --- | " + " | ".join("---" for _ in leads) + " |",
    ]
    for rec, by_lead in check.items():
        first = by_lead[leads[0]]
        cells = " | ".join(f"{by_lead[lead]['published_snr_db']:+.2f} dB" for lead in leads)
        rows.append(f"| {rec} | {first['nominal_snr_db']:+g} dB | {cells} |")
    return rows


def serial_rows(d: dict) -> list[str]:
    e, g = d["expected"], d["got"]
    verdict = "all exact" if d["exact"] else "NOT exact"
    return [
        f"Plan: {'; '.join(d['plan'])}. Exit code {d['exit_code']}, no traceback: "
        f"{not d['traceback']}. Samples decoded {g['samples_decoded']:,} (written "
        f"{e['samples_decoded']:,}), dropped {g['dropped']:,} (counter jumps {e['dropped']:,}), "
        f"bad lines {g['bad_lines']} (written {e['bad_lines']}: "
        + ", ".join(f"{k} {v}" for k, v in d["bad_lines_by_kind"].items())
        + f"), recorded {g['recorded']:,} = decoded + dropped, {d['recorded_invalid']:,} of "
        f"them stored as invalid; recorded values equal the written ones: "
        f"{d['recorded_values_equal_written']}; {g['disconnects']} disconnects, "
        f"{d['connects']} connects: {verdict}.",
    ]


def pi4_rows(d: dict) -> list[str]:
    p, c = d["platform"], d["negative_control"]
    recs = "; ".join(
        f"{r['record']}: {r['beats'][1]} beats, {r['windows'][1]} windows, {r['alerts'][1]} "
        f"alerts, identical: {r['identical_predictions']}"
        for r in d["records"]
    )
    return [
        f"Under `{d['qemu']}` with `-cpu cortex-a72` (HWCAP {p['hwcap']}, dot-product "
        f"instructions: {p['dot_product_instructions']}): Python {p['python']} ({p['machine']}), "
        f"numpy {p['numpy']}, onnxruntime {p['onnxruntime']} import and run `edge-monitor "
        f"version`, `replay --no-ui` and `classify --json` on both embedded samples. Against "
        f"the same commands on this x86 host: {recs} (probabilities as printed, 4 decimals). "
        f"Negative control: onnxruntime {c['onnxruntime']} on the same emulated CPU exits "
        f"{c['exit']} (SIG{c['signal']}), the Pi 4 failure the version bound excludes. Timing "
        "under emulation means nothing and is not reported.",
    ] + kernel_rows(d.get("kernels"))


def kernel_rows(kernels: dict | None) -> list[str]:
    """The integer kernels onnxruntime runs for each int8 model, here and on the emulated A72."""
    if not kernels:
        return []
    rows = [
        "",
        "Kernels onnxruntime runs for the int8 models (`scripts/kernel_counts.py`, one profiled "
        "inference): fused integer convolutions / all convolutions, dequantize nodes left.",
        "",
        "| model | " + " | ".join(f"{k} ({v['machine']})" for k, v in kernels.items()) + " |",
        "| --- |" + " --- |" * len(kernels),
    ]
    for task in next(iter(kernels.values()))["models"]:
        cells = []
        for v in kernels.values():
            ops = v["models"][task]
            fused = ops.get("QLinearConv", 0)
            cells.append(
                f"{fused} / {fused + ops.get('Conv', 0) + ops.get('FusedConv', 0)} conv, "
                f"{ops.get('DequantizeLinear', 0)} DequantizeLinear"
            )
        rows.append(f"| {task} | " + " | ".join(cells) + " |")
    return rows


def section(title: str, note: str, rows: list[str]) -> list[str]:
    return [f"#### {title}", "", *([note, ""] if note else []), *rows, ""]


def results_markdown(root: Path) -> str:
    models = Path(__file__).resolve().parents[1] / "edge_monitor" / "default_models"
    out: list[str] = []

    def load(name: str):
        path = root / name
        return json.loads(path.read_text()) if path.exists() else None

    for task, title in (("diagnostic", "Diagnostic bundle"), ("arrhythmia", "Arrhythmia bundle")):
        path = models / task / "manifest.json"
        if path.exists():
            manifest = json.loads(path.read_text())
            from trainer.report import render_markdown

            body = [  # the bundle's report without its title and its (bundle-relative) plots
                line
                for line in render_markdown(manifest).splitlines()[2:]
                if not line.startswith("![")
            ]
            out += section(f"{title} (embedded; `trainer compress`)", "", body)
    if (d := load("stream_vs_train.json")) is not None:
        out += section("Device path against training path (MIT-BIH DS2)", "", stream_rows(d))
    if (d := load("edge_runtime.json")) is not None:
        out += section("Edge runtime (`edge-monitor bench`, this host)", "", edge_rows(d))
    if (d := load("huge_record.json")) is not None:
        s, g = d["short"], d["long"]
        out += section(
            "A long record streams in bounded memory",
            "",
            [
                f"`edge-monitor classify` on MIT-BIH 100 ({s['signal_hours']:.1f} h): peak RSS "
                f"{s['peak_rss_mb']:.0f} MB; on a {g['signal_hours']:.0f} h record "
                f"({d['file_mb']:.0f} MB, record 100 repeated): {g['peak_rss_mb']:.0f} MB "
                f"(+{d['rss_growth_mb']:.1f} MB), {g['signal_hours'] * 3600 / g['wall_s']:.0f}x "
                "real time (`python benchmarks/huge_record.py --mitdb ../shared/data/mitdb`).",
            ],
        )
    if (d := load("soak.json")) is not None:
        lat = [x["latency_p99_ms"] for x in d["samples"] if x["signal_hours"] >= 1.0]
        out += section(
            f"Soak: {d['hours']:.0f} h through the serial path, recorder on",
            "`python benchmarks/soak.py --mitdb ../shared/data/mitdb --hours 24` (MIT-BIH DS2 "
            "looped as wire-format bytes with a counter; decoder, assembler, recorder, monitor). "
            "![soak](benchmarks/results/soak.png)",
            [
                f"{d['wall_s'] / 60:.1f} min of wall time; {d['samples_sent']:,} samples sent, "
                f"{d['samples_decoded']:,} decoded, {d['samples_recorded']:,} in the recording, "
                f"{d['bad_lines']} bad lines, {d['dropped']} dropped; {d['beats']:,} beats, "
                f"{d['alert_events']:,} alert events. RSS after the first hour "
                f"{d['rss_after_warmup_mb']:.1f} MB, at the end {d['rss_end_mb']:.1f} MB (drift "
                f"{d['rss_drift_after_warmup_mb']:+.1f} MB, max {d['rss_max_after_warmup_mb']:.1f}"
                f"); inference p99 per 10 min between {min(lat):.2f} and {max(lat):.2f} ms.",
            ],
        )
    if (d := load("noise_stress.json")) is not None:
        q = d["quality_spec"]
        out += section(
            f"Noise stress test (MIT-BIH DS2, {len(d['records'])} records, nst protocol)",
            "`python benchmarks/noise_stress.py --mitdb ../shared/data/mitdb --nstdb "
            "../shared/data/nstdb`: real noise on MLII from minute 5, 2 min on / 2 min off, "
            "scored from minute 5 on (150 ms matching). A critical alarm is false when no "
            "reference event (a run of >= 3 V beats, VF/flutter, a gap >= 4 s less the 150 ms "
            "matching tolerance) lies from 10 s before it to 2 s after; the events a monitor "
            "must catch are V runs of >= 5 beats at >= 100 bpm and gaps >= 5 s. Quality gate: "
            f"detector agreement >= {q['min_agreement']} to analyse, >= "
            f"{q['min_alarm_agreement']} and the beat model's mean V probability over the run >= "
            f"{AlertSpec().vt_confidence} for a VT alarm to sound as critical (thresholds chosen "
            "on DS1 records).",
            noise_rows(d),
        )
        out += section(
            "Mixer check against the published 118e* records",
            "Our SNR measure (nst's: QRS peak-to-peak over the RMS of the noise, as sinusoids) "
            "on the published records; V1 reads the nominal value, MLII 5.45 dB less at every "
            "level (see trainer/datasets/nstdb.py). Our own 118 + em mix equals the published "
            "V1 signal to a few ADC units.",
            mixer_rows(d["mixer_check"]),
        )
    clean_fp32, noisy_fp32 = load("noise_stress_fp32_v4.json"), load("noise_stress_fp32_v5.json")
    if clean_fp32 is not None and noisy_fp32 is not None:
        out += section(
            "Does training with recorded noise help? (fp32 students, last session's monitor code "
            "and scoring)",
            "v4's clean-trained student's fp32 twin against the student that `trainer compress "
            "... --noise-prob 0.5 --noise-dir ../shared/data/nstdb` trained from scratch with "
            "noise and chose on validation (not shipped: weak on S, and its int8 model failed "
            "the gate): `python "
            "benchmarks/noise_stress.py ... --noise em ma --snr 12 6 --model "
            "runs/compress/arrhythmia-rpi4-v{4,5}/stages/final/model-fp32.onnx`.",
            noise_training_rows(clean_fp32, noisy_fp32),
        )
    if (d := load("noise_stress_reversed.json")) is not None:
        out += section(
            "A second noise realisation: each noise burst played backwards",
            "`python benchmarks/noise_stress.py ... --reverse-noise --snr 12 6 --out "
            "benchmarks/results/noise_stress_reversed.json`: the same bundle, noise with the "
            "same spectrum and amplitudes but its bursts falling on other beats.",
            noise_rows(d),
        )
    before, after = load("noise_stress_unhardened.json"), load("noise_stress_hardened.json")
    if before is not None and after is not None:
        out += section(
            "Noise hardening of v8 with bw and ma (fp32 students, the monitor code of that "
            "session)",
            "The student that validation chose, before and after `trainer compress ... "
            "--harden-noise-prob 0.5 --noise-dir ../shared/data/nstdb` fine-tuned it with "
            "recorded noise (its fp32 models, so that quantization is not part of the "
            f"difference): `python benchmarks/noise_stress.py ... --noise em ma --snr 12 6 "
            f"--model {before['model']['path']}` (and `{after['model']['path']}`).",
            noise_training_rows(before, after, "before -> after hardening", events=True),
        )

    def pair_sections(before_stem: str, after_stem: str, title: str, note: str, what: str):
        """One before -> after table per noise realisation (protocol, bursts reversed)."""
        sections = []
        for suffix, realisation in (("", "protocol noise"), ("_reversed", "bursts reversed")):
            before, after = load(f"{before_stem}{suffix}.json"), load(f"{after_stem}{suffix}.json")
            if before is not None and after is not None:
                reverse = "--reverse-noise " if suffix else ""
                sections += section(
                    f"{title} ({realisation})",
                    note.format(reverse=reverse),
                    noise_training_rows(before, after, what, events=True),
                )
        return sections

    out += pair_sections(
        "noise_stress_v8",
        "noise_stress_v10_no_confidence",
        "Electrode motion in hardening: v8 -> v10 bundles",
        "Both int8 bundles, the same monitor code without the VT confidence check: v8 was "
        "hardened with bw and ma only, v10 with em's second channel too (the test mixes its "
        "first): `python benchmarks/noise_stress.py ... --noise em ma --snr 12 6 {reverse}"
        "--bundle runs/compress/arrhythmia-rpi4-v{{8,10}}`.",
        "v8 -> v10",
    )
    if (d := load("vt_confidence.json")) is not None:
        out += section(
            "Choosing the VT confidence threshold on DS1",
            "`python benchmarks/vt_confidence.py --mitdb ../shared/data/mitdb --nstdb "
            f"../shared/data/nstdb`: the {len(d['records'])} DS1 records clean and with em / ma "
            "at 12 and 6 dB (protocol and reversed bursts), confidence check off; each critical "
            "VT alarm with the model's mean V probability over its run. The shipped threshold "
            "is the knee of this curve; DS2 only measures it (tables below).",
            [
                "| mean V probability >= | true VT alarms still critical | false ones |",
                "| --- | --- | --- |",
                *(
                    f"| {r['threshold']:.2f} | {r['true_kept']} / {d['true_alarms']} "
                    f"| {r['false_kept']} / {d['false_alarms']} |"
                    for r in d["thresholds"]
                ),
            ],
        )
    out += pair_sections(
        "noise_stress_v10_no_confidence",
        "noise_stress",
        "VT confidence check: without -> with",
        "The shipped v10 bundle; a VT alarm sounds as critical only if the model's mean V "
        f"probability over the run's beats is >= {AlertSpec().vt_confidence} (else an "
        "unverified warning that escalates when a later beat of the run verifies).",
        "without -> with",
    )
    if (d := load("serial_faults.json")) is not None:
        out += section(
            "Faults on the serial path (`python benchmarks/serial_faults.py --mitdb "
            "../shared/data/mitdb`)",
            "",
            serial_rows(d),
        )
    if (d := load("pi4_emulation.json")) is not None:
        out += section(
            "Raspberry Pi 4 CPU under emulation (`bash scripts/pi4_emulation.sh`)", "", pi4_rows(d)
        )
    if (d := load("int8_speed.json")) is not None:
        out += section(
            "Where int8 pays on this CPU",
            "`python benchmarks/int8_speed.py` on the two bundles: every model in "
            f"{d.get('rounds', 1)} interleaved rounds, the median of the rounds' p50s.",
            int8_rows(d) + [""] + student_speed_rows(d),
        )
    if (d := load("teachers.json")) is not None:
        out += section("Teachers (session 1)", "", diagnostic_rows(d))
        out += section(
            "Arrhythmia teachers by seed (session 1 beat centring)",
            "Trained before beats were centred on the refined R peak; superseded by the bundle "
            "table above, kept for the seed spread.",
            arrhythmia_rows(d),
        )
    for task in ("diagnostic", "arrhythmia"):
        if (d := load(f"distill_{task}.json")) is not None:
            out += section(f"Distillation, {task} (session 1, one seed)", "", distill_rows(task, d))
    if (d := load("prune_diagnostic_teacher.json")) is not None:
        out += section(
            "Pruning a wide network: the diagnostic teacher (3 ResNets) at 60%",
            f"`{d['command']}`, fine-tuned (up to 20 epochs, early stopping on validation) "
            "with the unpruned teacher as KD target; "
            "paired bootstrap on the same 252 test records.",
            prune_rows(d, "teacher"),
        )
    if (d := load("prune_diagnostic.json")) is not None:
        out += section("Pruning the small student at 60% (session 1)", "", prune_rows(d))
    if (d := load("qrs_mitdb.json")) is not None:
        out += section("R-peak detector", "", qrs_rows(d))
    return "\n".join(out)


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="benchmarks/results")
    parser.add_argument("--readme", type=Path, help="replace the tables between the markers")
    args = parser.parse_args()
    text = results_markdown(Path(args.results))
    if args.readme is None:
        print(text)
        return
    readme = args.readme.read_text()
    a, b = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    args.readme.write_text(readme[:a] + "\n" + text + "\n" + readme[b:])
    print(f"updated {args.readme}")


if __name__ == "__main__":
    main()
