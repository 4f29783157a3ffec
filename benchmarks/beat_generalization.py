"""Does the beat model hold on patients and databases it never saw? Each bundle is streamed, on
the device path (the edge Monitor that `edge-monitor classify` runs: its R-peak detector, causal
filter at the source rate, resampling, beat context, the int8 model), over MIT-BIH DS2 and the
held-out svdb records (trainer.datasets.beatdb.SVDB_TEST, drawn before training); beats are
matched to the reference at 150 ms (EC57 style, `trainer.metrics.match_beats`) and scored per
database: R-peak Se / +P and the AAMI classes' Se / +P / F1.

    ECG_EDGE_DATA=../shared/data python benchmarks/beat_generalization.py \
        --label before                                   # the embedded bundle
    ECG_EDGE_DATA=../shared/data python benchmarks/beat_generalization.py \
        --label after --bundle runs/compress/arrhythmia-rpi4-v11

`--label B --paired A` streams nothing: it compares two entries' per-record confusions (S and V
F1 difference per database, 95 % interval from resampling whole records).

Each run adds (or replaces) its label in benchmarks/results/beat_generalization.json.
`--resample 128 --databases mitdb` streams DS2 resampled to 128 Hz first: does a 128 Hz front end
work as well as the 360 Hz one?
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import resample_poly
from sklearn.metrics import confusion_matrix

from edge_monitor.bundle import embedded_beat_bundles, embedded_bundle, load_bundle
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.datasets import beatdb
from trainer.datasets.mitdb import AAMI_CLASSES
from trainer.metrics import MISSED, beat_statistics, match_beats

TOLERANCE_S = 0.15
OUT = Path("benchmarks/results/beat_generalization.json")


def stream_record(
    bundle_dir: Path | None,
    path: Path,
    rate: float | None = None,
    channel: int | None = None,
    s_in_af_as_n: bool = False,
    second_lead: bool = False,
    companion: Path | None = None,
) -> dict:
    """One record through the Monitor, matched to its reference beats (AAMI indices); with
    `rate`, first resampled to that rate (polyphase), as another front end gives it; with
    `channel`, read on that channel instead of the beat lead (another lead's labels); with
    `s_in_af_as_n`, S beats inside a standing AF warning are scored as reported: N; with
    `companion`, that bundle reads the beats whose QRS points down."""
    bundles = [load_bundle(p) for p in ([bundle_dir] if bundle_dir else embedded_beat_bundles())]
    if companion is not None:
        bundles.append(load_bundle(companion))
    rec = wfdb.rdrecord(str(path))
    signal, fs = rec.p_signal, float(rec.fs)
    if rate is not None and rate != fs:
        ratio = Fraction(rate / fs).limit_denominator(1000)
        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=0)
        fs = float(rate)
    second = "auto" if second_lead else None
    monitor = Monitor(
        bundles, fs, list(rec.sig_name), channel, s_in_af_as_n=s_in_af_as_n, second_lead=second
    )
    events = [e for e in monitor.stream(signal, block_s=1.0) if isinstance(e, BeatEvent)]
    t, p = matched(path, events, fs, float(rec.fs))
    lead = rec.sig_name[monitor.lead]
    if monitor.second is not None:
        lead += f"+{rec.sig_name[monitor.second.channel]}"
    return {"y_true": t, "y_pred": p, "fs": fs, "lead": lead}


def reference_beats(path: Path) -> tuple[np.ndarray, list[int]]:
    """The record's annotated beats (its own sample numbering) and their AAMI class indices."""
    ann = wfdb.rdann(str(path), "atr")
    to_class = dict(beatdb.MITDB.symbols)
    keep = [i for i, s in enumerate(ann.symbol) if s in to_class]
    return np.asarray(ann.sample)[keep].astype(np.int64), [to_class[ann.symbol[i]] for i in keep]


def matched(path: Path, beats: list[BeatEvent], fs: float, record_fs: float):
    """The device's beats (samples at `fs`) matched to the record's reference beats (at
    `record_fs`) within TOLERANCE_S: reference and device class per beat (`match_beats`)."""
    ref, labels = reference_beats(path)
    return match_beats(
        np.round(ref * fs / record_fs).astype(np.int64),
        labels,
        np.array([e.sample for e in beats]),
        [e.label for e in beats],
        int(TOLERANCE_S * fs),
    )


def database_scores(results: list[dict]) -> dict:
    """R-peak Se / +P and the AAMI classes of one database's records pooled (gross statistics)."""
    t = np.concatenate([r["y_true"] for r in results])
    p = np.concatenate([r["y_pred"] for r in results])
    missed, extra = int((p == MISSED).sum()), int((t == MISSED).sum())
    n_ref = int((t != MISSED).sum())
    found = n_ref - missed
    stats = beat_statistics(t, p, (*AAMI_CLASSES, "none"))["per_class"]
    return {
        "records": len(results),
        "reference_beats": n_ref,
        "r_peak_se": found / n_ref,
        "r_peak_ppv": found / (found + extra),
        **{
            c: {k: stats[c][k] for k in ("se", "ppv", "f1", "support")}
            for c in ("N", "S", "V", "F")
        },
    }


def confusion(result: dict) -> list[list[int]]:
    """One record's reference (rows) x device (columns) counts over N S V F Q and "no beat",
    kept so that two bundles can later be compared record by record (a paired bootstrap)."""
    labels = list(range(MISSED + 1))
    return confusion_matrix(result["y_true"], result["y_pred"], labels=labels).tolist()


def s_and_v(counts: np.ndarray) -> dict:
    """S and V Se / +P / F1 and support from one confusion summed over records (reference
    rows, device columns over N S V F Q and "no beat")."""
    out = {}
    for cls in ("S", "V"):
        k = AAMI_CLASSES.index(cls)
        tp = int(counts[k, k])
        fn, fp = int(counts[k].sum()) - tp, int(counts[:, k].sum()) - tp
        out[cls] = {"se": tp / max(tp + fn, 1), "ppv": tp / max(tp + fp, 1),
                    "f1": 2 * tp / max(2 * tp + fp + fn, 1), "support": tp + fn}  # fmt: skip
    return out


def f1_of(counts: np.ndarray, cls: int) -> np.ndarray:
    """F1 of one class from confusions summed over records (..., rows, columns)."""
    tp = counts[..., cls, cls]
    fp, fn = counts[..., :, cls].sum(-1) - tp, counts[..., cls, :].sum(-1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


def paired(doc: dict, label: str, against: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """F1(label) - F1(against) of S and V per database on the device path, with a 95 % interval
    from resampling whole records (beats of one patient are not independent)."""
    out = {}
    for db, entry in doc[label]["databases"].items():
        ids = entry["record_ids"]
        base = doc[against]["databases"][db]["per_record"]
        a = np.array([entry["per_record"][i] for i in ids])
        b = np.array([base[i] for i in ids])
        idx = np.random.default_rng(seed).integers(0, len(ids), size=(n_boot, len(ids)))
        out[db] = {}
        for c in ("S", "V"):
            k = AAMI_CLASSES.index(c)
            diffs = f1_of(a[idx].sum(1), k) - f1_of(b[idx].sum(1), k)
            lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
            diff = float(f1_of(a.sum(0), k) - f1_of(b.sum(0), k))
            out[db][f"f1_{c}"] = {"diff": diff, "ci_low": float(lo), "ci_high": float(hi)}
    return {"against": against, "unit": "record", **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a bundle folder (default: the embedded one)")
    parser.add_argument(
        "--companion", type=Path, help="a bundle that reads the beats whose QRS points down"
    )
    parser.add_argument("--label", required=True, help="the entry's name in the JSON")
    parser.add_argument("--data", type=Path, help="folder holding mitdb/ and svdb/")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--databases", nargs="+", help="only these test databases")
    parser.add_argument(
        "--resample", type=float, help="resample every record to this rate first (Hz)"
    )
    parser.add_argument(
        "--channel", type=int, help="read every record on this channel, not the beat lead"
    )
    parser.add_argument(
        "--s-in-af-as-n",
        action="store_true",
        help="report S beats inside a standing AF warning as N (Monitor's option) and score that",
    )
    parser.add_argument(
        "--second-lead",
        action="store_true",
        help="also read each beat on the record's other lead where edge_monitor.leads allows "
        "it (Monitor's second_lead, the CLI's --second-lead auto) and score the mean",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--paired",
        metavar="AGAINST",
        help="no streaming: compare the entry --label with the entry AGAINST record by record",
    )
    args = parser.parse_args()
    if args.paired:
        doc = json.loads(args.out.read_text())
        if args.label not in doc or args.paired not in doc:
            raise SystemExit(f"--label and --paired must name entries of {args.out}")
        doc[args.label]["paired"] = paired(doc, args.label, args.paired)
        args.out.write_text(json.dumps(doc, indent=2))
        print(json.dumps(doc[args.label]["paired"], indent=1))
        return
    if args.companion and not args.bundle:  # else two readers of inverted beats, in every worker
        raise SystemExit(
            "error: the embedded beat model has its own companion; give --companion with --bundle"
        )
    root = args.data or beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("no folder holding mitdb/ and svdb/: pass --data or set ECG_EDGE_DATA")
    split = beatdb.multi_db_split(beatdb.available_records(root))
    t0 = time.perf_counter()
    bundle_dir = args.bundle or embedded_bundle("arrhythmia")
    entry: dict = {
        "bundle": str(args.bundle or "embedded"),
        "model_sha256": load_bundle(bundle_dir, probe=False).manifest["model"]["sha256"],
        "databases": {},
    }  # the sha256 says which model an "embedded" entry streamed, whatever is embedded later
    if args.companion:
        entry["companion"] = str(args.companion)
        entry["companion_sha256"] = load_bundle(args.companion, probe=False).manifest["model"][
            "sha256"
        ]
    if args.resample:
        entry["resampled_to_hz"] = args.resample
    if args.channel is not None:
        entry["channel"] = args.channel
    if args.s_in_af_as_n:
        entry["s_in_af_as_n"] = True
    if args.second_lead:
        entry["second_lead"] = "auto"
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, ids in split.test.items():
            if args.databases and name not in args.databases:
                continue
            db = beatdb.database(name)
            paths = [beatdb.root_of(db, root) / i.rpartition("/")[2] for i in ids]
            n = len(paths)
            results = list(
                pool.map(
                    stream_record,
                    [args.bundle] * n,
                    paths,
                    [args.resample] * n,
                    [args.channel] * n,
                    [args.s_in_af_as_n] * n,
                    [args.second_lead] * n,
                    [args.companion] * n,
                )
            )
            entry["databases"][name] = {
                "record_ids": ids,
                "leads": {i: r["lead"] for i, r in zip(ids, results, strict=True)},
                **database_scores(results),
                "per_record": {i: confusion(r) for i, r in zip(ids, results, strict=True)},
            }
            s = entry["databases"][name]
            print(
                f"{name}: R Se/+P {s['r_peak_se']:.3f}/{s['r_peak_ppv']:.3f}  "
                + "  ".join(
                    f"{c} Se/+P/F1 {s[c]['se']:.3f}/{s[c]['ppv']:.3f}/{s[c]['f1']:.3f}"
                    for c in ("S", "V")
                ),
                flush=True,
            )
    entry["seconds"] = time.perf_counter() - t0
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc[args.label] = entry
    args.out.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
