"""Noise stress test of the monitor, in the style of AAMI EC57 with the MIT-BIH NST protocol.

Every MIT-BIH DS2 record gets real recorded noise on its MLII lead (baseline wander `bw`, muscle
`ma`, electrode motion `em` recovered from the 118e* records) at SNR 24 ... -6 dB with nst's
protocol and SNR definition (trainer/datasets/nstdb.py), and streams through the edge Monitor with
the embedded models as `edge-monitor` runs them on an MLII record (the beat model and the VT/VF
rhythm model; `--models beat`: the beat model alone, as before the VT/VF model). Scored from
minute 5 on (the protocol's test period):
- R-peak and V / S beat Se / +P against the reference annotations (150 ms matching), over all
  beats and over the beats the monitor did not call inconclusive ("gated", with the coverage);
- false critical alerts per hour: a VT / VF / asystole alarm with no reference event (a run of
  >= 3 ventricular beats, a flutter/fibrillation episode, a gap of >= 3.85 s between beats: 4 s
  less the 150 ms matching tolerance) from 2 s after it back to 10 s before it;
- how much of the noisy and of the clean time the monitor graded not analysable.

Before mixing, the mixer is checked against the published 118e24/12/00/_6 records (their SNR as
measured by our definition, and our own mix of 118 + em against them, per lead).

    python benchmarks/noise_stress.py --mitdb ../shared/data/mitdb --nstdb ../shared/data/nstdb

Writes benchmarks/results/noise_stress.json (about 15 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_monitor.alerts import CRITICAL, AlertEvent, AlertSpec
from edge_monitor.bundle import Bundle, embedded_bundle, load_bundle, sha256_file
from edge_monitor.contract import read_contract
from edge_monitor.pipeline import SETTLE_S, BeatEvent, Monitor, QualityEvent
from edge_monitor.quality import QualitySpec
from edge_monitor.wfdb_io import read_annotations, read_signal
from trainer.datasets import nstdb
from trainer.datasets.mitdb import AAMI_CLASSES, DS2, SYMBOL_TO_CLASS
from trainer.metrics import MISSED, beat_statistics, match_beats

SNRS = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
FS = 360.0
TOL = int(0.15 * FS)
ALERT_BEFORE_S, ALERT_AFTER_S = 2.0, 10.0
_CONTEXT: dict = {}


@dataclass(frozen=True)
class Task:
    record: str
    noise: str  # "clean" or a noise name
    snr: float | None


def reference_events(
    record: Path, fs: float
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans that justify a critical alarm (V runs >= 3, VF/VFL episodes, gaps within the matching
    tolerance of the asystole time or longer) and,
    among them, those a monitor must alarm on (V runs as long and fast as the VT rule's)."""
    spec = AlertSpec()
    ann = read_annotations(record)
    spans, required = [], []
    beats = [
        (s, sym) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in SYMBOL_TO_CLASS
    ]
    run: list[int] = []
    for s, sym in beats + [(None, "N")]:
        if sym in "VE":
            run.append(int(s))
            continue
        if len(run) >= spec.vrun_beats:
            spans.append((run[0], run[-1]))
        if len(run) >= spec.vt_beats:
            fast = [
                60 * fs / np.mean(np.diff(run[i : i + spec.vt_beats]))
                for i in range(len(run) - spec.vt_beats + 1)
            ]
            if max(fast) >= spec.vt_rate_bpm:
                required.append((run[0], run[-1]))
        run = []
    rhythm_start = None
    for s, aux in zip(ann.sample, ann.aux_note, strict=True):
        aux = (aux or "").strip("\x00 ")
        if aux.startswith("("):
            if rhythm_start is not None:
                spans.append((rhythm_start, int(s)))
                required.append((rhythm_start, int(s)))
                rhythm_start = None
            if aux.startswith(("(VF", "(VFL")):
                rhythm_start = int(s)
    samples = np.array([b[0] for b in beats])
    rr = np.diff(samples) / fs
    # the monitor times silence from its own R peaks, which may sit up to the beat-matching
    # tolerance from the reference marks: a 3.99 s reference pause can be a 4 s one to it
    at = np.flatnonzero(rr >= spec.asystole_s - TOL / fs)
    gaps = [(int(samples[i]), int(samples[i + 1])) for i in at]
    # the clock is checked once per second and the detector decides late: a pause must outlast
    # the asystole time by a second to be one the monitor has to catch
    long_gaps = [gap for i, gap in zip(at, gaps, strict=True) if rr[i] >= spec.asystole_s + 1]
    return spans + gaps, required + long_gaps


