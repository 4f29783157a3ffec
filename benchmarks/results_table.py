"""A dated results file (docs/results/DATE.md) from the benchmark JSON files and the embedded
bundles' manifests, so that the published figures are the measured ones.

Usage: python benchmarks/results_table.py [--results benchmarks/results] [--out FILE.md | -]
           [--compare BEFORE.json AFTER.json ...] [--force]

Each section names the command that wrote its JSON file. The story of earlier runs (which bundle
came before, what changed and why) is prose in the dated files under docs/results/, not here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tables_models import (
    arrhythmia_rows,
    diagnostic_rows,
    distill_rows,
    int8_rows,
    prune_rows,
    qrs_rows,
    student_speed_rows,
)
from tables_noise import comparison_rows, measured, mixer_rows, noise_rows, vt_threshold_rows
from tables_runtime import (
    edge_rows,
    long_record_rows,
    pi4_rows,
    serial_rows,
    soak_rows,
    stream_rows,
)

from edge_monitor.alerts import AlertSpec

ROOT = Path(__file__).resolve().parents[1]
MITDB, NSTDB = "--mitdb ../shared/data/mitdb", "--nstdb ../shared/data/nstdb"
NOISE_STRESS = f"python benchmarks/noise_stress.py {MITDB} {NSTDB}"


def section(title: str, note: str, rows: list[str]) -> list[str]:
    """A '####' heading, an optional note, the rows and a blank line."""
    return [f"#### {title}", "", *([note, ""] if note else []), *rows, ""]


class Results:
    """The JSON files of one results folder, and links to them from the output file's folder."""

    def __init__(self, folder: Path, out_dir: Path) -> None:
        self.folder, self.out_dir = folder, out_dir

    def load(self, name: str) -> dict | None:
        path = self.folder / name
        return json.loads(path.read_text()) if path.exists() else None

    def link(self, path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), self.out_dir.resolve())).as_posix()


def bundle_sections() -> list[str]:
    """Each embedded bundle's report (its stage table, latencies, gates), without its plots."""
    from trainer.report import render_markdown  # torch-free, but only the host has trainer

    out: list[str] = []
    for task, title in (("diagnostic", "Diagnostic bundle"), ("arrhythmia", "Arrhythmia bundle")):
        path = ROOT / "edge_monitor" / "default_models" / task / "manifest.json"
        if path.exists():
            report = render_markdown(json.loads(path.read_text())).splitlines()[2:]
            body = [line for line in report if not line.startswith("![")]
            out += section(f"{title} (embedded; `trainer compress`)", "", body)
    return out


def runtime_sections(res: Results) -> list[str]:
    """The device path, `edge-monitor bench`, long records, the soak."""
    out: list[str] = []
    if (d := res.load("stream_vs_train.json")) is not None:
        out += section(
            "Device path against training path (MIT-BIH DS2)",
            f"`python benchmarks/stream_vs_train.py {MITDB}`",
            stream_rows(d),
        )
    if (d := res.load("edge_runtime.json")) is not None:
        out += section(
            "Edge runtime (`edge-monitor bench`, this host)",
            f"`python benchmarks/edge_runtime.py {MITDB}` (host: {d.get('host', 'not recorded')})",
            edge_rows(d),
        )
    if (d := res.load("huge_record.json")) is not None:
        out += section("A long record streams in bounded memory", "", long_record_rows(d))
    if (d := res.load("soak.json")) is not None:
        out += section(
            f"Soak: {d['hours']:.0f} h through the serial path, recorder on",
            f"`python benchmarks/soak.py {MITDB} --hours 24` (MIT-BIH DS2 looped as wire-format "
            "bytes with a counter; decoder, assembler, recorder, monitor). "
            f"![soak]({res.link(res.folder / 'soak.png')})",
            soak_rows(d),
        )
    return out


def noise_sections(res: Results) -> list[str]:
    """The noise stress test (both realisations), the mixer check, the VT threshold on DS1."""
    out: list[str] = []
    if (d := res.load("noise_stress.json")) is not None:
        q = d["quality_spec"]
        out += section(
            f"Noise stress test (MIT-BIH DS2, {len(d['records'])} records, nst protocol)",
            f"`{NOISE_STRESS}` ({measured(d)}): real noise on MLII from minute 5, 2 min on / "
            "2 min off, scored from minute 5 on (150 ms matching). A critical alarm is false when "
            "no reference event (a run of >= 3 V beats, VF/flutter, a gap >= 4 s less the 150 ms "
            "matching tolerance) lies from 10 s before it to 2 s after; the events a monitor "
            "must catch are V runs of >= 5 beats at >= 100 bpm and gaps >= 5 s. Quality gate: "
            f"detector agreement >= {q['min_agreement']} to analyse, >= "
            f"{q['min_alarm_agreement']} and the beat model's mean V probability over the run >= "
            f"{AlertSpec().vt_confidence} for a VT alarm to sound as critical.",
            noise_rows(d),
        )
        out += section(
            "Mixer check against the published 118e* records",
            "Our SNR measure (nst's: QRS peak-to-peak over the RMS of the noise, as sinusoids) "
            "on the published records (see trainer/datasets/nstdb.py).",
            mixer_rows(d["mixer_check"]),
        )
    if (d := res.load("noise_stress_reversed.json")) is not None:
        out += section(
            "A second noise realisation: each noise burst played backwards",
            f"`{NOISE_STRESS} --reverse-noise --snr 12 6 --out "
            f"benchmarks/results/noise_stress_reversed.json` ({measured(d)}): noise with the "
            "same spectrum and amplitudes, its bursts falling on other beats.",
            noise_rows(d),
        )
    if (d := res.load("vt_confidence.json")) is not None:
        out += section(
            "Choosing the VT confidence threshold on DS1",
            f"`python benchmarks/vt_confidence.py {MITDB} {NSTDB}`: the {len(d['records'])} DS1 "
            "records clean and with em / ma at 12 and 6 dB (protocol and reversed bursts), "
            "confidence check off; each critical VT alarm with the model's mean V probability "
            f"over its run. The monitor's threshold: {AlertSpec().vt_confidence}.",
            vt_threshold_rows(d),
        )
    return out


