"""Does reading beats on a second lead hurt when that lead alone is noisy, and help when the beat
lead is? The 10 held-out svdb records (two leads, ECG1 and ECG2, 128 Hz) through the device
Monitor with `second_lead` off and auto, clean and with the noise stress test's electrode motion
(em) or muscle noise (ma) added to one lead alone (ECG2, the second lead; or ECG1, the beat
lead) at 0 dB in nst's stretches (noise on from minute 5, two minutes on, two off; the gain from
that lead's own QRS amplitude, nst's SNR definition). Beats are matched to the reference at
150 ms; S and V Se / +P / F1 pooled, and the critical alarms the Monitor raised.

    ECG_EDGE_DATA=../shared/data python benchmarks/second_lead_noise.py --jobs 2

Writes benchmarks/results/second_lead_noise.json. `--records training`: the 29 svdb training
records instead (the beat model trained on their ECG1, so its figures there are optimistic): a
development set on which a next rule for the second lead can be chosen before the held-out
records are looked at again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import resample_poly

from edge_monitor.alert_rules import AlertEvent
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.datasets import beatdb, nstdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import database_scores, matched  # noqa: E402
from beat_logging import embedded_models  # noqa: E402

OUT = Path("benchmarks/results/second_lead_noise.json")
NOISES = ("clean", "em@ECG2", "ma@ECG2", "em@ECG1", "ma@ECG1")
SNR_DB = 0.0


def noisy_lead(x: np.ndarray, fs: float, path: Path, noise: str, data: Path) -> np.ndarray:
    """`x` with nst's noise ("em@ECG2": em on channel 1) added to one channel alone."""
    if noise == "clean":
        return x
    name, _, lead = noise.partition("@")
    c = {"ECG1": 0, "ECG2": 1}[lead]
    track = nstdb.load_noise(name, data / "nstdb", data / "mitdb")
    ratio = Fraction(fs / track.fs).limit_denominator(1000)
    sig = np.nan_to_num(track.signal)  # em is NaN outside its stretches, never used there
    sig = resample_poly(sig, ratio.numerator, ratio.denominator)
    n = len(x)
    sig = np.resize(sig, n) if len(sig) < n else sig[:n]
    spans = nstdb.noisy_spans(n, fs)
    ann = wfdb.rdann(str(path), "atr")
    normal = np.asarray(ann.sample)[[s == "N" for s in ann.symbol]]
    gain = nstdb.gain_for_snr(
        SNR_DB, nstdb.qrs_amplitude(x[:, c], normal, fs), nstdb.noise_amplitude(sig, fs, spans)
    )
    out = x.copy()
    out[:, c] = nstdb.add_noise(x[:, c], sig, gain, spans)
    return out


def run(task: tuple[Path, str, str, str | None, Path]) -> dict:
    path, rid, noise, second, data = task
    rec = wfdb.rdrecord(str(path))
    fs = float(rec.fs)
    x = noisy_lead(rec.p_signal, fs, path, noise, data)
    monitor = Monitor(embedded_models(), fs, list(rec.sig_name), second_lead=second)
    events = monitor.stream(x, block_s=1.0)
    beats = [e for e in events if isinstance(e, BeatEvent)]
    critical = [e.sample for e in events if isinstance(e, AlertEvent) and e.level == "critical"]
    t, p = matched(path, beats, fs, fs)
    return {"record": rid, "noise": noise, "second": second, "y_true": np.asarray(t),
            "y_pred": np.asarray(p), "critical": critical}  # fmt: skip


def pooled(rows: list[dict]) -> dict:
    stats = database_scores(rows)
    return {
        **{f"{k}_{c}": stats[c][k] for c in ("S", "V") for k in ("se", "ppv", "f1")},
        "critical_alarms": sum(len(r["critical"]) for r in rows),
        "critical_by_record": {r["record"]: len(r["critical"]) for r in rows if r["critical"]},
    }


def svdb_records(which: str) -> tuple[Path, Path, list[str]]:
    """The data folder, svdb's folder and its held-out or training records."""
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/, svdb/ and nstdb/")
    folder = beatdb.root_of(beatdb.SVDB, root)
    records = list(beatdb.SVDB_TEST)
    if which == "training":
        records = [r for r in beatdb.SVDB.available(folder) if r not in beatdb.SVDB_TEST]
    return root, folder, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--records", choices=["held-out", "training"], default="held-out")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    root, folder, records = svdb_records(args.records)
    tasks = [
        (folder / r, f"svdb/{r}", noise, second, root)
        for noise in NOISES
        for second in (None, "auto")
        for r in records
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, tasks))
    out: dict = {"snr_db": SNR_DB, "records": records, "results": {}}
    for noise in NOISES:
        for second in (None, "auto"):
            chosen = [r for r in rows if r["noise"] == noise and r["second"] == second]
            s = pooled(chosen)
            out["results"][f"{noise}/{second or 'off'}"] = s
            print(
                f"{noise:8s} second lead {second or 'off':4s}: "
                f"S Se/+P/F1 {s['se_S']:.3f}/{s['ppv_S']:.3f}/{s['f1_S']:.3f}  "
                f"V {s['se_V']:.3f}/{s['ppv_V']:.3f}/{s['f1_V']:.3f}  "
                f"critical {s['critical_alarms']}",
                flush=True,
            )
    out["seconds"] = time.perf_counter() - t0
    args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