def monitor_events(monitor: Monitor, x: np.ndarray) -> list:
    """Every event of a whole record pushed in one-second blocks, as a serial source delivers."""
    return monitor.stream(x, block_s=1.0)


def justified(sample: int, spans: list[tuple[int, int]]) -> bool:
    """Is a critical alarm at `sample` explained by one of the reference spans (from 10 s
    before it to 2 s after)?"""
    before, after = int(ALERT_BEFORE_S * FS), int(ALERT_AFTER_S * FS)
    return any(a - before <= sample <= b + after for a, b in spans)


def stream(
    bundles: list[Bundle], x: np.ndarray, sig_name: list[str], quality: QualitySpec | None = None
) -> dict:
    monitor = Monitor(bundles, FS, sig_name, quality=quality)
    beats, labels, alerts, bad = [], [], [], []
    for e in monitor_events(monitor, x):
        if isinstance(e, BeatEvent):
            beats.append(e.sample)
            labels.append(e.label)
        elif isinstance(e, AlertEvent) and e.level == CRITICAL:
            alerts.append((e.sample, e.label))
        elif isinstance(e, QualityEvent) and not e.segment.ok:
            bad.append((e.segment.start, e.segment.end))
    return {"beats": np.array(beats), "labels": labels, "alerts": alerts, "bad": bad}


def _mask(n: int, spans, pad_after: int = 0) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in spans:
        m[max(0, a) : min(n, b + pad_after)] = True
    return m


def mixed(task: Task, reverse: bool) -> tuple[np.ndarray, dict, Path, list[tuple[int, int]]]:
    """The record with the task's noise on MLII by the protocol (signal, header, path, the
    noisy spans)."""
    path = _CONTEXT["mitdb"] / task.record
    x, header = read_signal(path)
    n = len(x)
    lead = header["sig_name"].index("MLII")
    spans = nstdb.noisy_spans(n, FS)
    if task.noise != "clean":
        noise = _CONTEXT["noise"][task.noise].signal
        if reverse:  # a second realisation: each noise burst played backwards (em is only
            noise = noise.copy()  # known inside the protocol's bursts)
            for a, b in spans:
                noise[a:b] = noise[a:b][::-1]
        s = nstdb.qrs_amplitude(x[:, lead], nstdb.normal_beats(path), FS)
        g = nstdb.gain_for_snr(task.snr, s, nstdb.noise_amplitude(noise, FS, spans))
        x = x.copy()
        x[:, lead] = nstdb.add_noise(x[:, lead], noise[:n], g, spans)
    return x, header, path, spans


