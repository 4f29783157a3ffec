"""`edge-monitor classify`'s verdict on one record: what a reader wants first.

Window models: every class with its record probability and the validation-tuned threshold the
bundle ships (the classes over it are the verdict; the ones under are shown dimmed, not hidden).
Beat models: the beats counted per class. Alerts: the events counted per level.

On a terminal it is a rich table; piped, it is plain lines that are never wrapped or boxed, so
`grep` and `cut` see one fact per line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge_monitor.safe_text import one_line, shown

ALERT_ORDER = ("critical", "warning", "inconclusive", "cleared")
ALERT_STYLES = {"critical": "bold red", "warning": "yellow", "inconclusive": "dim", "cleared": ""}


@dataclass(frozen=True)
class ClassVerdict:
    """One class of a window model on this record."""

    name: str
    prob: float
    threshold: float | None  # None: the bundle ships no tuned thresholds

    @property
    def over(self) -> bool:
        return self.threshold is not None and self.prob >= self.threshold


@dataclass(frozen=True)
class Verdict:
    """A record's verdict, from `classify`'s summary and the bundles' thresholds."""

    source: str
    signal_seconds: float
    wall_seconds: float
    windows: dict[str, list[ClassVerdict]]  # window model name -> classes, most probable first
    beats: dict[str, int]
    alerts: dict[str, int]
    notes: list[str]  # how the run went: quality, speed, model-call latency, memory


def verdict_of(summary: Mapping, thresholds: Mapping[str, Mapping[str, float]]) -> Verdict:
    """The verdict of a `classify` summary; `thresholds`: model name -> class -> threshold."""
    windows = {}
    for model, probs in summary.get("record_probs", {}).items():
        tuned = thresholds.get(model, {})
        rows = [ClassVerdict(c, float(p), tuned.get(c)) for c, p in probs.items()]
        windows[model] = sorted(rows, key=lambda r: r.prob, reverse=True)
    alerts = dict(summary.get("alerts", {}))
    ordered = {k: alerts.pop(k) for k in ALERT_ORDER if k in alerts}
    return Verdict(
        source=str(summary.get("record") or summary.get("source") or "source"),
        signal_seconds=float(summary.get("signal_seconds", 0.0)),
        wall_seconds=float(summary.get("wall_seconds", 0.0)),
        windows=windows,
        beats={str(k): int(v) for k, v in summary.get("beats", {}).items()},
        alerts={**ordered, **alerts},
        notes=run_notes(summary),
    )


# On an inverted lead DS2's V Se fell 0.94 -> 0.66 (docs/beat_leads.md). MIT-BIH 207 (87 % of
# its beats) and svdb 821 (100 %) are read QRS-down as recorded; noise reads about half its
# "beats" either way (nstdb ma: 66 %), hence the high share and a minimum of beats.
INVERTED_NOTE_SHARE = 0.8
NO_BEAT_NOTE_S = 10.0  # the detector learns for 2 s; a slow rhythm may show no beat for 5
INVERTED_NOTE_BEATS = 60


def _number(value: object) -> float:
    """A finite number from a summary, else 0 (a summary is data, not code's word)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def run_notes(summary: Mapping) -> list[str]:
    """The run's own figures, under the verdict: signal quality, speed, latency, memory."""
    quality = ", ".join(f"{k} {v:g} s" for k, v in summary.get("quality_seconds", {}).items())
    notes = [f"signal quality: {quality or 'none'}"]
    notes += [f"{m}: no verdict, no window of good signal" for m in summary.get("no_verdict", [])]
    dead = summary.get("dead_leads")
    for model, leads in dead.items() if isinstance(dead, Mapping) else []:
        if isinstance(leads, Mapping) and leads:
            names = ", ".join(one_line(str(name)) for name in leads)
            notes.append(f"{one_line(str(model))}: lead {names} flat or missing, windows left out")
    leads = [one_line(str(name)) for name in summary.get("beat_leads", [])]
    inverted = _number(summary.get("beat_lead_inverted_share"))
    counts = summary.get("beats")
    beats = sum(_number(n) for n in counts.values()) if isinstance(counts, Mapping) else 0.0
    seconds = _number(summary.get("signal_seconds"))
    # no beat in a record longer than the detector's learning: the second lead is not to blame
    if leads and not beats and seconds >= NO_BEAT_NOTE_S:
        notes.append(
            f"beat lead {leads[0]}: no beat found (flat, off or noisy throughout; "
            "--channel reads another lead)"
        )
    elif leads and not beats and isinstance(counts, Mapping) and "signal_seconds" in summary:
        # nor is the second lead to blame in a record too short for the detector to learn
        notes.append(
            f"beat lead {leads[0]}: no beat in {seconds:g} s (the detector learns for 2 s and a "
            f"slow rhythm may show no beat for 5: records under {NO_BEAT_NOTE_S:g} s may read "
            "none)"
        )
    elif len(leads) == 2:
        both = summary.get("beats_on_two_leads", 0)
        notes.append(
            f"second lead {leads[1]}: {both} beats read on it too, answers averaged"
            if both
            else f"second lead {leads[1]}: no beat read on it (flat, off or noisy throughout)"
        )
    if summary.get("quality_detectors_compared") is False and seconds > 0:
        after = _number(summary.get("quality_detectors_after_s"))
        notes.append(
            f"signal quality judged by amplitude and spectrum alone: comparing two QRS detectors "
            f"needs {after:g} s of signal, this record has {seconds:g} s (muscle or motion "
            "noise may pass as good)"
        )
    on_bad = _number(summary.get("beats_on_bad_signal"))
    if beats and on_bad:
        notes.append(
            f"beats read on bad signal (noise, leads off, saturation or just after): {on_bad:g} "
            f"of {beats:g}; they drive no alert and their classes may be artefacts"
        )
    if leads and inverted >= INVERTED_NOTE_SHARE and beats >= INVERTED_NOTE_BEATS:
        companion = summary.get("inverted_beats_model")
        if summary.get("beat_model_upright") is True:
            effect = "the beat model reads it turned upright"
        elif isinstance(companion, str) and companion:
            effect = f"those beats are read by {one_line(companion)}, its model for inverted beats"
        else:
            effect = (
                "if the electrodes are swapped, the beat classes (V most) read worse on an "
                "inverted lead (the VT/VF alarm holds)"
            )
        notes.append(
            f"beat lead {leads[0]}: its QRS points down in {inverted:.0%} of the beats; {effect}"
        )
    lat = summary.get("latency_ms", {})
    ms = "/".join(
        "--" if lat.get(k) is None or lat[k] != lat[k] else f"{lat[k]:.3f}"
        for k in ("p50", "p95", "p99")
    )
    notes.append(f"model call p50/p95/p99 {ms} ms; peak RSS {summary.get('peak_rss_mb')} MB")
    return notes


