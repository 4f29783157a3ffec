"""The VT/VF window model, cross-validated: each MIT-BIH and CU record is scored by the int8
bundle of the fold that never saw it (`runs/ventricular/folds.json`), over the whole record as
the device streams it (the front end, one window a second).

Per database: window ROC AUC and Se / Sp at the bundle's threshold (windows >= half inside an
episode against windows outside any; edges left out), the same for the device's aggregate (mean
of the last 2 windows, labelled by its 5 s span), 8 s segments shockable (VF / flutter / VT) or
not (the AED literature's metric: a segment is called shockable when the mean of its 5 windows
reaches the threshold; segments >= half in an episode are shockable, those outside any are not,
those with unanalysable signal or in between are left out), false positive windows by MIT-BIH
rhythm (AF, bigeminy, trigeminy...), and recorded noise alone and mixed into non-VT windows
(the test halves of nstdb, which no model trained on).

    python benchmarks/ventricular_model.py folds      # write runs/ventricular/folds.json
    ECG_EDGE_DATA=../shared/data python benchmarks/ventricular_model.py score
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from edge_monitor.bundle import load_bundle
from edge_monitor.errors import EcgEdgeError, first_line
from edge_monitor.inference import open_session, probabilities
from edge_monitor.wfdb_io import read_annotations, read_header
from trainer.datasets import ventricular as vdata
from trainer.datasets.mitdb import parse_rhythms

SEGMENT = 1000  # 8 s at 125 Hz
RUNS = Path("runs/ventricular")
OUT = Path("benchmarks/results/ventricular_model.json")
MIX_SNR_DB = (0.0, 6.0, 12.0)


def write_folds(root: Path | None, runs: Path, paced: bool = False) -> dict[str, str]:
    """record -> the bundle of the fold that holds it out (`runs/fold-K/bundle`); `paced`: the
    paced records too, for fold sets trained with them (`$ECG_EDGE_VENTRICULAR_PACED`)."""
    infos = vdata.load_corpus(root, paced=paced).infos()
    folds = vdata.assign_folds(infos)
    mapping = {g: str(runs / f"fold-{k}" / "bundle") for g, k in sorted(folds.items())}
    (runs / "folds.json").write_text(json.dumps(mapping, indent=2) + "\n")
    return mapping


class Scorer:
    """One int8 bundle: window probabilities over a model-rate signal, one window a stride."""

    def __init__(self, bundle_dir: Path) -> None:
        self.bundle = load_bundle(bundle_dir)
        self.contract = self.bundle.contract
        self.session = open_session(self.bundle.model_path, 1)
        self.threshold = float((self.contract.thresholds or [0.5])[0])

    def windows(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Starts every stride and P(VT/VF) of each (NaN where the window holds bad signal)."""
        w, stride = self.contract.input.window, self.contract.input.stride
        starts = np.arange(0, len(signal) - w + 1, stride)
        probs = np.full(len(starts), np.nan)
        for i, s in enumerate(starts):
            x = signal[s : s + w]
            if np.isfinite(x).all():
                out = self.session.run(None, {"ecg": x[None, None].astype(np.float32)})[0][0]
                probs[i] = probabilities(self.contract, out)[0]
        return starts, probs