def run_task(task: Task) -> dict:
    ctx = _CONTEXT
    x, header, path, spans = mixed(task, ctx["reverse"])
    n = len(x)
    out = stream(ctx["bundles"], x, header["sig_name"], ctx["quality"])
    test_start = int(nstdb.CLEAN_S * FS)
    ann = read_annotations(path)
    keep = [i for i, sym in enumerate(ann.symbol) if sym in SYMBOL_TO_CLASS]
    ref = np.asarray(ann.sample)[keep]
    ref_labels = np.array([SYMBOL_TO_CLASS[ann.symbol[i]] for i in keep])
    got, got_labels = out["beats"], np.array(out["labels"], dtype=object)
    bad = _mask(n, out["bad"], pad_after=int(SETTLE_S * FS))
    noisy = _mask(n, spans)
    test = np.zeros(n, bool)
    test[test_start:] = True

    def score(use_ref: np.ndarray, use_got: np.ndarray) -> tuple[list[int], list[int]]:
        return match_beats(
            ref[use_ref], list(ref_labels[use_ref]), got[use_got], list(got_labels[use_got]), TOL
        )

    in_test_ref, in_test_got = test[ref], test[got] if len(got) else np.zeros(0, bool)
    all_t, all_p = score(in_test_ref, in_test_got)
    gated_ref = in_test_ref & ~bad[ref]
    gated_got = in_test_got & (~bad[got] if len(got) else np.zeros(0, bool))
    gated_t, gated_p = score(gated_ref, gated_got)

    events, required = reference_events(path, FS)
    alert_samples = [a for a, _ in out["alerts"]]
    required = [(a, b) for a, b in required if a >= test_start]
    found = sum(any(justified(t, [span]) for t in alert_samples) for span in required)
    critical = []
    for sample, label in out["alerts"]:
        if sample < test_start:
            continue
        true = justified(sample, events)
        critical.append(
            {
                "sample": int(sample),
                "label": label,
                "true": true,
                "in_noise": bool(noisy[min(sample, n - 1)]),
            }
        )
    seconds_bad = _mask(n, out["bad"])
    return {
        "record": task.record,
        "noise": task.noise,
        "snr": task.snr,
        "all": (all_t, all_p),
        "gated": (gated_t, gated_p),
        "reference_beats": int(in_test_ref.sum()),
        "gated_reference_beats": int(gated_ref.sum()),
        "critical": critical,
        "critical_events": len(required),
        "critical_events_found": int(found),
        "test_hours": float(test.sum() / FS / 3600),
        "noisy_hours": float(noisy.sum() / FS / 3600),
        "inconclusive_noisy": float(seconds_bad[noisy].mean()),
        "inconclusive_clean": float(seconds_bad[test & ~noisy].mean()),
    }


def commit() -> str | None:
    """The git commit of the code measured ('+dirty' when edge_monitor has changes)."""
    import subprocess

    git = ["git", "-C", str(Path(__file__).resolve().parent.parent)]
    rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
    if rev.returncode:
        return None
    dirty = subprocess.run([*git, "status", "--porcelain", "edge_monitor"], capture_output=True)
    return rev.stdout.decode().strip() + ("+dirty" if dirty.stdout.strip() else "")


def load_model(bundle: Path | None, model: Path | None) -> Bundle:
    """The bundle, or for an experiment a bare ONNX model (its own contract) run in the embedded
    bundle's place: no sha256 to check, so never a way to ship one."""
    loaded = load_bundle(bundle or embedded_bundle("arrhythmia"))
    if model is None:
        return loaded
    return replace(loaded, model_path=model, contract=read_contract(model))


def _init(
    mitdb: Path,
    nstdb_dir: Path,
    quality: QualitySpec,
    bundle: Path | None,
    model: Path | None,
    reverse: bool = False,
    ventricular: bool = False,
) -> None:
    _CONTEXT["mitdb"] = mitdb
    _CONTEXT["reverse"] = reverse
    _CONTEXT["quality"] = quality
    _CONTEXT["bundle"] = load_model(bundle, model)
    # as `edge-monitor` runs on an MLII record by default: the beat model and the VT/VF model,
    # whose rhythm verdict the VT / VF alarms are fused with
    extra = [load_bundle(embedded_bundle("ventricular"))] if ventricular else []
    _CONTEXT["bundles"] = [_CONTEXT["bundle"], *extra]
    _CONTEXT["noise"] = {
        name: nstdb.load_noise(name, nstdb_dir, mitdb) for name in nstdb.NOISE_NAMES
    }


