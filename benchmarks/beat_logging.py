"""One record through a Monitor subclass that logs something per beat, with the record's
reference beats beside it: what s_in_af.py and beats_in_noise.py score offline under several
rules from one stream."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import wfdb
from beat_generalization import TOLERANCE_S, reference_beats

from edge_monitor.bundle import embedded_beat_bundles, embedded_bundle, load_bundle
from edge_monitor.events import BeatEvent
from trainer.datasets import beatdb


def logged_stream(
    path: Path, monitor_class: type, log: str, missing: tuple, second_lead: bool = False
) -> dict:
    """The embedded beat model over `path` (with `second_lead`, also read on the record's other
    lead, as the CLI does by default); each beat's entry of the monitor's `log` dict (keyed by
    sample; `missing` where it has none), labels, and the reference beats."""
    bundles = [load_bundle(p) for p in embedded_beat_bundles()]
    rec = wfdb.rdrecord(str(path))
    second = "auto" if second_lead else None
    monitor = monitor_class(bundles, float(rec.fs), list(rec.sig_name), second_lead=second)
    beats = [e for e in monitor.stream(rec.p_signal, block_s=1.0) if isinstance(e, BeatEvent)]
    ref_samples, ref_labels = reference_beats(path)
    entries = getattr(monitor, log)
    return {
        "ref_samples": ref_samples,
        "ref_labels": ref_labels,
        "samples": np.array([b.sample for b in beats], np.int64),
        "labels": [b.label for b in beats],
        "log": [entries.get(b.sample, missing) for b in beats],
        "tolerance": int(TOLERANCE_S * rec.fs),
    }


def embedded_models() -> list:
    """The embedded beat and VT/VF bundles, as the monitor runs them by default (unproven: a
    benchmark's records are trusted)."""
    beat, *companion = [load_bundle(p, probe=False) for p in embedded_beat_bundles()]
    return [beat, load_bundle(embedded_bundle("ventricular"), probe=False), *companion]


def jobs_and_out(doc: str, out: Path, second_lead: bool = False) -> argparse.Namespace:
    """The options the logging scripts take: processes streaming side by side, the JSON file
    (and, where offered, --second-lead: the CLI's default reading of the beats)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=out)
    if second_lead:
        parser.add_argument(
            "--second-lead", action="store_true", help="read each beat on both leads (CLI default)"
        )
    return parser.parse_args()


def record_paths(ids: list[str], root: Path) -> list[Path]:
    """Record ids ("101", "svdb/800") as paths under the data root."""
    return [
        beatdb.root_of(beatdb.database(beatdb.database_of(i)), root) / i.rpartition("/")[2]
        for i in ids
    ]


def record_sets() -> tuple[Path, dict[str, list[str]]]:
    """The data root ($ECG_EDGE_DATA) and its record ids: "train" (MIT-BIH DS1 + the svdb
    training records, validation folds included) and "test_<db>" per database."""
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")
    split = beatdb.multi_db_split(beatdb.available_records(root))
    return root, {
        "train": sorted({*split.train, *split.val}),
        **{f"test_{db}": ids for db, ids in split.test.items()},
    }
