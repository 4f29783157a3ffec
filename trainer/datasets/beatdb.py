"""Beat databases in one registry: MIT-BIH Arrhythmia, MIT-BIH Supraventricular (svdb) and any
WFDB beat database a user points at, with the honest splits the arrhythmia task trains on.

Every record goes through the device's own recipe (`mitdb.read_record`: causal band-pass at the
source rate, resampled to the model's 180 Hz, the monitor's beat context), so a 128 Hz svdb
record reaches the model as the monitor would give it. Record ids are "<db>/<record>" except for
MIT-BIH, whose bare names ("100") stay as every earlier report wrote them.

Splits (issue 13): the svdb test records were drawn by record BEFORE any training, with a fixed
seed, and are written below; training = MIT-BIH DS1 + the other svdb records; validation =
leave-patients-out folds over those training records, stratified by database; test = MIT-BIH DS2
and the held-out svdb records, reported separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_monitor.beats import BeatSpec
from edge_monitor.errors import DataNotFoundError, InputError
from trainer.datasets import mitdb
from trainer.datasets.cache import default_cache_dir
from trainer.datasets.locate import ROOT_ENV, dataset_dir

# Drawn once, before training: sorted(np.random.default_rng(13).permutation(sorted(svdb))[:10])
# over the 39 shared svdb records (10 of 39, about a quarter). Never change after looking at
# results: these records are the independent test.
SVDB_TEST = ("800", "802", "806", "812", "843", "851", "857", "861", "871", "891")
N_FOLDS = 5
FOLD_SEED = 13
VALIDATION_FOLD = 0  # the fold the chain's early stopping and student choice watch


@dataclass(frozen=True)
class BeatDatabase:
    """Where a beat database lives and how its records become AAMI-labelled beats."""

    name: str  # short name, also the record-id prefix and the cache sub-folder
    folder: str  # folder under $ECG_EDGE_DATA
    env: str  # its own variable, which wins over $ECG_EDGE_DATA
    title: str
    leads: tuple[str, ...]  # lead preference; the first signal when none is present
    symbols: Mapping[str, int] = field(default_factory=lambda: dict(mitdb.SYMBOL_TO_CLASS))
    records: tuple[str, ...] | None = None  # None: every record of the folder
    test: tuple[str, ...] = ()  # held out of training and validation
    notes: str = ""

    def resolve(self, data_dir: str | Path | None = None) -> Path:
        return dataset_dir(data_dir, self.env, self.folder, self.title)

    def record_id(self, record: str) -> str:
        return record if self.name == "mitdb" else f"{self.name}/{record}"

    def available(self, root: Path) -> list[str]:
        present = mitdb.list_records(root)
        if self.records is None:
            return present
        return [r for r in self.records if r in set(present)]


MITDB = BeatDatabase(
    name="mitdb",
    folder="mitdb",
    env=mitdb.DATA_ENV,
    title="MIT-BIH",
    leads=("MLII",),
    records=mitdb.DS1 + mitdb.DS2,
    test=mitdb.DS2,
    notes="360 Hz, MLII; de Chazal DS1 train / DS2 test; paced records left out",
)
SVDB = BeatDatabase(
    name="svdb",
    folder="svdb",
    env="ECG_EDGE_SVDB",
    title="MIT-BIH Supraventricular",
    leads=("ECG1",),  # the monitor's beat lead for these records (leads.LEAD_ALIASES)
    test=SVDB_TEST,
    notes="128 Hz, ECG1; same beat symbols as MIT-BIH; 10 of the 39 shared records held out",
)
REGISTRY: dict[str, BeatDatabase] = {db.name: db for db in (MITDB, SVDB)}


def wfdb_database(folder: str | Path, lead: str, name: str | None = None) -> BeatDatabase:
    """Any WFDB beat database a user points at: its folder and the lead to read."""
    path = Path(folder)
    if not path.is_dir():
        raise DataNotFoundError(f"beat database folder not found: {path}")
    return BeatDatabase(
        name=name or path.name,
        folder=str(path),
        env="",
        title=f"beat database {path.name}",
        leads=(lead,),
        notes=f"user folder {path}, lead {lead}",
    )


def database(name: str) -> BeatDatabase:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown beat database {name!r}; known: {', '.join(REGISTRY)}") from None


def root_of(db: BeatDatabase, data_root: Path | None) -> Path:
    """A registered database under a root folder (its own variable wins), a user folder as is."""
    if db.name not in REGISTRY:
        return Path(db.folder)
    return db.resolve(None if data_root is None else data_root / db.folder)


def load_db_beats(
    db: BeatDatabase,
    root: Path,
    records: Iterable[str],
    spec: BeatSpec | None = None,
    cache_dir: Path | None = None,
    other_lead: bool = False,
) -> mitdb.BeatSet:
    """The beats of some records of one database, through the device recipe and the cache
    (`other_lead`: read on each record's other lead, the same beats and labels)."""
    spec, cache = spec or BeatSpec(), cache_dir or default_cache_dir()
    records = list(records)
    if not records:
        raise DataNotFoundError(f"no records of {db.title} asked for in {root}")
    parts = [
        mitdb.load_record(root, r, spec, cache, db.leads, db.name, dict(db.symbols), other_lead)
        for r in records
    ]
    n = [len(p["labels"]) for p in parts]
    return mitdb.BeatSet(
        windows=np.concatenate([p["windows"] for p in parts]),
        templates=np.concatenate([p["templates"] for p in parts]),
        rr=np.concatenate([p["rr"] for p in parts]),
        labels=np.concatenate([p["labels"] for p in parts]),
        records=np.repeat(np.array([db.record_id(r) for r in records]), n),
        samples=np.concatenate([p["samples"] for p in parts]),
        rhythms=np.concatenate([mitdb.record_rhythms(p) for p in parts]),
    )


def concat(sets: list[mitdb.BeatSet]) -> mitdb.BeatSet:
    return mitdb.BeatSet(
        *(np.concatenate([getattr(s, f) for s in sets]) for f in mitdb.BeatSet.__dataclass_fields__)
    )


def patient_folds(
    records: Mapping[str, list[str]], k: int = N_FOLDS, seed: int = FOLD_SEED
) -> list[list[str]]:
    """Leave-patients-out folds: each database's records shuffled with `seed` and dealt in turn,
    so every fold holds patients of every database. Record ids in, lists of record ids out."""
    if k < 2:
        raise InputError("cross-validation needs at least 2 folds")
    folds: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for name in sorted(records):
        order = np.random.default_rng(seed).permutation(sorted(records[name]))
        for rec in order:
            folds[turn % k].append(str(rec))
            turn += 1
    return [sorted(f) for f in folds]


@dataclass(frozen=True)
class BeatSplit:
    """Record ids per split, the databases they came from, and the folds validation came from."""

    train: list[str]
    val: list[str]
    test: dict[str, list[str]]  # per database
    folds: list[list[str]]
    fold: int


def multi_db_split(
    available: Mapping[str, list[str]], fold: int = VALIDATION_FOLD, k: int = N_FOLDS
) -> BeatSplit:
    """Training records (not test) of every database, `fold` of the patient folds as validation."""
    if not 0 <= fold < k:
        raise InputError(f"fold must lie in 0..{k - 1}")
    pool = {
        name: [database(name).record_id(r) for r in recs if r not in database(name).test]
        for name, recs in available.items()
    }
    folds = patient_folds(pool, k)
    val = folds[fold]
    train = sorted(r for recs in pool.values() for r in recs if r not in set(val))
    test = {
        name: [database(name).record_id(r) for r in recs if r in database(name).test]
        for name, recs in available.items()
    }
    return BeatSplit(train, val, test, folds, fold)


def split_ids(ids: Iterable[str]) -> dict[str, list[str]]:
    """Record ids grouped by database name, records bare."""
    out: dict[str, list[str]] = {}
    for rid in ids:
        name, _, rec = rid.rpartition("/")
        out.setdefault(name or "mitdb", []).append(rec)
    return out


def load_ids(
    ids: Iterable[str],
    data_root: Path | None,
    spec: BeatSpec,
    cache_dir: Path | None,
    other_lead: bool = False,
) -> mitdb.BeatSet:
    """The beats of record ids from several registered databases, in the order given per db."""
    groups = split_ids(ids)
    sets = [
        load_db_beats(
            database(n), root_of(database(n), data_root), recs, spec, cache_dir, other_lead
        )
        for n, recs in groups.items()
    ]
    return concat(sets)


def database_of(record_id: str) -> str:
    return record_id.rpartition("/")[0] or "mitdb"


def multi_db_root(data_dir: str | Path | None) -> Path | None:
    """The root holding mitdb/ and svdb/ when the data point there; None for a MIT-BIH folder
    alone (the old DS1 -> DS2 split). --data-dir pointing at a folder of .hea files is MIT-BIH."""
    import os

    if data_dir is not None:
        path = Path(data_dir)
        if (path / "mitdb").is_dir() and (path / "svdb").is_dir():
            return path
        return None
    if mitdb.DATA_ENV in os.environ and ROOT_ENV not in os.environ:
        return None
    root = os.environ.get(ROOT_ENV)
    if root and (Path(root) / "mitdb").is_dir() and (Path(root) / "svdb").is_dir():
        return Path(root)
    return None


def available_records(data_root: Path) -> dict[str, list[str]]:
    """The records of every registered database present under the root."""
    return {name: db.available(root_of(db, data_root)) for name, db in REGISTRY.items()}