def mixer_check(mitdb: Path, nstdb_dir: Path) -> dict:
    """Our SNR of the published 118e* records, and our mix of 118 + em against them, per lead."""
    clean, header = read_signal(mitdb / "118")
    beats = nstdb.normal_beats(mitdb / "118")
    spans = nstdb.noisy_spans(len(clean), FS)
    out = {}
    for tag, nominal in (("24", 24.0), ("12", 12.0), ("00", 0.0), ("_6", -6.0)):
        published, _ = read_signal(nstdb_dir / f"118e{tag}")
        leads = {}
        for ch, name in enumerate(header["sig_name"]):
            s = nstdb.qrs_amplitude(clean[:, ch], beats, FS)
            measured = nstdb.snr_db(
                s, nstdb.noise_amplitude(published[:, ch] - clean[:, ch], FS, spans)
            )
            em = nstdb.recover_em(nstdb_dir, mitdb, channel=ch)
            g = nstdb.gain_for_snr(nominal, s, nstdb.noise_amplitude(em.signal, FS, spans))
            mine = nstdb.add_noise(clean[:, ch], em.signal, g, spans)
            d = np.concatenate(
                [(mine - published[:, ch])[a:b] - (mine - published[:, ch])[a] for a, b in spans]
            )
            leads[name] = {
                "published_snr_db": round(measured, 3),
                "nominal_snr_db": nominal,
                "our_mix_minus_published_rms_mv": float(np.sqrt(np.mean(d**2))),
                "published_noise_rms_mv": float(
                    nstdb.noise_amplitude(published[:, ch] - clean[:, ch], FS, spans)
                ),
            }
        out[f"118e{tag}"] = leads
    return out


