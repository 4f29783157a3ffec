"""MIT-BIH Arrhythmia Database: AAMI beat classes, de Chazal inter-patient split, rhythms.

Records are read at 360 Hz from lead MLII, filtered with the device's causal front end, resampled
to the beat model rate, and cut into the same beat contexts the monitor builds (edge_monitor.beats).
Beat positions are the reference annotations; training jitters them to cover detector error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_monitor.beat_recipe import BeatRecipe
from edge_monitor.beats import BeatSpec
from edge_monitor.dsp import FilterSpec
from edge_monitor.errors import DataNotFoundError, InputError
from edge_monitor.wfdb_io import read_annotations, read_header, read_signal
from trainer.datasets.cache import cached, default_cache_dir, fingerprint
from trainer.datasets.locate import dataset_dir

AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI_SYMBOLS = {
    "N": "NLRej",
    "S": "AaJS",
    "V": "VE",
    "F": "F",
    "Q": "/fQ",
}
SYMBOL_TO_CLASS = {sym: AAMI_CLASSES.index(c) for c, syms in AAMI_SYMBOLS.items() for sym in syms}
# de Chazal, O'Dwyer & Reilly (2004): the paced records are left out of both sets.
DS1 = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2 = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)
PACED = ("102", "104", "107", "217")
# Validation patients taken out of DS1: they hold S and V beats, so early stopping sees both.
DEFAULT_VALIDATION = ("106", "114", "220", "223")
SPLITS = ("train", "val", "test")
DATA_ENV = "ECG_EDGE_MITDB"
ARRHYTHMIA_FILTER = FilterSpec(low_hz=0.5, high_hz=40.0, order=2)
# Rhythms whose beats MIT-BIH labels N whatever their RR (atrial fibrillation, atrial flutter):
# their N beats are the counter-examples to "short in an irregular rhythm = S" (issue 13).
AF_RHYTHMS = ("AFIB", "AFL")


@dataclass(frozen=True)
class RhythmEpisode:
    """A reference rhythm from the aux notes ("(AFIB", "(VT", ...), samples at the record's fs."""

    record: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class BeatSet:
    """Beats of several records: model inputs, AAMI labels and where each beat came from."""

    windows: np.ndarray  # (n, length) float32
    templates: np.ndarray  # (n, length) float32, the patient's dominant beat before each beat
    rr: np.ndarray  # (n, len(RR_FEATURES)) float32
    labels: np.ndarray  # (n,) int64 index into AAMI_CLASSES
    records: np.ndarray  # (n,) str
    samples: np.ndarray  # (n,) int64 R-peak sample in the record's own numbering (360 Hz)
    rhythms: np.ndarray  # (n,) str, the reference rhythm each beat lies in ("" where none)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(AAMI_CLASSES)}


def resolve_dir(data_dir: str | Path | None) -> Path:
    """The MIT-BIH folder from the flag, else $ECG_EDGE_MITDB, else $ECG_EDGE_DATA/mitdb."""
    return dataset_dir(data_dir, DATA_ENV, "mitdb", "MIT-BIH")


def list_records(data_dir: Path) -> list[str]:
    """Record names from RECORDS when present, else from the .hea files."""
    listing = data_dir / "RECORDS"
    if listing.exists():
        names = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
        names = [n for n in names if (data_dir / f"{n}.hea").exists()]
    else:
        names = sorted(p.stem for p in data_dir.glob("*.hea"))
    if not names:
        raise DataNotFoundError(f"no WFDB records (.hea files) in {data_dir}")
    return names


def split_records(
    names: list[str], validation: tuple[str, ...] = DEFAULT_VALIDATION
) -> dict[str, list[str]]:
    """DS1 minus the validation patients / validation / DS2, restricted to the records present."""
    present = set(names)
    return {
        "train": [r for r in DS1 if r in present and r not in validation],
        "val": [r for r in validation if r in present],
        "test": [r for r in DS2 if r in present],
    }


def parse_rhythms(
    record: str, samples: np.ndarray, symbols: list[str], aux: list[str], sig_len: int
) -> list[RhythmEpisode]:
    """Rhythm episodes: each '+' annotation's aux note runs until the next rhythm change."""
    changes = [
        (int(s), a.strip("\x00 ").lstrip("("))
        for s, sym, a in zip(samples, symbols, aux, strict=True)
        if sym == "+" and a.strip("\x00 ").startswith("(")
    ]
    return [
        RhythmEpisode(record, label, start, changes[i + 1][0] if i + 1 < len(changes) else sig_len)
        for i, (start, label) in enumerate(changes)
    ]