def span_share(episode: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    cum = np.concatenate([[0], np.cumsum(episode)])
    return (cum[starts + length] - cum[starts]) / length


def record_rows(scorer: Scorer, record: dict) -> dict[str, np.ndarray]:
    """Window, aggregate and 8 s segment probabilities with their episode shares."""
    signal, episode = record["signal"], record["episode"]
    starts, p = scorer.windows(signal)
    w, stride = scorer.contract.input.window, scorer.contract.input.stride
    k = scorer.contract.input.windows_per_record
    agg = np.array([np.mean(p[max(0, i - k + 1) : i + 1]) for i in range(len(p))])
    agg_start = np.maximum(starts - (k - 1) * stride, 0)
    agg_len = starts + w - agg_start
    agg_share = np.array(
        [episode[a : a + n].mean() for a, n in zip(agg_start, agg_len, strict=True)]
    )
    seg_starts = np.arange(0, len(signal) - SEGMENT + 1, SEGMENT)
    per_seg = (SEGMENT - w) // stride + 1
    seg_p = np.array(
        [np.mean(p[s // stride : s // stride + per_seg]) for s in seg_starts]
    )  # NaN when any window is unanalysable
    return {
        "p": p,
        "share": span_share(episode, starts, w),
        "starts": starts,
        "agg": agg,
        "agg_share": agg_share,
        "seg_p": seg_p,
        "seg_share": span_share(episode, seg_starts, SEGMENT),
    }


def se_sp(p: np.ndarray, share: np.ndarray, thr: np.ndarray) -> dict:
    """AUC, Se, Sp over the clearly labelled, analysable rows (`thr`: each row's threshold,
    its fold bundle's; the AUC pools the folds' probabilities)."""
    ok = np.isfinite(p) & ((share == 0) | (share >= vdata.POSITIVE_SHARE))
    y, p, thr = share[ok] >= vdata.POSITIVE_SHARE, p[ok], thr[ok]
    hit = p >= thr
    return {
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
        "se": float(hit[y].mean()) if y.any() else None,
        "sp": float((~hit[~y]).mean()) if (~y).any() else None,
    }


def rhythm_false_positives(folder: Path, name: str, rows: dict, thr: float) -> dict:
    """MIT-BIH: windows outside VT/VF called VT/VF, by the rhythm at the window's centre."""
    header = read_header(folder / name)
    ann = read_annotations(folder / name)
    aux = list(ann.aux_note) if ann.aux_note is not None else [""] * len(ann.symbol)
    eps = parse_rhythms(name, np.asarray(ann.sample), list(ann.symbol), aux, header.sig_len)
    out: dict[str, list[int]] = {}
    centres = (rows["starts"] + vdata.WINDOW // 2) * float(header.fs) / vdata.FS
    for c, p, share in zip(centres, rows["p"], rows["share"], strict=True):
        if share > 0 or not np.isfinite(p):
            continue
        label = next((e.label for e in eps if e.start <= c < e.end), "unannotated")
        n = out.setdefault(label, [0, 0])
        n[0] += int(p >= thr)
        n[1] += 1
    return out


def noise_check(scorer: Scorer, windows: vdata.Windows, tracks: dict, rng) -> dict:
    """False VT/VF calls on test-half nstdb noise alone, and on non-VT windows of the fold's
    own test records with that noise mixed in at fixed SNRs: [called, windows]."""
    from trainer.datasets.nstdb import gain_for_snr

    result = {}
    for name, t in tracks.items():
        _, p = scorer.windows(t)
        ok = np.isfinite(p)
        result[f"alone_{name}"] = [int((p[ok] >= scorer.threshold).sum()), int(ok.sum())]
    pick = rng.choice(len(windows), size=min(600, len(windows)), replace=False)
    names = list(tracks)
    for snr in MIX_SNR_DB:
        hits = 0
        for i in pick:
            t = tracks[names[rng.integers(len(names))]]
            a = rng.integers(0, len(t) - vdata.WINDOW)
            piece = t[a : a + vdata.WINDOW] - t[a : a + vdata.WINDOW].mean()
            ecg = windows.x[i, 0]
            x = ecg + gain_for_snr(snr, float(np.ptp(ecg)), float(piece.std())) * piece
            out = scorer.session.run(None, {"ecg": x[None, None].astype(np.float32)})[0][0]
            hits += int(probabilities(scorer.contract, out)[0] >= scorer.threshold)
        result[f"mixed_{snr:g}dB"] = [hits, len(pick)]
    return result


KEYS = ("p", "share", "agg", "agg_share", "seg_p", "seg_share")


def score(root: Path | None, folds_path: Path) -> dict:
    mapping = json.loads(folds_path.read_text())
    # a fold set trained with the paced records maps them: score them too (by their folds)
    corpus = vdata.load_corpus(root, paced=any(g in vdata.PACED_GROUPS for g in mapping))
    scorers = {b: Scorer(Path(b)) for b in sorted(set(mapping.values()))}
    pooled: dict[str, dict[str, list]] = {}
    per_record, rhythms = {}, {}
    mitdb = vdata.SOURCES["mitdb"].folder(root)
    for group, record in corpus.records.items():
        scorer = scorers[mapping[group]]
        rows = record_rows(scorer, record)
        db, name = group.split("/")
        acc = pooled.setdefault(db, {k: [] for k in (*KEYS, "thr", "seg_thr", "agg_thr")})
        for k in KEYS:
            acc[k].append(rows[k])
        acc["thr"].append(np.full(len(rows["p"]), scorer.threshold))
        acc["agg_thr"].append(np.full(len(rows["p"]), scorer.threshold))
        acc["seg_thr"].append(np.full(len(rows["seg_p"]), scorer.threshold))
        thr = np.full(len(rows["p"]), scorer.threshold)
        per_record[group] = {
            "bundle": mapping[group],
            "episode_s": float(record["episode"].sum() / vdata.FS),
            "windows": se_sp(rows["p"], rows["share"], thr),
        }
        if db == "mitdb":
            for label, (hit, n) in rhythm_false_positives(
                mitdb, name, rows, scorer.threshold
            ).items():
                tot = rhythms.setdefault(label, [0, 0])
                tot[0], tot[1] = tot[0] + hit, tot[1] + n
    per_db = {}
    for db, acc in pooled.items():
        a = {k: np.concatenate(v) for k, v in acc.items()}
        per_db[db] = {
            "windows_4s": se_sp(a["p"], a["share"], a["thr"]),
            "device_aggregate_5s": se_sp(a["agg"], a["agg_share"], a["agg_thr"]),
            "segments_8s": se_sp(a["seg_p"], a["seg_share"], a["seg_thr"]),
        }
    noise = noise_by_fold(root, corpus, mapping, scorers)
    return {
        "per_database": per_db,
        "mitdb_false_positive_windows_by_rhythm": {
            k: {"called": h, "windows": n, "rate": h / n if n else None}
            for k, (h, n) in sorted(rhythms.items())
        },
        "noise": noise,
        "bundles": {
            b: {
                "threshold": s.threshold,
                "params": s.contract.provenance.get("size", {}).get("params"),
            }
            for b, s in scorers.items()
        },
        "per_record": per_record,
    }


def noise_by_fold(root, corpus: vdata.Corpus, mapping: dict, scorers: dict) -> dict:
    tracks = vdata.noise_tracks(root, "test")
    rng = np.random.default_rng(0)
    out = {}
    for bundle, scorer in scorers.items():
        groups = [g for g, b in mapping.items() if b == bundle]
        w, y = vdata.labelled(corpus.windows(groups))
        keep = y == 0
        negatives = vdata.Windows(w.x[keep], w.share[keep], w.groups[keep], w.starts[keep])
        out[bundle] = noise_check(scorer, negatives, tracks, rng)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("folds", "score"))
    ap.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder of mitdb/, cudb/, nstdb/ (else $ECG_EDGE_DATA)",
    )
    ap.add_argument("--runs", type=Path, default=RUNS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--paced",
        action="store_true",
        help="folds: map the paced records to their folds (sets trained with them)",
    )
    args = ap.parse_args()
    if args.what == "folds":
        # a set trained with $ECG_EDGE_VENTRICULAR_PACED set must map its paced records to the
        # folds that held them out, not to fold-all, which trained on them
        paced = args.paced or vdata.paced_from_env(dict(os.environ))
        mapping = write_folds(args.data, args.runs, paced)
        print(f"wrote {args.runs / 'folds.json'} ({len(mapping)} records)")
        return
    t0 = time.perf_counter()
    result = score(args.data, args.runs / "folds.json")
    result["command"] = "python benchmarks/ventricular_model.py " + " ".join(sys.argv[1:])
    result["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for db, r in result["per_database"].items():
        for level, m in r.items():
            print(
                db, level, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except EcgEdgeError as exc:  # bad input: one line, exit 1
        sys.exit(f"error: {first_line(exc)}")
