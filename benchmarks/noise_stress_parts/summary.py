"""The runs of each condition (clean, or a noise at an SNR) summed: R-peak and V / S beat Se / +P,
false critical alarms per hour, inconclusive time; and the table printed at the end."""

from __future__ import annotations

import numpy as np

from trainer.datasets.mitdb import AAMI_CLASSES
from trainer.metrics import MISSED, beat_statistics


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


def print_table(summary: dict) -> None:
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