def beat_rhythms(
    samples: np.ndarray, labels: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """The reference rhythm each beat lies in, from a record's rhythm episodes (sorted, as
    `parse_rhythms` gives them); "" before the first rhythm annotation or where none is."""
    out = np.full(len(samples), "", dtype=object)
    if len(starts):
        at = np.searchsorted(starts, samples, side="right") - 1
        inside = (at >= 0) & (samples < np.asarray(ends)[np.maximum(at, 0)])
        out[inside] = np.asarray(labels, dtype=str)[at[inside]]
    return out.astype(str)


def record_rhythms(part: dict) -> np.ndarray:
    """`beat_rhythms` of one cached record (the cache already holds the episodes)."""
    return beat_rhythms(
        part["samples"], part["rhythm_label"], part["rhythm_start"], part["rhythm_end"]
    )


def pick_lead(names: list[str], preference: tuple[str, ...], other: bool = False) -> int:
    """The first preferred lead the record holds (case-insensitive), else its first signal.
    `other`: the first signal that is not that lead (a second view of the same beats: the
    lead-diversity training of docs/beat_leads.md); a one-signal record has none."""
    upper = [n.upper() for n in names]
    primary = 0
    for lead in preference:
        if lead.upper() in upper:
            primary = upper.index(lead.upper())
            break
    if not other:
        return primary
    rest = [i for i in range(len(names)) if i != primary]
    if not rest:
        raise DataNotFoundError(f"no lead besides {names[primary]} in this record")
    return rest[0]


def read_record(
    data_dir: Path,
    name: str,
    spec: BeatSpec,
    leads_preferred: tuple[str, ...] = ("MLII",),
    symbol_map: dict[str, int] | None = None,
    other_lead: bool = False,
) -> dict[str, np.ndarray]:
    """One record's beat contexts, labels and rhythm episodes (arrays ready for the npz cache),
    from the first of `leads_preferred` the record holds (`other_lead`: from its other lead);
    any source rate (the recipe resamples)."""
    path = data_dir / name
    header = read_header(path)
    leads = list(header.sig_name)
    try:
        channel = pick_lead(leads, leads_preferred, other_lead)
    except DataNotFoundError as exc:
        raise DataNotFoundError(f"record {path}: {exc}") from None
    x, meta = read_signal(path, channels=[channel])
    ann = read_annotations(path)
    symbols = list(ann.symbol)
    to_class = SYMBOL_TO_CLASS if symbol_map is None else symbol_map
    keep = np.array([s in to_class for s in symbols], dtype=bool)
    samples = np.asarray(ann.sample, dtype=np.int64)[keep]
    labels = np.array([to_class[s] for s, k in zip(symbols, keep, strict=True) if k], np.int64)
    # the device's own recipe: beats centred, filtered and cut as the stream will do it
    recipe = BeatRecipe(ARRHYTHMIA_FILTER, spec)
    windows, templates, rr = recipe.record_contexts(x[:, 0], meta["fs"], samples)
    aux = list(ann.aux_note) if ann.aux_note is not None else [""] * len(symbols)
    episodes = parse_rhythms(name, np.asarray(ann.sample), symbols, aux, header.sig_len)
    return {
        "windows": windows,
        "templates": templates,
        "rr": rr,
        "labels": labels.astype(np.int64),
        "samples": samples,
        "lead": np.array(leads[channel]),
        "fs": np.array(meta["fs"]),
        "rhythm_label": np.array([e.label for e in episodes], dtype=str),
        "rhythm_start": np.array([e.start for e in episodes], dtype=np.int64),
        "rhythm_end": np.array([e.end for e in episodes], dtype=np.int64),
    }


def load_record(
    data_dir: Path,
    name: str,
    spec: BeatSpec,
    cache_dir: Path | None,
    leads_preferred: tuple[str, ...] = ("MLII",),
    cache_folder: str = "mitdb",
    symbol_map: dict[str, int] | None = None,
    other_lead: bool = False,
) -> dict:
    """`read_record` through the npz cache (keyed by the files, lead choice and recipe)."""
    files = [data_dir / f"{name}.{ext}" for ext in ("hea", "dat", "atr")]
    for f in files:
        if not f.exists():
            raise DataNotFoundError(f"missing file of record {name}: {f}")
    settings = {"spec": spec.as_dict(), "filter": ARRHYTHMIA_FILTER.as_dict()}
    if leads_preferred != ("MLII",):  # MIT-BIH keys stay as they were: caches remain valid
        settings["leads"] = list(leads_preferred)
    if symbol_map is not None and symbol_map != SYMBOL_TO_CLASS:
        settings["symbols"] = symbol_map
    if other_lead:
        settings["other_lead"] = True
    key = fingerprint(files, settings)
    path = None if cache_dir is None else cache_dir / cache_folder / f"{name}-{key}.npz"
    return cached(
        path, lambda: read_record(data_dir, name, spec, leads_preferred, symbol_map, other_lead)
    )


def load_beats(
    data_dir: str | Path | None,
    split: str,
    spec: BeatSpec | None = None,
    cache_dir: Path | None = None,
    validation: tuple[str, ...] = DEFAULT_VALIDATION,
    records: list[str] | None = None,
    use_cache: bool = True,
) -> BeatSet:
    """The beats of one split (train / val / test) or of the given records, Q beats included."""
    root = resolve_dir(data_dir)
    spec = spec or BeatSpec()
    if records is None:
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        records = split_records(list_records(root), validation)[split]
        if not records:
            raise DataNotFoundError(f"no {split} records of the MIT-BIH split in {root}")
    cache = (cache_dir or default_cache_dir()) if use_cache else None
    parts = [load_record(root, r, spec, cache) for r in records]
    n = [len(p["labels"]) for p in parts]
    return BeatSet(
        windows=np.concatenate([p["windows"] for p in parts]),
        templates=np.concatenate([p["templates"] for p in parts]),
        rr=np.concatenate([p["rr"] for p in parts]),
        labels=np.concatenate([p["labels"] for p in parts]),
        records=np.repeat(np.array(records), n),
        samples=np.concatenate([p["samples"] for p in parts]),
        rhythms=np.concatenate([record_rhythms(p) for p in parts]),
    )


def load_rhythms(
    data_dir: str | Path | None, records: list[str] | None = None, cache_dir: Path | None = None
) -> list[RhythmEpisode]:
    root = resolve_dir(data_dir)
    names = records or list_records(root)
    out: list[RhythmEpisode] = []
    for name in names:
        p = load_record(root, name, BeatSpec(), cache_dir or default_cache_dir())
        out += [
            RhythmEpisode(name, str(lbl), int(s), int(e))
            for lbl, s, e in zip(p["rhythm_label"], p["rhythm_start"], p["rhythm_end"], strict=True)
        ]
    return out
