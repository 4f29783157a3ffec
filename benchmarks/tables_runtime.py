"""Markdown rows for the edge runtime benchmarks: stream against training path, `edge-monitor
bench`, long records, the soak, serial faults, the Pi 4 under emulation.
"""

from __future__ import annotations


def stream_rows(d: dict) -> list[str]:
    """The shipped beat model through the device path and the training path (stream_vs_train)."""
    train, stream = d["training_path_final_int8"], d["stream"]["per_class"]
    per_record = d["stream_per_record"].values()
    missed = sum(r["missed"] for r in per_record)
    extra = sum(r["extra"] for r in per_record)
    ref = sum(r["reference"] for r in per_record)
    return [
        "| path (MIT-BIH DS2, shipped int8 beat model) | S Se | S +P | S F1 | V Se | V +P | V F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| training path (reference R peaks), from the bundle's manifest | {train['se_S']:.3f} | "
        f"{train['ppv_S']:.3f} | {train['f1_S']:.3f} | {train['se_V']:.3f} | "
        f"{train['ppv_V']:.3f} | {train['f1_V']:.3f} |",
        f"| device path (`Monitor`: live detector, causal DSP), 150 ms matching | "
        f"{stream['S']['se']:.3f} | {stream['S']['ppv']:.3f} | {stream['S']['f1']:.3f} | "
        f"{stream['V']['se']:.3f} | {stream['V']['ppv']:.3f} | {stream['V']['f1']:.3f} |",
        "",
        f"Beats missed by the device path: {missed} of {ref}; extra detections: {extra}.",
    ]


def edge_rows(edge: dict) -> list[str]:
    """`edge-monitor bench` figures against the issue's budgets (edge_runtime.json)."""
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


def long_record_rows(d: dict) -> list[str]:
    """Peak RSS of `classify` on a short and a long record (huge_record.json)."""
    s, g = d["short"], d["long"]
    return [
        f"`edge-monitor classify` on MIT-BIH 100 ({s['signal_hours']:.1f} h): peak RSS "
        f"{s['peak_rss_mb']:.0f} MB; on a {g['signal_hours']:.0f} h record "
        f"({d['file_mb']:.0f} MB, record 100 repeated): {g['peak_rss_mb']:.0f} MB "
        f"(+{d['rss_growth_mb']:.1f} MB), {g['signal_hours'] * 3600 / g['wall_s']:.0f}x "
        "real time (`python benchmarks/huge_record.py --mitdb ../shared/data/mitdb`).",
    ]


def soak_rows(d: dict) -> list[str]:
    """Counts, memory and latency of the serial-path soak (soak.json)."""
    lat = [x["latency_p99_ms"] for x in d["samples"] if x["signal_hours"] >= 1.0]
    return [
        f"{d['wall_s'] / 60:.1f} min of wall time; {d['samples_sent']:,} samples sent, "
        f"{d['samples_decoded']:,} decoded, {d['samples_recorded']:,} in the recording, "
        f"{d['bad_lines']} bad lines, {d['dropped']} dropped; {d['beats']:,} beats, "
        f"{d['alert_events']:,} alert events. RSS after the first hour "
        f"{d['rss_after_warmup_mb']:.1f} MB, at the end {d['rss_end_mb']:.1f} MB (drift "
        f"{d['rss_drift_after_warmup_mb']:+.1f} MB, max {d['rss_max_after_warmup_mb']:.1f}"
        f"); inference p99 per 10 min between {min(lat):.2f} and {max(lat):.2f} ms.",
    ]


def serial_rows(d: dict) -> list[str]:
    """What a scripted faulty front end sent against what the monitor counted (serial_faults)."""
    e, g = d["expected"], d["got"]
    verdict = "all exact" if d["exact"] else "NOT exact"
    return [
        f"Plan: {'; '.join(d['plan'])}. Exit code {d['exit_code']}, no traceback: "
        f"{not d['traceback']}. Samples decoded {g['samples_decoded']:,} (written "
        f"{e['samples_decoded']:,}), dropped {g['dropped']:,} (counter jumps {e['dropped']:,}), "
        f"bad lines {g['bad_lines']} (written {e['bad_lines']}: "
        + ", ".join(f"{k} {v}" for k, v in d["bad_lines_by_kind"].items())
        + f"), recorded {g['recorded']:,} (written {e['recorded']:,}), "
        f"{g['recorded_invalid']:,} of them stored as invalid (gaps and stalls: "
        f"{e['recorded_invalid']:,}); recorded values equal the written ones: "
        f"{d['recorded_values_equal_written']}; {g['disconnects']} disconnects, "
        f"{d['connects']} connects: {verdict}.",
    ]


def pi4_rows(d: dict) -> list[str]:
    """The embedded samples on an emulated Cortex-A72 against this host (pi4_emulation.json)."""
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