def comparison_sections(res: Results, pairs: list[tuple[Path, Path]]) -> list[str]:
    """One before -> after table per pair of noise_stress files named on the command line."""
    out: list[str] = []
    for before_path, after_path in pairs:
        before, after = (json.loads(p.read_text()) for p in (before_path, after_path))
        out += section(
            f"Noise stress: {before_path.stem} -> {after_path.stem}",
            f"Before: `{before_path.name}` ({measured(before)}). After: `{after_path.name}` "
            f"({measured(after)}). Both written by `{NOISE_STRESS} --out FILE` with the options "
            "their runs were given.",
            comparison_rows(before, after),
        )
    return out


def device_sections(res: Results) -> list[str]:
    """Serial faults, the Pi 4 under emulation, where int8 pays."""
    out: list[str] = []
    if (d := res.load("serial_faults.json")) is not None:
        title = f"Faults on the serial path (`python benchmarks/serial_faults.py {MITDB}`)"
        out += section(title, "", serial_rows(d))
    if (d := res.load("pi4_emulation.json")) is not None:
        title = "Raspberry Pi 4 CPU under emulation (`bash scripts/pi4_emulation.sh`)"
        out += section(title, "", pi4_rows(d))
    if (d := res.load("int8_speed.json")) is not None:
        bundles = " ".join(dict.fromkeys(f"runs/compress/{r['bundle']}" for r in d["rows"]))
        out += section(
            "Where int8 pays on this CPU",
            f"`python benchmarks/int8_speed.py {bundles}`: every model in "
            f"{d.get('rounds', 1)} interleaved rounds, the median of the rounds' p50s.",
            int8_rows(d) + [""] + student_speed_rows(d),
        )
    return out


def model_sections(res: Results) -> list[str]:
    """Teachers, distillation, pruning, the R-peak detector."""
    out: list[str] = []
    if (d := res.load("teachers.json")) is not None:
        note = "`python benchmarks/teachers.py --ptbxl data/ptbxl --mitdb ../shared/data/mitdb`"
        out += section("Teachers", note, diagnostic_rows(d))
        out += section("Arrhythmia teachers by seed", note, arrhythmia_rows(d))
    for task in ("diagnostic", "arrhythmia"):
        if (d := res.load(f"distill_{task}.json")) is not None:
            note = f"`python benchmarks/distill.py --task {task} ...`"
            out += section(f"Distillation, {task}", note, distill_rows(task, d))
    for name, what in (("prune_diagnostic_teacher.json", "teacher"), ("prune_diagnostic.json", "")):
        if (d := res.load(name)) is not None:
            title = f"Pruning the diagnostic {what or 'student'} at {d['ratio']:.0%}"
            note = (
                f"`{d['command']}` (through `python benchmarks/prune.py`); paired bootstrap on "
                f"the same {d['before']['records']} test records."
            )
            out += section(title, note, prune_rows(d, what or "student"))
    if (d := res.load("qrs_mitdb.json")) is not None:
        note = "`python benchmarks/qrs_mitdb.py --data-dir ../shared/data/mitdb`"
        out += section("R-peak detector", note, qrs_rows(d))
    return out


def results_markdown(
    res: Results, date: str, compare: list[tuple[Path, Path]], command: str
) -> str:
    """The whole dated file: a header, then every section whose JSON file exists."""
    head = [
        f"# Results as of {date}",
        "",
        f"Written by `{command}` from the JSON files in `{res.link(res.folder)}` and the "
        "embedded bundles' `manifest.json` (written by `trainer compress`). Each section names "
        "the command that wrote its figures; they are the host's figures unless a section says "
        "otherwise.",
        "",
    ]
    parts: list[Callable[[], list[str]]] = [
        bundle_sections,
        lambda: runtime_sections(res),
        lambda: noise_sections(res),
        lambda: comparison_sections(res, compare),
        lambda: device_sections(res),
        lambda: model_sections(res),
    ]
    return "\n".join(head + [line for part in parts for line in part()])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--out", help="the file to write, '-' for stdout (default: docs/results/TODAY.md)"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        action="append",
        type=Path,
        default=[],
        metavar=("BEFORE", "AFTER"),
        help="add a before -> after table of two noise_stress JSON files (repeatable)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    today = dt.date.today().isoformat()
    out = None if args.out == "-" else Path(args.out or ROOT / "docs" / "results" / f"{today}.md")
    if out is not None and out.exists() and not args.force:
        print(
            f"error: {out} exists (a dated file may hold prose; --force overwrites it)",
            file=sys.stderr,
        )
        return 1
    for path in (p for pair in args.compare for p in pair):
        if not path.is_file():
            print(f"error: --compare {path}: no such file", file=sys.stderr)
            return 1
    res = Results(args.results, Path.cwd() if out is None else out.parent)
    command = "python benchmarks/results_table.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    text = results_markdown(res, today, args.compare, command.strip()) + "\n"
    if out is None:
        sys.stdout.write(text)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
