"""`trainer data info`: what a data set folder holds, per class and split."""

from __future__ import annotations

from pathlib import Path

from edge_monitor.errors import DataNotFoundError
from trainer.progress import progress


def dataset_info(path: Path, cache_dir: Path | None = None) -> dict:
    if not path.is_dir():
        raise DataNotFoundError(f"data folder not found: {path}")
    from trainer.datasets import mitdb, ptbxl  # pandas and scipy: after the quick checks

    if (path / "ptbxl_database.csv").exists():
        with progress("reading PTB-XL (the first run parses every record; cached after)", None):
            data = ptbxl.load_ptbxl(path, cache_dir=cache_dir)
        rows = {}
        for name in ptbxl.FOLDS:
            part = ptbxl.split(data, name)
            rows[name] = {"counts": part.counts(), "total": len(part)}
        return {
            "title": f"PTB-XL at {path} ({len(data)} labelled records)",
            "classes": list(ptbxl.SUPERCLASSES),
            "unit": "records",
            "rows": rows,
            "notes": [
                f"{data.dropped_unlabelled} records without a diagnostic superclass left out",
                "folds 1-8 train, 9 validation, 10 test",
            ],
        }
    from trainer.datasets import beatdb

    if beatdb.multi_db_root(path) is not None:
        return beat_databases_info(path, cache_dir)
    if any(path.glob("*.atr")):
        names = mitdb.list_records(path)
        _read_records(path, names, cache_dir)
        splits = mitdb.split_records(names)
        rows = {}
        for name, records in splits.items():
            if records:
                beats = mitdb.load_beats(path, name, cache_dir=cache_dir, records=records)
                rows[f"{name} ({len(records)} records)"] = {
                    "counts": beats.counts(),
                    "total": len(beats),
                }
        episodes = mitdb.load_rhythms(path, cache_dir=cache_dir)
        rhythm_counts: dict[str, int] = {}
        for e in episodes:
            rhythm_counts[e.label] = rhythm_counts.get(e.label, 0) + 1
        return {
            "title": f"MIT-BIH at {path} ({len(names)} records)",
            "classes": list(mitdb.AAMI_CLASSES),
            "unit": "beats",
            "rows": rows,
            "notes": [
                f"paced records left out: {', '.join(mitdb.PACED)}",
                "rhythm episodes: "
                + ", ".join(f"{k} {v}" for k, v in sorted(rhythm_counts.items())),
            ],
        }
    raise DataNotFoundError(f"{path} holds neither ptbxl_database.csv nor MIT-BIH .atr files")


def _read_records(path: Path, names: list[str], cache_dir: Path | None) -> None:
    """Every record through the npz cache once, one step of the bar each: a first run parses
    them (about a minute for MIT-BIH), later runs only read the cache."""
    from edge_monitor.beats import BeatSpec
    from trainer.datasets import mitdb
    from trainer.datasets.cache import default_cache_dir

    cache = cache_dir or default_cache_dir()
    with progress(f"reading {len(names)} MIT-BIH records", len(names)) as advance:
        for name in names:
            mitdb.load_record(path, name, BeatSpec(), cache)
            advance(1)


def beat_databases_info(root: Path, cache_dir: Path | None) -> dict:
    """A folder holding mitdb/ and svdb/: the arrhythmia task's multi-database splits."""
    from edge_monitor.beats import BeatSpec
    from trainer.datasets import beatdb, mitdb

    split = beatdb.multi_db_split(beatdb.available_records(root))
    parts = {"train": split.train, "val": split.val}
    parts |= {f"test {name}": ids for name, ids in split.test.items()}
    rows = {}
    for name, ids in parts.items():
        beats = beatdb.load_ids(ids, root, BeatSpec(), cache_dir)
        rows[f"{name} ({len(ids)} records)"] = {"counts": beats.counts(), "total": len(beats)}
    return {
        "title": f"beat databases at {root}: {', '.join(beatdb.REGISTRY)}",
        "classes": list(mitdb.AAMI_CLASSES),
        "unit": "beats",
        "rows": rows,
        "notes": [
            f"validation: patient fold {split.fold} of {len(split.folds)} over the training "
            "records of both databases",
            f"svdb test records (drawn before training): {', '.join(beatdb.SVDB_TEST)}",
            *(f"{db.name}: {db.notes}" for db in beatdb.REGISTRY.values()),
        ],
    }
