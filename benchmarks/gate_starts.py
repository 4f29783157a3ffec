"""The quality gate's grades of the first seconds of every shared record, as `classify` streams
them: how a change to the gate moves the start of real records (run it in two trees and
compare). Written for the gate's first-second change (8 Dec): it judged broadband noise only
once it held 3 s of context, so every stream's first two seconds were good unseen.

    ECG_EDGE_DATA=../shared/data ECG_EDGE_PTBXL=data/ptbxl python benchmarks/gate_starts.py \\
        --out /tmp/after.json
    PYTHONPATH=<worktree of the code before> python benchmarks/gate_starts.py --out /tmp/before.json
    python benchmarks/gate_starts.py --compare /tmp/before.json /tmp/after.json \\
        --out benchmarks/results/gate_starts.json

The PTB-XL records are the restored WFDB layout (benchmarks/prepare_ptbxl.sh), all folds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # beat_logging beside it

SECONDS = 5  # graded seconds kept per record (the context the gate waited for was 3 s)


def grades(path: Path) -> list[str]:
    """The states of the first SECONDS graded seconds of a record through the Monitor with the
    embedded models `classify` would run on it."""
    import wfdb
    from beat_logging import embedded_models

    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.events import QualityEvent
    from edge_monitor.pipeline import Monitor, find_channel

    header = wfdb.rdheader(str(path))
    x = wfdb.rdrecord(str(path), sampto=min(header.sig_len, int(12 * header.fs))).p_signal
    names = list(header.sig_name)
    if len(names) >= 12:
        bundles = [load_bundle(embedded_bundle("diagnostic"), probe=False)]
    else:
        bundles = embedded_models()
    monitor = Monitor(bundles, float(header.fs), names, find_channel(names, "MLII") or 0)
    events = monitor.stream(x, block_s=1.0) + monitor.finish()
    return [e.segment.state for e in events if isinstance(e, QualityEvent)][:SECONDS]


def records() -> dict[str, Path]:
    data = Path(os.environ.get("ECG_EDGE_DATA", "../shared/data"))
    found = {}
    for db in ("mitdb", "svdb", "cudb", "nstdb"):
        for hea in sorted((data / db).glob("*.hea")):
            found[f"{db}/{hea.stem}"] = hea.with_suffix("")
    ptbxl = os.environ.get("ECG_EDGE_PTBXL")
    if ptbxl:
        for hea in sorted(Path(ptbxl).rglob("*.hea")):
            found[f"ptbxl/{hea.stem}"] = hea.with_suffix("")
    return found


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--out", type=Path, required=True)
    cli.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = cli.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text())["grades"] for p in args.compare)
        changed = {k: [before[k], after[k]] for k in before if before[k] != after.get(k)}
        by_db: dict[str, int] = {}
        for key in before:
            by_db[key.split("/")[0]] = by_db.get(key.split("/")[0], 0) + 1
        result = {"before": str(args.compare[0]), "after": str(args.compare[1]),
                  "records": by_db, "changed": changed}  # fmt: skip
        print(f"{len(before)} records, {len(changed)} changed: {sorted(changed)}")
    else:
        result = {"seconds": SECONDS, "grades": {k: grades(p) for k, p in records().items()}}
        print(f"{len(result['grades'])} records graded")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