def bundle_thresholds(names: Sequence[str], models: Sequence[Path] | None) -> dict:
    """model name -> class -> threshold, read from the bundles that ran: the given `models`, else
    the embedded ones of those names. A bundle that cannot be read contributes nothing (the run
    that used it already succeeded; the table then shows no threshold)."""
    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.errors import EcgEdgeError

    paths = list(models) if models else []
    if not paths:
        for name in names:
            try:
                paths.append(embedded_bundle(name))
            except EcgEdgeError:
                continue
    out = {}
    for path in paths:
        try:
            b = load_bundle(path, probe=False)
        except EcgEdgeError:
            continue
        if b.contract.thresholds is not None:
            out[b.name] = dict(zip(b.contract.classes, b.contract.thresholds, strict=True))
    return out


def headline(v: Verdict) -> str:
    """What was classified and how fast: the first line in both forms."""
    speed = v.signal_seconds / v.wall_seconds if v.wall_seconds > 0 else float("nan")
    return (
        f"{one_line(v.source)}: {v.signal_seconds:.0f} s of signal in {v.wall_seconds:.2f} s "
        f"({speed:.0f}x real time)"
    )


def plain_lines(v: Verdict) -> list[str]:
    """The verdict as plain text: one fact per line, for pipes and logs."""
    lines = [headline(v)]
    for model, rows in v.windows.items():
        over = [r for r in rows if r.over]
        said = ", ".join(f"{r.name} {r.prob:.2f}" for r in over) or "no class over its threshold"
        lines.append(f"{one_line(model)} verdict: {one_line(said)}")
        for r in rows:
            thr = "no threshold" if r.threshold is None else f"threshold {r.threshold:.2f}"
            mark = "over" if r.over else "under"
            lines.append(f"{one_line(model)} {one_line(r.name)}: {r.prob:.3f} ({thr}, {mark})")
    lines.append("beats: " + (", ".join(f"{k} {n}" for k, n in v.beats.items()) or "none"))
    lines.append("alerts: " + (", ".join(f"{k} {n}" for k, n in v.alerts.items()) or "none"))
    return lines + v.notes


def verdict_table(v: Verdict) -> Table:
    """The verdict as one rich table: window classes, then beat counts, then alerts."""
    table = Table(title=shown(headline(v)), title_justify="left")
    table.add_column("what")
    table.add_column("class")
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("verdict")
    for model, rows in v.windows.items():
        for r in rows:
            thr = "--" if r.threshold is None else f"{r.threshold:.2f}"
            mark = "over" if r.over else ("under" if r.threshold is not None else "")
            table.add_row(
                shown(model),
                shown(r.name),
                f"{r.prob:.3f}",
                thr,
                mark,
                style="bold" if r.over else "dim",
            )
        table.add_section()
    for k, n in v.beats.items():
        table.add_row("beats", k, str(n), "", "")
    if not v.beats:
        table.add_row("beats", "none", "0", "", "")
    table.add_section()
    for k, n in v.alerts.items():
        table.add_row("alerts", k, str(n), "", "", style=ALERT_STYLES.get(k, ""))
    if not v.alerts:
        table.add_row("alerts", "none", "0", "", "")
    return table


def print_verdict(v: Verdict, console: Console) -> None:
    """A table on a terminal, plain unwrapped lines elsewhere."""
    if console.is_terminal:
        console.print(verdict_table(v))
        for note in v.notes:
            console.print(note, style="dim", highlight=False, markup=False)
        return
    for line in plain_lines(v):
        console.print(line, soft_wrap=True, markup=False, highlight=False)
