"""VT / VF windows: 4 s of one lead at 125 Hz from MIT-BIH and CU, labelled by rhythm episodes.

Each record goes through the device's own front end (the causal band-pass at the source rate,
then the streaming resampler to 125 Hz: what `WindowStream` does live) and is cut into windows
of `WINDOW` samples. A registry (`SOURCES`) says, per database, where it lives, which lead to read
and how its episodes are written:

- MIT-BIH Arrhythmia: rhythm aux notes `(VT`, `(VFL`, `(VF`, `(VFIB` run until the next rhythm
  note; paced records are left out (as in the beat task), unless
  `$ECG_EDGE_VENTRICULAR_PACED=negatives` brings them in as negatives: paced complexes are wide
  and regular, what the window model otherwise calls VT, and a monitored patient may be paced.
- CU Ventricular Tachyarrhythmia: VF / flutter episodes between `[` and `]` (an unclosed `[`
  runs to the end of the record), plus any ventricular rhythm aux notes.

Labels: a window is positive when at least half of it lies in an episode (the monitor must call
a window that is mostly VT/VF), negative when none of it does; windows with a smaller share are
onsets and offsets whose truth is ambiguous and are left out of the splits (the window benchmark
scores every window of a record, edges included). Everything else is a hard negative: AF,
flutter, bigeminy, frequent PVCs and couplets of MIT-BIH, the non-episode stretches of CU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_monitor.dsp import filter_record, resample_record
from edge_monitor.errors import DataNotFoundError
from edge_monitor.wfdb_io import read_annotations, read_header, read_signal
from trainer.datasets.cache import cached, default_cache_dir, fingerprint
from trainer.datasets.locate import dataset_dir
from trainer.datasets.mitdb import ARRHYTHMIA_FILTER, PACED, list_records, parse_rhythms

FS = 125.0  # the model rate
WINDOW = 500  # 4 s
STRIDE = 125  # 1 s: one inference a second on the device
FILTER = ARRHYTHMIA_FILTER  # 0.5-40 Hz: VF's 2-10 Hz and VT's wide QRS pass
LEAD = "MLII"  # the monitor's beat lead (its aliases cover CU's "ECG")
VENTRICULAR_RHYTHMS = ("VT", "VFL", "VF", "VFIB")
SETTLE_S = 2.0  # the monitor's settling time after bad signal (edge_monitor.pipeline)
POSITIVE_SHARE = 0.5  # share of a window inside an episode that makes it positive


def rhythm_episodes(ann, sig_len: int) -> list[tuple[int, int]]:
    """Spans [start, end) of ventricular rhythm aux notes, at the record's own rate."""
    aux = list(ann.aux_note) if ann.aux_note is not None else [""] * len(ann.symbol)
    episodes = parse_rhythms("", np.asarray(ann.sample), list(ann.symbol), aux, sig_len)
    return [(e.start, e.end) for e in episodes if e.label in VENTRICULAR_RHYTHMS]


def bracket_episodes(ann, sig_len: int) -> list[tuple[int, int]]:
    """CU's VF / flutter spans: `[` opens, `]` closes; a second `[` inside an open episode is
    part of it, an unclosed one runs to the end of the record. Plus rhythm aux notes."""
    spans, start = [], None
    for s, sym in zip(ann.sample, ann.symbol, strict=True):
        if sym == "[" and start is None:
            start = int(s)
        elif sym == "]" and start is not None:
            spans.append((start, int(s)))
            start = None
    if start is not None:
        spans.append((start, sig_len))
    return spans + rhythm_episodes(ann, sig_len)


@dataclass(frozen=True)
class Source:
    """One database of the registry: where it is, which lead, how its episodes are written."""

    name: str
    title: str
    env: str
    leads: tuple[str, ...]  # preferred leads, first found wins
    episodes: Callable[[object, int], list[tuple[int, int]]]
    exclude: tuple[str, ...] = ()

    def folder(self, root: str | Path | None) -> Path:
        """`root`/<name> when a data root is given, else the database's own variable, else
        $ECG_EDGE_DATA/<name>."""
        given = None if root is None else Path(root) / self.name
        return dataset_dir(given, self.env, self.name, self.title)

    def records(self, folder: Path, keep: tuple[str, ...] = ()) -> list[str]:
        """The database's records, less the excluded ones not named in `keep`."""
        return [r for r in list_records(folder) if r not in self.exclude or r in keep]