def summarise(results: list[dict]) -> dict:
    classes = (*AAMI_CLASSES, "none")
    groups: dict[str, list[dict]] = {}
    for r in results:
        key = "clean" if r["noise"] == "clean" else f"{r['noise']}_{r['snr']:+g}"
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rows in groups.items():
        entry = {"noise": rows[0]["noise"], "snr_db": rows[0]["snr"], "records": len(rows)}
        for which in ("all", "gated"):
            t = np.concatenate([r[which][0] for r in rows]).astype(int)
            p = np.concatenate([r[which][1] for r in rows]).astype(int)
            stats = beat_statistics(t, p, classes)["per_class"]
            det_tp = int(((t != MISSED) & (p != MISSED)).sum())
            det_fn = int(((t != MISSED) & (p == MISSED)).sum())
            det_fp = int(((t == MISSED) & (p != MISSED)).sum())
            entry[which] = {
                "r_peak_se": det_tp / max(det_tp + det_fn, 1),
                "r_peak_ppv": det_tp / max(det_tp + det_fp, 1),
                **{f"{c}_{m}": stats[c][m] for c in ("V", "S") for m in ("se", "ppv")},
            }
        ref = sum(r["reference_beats"] for r in rows)
        entry["gated"]["coverage"] = sum(r["gated_reference_beats"] for r in rows) / max(ref, 1)
        hours = sum(r["test_hours"] for r in rows)
        noisy_hours = sum(r["noisy_hours"] for r in rows)
        crit = [c for r in rows for c in r["critical"]]
        false = [c for c in crit if not c["true"]]
        entry["critical_alerts"] = len(crit)
        entry["true_critical_alerts"] = len(crit) - len(false)
        entry["false_critical"] = len(false)
        entry["critical_events"] = sum(r["critical_events"] for r in rows)
        entry["critical_events_found"] = sum(r["critical_events_found"] for r in rows)
        entry["false_critical_per_hour"] = len(false) / hours
        entry["false_critical_per_noisy_hour"] = sum(c["in_noise"] for c in false) / noisy_hours
        entry["false_critical_by_label"] = {
            lab: sum(c["label"] == lab for c in false)
            for lab in sorted({c["label"] for c in false})
        }
        entry["false_critical_records"] = sorted(
            {r["record"] for r in rows for c in r["critical"] if not c["true"]}
        )
        entry["inconclusive_noisy"] = float(np.mean([r["inconclusive_noisy"] for r in rows]))
        entry["inconclusive_clean"] = float(np.mean([r["inconclusive_clean"] for r in rows]))
        entry["test_hours"] = hours
        out[key] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--nstdb", type=Path, required=True)
    parser.add_argument("--records", nargs="*", default=list(DS2))
    parser.add_argument("--noise", nargs="*", default=list(nstdb.NOISE_NAMES))
    parser.add_argument("--snr", nargs="*", type=float, default=list(SNRS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bundle", type=Path, help="a bundle folder (default: the embedded one)")
    parser.add_argument(
        "--model", type=Path, help="experiment: an ONNX model in the bundle's place"
    )
    parser.add_argument(
        "--min-agreement",
        type=float,
        default=QualitySpec().min_agreement,
        help="the quality gate's detector agreement threshold (to tune it on DS1 records)",
    )
    parser.add_argument(
        "--reverse-noise",
        action="store_true",
        help="play each 2-minute noise burst backwards: a second realisation with the same "
        "spectrum and amplitudes, to see how much one alarm count depends on where it falls",
    )
    parser.add_argument(
        "--models",
        choices=["default", "beat"],
        default="default",
        help="default: the beat model and the embedded VT/VF model, as edge-monitor runs an MLII "
        "record; beat: the beat model alone (the results before the VT/VF model)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/noise_stress.json"))
    args = parser.parse_args()
    quality = QualitySpec(min_agreement=args.min_agreement)
    t0 = time.perf_counter()
    check = mixer_check(args.mitdb, args.nstdb)
    for rec, leads in check.items():
        print(rec, {k: v["published_snr_db"] for k, v in leads.items()}, flush=True)
    tasks = [Task(r, "clean", None) for r in args.records]
    tasks += [Task(r, nz, snr) for nz in args.noise for snr in args.snr for r in args.records]
    ctx = mp.get_context("spawn")
    with ctx.Pool(
        args.workers,
        initializer=_init,
        initargs=(
            *(args.mitdb, args.nstdb, quality, args.bundle, args.model, args.reverse_noise),
            args.models == "default",
        ),
    ) as pool:
        results = []
        for i, r in enumerate(pool.imap_unordered(run_task, tasks), 1):
            results.append(r)
            if i % 20 == 0 or i == len(tasks):
                print(f"{i}/{len(tasks)} runs, {time.perf_counter() - t0:.0f} s", flush=True)
    summary = summarise(results)
    per_record_false = [
        {"record": r["record"], "noise": r["noise"], "snr": r["snr"], **c}
        for r in results
        for c in r["critical"]
        if not c["true"]
    ]
    result = {
        "bundle": str(args.bundle or "embedded arrhythmia"),
        "models": args.models,
        "ventricular_bundle": None
        if args.models != "default"
        else {"sha256": sha256_file(embedded_bundle("ventricular") / "model.onnx")},
        "commit": commit(),
        "model": None
        if args.model is None
        else {"path": str(args.model), "sha256": sha256_file(args.model)},
        "records": args.records,
        "reverse_noise": args.reverse_noise,
        "quality_spec": quality.as_dict(),
        "protocol": {"clean_s": nstdb.CLEAN_S, "segment_s": nstdb.SEGMENT_S, "lead": "MLII"},
        "alert_window_s": [-ALERT_AFTER_S, ALERT_BEFORE_S],
        "mixer_check": check,
        "summary": summary,
        "false_critical_alerts": per_record_false,
        "seconds": time.perf_counter() - t0,
    }
    args.out.write_text(json.dumps(result, indent=2))
    columns = ("R Se", "R +P", "V Se", "V +P", "S Se", "S +P", "cover", "fcrit/h", "events")
    print(f"{'condition':>10} " + " ".join(f"{c:>7}" for c in columns) + "  inc.noisy inc.clean")
    for key, e in summary.items():
        a, g = e["all"], e["gated"]
        values = [a[k] for k in ("r_peak_se", "r_peak_ppv", "V_se", "V_ppv", "S_se", "S_ppv")]
        values += [g["coverage"], e["false_critical_per_hour"]]
        found = f"{e['critical_events_found']}/{e['critical_events']}"
        print(
            f"{key:>10} " + " ".join(f"{v:7.3f}" for v in values) + f" {found:>7}"
            f"  {e['inconclusive_noisy']:9.3f} {e['inconclusive_clean']:9.3f}"
        )


if __name__ == "__main__":
    main()
