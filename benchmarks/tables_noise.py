"""Markdown rows for the noise benchmarks (noise_stress.py, vt_confidence.py).

`noise_rows` renders one noise_stress JSON file; `comparison_rows` puts two of them side by side
(any two: which ones is the caller's choice, given on the command line of `results_table.py`).
"""

from __future__ import annotations


def condition(key: str, e: dict) -> str:
    """A summary entry's name: 'no noise added' or 'em +6 dB'."""
    return "no noise added" if key == "clean" else f"{e['noise']} {e['snr_db']:+g} dB"


def measured(d: dict) -> str:
    """What a noise_stress file measured: the bundle, the model file if one was given, the noise."""
    bundle, model = d["bundle"], d.get("model")
    what = f"the {bundle} bundle" if bundle.startswith("embedded") else f"bundle `{bundle}`"
    what += f", model `{model['path']}`" if model else ""
    return what + (", noise bursts played backwards" if d.get("reverse_noise") else "")


def noise_rows(d: dict) -> list[str]:
    """Every condition of one noise_stress run: R peaks, beats, alarms, the quality gate."""
    rows = [
        "| noise, SNR | R-peak Se / +P | V Se / +P | S Se / +P | false critical / h "
        "(in noise) | critical events found | inconclusive: noisy / clean time | "
        "beats still analysed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, e in d["summary"].items():
        a, g = e["all"], e["gated"]
        rows.append(
            f"| {condition(key, e)} | {a['r_peak_se']:.3f} / {a['r_peak_ppv']:.3f} "
            f"| {a['V_se']:.3f} / {a['V_ppv']:.3f} | {a['S_se']:.3f} / {a['S_ppv']:.3f} "
            f"| {e['false_critical_per_hour']:.2f} ({e['false_critical_per_noisy_hour']:.2f}) "
            f"| {e['critical_events_found']} / {e['critical_events']} "
            f"| {e['inconclusive_noisy']:.1%} / {e['inconclusive_clean']:.1%} "
            f"| {g['coverage']:.1%} |"
        )
    return rows


def comparison_rows(before: dict, after: dict, what: str = "before -> after") -> list[str]:
    """The conditions two noise_stress runs share, before -> after, alarms and events included."""
    rows = [
        f"| condition ({what}) | false critical / h | V Se / +P | S Se / +P "
        "| critical events found |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, a in before["summary"].items():
        if (b := after["summary"].get(key)) is None:
            continue
        x, y = a["all"], b["all"]
        rows.append(
            f"| {condition(key, a)} | {a['false_critical_per_hour']:.2f} -> "
            f"{b['false_critical_per_hour']:.2f} "
            f"| {x['V_se']:.3f} / {x['V_ppv']:.3f} -> {y['V_se']:.3f} / {y['V_ppv']:.3f} "
            f"| {x['S_se']:.3f} / {x['S_ppv']:.3f} -> {y['S_se']:.3f} / {y['S_ppv']:.3f} "
            f"| {a['critical_events_found']}/{a['critical_events']} -> "
            f"{b['critical_events_found']}/{b['critical_events']} |"
        )
    return rows


def mixer_rows(check: dict) -> list[str]:
    """Our SNR measure on the published 118e* records, per lead."""
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


def vt_threshold_rows(d: dict) -> list[str]:
    """True and false critical VT alarms kept at each confidence threshold (vt_confidence.json)."""
    return [
        "| mean V probability >= | true VT alarms still critical | false ones |",
        "| --- | --- | --- |",
        *(
            f"| {r['threshold']:.2f} | {r['true_kept']} / {d['true_alarms']} "
            f"| {r['false_kept']} / {d['false_alarms']} |"
            for r in d["thresholds"]
        ),
    ]
