"""Tremor-like artefact on sinus rhythm: does it raise a critical VT/VF alarm?

Physiological or Parkinsonian tremor (4-6 Hz) and shivering over the chest electrodes are a
classic VF mimic in the AED literature: a 3-8 Hz oscillation passes Kuo & Dillman's VF filter as a
VF-rate rhythm, and the window model sees a sinusoidal wave. Every MIT-BIH record without a
ventricular episode (no `(VT`, `(VF`, `(VFL` note and no `[`...`]` flutter) gets bursts of
artefact on every lead, and streams through the device Monitor with the embedded beat and VT/VF
bundles, as `edge-monitor` runs an MLII record:

- artefact kinds: Gaussian noise band-passed (4th-order Butterworth, zero phase) to 3-8 Hz and to
  4-6 Hz, and sine trains at 4 and 6 Hz whose frequency (+-0.5 rad at 0.3 Hz) and amplitude
  (70-100 % at 0.2 Hz) wobble as a tremor's do; each at a few peak-to-peak amplitudes (a sine's
  envelope; four standard deviations of the noise: 95 % of its samples lie within);
- bursts of `--burst-s` seconds every `--every-s` seconds from `--first-s` on, over the first
  `--minutes` of each record, with 1 s raised-cosine edges; the noise of each burst comes from
  its own fixed seed (`--seed`, the record, the burst's number); the default, 4 bursts of 20 s
  in each record's first 5 minutes, is sized to run in about 5 minutes on one core;
- a *false* critical alarm is the onset of a critical VT, VF or VT/VF alarm from a burst's start
  to `GRACE_S` after its end that no reference event justifies (a run of >= 3 V beats or a pause,
  noise_stress's reference spans, 2 s before to 10 s after); per hour of artefact, and by
  path: the label (VT beat-run rule, VF filter rule, VT/VF the window model alone) and whether it
  sounded critical at once ("raised") or a held-back warning was escalated by the model;
- the same windows of the records without artefact (`clean`) are the control;
- the quality gate's verdict for every second inside the bursts, by state and reason.

    ECG_EDGE_DATA=../shared/data python benchmarks/tremor_stress.py

Writes benchmarks/results/tremor_stress.json (about 5 minutes on one core).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import butter, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from all_records import reference  # noqa: E402
from noise_stress_parts.critical_events import justified, reference_events  # noqa: E402

from edge_monitor.alert_rules import CRITICAL, AlertEvent  # noqa: E402
from edge_monitor.bundle import embedded_bundle, load_bundle  # noqa: E402
from edge_monitor.events import QualityEvent  # noqa: E402
from edge_monitor.pipeline import Monitor, find_channel  # noqa: E402
from edge_monitor.quality import QualitySpec  # noqa: E402
from edge_monitor.ventricular import CONFIRMED, MODEL_LABEL, RULE_LABELS, FusionSpec  # noqa: E402

ALARMS = (*RULE_LABELS, MODEL_LABEL)
GRACE_S = 5.0  # an alarm a burst raised may sound a few seconds after it (2-of-3 4 s windows)
RAMP_S = 1.0
KINDS = {  # name -> ("noise", (lo, hi)) or ("sine", f Hz)
    "noise 3-8 Hz": ("noise", (3.0, 8.0)),
    "noise 4-6 Hz": ("noise", (4.0, 6.0)),
    "sine 4 Hz": ("sine", 4.0),
    "sine 6 Hz": ("sine", 6.0),
}
AMPLITUDES = (0.3, 0.6, 1.2, 2.0)  # mV peak to peak


@dataclass(frozen=True)
class Bursts:
    """Where the artefact goes: `burst_s` long, every `every_s` from `first_s`, up to `end_s`."""

    first_s: float = 60.0
    every_s: float = 60.0
    burst_s: float = 20.0
    end_s: float = 600.0

    def spans(self, fs: float, n: int) -> list[tuple[int, int]]:
        out, t = [], self.first_s
        while t + self.burst_s + GRACE_S <= min(self.end_s, n / fs):
            out.append((int(round(t * fs)), int(round((t + self.burst_s) * fs))))
            t += self.every_s
        return out


def artefact(kind: str, ptp_mv: float, n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """One burst of `n` samples of tremor-like artefact, `ptp_mv` peak to peak, tapered."""
    shape, arg = KINDS[kind]
    t = np.arange(n) / fs
    if shape == "noise":
        sos = butter(4, arg, "bandpass", fs=fs, output="sos")
        x = sosfiltfilt(sos, rng.standard_normal(n))
        x = x / (4.0 * float(np.std(x))) * ptp_mv  # 95 % of the samples within ptp_mv
    else:
        phase = 2 * np.pi * arg * t + 0.5 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))
        x = 0.5 * ptp_mv * np.sin(phase) * (0.85 + 0.15 * np.sin(2 * np.pi * 0.2 * t))
    ramp = min(int(round(RAMP_S * fs)), n // 2)
    edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    x[:ramp] *= edge
    x[n - ramp :] *= edge[::-1]
    return x


def mixed(x: np.ndarray, fs: float, spans, kind: str, ptp: float, seed: int, rec: str):
    """The record with artefact added to every lead over each burst (fixed seeds)."""
    y = x.copy()
    for k, (a, b) in enumerate(spans):
        rng = np.random.default_rng([seed, int(rec), k])
        y[a:b] += artefact(kind, ptp, b - a, fs, rng)[:, None]
    return y


def run_stream(
    bundles, header, y: np.ndarray, spans, justify, quality=None, fusion=None, second_lead=None
) -> dict:
    """Stream one mix; the false critical onsets in the burst windows and the gate's verdicts
    (and how many seconds it marked organised: a tremor over QRS complexes)."""
    fs = float(header.fs)
    channel = find_channel(header.sig_name, "MLII") or 0
    monitor = Monitor(bundles, fs, list(header.sig_name), channel, quality=quality, fusion=fusion,
                      second_lead=second_lead)  # fmt: skip
    windows = [(a, b + int(GRACE_S * fs)) for a, b in spans]
    alarms: list[dict] = []
    gate: Counter = Counter()
    for ev in monitor.stream(y, block_s=4.0):
        if isinstance(ev, AlertEvent) and ev.level == CRITICAL and ev.label in ALARMS:
            inside = any(a <= ev.sample < b for a, b in windows)
            if inside and not justify(ev.sample):
                how = "escalated" if f"({CONFIRMED})" in ev.message else "raised"
                alarms.append({"t_s": round(ev.sample / fs, 1), "label": ev.label, "how": how})
        elif isinstance(ev, QualityEvent):
            s = ev.segment
            mid = (s.start + s.end) // 2
            if any(a <= mid < b for a, b in spans):
                gate[s.state + (f": {s.reason}" if s.reason else "")] += 1
                gate["(organised)"] += s.organised
    return {"alarms": alarms, "gate": dict(gate)}


def eligible(folder: Path) -> list[str]:
    """MIT-BIH records without a ventricular episode (rhythm notes or flutter brackets)."""
    names = sorted(p.stem for p in folder.glob("*.hea") if p.stem.isdigit())
    return [n for n in names if not reference("mitdb", folder, n)["vf"]]


def run_record(folder: Path, rec: str, bundles, args, bursts: Bursts) -> dict:
    header = wfdb.rdheader(str(folder / rec))
    fs = float(header.fs)
    x = wfdb.rdrecord(str(folder / rec), sampto=min(header.sig_len, int(bursts.end_s * fs)))
    x = x.p_signal
    spans = bursts.spans(fs, len(x))
    ref_spans, _ = reference_events(folder / rec, fs)

    def justify(sample: int) -> bool:
        return justified(sample, ref_spans)

    spec = QualitySpec(organised_qrs=args.organised_qrs)
    fusion = fusion_spec(args)
    lead2 = args.second_lead
    clean = run_stream(bundles, header, x, spans, justify, spec, fusion, lead2)
    out = {"bursts": len(spans), "clean": clean}
    for kind in args.kinds:
        for ptp in args.ptp:
            y = mixed(x, fs, spans, kind, ptp, args.seed, rec)
            out[f"{kind} @ {ptp}"] = run_stream(
                bundles, header, y, spans, justify, spec, fusion, lead2
            )
    return out


def summarise(rows: dict[str, dict], bursts: Bursts, conditions: list[str]) -> list[dict]:
    table = []
    n_bursts = sum(r["bursts"] for r in rows.values())
    hours = n_bursts * bursts.burst_s / 3600.0
    for cond in conditions:
        alarms = [dict(a, record=rec) for rec, r in rows.items() for a in r[cond]["alarms"]]
        gate: Counter = Counter()
        for r in rows.values():
            gate.update(r[cond]["gate"])
        total = sum(v for k, v in gate.items() if k != "(organised)") or 1
        table.append({
            "condition": cond,
            "false_critical": len(alarms),
            "per_hour_of_artefact": round(len(alarms) / hours, 1) if hours else None,
            "records_with_alarm": sorted({a["record"] for a in alarms}),
            "by_path": dict(Counter(f"{a['label']} {a['how']}" for a in alarms)),
            "gate_share": {k: round(v / total, 3) for k, v in sorted(gate.items())},
            "alarms": alarms,
        })  # fmt: skip
    return table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, help="MIT-BIH folder (default: $ECG_EDGE_DATA/mitdb)")
    parser.add_argument("--records", nargs="*", help="only these (default: every eligible one)")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--ptp", nargs="*", type=float, default=list(AMPLITUDES))
    parser.add_argument("--minutes", type=float, default=5.0, help="of each record")
    parser.add_argument("--burst-s", type=float, default=Bursts.burst_s)
    parser.add_argument("--every-s", type=float, default=Bursts.every_s)
    parser.add_argument("--first-s", type=float, default=Bursts.first_s)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--organised-qrs",
        action=argparse.BooleanOptionalAction,
        default=QualitySpec.organised_qrs and FusionSpec.withhold_organised,
        help="the gate's tremor sign and the fusion's withholding over it (default: as shipped)",
    )
    parser.add_argument("--second-lead", choices=["auto"],
                        help="the beat model on a second lead too (the CLI's default)")  # fmt: skip
    parser.add_argument("--alone", type=int, nargs=2, metavar=("K", "N"),
                        help="the fusion's model alone: K of the last N windows")  # fmt: skip
    parser.add_argument("--blind-hold-s", type=float, default=FusionSpec.blind_hold_s,
                        help="FusionSpec.blind_hold_s (0: off)")  # fmt: skip
    parser.add_argument("--model", type=Path, help="a VT/VF bundle instead of the embedded one")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tremor_stress.json"))
    return parser.parse_args()


def fusion_spec(args: argparse.Namespace) -> FusionSpec:
    spec = FusionSpec(withhold_organised=args.organised_qrs, blind_hold_s=args.blind_hold_s)
    if args.alone is not None:
        spec = spec.tuned(alone_k=args.alone[0], alone_n=args.alone[1])
    return spec


def mitdb_folder(arg: Path | None) -> Path:
    if arg is None:
        env = os.environ.get("ECG_EDGE_MITDB") or os.environ.get("ECG_EDGE_DATA")
        if env is None:
            sys.exit("no MIT-BIH folder: pass --mitdb or set $ECG_EDGE_DATA")
        arg = Path(env) if "ECG_EDGE_MITDB" in os.environ else Path(env) / "mitdb"
    if not arg.is_dir() or not any(arg.glob("*.hea")):
        sys.exit(f"MIT-BIH folder not found (no .hea files): {arg}")
    return arg


def main() -> None:
    args = parse_args()
    folder = mitdb_folder(args.mitdb)
    if any(p <= 0 for p in args.ptp) or args.burst_s <= 2 * RAMP_S or args.every_s < args.burst_s:
        sys.exit("--ptp must be > 0, --burst-s > 2 s and --every-s >= --burst-s")
    names = eligible(folder)
    if args.records:
        unknown = sorted(set(args.records) - set(names))
        if unknown:
            sys.exit(f"not an MIT-BIH record without ventricular episodes here: {unknown}")
        names = [n for n in names if n in args.records]
    bursts = Bursts(args.first_s, args.every_s, args.burst_s, args.minutes * 60.0)
    rhythm = load_bundle(args.model or embedded_bundle("ventricular"))
    if rhythm.task != "ventricular":
        sys.exit(f"--model {args.model} is a {rhythm.task} bundle, not a VT/VF one")
    bundles = [load_bundle(embedded_bundle("arrhythmia")), rhythm]
    t0, rows = time.time(), {}
    for rec in names:
        rows[rec] = run_record(folder, rec, bundles, args, bursts)
        print(f"{rec}: {sum(len(v['alarms']) for k, v in rows[rec].items() if k != 'bursts')}"
              " false critical alarms over its mixes", flush=True)  # fmt: skip
    conditions = ["clean"] + [f"{k} @ {p}" for k in args.kinds for p in args.ptp]
    table = summarise(rows, bursts, conditions)
    n_bursts = sum(r["bursts"] for r in rows.values())
    result = {
        "command": "python benchmarks/tremor_stress.py " + " ".join(sys.argv[1:]),
        "records": names,
        "bursts": {**asdict(bursts), "count": n_bursts, "grace_s": GRACE_S, "ramp_s": RAMP_S},
        "artefact_hours_per_condition": round(n_bursts * bursts.burst_s / 3600, 3),
        "seed": args.seed,
        "ventricular_model": str(args.model or "embedded"),
        "fusion": asdict(fusion_spec(args)),
        "organised_qrs": args.organised_qrs,
        "conditions": table,
        "elapsed_s": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for row in table:
        good, rate = row["gate_share"].get("good", 0.0), row["per_hour_of_artefact"]
        print(f"{row['condition']:<20} false {row['false_critical']:>4} ({rate}/h)  "
              f"gate good {good:.2f}  {row['by_path']}")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
