"""Which VT/VF episodes and 8 s shockable segments the cross-validated alarm misses, and why:
per episode its rhythm note, rate, duration, the model's probabilities, the rules' alarms and the
quality gate's verdicts, read from the cached streams of benchmarks/ventricular_alarms.py.

Each record is replayed through the fusion spec that `ventricular_alarms.py --tune` chose for its
fold on the other folds' records (read from that run's results JSON), so every row is what the
cross-validated figures counted. Nothing is streamed that is not in the cache already unless the
cache misses a record (then it streams, as the alarm benchmark would).

    python benchmarks/ventricular_misses.py --model-map runs/ventricular/folds.json \\
        --model runs/ventricular/fold-all/bundle --gate-exempt-p 0.9 \\
        --results benchmarks/results/ventricular_alarms.json

The shockable segments are also broken down as the AED literature reports them (Kerber et al.
1997, AHA performance goals for AED rhythm analysis, Circulation 95:1677: Se > 90% for coarse
VF, > 75% for rapid VT, slower VT an "intermediate" rhythm reported apart): each segment is
VF/flutter or VT by the annotation covering most of it (`(VT` to the next rhythm note is VT,
svdb's V runs too; `(VF`, `(VFL` and `[`...`]` are VF/flutter), VT split at a ventricular rate of
150 bpm (60 / median RR of the reference beats inside the segment). The AHA leaves the rapid-VT
rate to the maker; 150 bpm was fixed before any breakdown was computed: the low end of the
140-230 bpm above which commercial AEDs shock monomorphic VT on a simulator (Cecchin et al.,
"What is ventricular tachycardia for an AED?", J Clin Exp Cardiolog 2014). Coarse vs fine VF
(200 uV) is not split.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_alarms import (  # noqa: E402
    GRACE_S,
    SEGMENT_S,
    fused,
    load,
    parser,
    score,
    standing,
    to_events,
)

from edge_monitor.alert_rules import (  # noqa: E402
    CLEARED,
    CRITICAL,
    INCONCLUSIVE,
    WARNING,
    AlertEvent,
)
from edge_monitor.events import WindowEvent, sample_of  # noqa: E402
from edge_monitor.quality import GOOD  # noqa: E402
from edge_monitor.ventricular import FusionSpec, VentricularFusion  # noqa: E402


def rhythm_at(folder: Path, name: str, a: int) -> tuple[str, list[int]]:
    """The rhythm note in force at sample `a` ('[' for a bracketed episode, 'V run' where the
    database has no rhythm notes) and the beat samples of the record."""
    if not (folder / f"{name}.atr").exists():
        return "?", []
    ann = wfdb.rdann(str(folder / name), "atr")
    samples = np.asarray(ann.sample)
    beats = [int(s) for s, y in zip(samples, ann.symbol, strict=True) if y.isalpha()]
    label = "V run"
    for s, y, aux in zip(samples, ann.symbol, ann.aux_note, strict=True):
        if s > a + 2:
            break
        aux = (aux or "").strip("\x00 ")
        if aux.startswith("("):
            label = aux
        elif y == "[" and abs(int(s) - a) <= 2:
            label = "[ (VF/flutter)"
    return label, beats


def episode_rows(key: str, events: list, ref: dict, folder: Path) -> list[dict]:
    """One row per reference episode: what happened inside it."""
    fs, name = ref["fs"], key.split("/")[1]
    alarm = standing(events, ref["n"])
    grace, seg = int(GRACE_S * fs), int(SEGMENT_S * fs)
    rows = []
    for a, b in ref["vf"]:
        label, beats = rhythm_at(folder, name, a)
        inside = np.asarray([s for s in beats if a <= s < b])
        rate = 60 * fs / float(np.median(np.diff(inside))) if len(inside) > 2 else None
        wins = [e for e in events if isinstance(e, WindowEvent) and a < e.end <= b + grace]
        probs = [float(max(e.probs.values())) for e in wins if e.probs]
        rules = sorted(
            {f"{e.label}:{e.level}" for e in events if isinstance(e, AlertEvent)
             and a <= e.sample < b + grace and e.level in (CRITICAL, WARNING)}
        )  # fmt: skip
        segs = [s0 for s0 in range(0, ref["n"] - seg + 1, seg) if a <= s0 and s0 + seg <= b]
        called = [s0 for s0 in segs if any(x <= s0 + seg - 1 < y for x, y in alarm)]
        rows.append({
            "record": key, "start_s": round(a / fs, 1), "seconds": round((b - a) / fs, 1),
            "rhythm": label, "rate_bpm": round(rate) if rate else None,
            "alarmed": any(s < b + grace and e > a for s, e in alarm),
            "model_p_max": round(max(probs), 3) if probs else None,
            "model_p_median": round(float(np.median(probs)), 3) if probs else None,
            "windows_bad_signal": sum(not e.quality_ok for e in wins), "windows": len(wins),
            "rules": rules, "segments": len(segs), "segments_called": len(called),
        })  # fmt: skip
    return rows


def blind_spans(log: list[dict], view, fs: float, spec: FusionSpec, n: int) -> list[tuple]:
    """(start, end, verdict) of the stretches in which the fusion was blind: the gate's bad
    verdict stood and the model did not overrule it (the fusion stepped one event at a time)."""
    fusion = VentricularFusion(view, fs, spec)
    spans, since, verdict = [], None, GOOD
    for ev in to_events(log):
        fusion.process([ev])
        if isinstance(ev, AlertEvent) and ev.level == INCONCLUSIVE:
            verdict = ev.label
        elif isinstance(ev, AlertEvent) and ev.level == CLEARED and ev.label == "signal":
            verdict = GOOD
        blind = not (fusion.seeing or fusion.exempt)
        if blind and since is None:
            since = (sample_of(ev), verdict)
        elif not blind and since is not None:
            spans.append((since[0], sample_of(ev), since[1]))
            since = None
    return spans + ([(since[0], n, since[1])] if since else [])


def segment_causes(key: str, log: list[dict], view, spec: FusionSpec, ref: dict) -> list[dict]:
    """Each shockable 8 s segment the alarm missed, with its cause, first that applies:
    `gate:<verdict>` (the fusion was blind in the segment's last 4 s, the span its decision
    rests on; the verdict that blinded it longest), `after-gate:<verdict>` (a blind spell ended
    in the 8 s before those: the alarm, cleared by it, had not risen again), `onset` (the
    segment ends before the episode's first alarm, within its first 16 s: alarm latency),
    `model-low` (no window in the segment reached alone_p), else `other`."""
    fs, n = ref["fs"], ref["n"]
    events = fused(log, view, fs, spec)
    alarm = standing(events, n)
    blind = blind_spans(log, view, fs, spec, n) if view else []
    seg, last = int(SEGMENT_S * fs), int(4.0 * fs)
    rows = []
    for a, b in ref["vf"]:
        first = [s for s, e in alarm if e > a and s < b]
        for s0 in range(0, n - seg + 1, seg):
            s1 = s0 + seg
            if not (a <= s0 and s1 <= b) or any(x <= s1 - 1 < y for x, y in alarm):
                continue
            seen: dict[str, float] = {}
            for x, y, verdict in blind:
                overlap = min(y, s1) - max(x, s1 - last)
                if overlap > 0:
                    seen[verdict] = seen.get(verdict, 0.0) + overlap / fs
            before = [v for x, y, v in blind if s1 - 3 * last < y <= s1 - last]
            probs = [
                view.probability(e.probs) for e in events
                if isinstance(e, WindowEvent) and s0 < e.end <= s1 and e.probs and view
            ]  # fmt: skip
            if seen:
                cause = "gate:" + max(seen, key=seen.get)
            elif before:
                cause = "after-gate:" + before[-1]
            elif first and s1 <= first[0] and s1 - a <= 16 * fs:
                cause = "onset"
            elif not probs or max(probs) < spec.alone_p:
                cause = "model-low"
            else:
                cause = "other"
            rows.append({
                "record": key, "start_s": round(s0 / fs, 1), "episode_start_s": round(a / fs, 1),
                "cause": cause, "blind_s_by_verdict": {k: round(v, 1) for k, v in seen.items()},
                "model_p_max": round(max(probs), 3) if probs else None,
            })  # fmt: skip
    return rows


def cause_table(rows: list[dict]) -> dict:
    """Missed segments counted per database, record and cause."""
    out: dict = {}
    for r in rows:
        db, name = r["record"].split("/")
        for k in (f"{db}/all", r["record"]):
            out.setdefault(k, {}).setdefault(r["cause"], 0)
            out[k][r["cause"]] += 1
    return dict(sorted(out.items()))


def isolated_segments(log: list[dict], view, spec: FusionSpec, ref: dict) -> dict:
    """8 s segments each classified on its own, as AED algorithms are scored: a fresh fusion
    sees only the segment's events (windows wholly inside it, the rules' alarms raised in it,
    the gate's verdict standing at its start); shockable when a critical alarm stands at its
    end. The main metric (ventricular_alarms.score) lets an alarm raised earlier stand and
    counts the alarm's rise at an episode's onset against the first segments."""
    fs, n, eps = ref["fs"], ref["n"], ref["vf"]
    events, seg = to_events(log), int(SEGMENT_S * fs)
    # the log is in the device's order, not in time (a beat is logged after a window that ends
    # later): the verdict is followed in time, a segment's events kept in the logged order
    at = np.array([sample_of(e) for e in events], dtype=np.int64)
    starts = np.array([e.start if isinstance(e, WindowEvent) else sample_of(e) for e in events])
    chronological = np.argsort(at, kind="stable")
    counts = {"tp": 0, "fn": 0, "tn": 0, "fp": 0}
    verdict, i = GOOD, 0
    for s0 in range(0, n - seg + 1, seg):
        s1 = s0 + seg
        while i < len(events) and at[chronological[i]] < s0:
            ev = events[chronological[i]]
            if isinstance(ev, AlertEvent) and ev.level == INCONCLUSIVE:
                verdict = ev.label
            elif isinstance(ev, AlertEvent) and ev.level == CLEARED and ev.label == "signal":
                verdict = GOOD
            i += 1
        full = any(a <= s0 and s1 <= b for a, b in eps)
        if any(a < s1 and s0 < b for a, b in eps) and not full:
            continue
        inside = [events[j] for j in np.flatnonzero((at < s1) & (starts >= s0))]
        if verdict != GOOD:
            inside.insert(0, AlertEvent(s0, INCONCLUSIVE, verdict, ""))
        out = VentricularFusion(view, fs, spec).process(inside) if view else inside
        said = any(a <= s1 - 1 < b for a, b in standing(out, s1))
        counts[("tp" if said else "fn") if full else ("fp" if said else "tn")] += 1
    return counts


def pooled_isolated(counts: dict[str, dict]) -> dict:
    """Se / Sp of the isolated segments per database and over all."""
    out = {}
    for db in sorted({k.split("/")[0] for k in counts}) + ["all"]:
        c = {x: sum(v[x] for k, v in counts.items() if db in ("all", k.split("/")[0]))
             for x in ("tp", "fn", "tn", "fp")}  # fmt: skip
        se = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
        sp = c["tn"] / (c["tn"] + c["fp"]) if c["tn"] + c["fp"] else None
        out[db] = {**c, "se": se and round(se, 3), "sp": sp and round(sp, 3)}
    return out


VT_RAPID_BPM = 150.0  # rapid (shockable) VT for the AHA breakdown; see the module docstring


def vt_reference(folder: Path, name: str, db: str, n: int) -> tuple[list[tuple[int, int]], list]:
    """The VT stretches (rhythm note `(VT` to the next note; all of svdb, whose episodes are V
    runs) and the reference beats (samples) of a record."""
    if not (folder / f"{name}.atr").exists():
        return [], []
    ann = wfdb.rdann(str(folder / name), "atr")
    aux = [(a or "").strip("\x00 ") for a in ann.aux_note]
    notes = [(int(s), a) for s, a in zip(ann.sample, aux, strict=True) if a.startswith("(")]
    ends = [s for s, _ in notes[1:]] + [n] * bool(notes)
    vt = [(s, e) for (s, a), e in zip(notes, ends, strict=True) if a.startswith("(VT")]
    beats = [int(s) for s, y in zip(ann.sample, ann.symbol, strict=True) if y.isalpha()]
    return (vt if db != "svdb" else [(0, n)]), beats


def rhythm_class(vt: list, beats: list[int], fs: float, s0: int, s1: int) -> str:
    """A shockable segment's AHA class: VF/flutter, or VT by its annotated ventricular rate."""
    if 2 * sum(max(0, min(b, s1) - max(a, s0)) for a, b in vt) <= s1 - s0:
        return "vf_flutter"
    inside = [b for b in beats if s0 <= b < s1]
    if len(inside) < 3:
        return "vt_rate_unknown"
    rate = 60 * fs / float(np.median(np.diff(inside)))
    return f"vt_{'>=' if rate >= VT_RAPID_BPM else '<'}{VT_RAPID_BPM:g}bpm"


def rhythm_counts(events: list, ref: dict, folder: Path, key: str) -> dict[str, dict[str, int]]:
    """Shockable 8 s segments called / missed per AHA class; the segments and the call are
    ventricular_alarms.score's (wholly inside an episode; an alarm standing at the end)."""
    db, name = key.split("/")
    vt, beats = vt_reference(folder, name, db, ref["n"])
    fs, n, seg = ref["fs"], ref["n"], int(SEGMENT_S * ref["fs"])
    alarm = standing(events, n)
    out: dict[str, dict[str, int]] = {}
    for s0 in range(0, n - seg + 1, seg):
        s1 = s0 + seg
        if any(a <= s0 and s1 <= b for a, b in ref["vf"]):
            said = any(a <= s1 - 1 < b for a, b in alarm)
            c = out.setdefault(rhythm_class(vt, beats, fs, s0, s1), {"tp": 0, "fn": 0})
            c["tp" if said else "fn"] += 1
    return out


def pooled_rhythms(counts: dict[str, dict]) -> dict:
    """Se and n per AHA class, per database and over all records."""
    out: dict = {}
    for db in sorted({k.split("/")[0] for k in counts}) + ["all"]:
        by: dict[str, dict[str, int]] = {}
        for key, per in counts.items():
            for cls, c in per.items() if db in ("all", key.split("/")[0]) else ():
                by[cls] = {x: by.get(cls, {}).get(x, 0) + c[x] for x in ("tp", "fn")}
        out[db] = {
            cls: {**c, "n": c["tp"] + c["fn"], "se": round(c["tp"] / (c["tp"] + c["fn"]), 3)}
            for cls, c in sorted(by.items())
        }
    return out


def specs_by_group(results: Path) -> dict[str, FusionSpec]:
    chosen = json.loads(results.read_text())["after_cross_validated"]["chosen_per_fold"]
    return {g: FusionSpec(**s) for g, s in chosen.items()}


def main() -> None:
    cli = parser()
    cli.add_argument(
        "--results", type=Path, default=Path("benchmarks/results/ventricular_alarms.json")
    )
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results/ventricular_misses.json"))
    args = cli.parse_args()
    data = load(args)
    specs = specs_by_group(args.results)
    rows, false, missed, isolated, rhythms = [], [], [], {}, {}
    for key, log in data.logs.items():
        ref, view = data.refs[key], data.views[key]
        spec = specs[data.groups[key]] if view else FusionSpec()
        events = fused(log, view, ref["fs"], spec)
        rows += episode_rows(key, events, ref, data.folders[key])
        missed += segment_causes(key, log, view, spec, ref)
        isolated[key] = isolated_segments(log, view, spec, ref)
        false.append({"record": key, "false": score(events, ref)["false"]})
        rhythms[key] = rhythm_counts(events, ref, data.folders[key], key)
    long = [r for r in rows if r["seconds"] >= 4.0]
    result = {
        "results": str(args.results),
        "episodes_>=4s_missed": [r for r in long if not r["alarmed"]],
        "episodes_with_missed_segments": [r for r in rows if r["segments_called"] < r["segments"]],
        "false_by_record": sorted([f for f in false if f["false"]], key=lambda f: -f["false"]),
        "segments_isolated (each 8 s segment on its own, AED-style)": pooled_isolated(isolated),
        "shockable_segments_by_rhythm (AHA)": pooled_rhythms(rhythms),
        "missed_segments_by_cause": cause_table(missed),
        "missed_segments": missed,
        "episodes": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for title in ("episodes_>=4s_missed", "episodes_with_missed_segments", "false_by_record"):
        print(f"## {title}")
        for r in result[title]:
            print("  " + json.dumps(r))
    print("## segments_isolated: " + json.dumps(pooled_isolated(isolated)))
    print("## shockable_segments_by_rhythm (AHA)")
    for db, by in pooled_rhythms(rhythms).items():
        print(f"  {db}: {json.dumps(by)}")
    print("## missed_segments_by_cause")
    for k, v in result["missed_segments_by_cause"].items():
        print(f"  {k}: {json.dumps(v)}")


if __name__ == "__main__":
    main()