SOURCES = {
    "mitdb": Source("mitdb", "MIT-BIH", "ECG_EDGE_MITDB", ("MLII",), rhythm_episodes, PACED),
    "cudb": Source(
        "cudb", "CU Ventricular Tachyarrhythmia", "ECG_EDGE_CUDB", ("ECG",), bracket_episodes
    ),
}


def episode_mask(spans: list[tuple[int, int]], fs_source: float, n: int) -> np.ndarray:
    """Model-rate samples inside any span."""
    mask = np.zeros(n, dtype=bool)
    for a, b in spans:
        lo, hi = int(round(a * FS / fs_source)), int(round(b * FS / fs_source))
        mask[max(lo, 0) : min(hi, n)] = True
    return mask


def front_end(x: np.ndarray, fs: float) -> np.ndarray:
    """The device's filter and resampler over each stretch of valid samples, started afresh
    after a gap as the monitor restarts them; the gap and the first SETTLE_S after it are NaN
    (the monitor's rules freeze there too), and windows that touch NaN are never cut."""
    n_out = int(np.floor((len(x) - 1) * FS / fs)) + 1
    out = np.full(n_out, np.nan, dtype=np.float32)
    valid = np.concatenate([[False], np.isfinite(x), [False]])
    edges = np.flatnonzero(np.diff(valid.astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if (b - a) / fs <= SETTLE_S:
            continue
        piece = resample_record(filter_record(x[a:b, None], fs, FILTER), fs, FS)[:, 0]
        start = int(np.ceil(a * FS / fs))
        piece = piece[: max(0, n_out - start)]
        settle = int(SETTLE_S * FS)
        out[start + settle : start + len(piece)] = piece[settle:]
    return out


def read_record(folder: Path, name: str, source: Source) -> dict[str, np.ndarray]:
    """One record at the model rate through the device front end, with its episode mask."""
    path = folder / name
    header = read_header(path)
    names = [s.upper() for s in header.sig_name]
    channel = next((names.index(lead) for lead in source.leads if lead in names), 0)
    x, meta = read_signal(path, channels=[channel])
    fs = float(meta["fs"])
    signal = front_end(x[:, 0], fs)
    spans = source.episodes(read_annotations(path), header.sig_len)
    return {
        "signal": signal,
        "episode": episode_mask(spans, fs, len(signal)),
        "lead": np.array(header.sig_name[channel]),
        "fs_source": np.array(fs),
    }


def load_record(folder: Path, name: str, source: Source, cache_dir: Path | None) -> dict:
    """`read_record` through the npz cache (keyed by the files and the front end)."""
    files = [folder / f"{name}.{ext}" for ext in ("hea", "dat", "atr")]
    for f in files:
        if not f.exists():
            raise DataNotFoundError(f"missing file of record {name}: {f}")
    settings = {
        "fs": FS,
        "filter": FILTER.as_dict(),
        "leads": list(source.leads),
        "settle": SETTLE_S,
    }
    key = fingerprint(files, settings)
    cache = cache_dir or default_cache_dir()
    path = cache / "ventricular" / f"{source.name}-{name}-{key}.npz"
    return cached(path, lambda: read_record(folder, name, source))


@dataclass(frozen=True)
class Windows:
    """Windows cut from records, with the share of each inside an episode."""

    x: np.ndarray  # (n, 1, WINDOW) float32, mV
    share: np.ndarray  # (n,) float32
    groups: np.ndarray  # (n,) "db/record"
    starts: np.ndarray  # (n,) model-rate start sample

    def __len__(self) -> int:
        return len(self.share)


def cut_windows(
    signal: np.ndarray, episode: np.ndarray, group: str, stride: int, episode_stride: int
) -> Windows:
    """Every `stride` samples, and every `episode_stride` where a window touches an episode
    (the rare class gets more, overlapping views)."""
    n = len(signal)
    if n < WINDOW:
        empty = np.zeros((0, 1, WINDOW), np.float32)
        return Windows(empty, np.zeros(0, np.float32), np.zeros(0, str), np.zeros(0, np.int64))
    cum = np.concatenate([[0], np.cumsum(episode)])
    dense = np.arange(0, n - WINDOW + 1, episode_stride)
    touched = (cum[dense + WINDOW] - cum[dense]) > 0
    starts = np.union1d(np.arange(0, n - WINDOW + 1, stride), dense[touched])
    bad = np.concatenate([[0], np.cumsum(~np.isfinite(signal))])
    starts = starts[bad[starts + WINDOW] == bad[starts]]
    share = ((cum[starts + WINDOW] - cum[starts]) / WINDOW).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(signal, WINDOW)[starts][:, None, :]
    return Windows(np.ascontiguousarray(x), share, np.full(len(starts), group), starts)


def labelled(w: Windows) -> tuple[Windows, np.ndarray]:
    """The windows with a clear label (share 0 or >= POSITIVE_SHARE) and their 0/1 labels."""
    keep = (w.share == 0) | (w.share >= POSITIVE_SHARE)
    kept = Windows(w.x[keep], w.share[keep], w.groups[keep], w.starts[keep])
    return kept, (kept.share >= POSITIVE_SHARE).astype(np.float32)


def concat(parts: list[Windows]) -> Windows:
    parts = [p for p in parts if len(p)] or parts[:1]
    return Windows(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.share for p in parts]),
        np.concatenate([p.groups for p in parts]),
        np.concatenate([p.starts for p in parts]),
    )


