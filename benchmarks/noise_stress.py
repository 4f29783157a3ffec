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
The parts live in benchmarks/noise_stress_parts/, one job a module; this script takes the flags,
runs the tasks in a pool and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

from edge_monitor.bundle import embedded_bundle, sha256_file
from edge_monitor.quality import QualitySpec
from trainer.datasets import nstdb
from trainer.datasets.mitdb import DS2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from noise_stress_parts.context import CONTEXT as _CONTEXT  # noqa: E402
from noise_stress_parts.context import Task  # noqa: E402
from noise_stress_parts.context import init_worker as _init  # noqa: E402
from noise_stress_parts.critical_events import (  # noqa: E402
    ALERT_AFTER_S,
    ALERT_BEFORE_S,
    FS,
    justified,
    reference_events,
)
from noise_stress_parts.mixing import mixed, mixer_check  # noqa: E402
from noise_stress_parts.scoring import monitor_events, run_task  # noqa: E402
from noise_stress_parts.summary import print_table, summarise  # noqa: E402

# the names vt_confidence.py imports from here
__all__ = [
    "FS",
    "Task",
    "_CONTEXT",
    "_init",
    "justified",
    "mixed",
    "monitor_events",
    "reference_events",
]

SNRS = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)


def parse_args() -> argparse.Namespace:
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
    return parser.parse_args()


def commit() -> str | None:
    """The git commit of the code measured ('+dirty' when edge_monitor has changes)."""
    git = ["git", "-C", str(Path(__file__).resolve().parent.parent)]
    rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
    if rev.returncode:
        return None
    dirty = subprocess.run([*git, "status", "--porcelain", "edge_monitor"], capture_output=True)
    return rev.stdout.decode().strip() + ("+dirty" if dirty.stdout.strip() else "")


NSTDB_NEEDED = ("bw", "em", "ma", "118e24", "118e12", "118e00", "118e_6")  # noise, mixer check


def check_inputs(mitdb: Path, nstdb: Path, records: list[str]) -> None:
    """Missing folders or records end here in one line, before a pool of workers would fail
    in its initializer again and again (multiprocessing respawns them)."""
    for flag, folder in (("--mitdb", mitdb), ("--nstdb", nstdb)):
        if not folder.is_dir():
            sys.exit(f"{flag} folder not found: {folder}")
    missing = [r for r in records if not (mitdb / f"{r}.hea").is_file()]
    if missing:
        sys.exit(f"--records not in {mitdb}: {', '.join(missing)}")
    noise = [r for r in NSTDB_NEEDED if not (nstdb / f"{r}.hea").is_file()]
    if noise:
        sys.exit(f"--nstdb {nstdb} lacks the records {', '.join(noise)}")


def run_tasks(args: argparse.Namespace, quality: QualitySpec, t0: float) -> list[dict]:
    """Every record clean and under each noise and SNR, in a pool of spawned workers."""
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
    return results


def result_json(
    args: argparse.Namespace, quality: QualitySpec, check: dict, results: list[dict], t0: float
) -> dict:
    """What was run (models, commit, spec, protocol), the mixer check and the summary."""
    per_record_false = [
        {"record": r["record"], "noise": r["noise"], "snr": r["snr"], **c}
        for r in results
        for c in r["critical"]
        if not c["true"]
    ]
    return {
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
        "summary": summarise(results),
        "false_critical_alerts": per_record_false,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    args = parse_args()
    check_inputs(args.mitdb, args.nstdb, args.records)
    quality = QualitySpec(min_agreement=args.min_agreement)
    t0 = time.perf_counter()
    check = mixer_check(args.mitdb, args.nstdb)
    for rec, leads in check.items():
        print(rec, {k: v["published_snr_db"] for k, v in leads.items()}, flush=True)
    results = run_tasks(args, quality, t0)
    result = result_json(args, quality, check, results, t0)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result["summary"])


if __name__ == "__main__":
    main()
