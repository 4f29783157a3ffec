"""Every record of every database through the real CLI: does the monitor ever die or lie?

1. `edge-monitor classify RECORD --json` (a subprocess, as a user runs it) over every record
   (every `.hea`) of each database folder given: exit code, a traceback on stderr, each stdout line
   parsed as strict JSON (NaN / Infinity tokens and unparsable lines are invalid lines), beats,
   alerts by level, signal seconds, wall time.
2. Every MIT-BIH record through the rpi4 front end over pseudo-terminals: `edge-monitor run
   --source <pty> --profile rpi4 --no-ui --counter`, then, once it says "connected",
   `edge-monitor emulate RECORD --port <pty> --profile rpi4 --speed 0 --counter` (the real emulator
   and its encoder). The emulator writes to one pty pair and the monitor reads another; this
   script only moves bytes from the first pair's master to the second's (a null-modem cable),
   with back-pressure: when the monitor falls behind, the emulator blocks. When the emulator is
   done and its bytes delivered, the monitor must report "stalled"; then SIGINT, and its summary.
4. `edge-monitor replay RECORD --speed 0` on a few records (--replay-records) with stdout a pipe,
   as a script or a log runs it: its screen (no terminal) and `--no-ui`: exit code, traceback,
   strict JSON lines, a summary.
3. From the classify outputs and the reference annotations (`wfdb.rdann(..., "atr")`):
   (a) the AF rule on MIT-BIH: every AF/AFL episode (rhythm `(AFIB` / `(AFL` until the next
       rhythm annotation; adjacent AFIB and AFL stretches are one episode) of >= 30 s is warned
       when an AF alert is raised inside it; episode sensitivity, and AF alerts raised outside
       every AF/AFL episode per hour of the time outside them, over all MIT-BIH records;
   (b) critical alarms per hour overall, and those raised inside annotated noise: from a `~`
       annotation that marks any signal noisy or unreadable (subtype != 0) to the next `~`,
       rhythm `(NOISE` where present; for the nstdb test records (118e24 ...) also the protocol's
       noisy stretches (minute 5 on, 2 min on / 2 min off, which their `.atr` - a copy of 118's -
       does not mark); nstdb's noise recordings (bw, ma: no `.atr`) are noise throughout.
       cudb's VF episodes run from `[` to `]` (or the record's end).

Data folders: --mitdb/--svdb/--cudb/--nstdb/--ptbxl, else $ECG_EDGE_MITDB ..., else
$ECG_EDGE_DATA/<name>; --folder adds any other WFDB folder. PTB-XL's shared copy (a compact .npz)
is restored as WFDB files for the folds asked for (--ptbxl-folds, default the test fold 10).
Each classify row also says how far its JSON lines stray from sample order (a beat, an alert:
its `sample`; a window: its `end`).

    python benchmarks/all_records.py --jobs 1                     # with $ECG_EDGE_DATA set
    python benchmarks/all_records.py --mitdb ../shared/data/mitdb --nstdb ../shared/data/nstdb \
        --databases mitdb nstdb --limit-records 3 --parts classify

Writes benchmarks/results/all_records.json (about 20 min classify, 40 min serial on 2 cores).
The parts live in benchmarks/all_records_parts/, one job a module; this script takes the flags,
runs the parts asked for and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the names other scripts and the tests import from here (af_rule.py, ventricular_alarms.py)
from all_records_parts.annotations import merge, reference, spans_until_next  # noqa: E402
from all_records_parts.classify import run_classify  # noqa: E402
from all_records_parts.discovery import (  # noqa: E402
    DATA_ENV,
    DATABASES,
    PTBXL_TEST_FOLD,
    code_under_test,
    database_dirs,
    ptbxl_wfdb,
    records_of,
)
from all_records_parts.output import event_sample, parse_lines, sample_order  # noqa: E402
from all_records_parts.replay import REPLAY_RECORDS, run_replay_part  # noqa: E402
from all_records_parts.scoring import MIN_AF_EPISODE_S, per_hour, summarise_reference  # noqa: E402
from all_records_parts.serial_run import run_serial_part  # noqa: E402
from all_records_parts.summary import by_database, print_table, totals  # noqa: E402

__all__ = [
    "DATABASES",
    "database_dirs",
    "event_sample",
    "merge",
    "parse_lines",
    "per_hour",
    "ptbxl_wfdb",
    "records_of",
    "reference",
    "sample_order",
    "spans_until_next",
]

DEFINITIONS = {
    "crash": "non-zero exit (130 after SIGINT is the expected one for `run`), a "
    "traceback on stderr, or a timeout",
    "invalid line": "a stdout line json.loads rejects, NaN / Infinity tokens included",
    "af_episode": "(AFIB / (AFL until the next rhythm annotation, adjacent ones merged; "
    f"warned: an AF alert raised inside it; scored when >= {MIN_AF_EPISODE_S:g} s; "
    "alert_standing: an AF alert stood at some time inside it (raised there or before)",
    "false_af": "AF alerts raised outside every AF/AFL episode, per hour outside them",
    "noise": "~ with subtype != 0 (any signal noisy or unreadable) to the next ~; "
    "(NOISE rhythm; nst test records: also the protocol's noisy stretches; bw/ma: all",
    "critical": "alert events of level critical (raised, or upgraded to critical)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in DATABASES:
        parser.add_argument(
            f"--{name}",
            type=Path,
            help=f"{name} folder (else $ECG_EDGE_{name.upper()}, else ${DATA_ENV}/{name})",
        )
    parser.add_argument(
        "--folder",
        type=Path,
        action="append",
        help="any other WFDB folder (its name names the database); repeatable",
    )
    parser.add_argument("--databases", nargs="*", help="only these (default: every one found)")
    parser.add_argument("--limit-records", type=int, help="the first N records of each database")
    parser.add_argument("--records", nargs="*", help="only these record names")
    parser.add_argument(
        "--parts",
        nargs="*",
        choices=["classify", "serial", "replay"],
        default=["classify", "serial", "replay"],
    )
    parser.add_argument(
        "--all-channels",
        action="store_true",
        help="emulate every channel of the record (default: MLII, else channel 0, as the "
        "one-lead rpi4 board)",
    )
    parser.add_argument(
        "--replay-records",
        nargs="*",
        default=list(REPLAY_RECORDS),
        help="DB/NAME records `replay` runs piped, with its screen and with --no-ui",
    )
    parser.add_argument("--jobs", type=int, default=1, help="records at a time")
    parser.add_argument("--profile", default="host", help="classify's device profile")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds a classify run or an emulation may take",
    )
    parser.add_argument(
        "--ptbxl-folds",
        type=int,
        nargs="*",
        default=[PTBXL_TEST_FOLD],
        help="PTB-XL strat_folds to restore and classify (default: the test fold)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/all_records.json"))
    return parser.parse_args()


def run_parts(dbs: dict[str, Path], args: argparse.Namespace, env: dict, result: dict) -> None:
    """Each part asked for, its rows and totals into `result` (classify's written at once)."""
    if "classify" in args.parts:
        rows = run_classify(dbs, args, env)
        result["classify"] = {
            "totals": totals(rows),
            "by_database": by_database(rows),
            "rows": rows,
        }
        result["reference"] = summarise_reference(rows)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    if "replay" in args.parts:
        rep = run_replay_part(dbs, args, env)
        result["replay"] = {
            "rows": rep,
            "crashes": sum(r["crash"] for r in rep),
            "invalid_lines": sum(r["invalid_lines"] for r in rep),
            "without_summary": sum(not r["summary"] for r in rep),
        }
    if "serial" in args.parts:
        srows = run_serial_part(dbs, args, env)
        result["serial"] = {"totals": totals(srows), "rows": srows}


def main() -> None:
    args = parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="all_records_")
    args.scratch = Path(scratch.name)
    dbs = database_dirs(args)
    env = dict(os.environ)
    code = code_under_test(env)
    print(
        f"edge_monitor under test: {code.get('edge_monitor')} @ {code.get('commit')}"
        f"{' (dirty)' if code.get('edge_monitor_dirty') else ''}",
        flush=True,
    )
    t0 = time.perf_counter()
    result: dict = {
        "argv": sys.argv,
        "code": code,
        "databases": {k: str(v) for k, v in dbs.items()},
        "parts": args.parts,
        "limit_records": args.limit_records,
        "ptbxl_folds": args.ptbxl_folds if "ptbxl" in dbs else None,
        "definitions": DEFINITIONS,
    }
    run_parts(dbs, args, env, result)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print_table(result)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