# ---- folds and splits -------------------------------------------------------------------------

FOLDS = 3
FOLD_ENV = "ECG_EDGE_VENTRICULAR_FOLD"  # 1..FOLDS: that fold is the test split; unset: none
PACED_ENV = "ECG_EDGE_VENTRICULAR_PACED"  # "negatives": MIT-BIH's paced records join as negatives
PACED_GROUPS = tuple(f"mitdb/{r}" for r in PACED)
VAL_EVERY = 4  # every 4th record left for training (per database and kind) is validation
STRIDES = {"mitdb": 375, "cudb": 125}  # negatives: every 3 s of 30-min MIT-BIH, 1 s of 8-min CU
EPISODE_STRIDE = 50  # 0.4 s where a window touches an episode


@dataclass(frozen=True)
class RecordInfo:
    group: str  # "mitdb/207"
    episode_s: float  # time inside VT/VF episodes


def assign_folds(infos: list[RecordInfo], k: int = FOLDS) -> dict[str, int]:
    """Fold 1..k of each record, per database: records with episodes sorted by their episode
    time and dealt in snake order (each fold gets long and short ones), the others dealt by name,
    the paced ones last (so bringing them in moves no other record's fold). Fixed by the data
    alone (no seed), so every run and the benchmark agree."""
    folds: dict[str, int] = {}
    for db in sorted({i.group.split("/")[0] for i in infos}):
        mine = [i for i in infos if i.group.startswith(db + "/")]
        paced = sorted((i for i in mine if i.group in PACED_GROUPS), key=lambda i: i.group)
        mine = [i for i in mine if i.group not in PACED_GROUPS]
        pos = sorted((i for i in mine if i.episode_s > 0), key=lambda i: (-i.episode_s, i.group))
        neg = sorted((i for i in mine if i.episode_s == 0), key=lambda i: i.group)
        for n, info in enumerate(pos):
            turn, step = divmod(n, k)
            folds[info.group] = 1 + (step if turn % 2 == 0 else k - 1 - step)
        for n, info in enumerate(neg + paced):  # 217's 1.8 s of VT makes it no episode record
            folds[info.group] = 1 + (n + len(pos)) % k
    return folds


