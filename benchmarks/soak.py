"""Soak: many hours of real ECG through the whole serial path at high speed, recorder on.

The bytes a front end would send (wire format with a sample counter, from MIT-BIH DS2 records
looped, 360 Hz, 11-bit ADC as in the host profile) go through the same objects `edge-monitor run`
uses: LineDecoder -> SampleAssembler -> WfdbRecorder + Monitor (DSP, detector, int8 beat model,
quality, alerts; alerts written as JSON lines). Every simulated 10 minutes the process RSS, the
inference latency percentiles of that stretch and the counters are sampled. The claim to check:
RSS drift < 5 MB after a one-hour warm-up, stable latency, counters that add up.

    python benchmarks/soak.py --mitdb ../shared/data/mitdb --hours 24

Writes benchmarks/results/soak.json and soak.png.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.pipeline import Monitor
from edge_monitor.recorder import WfdbRecorder
from edge_monitor.serial_feed import SampleAssembler
from edge_monitor.stats import LatencyStats, rss_mb
from edge_monitor.wire import LineDecoder, encode_block
from trainer.datasets.mitdb import DS2

FS, GAIN, BASELINE = 360.0, 200.0, 1024
CHUNK_S = 1.0
SAMPLE_EVERY_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    # 11-bit ADC counts: int16 keeps the looped source small (28 MB for all of DS2)
    records = [
        wfdb.rdrecord(str(args.mitdb / r), channels=[0], physical=False)
        .d_signal[:, 0]
        .astype(np.int16)
        for r in DS2
    ]
    bundle = load_bundle(embedded_bundle("arrhythmia"))
    decoder = LineDecoder(1, counter=True)
    assembler = SampleAssembler(1, GAIN, BASELINE, adc_bits=11)
    monitor = Monitor([bundle], FS, ["MLII"], rails=(-BASELINE / GAIN, (2047 - BASELINE) / GAIN))
    total = int(args.hours * 3600 * FS)
    step = int(CHUNK_S * FS)
    samples: list[dict] = []
    alerts = 0
    sent = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        recorder = WfdbRecorder(Path(tmp), "soak", FS, ["MLII"], GAIN, BASELINE, flush_every=3600)
        rec_i, pos = 0, 0
        last_mark, last_lat = 0, 0
        while sent < total:
            x = records[rec_i]
            adc = x[pos : pos + step]
            pos += len(adc)
            if pos >= len(x):
                rec_i, pos = (rec_i + 1) % len(records), 0
            block = assembler.assemble(decoder.feed(encode_block(adc.reshape(-1, 1), sent)))
            sent += len(adc)
            recorder.write_adc(block.adc)
            for ev in monitor.push(block.mv, block.leads_off, block.missing, block.bad):
                if getattr(ev, "level", None):
                    recorder.write_alert(ev.to_json())
                    alerts += 1
            if sent - last_mark >= SAMPLE_EVERY_S * FS:
                last_mark = sent
                lat = monitor.latencies_ms()
                recent = lat[-min(len(lat), 2048) :]
                p = LatencyStats.from_ms(recent)
                samples.append(
                    {
                        "signal_hours": sent / FS / 3600,
                        "wall_s": time.perf_counter() - t0,
                        "rss_mb": rss_mb()[0],
                        "latency_p50_ms": p.p50_ms,
                        "latency_p99_ms": p.p99_ms,
                        "inferences": sum(s.model.count for s in monitor.beats) - last_lat,
                    }
                )
                last_lat = sum(s.model.count for s in monitor.beats)
                print(samples[-1], flush=True)
        recorder.close()
        recorded = wfdb.rdheader(str(Path(tmp) / "soak")).sig_len
    warm = [s for s in samples if s["signal_hours"] >= 1.0]
    rss = np.array([s["rss_mb"] for s in warm])
    result = {
        "hours": args.hours,
        "wall_s": time.perf_counter() - t0,
        "samples_sent": sent,
        "samples_decoded": decoder.stats.samples,
        "samples_recorded": recorded,
        "bad_lines": decoder.stats.bad(),
        "dropped": assembler.stats.lost,
        "beats": sum(s.model.count for s in monitor.beats),
        "alert_events": alerts,
        "rss_after_warmup_mb": float(rss[0]) if len(rss) else None,
        "rss_end_mb": float(rss[-1]) if len(rss) else None,
        "rss_drift_after_warmup_mb": float(rss[-1] - rss[0]) if len(rss) else None,
        "rss_max_after_warmup_mb": float(rss.max()) if len(rss) else None,
        "samples": samples,
    }
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"))
    print({k: v for k, v in result.items() if k != "samples"})


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["samples"]
    h = [x["signal_hours"] for x in s]
    fig, (a, b) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    a.plot(h, [x["rss_mb"] for x in s])
    a.set_ylabel("RSS, MB")
    a.set_title(f"soak: {result['hours']:.0f} h of MIT-BIH DS2 through the serial path", fontsize=9)
    b.plot(h, [x["latency_p50_ms"] for x in s], label="p50")
    b.plot(h, [x["latency_p99_ms"] for x in s], label="p99")
    b.set_ylabel("inference, ms")
    b.set_xlabel("signal hours")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
