"""The classify outputs scored against the reference: AF alerts in and outside AF episodes,
critical alarms inside annotated noise; per record and summed over each database."""

from __future__ import annotations

import numpy as np

from .annotations import inside, span_seconds, spans_until_next

MIN_AF_EPISODE_S = 30.0


def score_alerts(events: list[dict], ref: dict) -> dict:
    """AF raises in / outside AF episodes, critical alarms in noise, for one record."""
    fs = ref["fs"]
    raised = [
        e for e in events if e.get("type") == "alert" and e.get("level") in ("warning", "critical")
    ]
    af_raised = [int(e["sample"]) for e in raised if e.get("label") == "AF"]
    critical = [e for e in events if e.get("type") == "alert" and e.get("level") == "critical"]
    # when the AF alert stood: from a raise to the next AF 'cleared' (or the record's end)
    af_events = [
        (int(e["sample"]), e.get("level"))
        for e in events
        if e.get("type") == "alert" and e.get("label") == "AF"
    ]
    standing = spans_until_next(
        [s for s, _ in af_events],
        [lv for _, lv in af_events],
        lambda lv: lv in ("warning", "critical"),
        ref["n"],
    )
    episodes = []
    for a, b in ref["af"]:
        inside_raises = [s for s in af_raised if a <= s < b]
        episodes.append(
            {
                "start_s": round(a / fs, 1),
                "seconds": round((b - a) / fs, 1),
                "warned": bool(inside_raises),
                "alert_standing": any(x < b and a < y for x, y in standing),
                "delay_s": round((inside_raises[0] - a) / fs, 1) if inside_raises else None,
            }
        )
    crit_noise = [e for e in critical if inside(int(e["sample"]), ref["noise"])]
    return {
        "af_episodes": episodes,
        "af_raised": len(af_raised),
        "af_raised_outside": sum(1 for s in af_raised if not inside(s, ref["af"])),
        "af_seconds": round(span_seconds(ref["af"], fs), 1),
        "critical": len(critical),
        "critical_in_noise": len(crit_noise),
        "critical_in_noise_outside_vt_vf": sum(
            1 for e in crit_noise if not inside(int(e["sample"]), ref["vf"])
        ),
        "critical_in_noise_labels": sorted({str(e.get("label")) for e in crit_noise}),
        "noise_seconds": round(span_seconds(ref["noise"], fs), 1),
        "noise_source": ref["noise_source"],
        "annotated": ref["annotated"],
    }


def per_hour(count: int, seconds: float) -> float | None:
    return round(count / (seconds / 3600.0), 3) if seconds > 0 else None


def summarise_reference(rows: list[dict]) -> dict:
    out: dict = {}
    mit = [r for r in rows if r["database"] == "mitdb" and r.get("scored")]
    if mit:
        eps = [e for r in mit for e in r["scored"]["af_episodes"]]
        long_eps = [e for e in eps if e["seconds"] >= MIN_AF_EPISODE_S]
        total_s = sum(r["record_seconds"] for r in mit)
        af_s = sum(r["scored"]["af_seconds"] for r in mit)
        outside = sum(r["scored"]["af_raised_outside"] for r in mit)
        delays = [e["delay_s"] for e in long_eps if e["delay_s"] is not None]
        out["af_mitdb"] = {
            "records": len(mit),
            "records_with_af": sorted(r["record"] for r in mit if r["scored"]["af_episodes"]),
            "episodes_ge_30s": len(long_eps),
            "episodes_ge_30s_warned": sum(e["warned"] for e in long_eps),
            "episode_sensitivity": round(sum(e["warned"] for e in long_eps) / len(long_eps), 3)
            if long_eps
            else None,
            "episodes_ge_30s_alert_standing": sum(e["alert_standing"] for e in long_eps),
            "all_episodes": len(eps),
            "all_episodes_warned": sum(e["warned"] for e in eps),
            "median_delay_s": float(np.median(delays)) if delays else None,
            "false_af_raised": outside,
            "hours_outside_af": round((total_s - af_s) / 3600.0, 3),
            "false_af_per_hour": per_hour(outside, total_s - af_s),
            "missed_episodes_ge_30s": [
                {"record": r["record"], **e}
                for r in mit
                for e in r["scored"]["af_episodes"]
                if e["seconds"] >= MIN_AF_EPISODE_S and not e["warned"]
            ],
        }
    noise: dict = {}
    for db in sorted({r["database"] for r in rows}):
        rs = [r for r in rows if r["database"] == db and r.get("scored")]
        if not rs:
            continue
        total_s = sum(r["record_seconds"] for r in rs)
        noise_s = sum(r["scored"]["noise_seconds"] for r in rs)
        crit = sum(r["scored"]["critical"] for r in rs)
        crit_noise = sum(r["scored"]["critical_in_noise"] for r in rs)
        noise[db] = {
            "records": len(rs),
            "hours": round(total_s / 3600.0, 3),
            "noise_hours": round(noise_s / 3600.0, 3),
            "critical": crit,
            "critical_per_hour": per_hour(crit, total_s),
            "critical_in_noise": crit_noise,
            "critical_in_noise_per_noise_hour": per_hour(crit_noise, noise_s),
            "critical_in_noise_per_hour": per_hour(crit_noise, total_s),
            "critical_in_noise_outside_vt_vf": sum(
                r["scored"]["critical_in_noise_outside_vt_vf"] for r in rs
            ),
        }
    out["critical_by_database"] = noise
    return out