def plan_splits(infos: list[RecordInfo], test_fold: int | None) -> dict[str, list[str]]:
    """Record groups of train / val / test. test: the fold's records; val: every VAL_EVERY-th of
    the rest per database and kind (with / without episodes), never a paced record (so the
    threshold is tuned on the same records with them or without); train: the others. Without a test
    fold (the shipped model) all records but the validation ones train, and the test split is the
    validation split again: its numbers are in-sample for thresholds and no result."""
    folds = assign_folds(infos)
    test = [i for i in infos if folds[i.group] == test_fold]
    rest = [i for i in infos if i not in test]
    val = []
    for db in sorted({i.group.split("/")[0] for i in rest}):
        for has_episodes in (True, False):
            mine = [
                i
                for i in rest
                if i.group.startswith(db + "/")
                and (i.episode_s > 0) == has_episodes
                and i.group not in PACED_GROUPS  # train or test only: validation stays as it was
            ]
            mine.sort(key=lambda i: (-i.episode_s, i.group))
            val += mine[VAL_EVERY // 2 :: VAL_EVERY]
    train = [i for i in rest if i not in val]
    groups = {"train": train, "val": val, "test": test or val}
    return {k: [i.group for i in v] for k, v in groups.items()}


def fold_from_env(env: dict[str, str]) -> int | None:
    """The test fold named by $ECG_EDGE_VENTRICULAR_FOLD, or None (all records: the shipped
    model); anything else is a one-line error."""
    from edge_monitor.errors import InputError

    value = env.get(FOLD_ENV, "").strip()
    if value in ("", "all", "0"):
        return None
    if not value.isdigit() or not 1 <= int(value) <= FOLDS:
        raise InputError(f"${FOLD_ENV} must be 1-{FOLDS} (or unset), not {value!r}")
    return int(value)


def paced_from_env(env: dict[str, str]) -> bool:
    """Whether $ECG_EDGE_VENTRICULAR_PACED brings the paced records in ("negatives"); unset or
    "off" leaves them out; anything else is a one-line error."""
    from edge_monitor.errors import InputError

    given = env.get(PACED_ENV, "")
    value = given.strip().lower()
    if value in ("", "off"):
        return False
    if value == "negatives":
        return True
    raise InputError(f"${PACED_ENV} must be 'negatives' or 'off' (or unset), not {given!r}")


@dataclass(frozen=True)
class Corpus:
    """Every record of the registry at the model rate, by group "db/record"."""

    records: dict[str, dict[str, np.ndarray]]

    def infos(self) -> list[RecordInfo]:
        return [RecordInfo(g, float(r["episode"].sum()) / FS) for g, r in self.records.items()]

    def windows(self, groups: list[str]) -> Windows:
        parts = []
        for g in groups:
            r = self.records[g]
            stride = STRIDES[g.split("/")[0]]
            parts.append(cut_windows(r["signal"], r["episode"], g, stride, EPISODE_STRIDE))
        return concat(parts)


def load_corpus(
    root: str | Path | None, cache_dir: Path | None = None, paced: bool = False
) -> Corpus:
    """All records of every database in SOURCES (through the cache); `paced`: MIT-BIH's paced
    records too (they hold no VT/VF episode, so every window of theirs is a negative)."""
    records = {}
    for source in SOURCES.values():
        folder = source.folder(root)
        for name in source.records(folder, keep=PACED if paced else ()):
            records[f"{source.name}/{name}"] = load_record(folder, name, source, cache_dir)
    return Corpus(records)


# ---- recorded noise: alone and mixed into ECG, always labelled as the ECG under it --------------

NOISE_STRIDE = 250  # 2 s between noise-alone windows
MIX_SHARE = 0.25  # share of a split's ECG windows copied once more with recorded noise
MIX_SNR_DB = {0.0: (-6.0, 12.0), 1.0: (6.0, 18.0)}  # by label: negatives get the worst noise


def noise_tracks(root: str | Path | None, part: str) -> dict[str, np.ndarray]:
    """nstdb noise at the model rate through the front end. "train": what beat training uses
    (bw and ma's first 5 minutes, both channels; em's second channel); "val" / "test": the first
    and second half of what the noise stress test uses (bw, ma from minute 5 on, em's channel 0),
    so no noise sample is seen twice."""
    from trainer.datasets import nstdb

    folder = dataset_dir(
        None if root is None else Path(root) / "nstdb", nstdb.DATA_ENV, "nstdb", "nstdb"
    )
    mitdb = SOURCES["mitdb"].folder(root)
    if part == "train":
        tracks = nstdb.training_noise(folder, FS, FILTER, mitdb)
        names = ("bw0", "bw1", "ma0", "ma1", "em1")
        return dict(zip(names, tracks, strict=True))
    out = {}
    for name in nstdb.NOISE_NAMES:
        t = nstdb.load_noise(name, folder, mitdb)
        spans = (
            nstdb.noisy_spans(len(t.signal), t.fs)
            if name == "em"
            else [(int(nstdb.CLEAN_S * t.fs), len(t.signal))]
        )
        pieces = [front_end(t.signal[a:b], t.fs)[int(SETTLE_S * FS) :] for a, b in spans]
        whole = np.concatenate(pieces).astype(np.float32)
        half = len(whole) // 2
        out[name] = whole[:half] if part == "val" else whole[half:]
    return out


def noise_windows(tracks: dict[str, np.ndarray]) -> Windows:
    """Noise alone, every NOISE_STRIDE samples: negatives the monitor must not call VT/VF."""
    parts = [
        cut_windows(t, np.zeros(len(t), bool), f"nstdb/{name}", NOISE_STRIDE, NOISE_STRIDE)
        for name, t in tracks.items()
    ]
    return concat(parts)


def mix_noise(
    w: Windows, y: np.ndarray, tracks: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[Windows, np.ndarray]:
    """A MIX_SHARE of the windows again with a random noise piece added at an SNR drawn for
    their label (nst's definition: window peak-to-peak over noise RMS as sinusoids)."""
    from trainer.datasets.nstdb import gain_for_snr

    chosen = np.flatnonzero(rng.random(len(y)) < MIX_SHARE)
    names = list(tracks)
    x = w.x[chosen].copy()
    for row, i in enumerate(chosen):
        track = tracks[names[rng.integers(len(names))]]
        a = rng.integers(0, len(track) - WINDOW)
        piece = track[a : a + WINDOW] - track[a : a + WINDOW].mean()
        rms = float(np.sqrt(np.mean(piece * piece)))
        if rms > 0:
            snr = rng.uniform(*MIX_SNR_DB[float(y[i])])
            x[row, 0] += gain_for_snr(snr, float(np.ptp(x[row, 0])), rms) * piece
    mixed = Windows(x, w.share[chosen], w.groups[chosen], w.starts[chosen])
    return concat([w, mixed]), np.concatenate([y, y[chosen]])


@dataclass(frozen=True)
class LabelledSplit:
    windows: Windows
    y: np.ndarray  # (n,) 0/1


def load_splits(
    root: str | Path | None,
    test_fold: int | None,
    seed: int,
    cache_dir: Path | None = None,
    paced: bool = False,
) -> tuple[dict[str, LabelledSplit], dict[str, list[str]]]:
    """Train / val / test windows (recorded noise alone and mixed in) and each split's records."""
    corpus = load_corpus(root, cache_dir, paced)
    plan = plan_splits(corpus.infos(), test_fold)
    rng = np.random.default_rng(seed)
    out = {}
    for name, groups in plan.items():
        w, y = labelled(corpus.windows(groups))
        tracks = noise_tracks(root, name)
        w, y = mix_noise(w, y, tracks, rng)
        alone = noise_windows(tracks)
        out[name] = LabelledSplit(
            concat([w, alone]), np.concatenate([y, np.zeros(len(alone), np.float32)])
        )
    return out, plan
