"""Training batches: random crops of records, class-balanced and augmented beats."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from edge_monitor.errors import InputError
from trainer.config import TrainConfig
from trainer.datasets.mitdb import AF_RHYTHMS
from trainer.datasets.nstdb import gain_for_snr
from trainer.splits import Split

# what the fit loop gets: inputs, extra features (beats), labels, and the inputs before recorded
# noise was added (the same tensor when none was)
Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]


def diagnostic_batches(
    split: Split, window: int, cfg: TrainConfig, rng: np.random.Generator
) -> Iterator[Batch]:
    """Random crops of `window` samples, `crops_per_record` per record and epoch."""
    n, total = len(split), split.x.shape[-1]
    crops = 1 if window >= total else cfg.crops_per_record
    order = rng.permutation(np.repeat(np.arange(n), crops))
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start : start + cfg.batch_size]
        offsets = rng.integers(0, total - window + 1, size=len(idx))
        x = torch.from_numpy(
            np.stack([split.x[i, :, o : o + window] for i, o in zip(idx, offsets, strict=True)])
        )
        yield x, None, torch.from_numpy(split.y[idx]), x


def capped_minority(
    y: np.ndarray, groups: np.ndarray | None, cap: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of the minority beats (class > 0), at most `cap` of each class per record (a
    random draw); every one of them when `cap` is 0 or no records are given."""
    other = np.flatnonzero(y != 0)
    if cap <= 0 or groups is None or not len(other):
        return other
    chosen = []
    for record in np.unique(groups[other]):
        for cls in np.unique(y[other]):
            idx = other[(groups[other] == record) & (y[other] == cls)]
            chosen.append(rng.choice(idx, size=cap, replace=False) if len(idx) > cap else idx)
    return np.sort(np.concatenate(chosen))


def beat_epoch_indices(
    y: np.ndarray,
    keep: float,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
    cap: int = 0,
    emphasis: np.ndarray | None = None,
    repeat: int = 1,
) -> np.ndarray:
    """The minority beats (at most `cap` of a class per record, see `capped_minority`) and a
    random `keep` share of N beats, shuffled. With `repeat` > 1 the N beats flagged in
    `emphasis` are all taken, `repeat` times, and the `keep` share is drawn from the other N
    beats; `repeat` 1 draws exactly as without `emphasis`."""
    normal = np.flatnonzero(y == 0)
    other = capped_minority(y, groups, cap, rng)
    forced = np.empty(0, np.int64)
    if repeat > 1 and emphasis is not None:
        forced = np.tile(normal[emphasis[normal]], repeat)
        normal = normal[~emphasis[normal]]
    size = max(1, int(keep * len(normal))) if len(normal) else 0  # every N may be in AF
    chosen = rng.choice(normal, size=size, replace=False)
    return rng.permutation(np.concatenate([other, forced, chosen]))


def af_counterexamples(split: Split, cfg: TrainConfig) -> np.ndarray | None:
    """Which beats of the split lie in annotated AF / flutter (None when no emphasis is asked).
    The rhythms travel on the arrhythmia loader's split (`kinds.arrhythmia.RhythmSplit`); a
    split without them cannot honour `af_n_repeat`, so that is one clear error, not a silent
    plain epoch (torchrun's follower ranks receive plain splits today)."""
    if cfg.af_n_repeat <= 1:
        return None
    rhythms = getattr(split, "rhythms", None)
    if rhythms is None:
        raise InputError("af_n_repeat > 1 needs the beats' reference rhythms (not carried here)")
    return np.isin(rhythms, AF_RHYTHMS)


def epoch_indices(split: Split, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """One epoch's beat indices as the config asks (balance, per-record cap, AF emphasis)."""
    emphasis = af_counterexamples(split, cfg)
    return beat_epoch_indices(
        split.y, cfg.majority_keep, rng, split.groups, cfg.record_cap, emphasis, cfg.af_n_repeat
    )


def add_recorded_noise(
    x: np.ndarray,
    tracks: list[np.ndarray],
    prob: float,
    snr_db: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Recorded noise on the beat channel of a `prob` share of the beats, at an SNR drawn
    uniformly in dB with nst's definition (QRS peak-to-peak over noise RMS, as sinusoids); the
    template is a median of earlier beats and stays as it is."""
    n, _, length = x.shape
    chosen = np.flatnonzero(rng.random(n) < prob)
    if not len(chosen) or not tracks:
        return x
    x = x.copy()
    for i in chosen:
        track = tracks[rng.integers(len(tracks))]
        start = rng.integers(0, len(track) - length)
        piece = track[start : start + length] - track[start : start + length].mean()
        rms = float(np.sqrt(np.mean(piece * piece)))
        if rms <= 0:
            continue
        snr = rng.uniform(*snr_db)
        gain = gain_for_snr(snr, float(np.ptp(x[i, 0])), rms)
        x[i, 0] += (gain * piece).astype(np.float32)
    return x


def augment_beats(
    x: np.ndarray, jitter: int, rng: np.random.Generator, flip_prob: float = 0.0
) -> np.ndarray:
    """Shift the beat (channel 0) by up to `jitter` samples (edge-padded), as detector error
    would; scale the amplitude of beat and template together; add a little noise; negate beat
    and template together for a `flip_prob` share (an inverted lead: the R refinement picks the
    same sample, the largest deflection, and the amplitude scale is a peak-to-peak)."""
    n, c, length = x.shape
    if flip_prob > 0:  # drawn only when asked, so that older seeds draw as they did
        x = x * np.where(rng.random(n) < flip_prob, -1.0, 1.0).astype(np.float32)[:, None, None]
    if jitter:
        shift = rng.integers(-jitter, jitter + 1, size=n)
        idx = np.clip(np.arange(length)[None, :] - shift[:, None], 0, length - 1)
        x = x.copy()
        x[:, 0] = np.take_along_axis(x[:, 0], idx, axis=1)
    x = x * rng.uniform(0.8, 1.2, size=(n, 1, 1)).astype(np.float32)
    return (x + rng.normal(0, 0.02, size=x.shape)).astype(np.float32)


def beat_batches(
    split: Split,
    cfg: TrainConfig,
    rng: np.random.Generator,
    noise: list[np.ndarray] | None = None,
) -> Iterator[Batch]:
    order = epoch_indices(split, cfg, rng)
    snr = (cfg.noise_snr_min_db, cfg.noise_snr_max_db)
    for start in range(0, len(order), cfg.batch_size):
        idx = np.sort(order[start : start + cfg.batch_size])
        clean = augment_beats(split.x[idx], cfg.jitter, rng, cfg.polarity_flip_prob)
        x = add_recorded_noise(clean, noise, cfg.noise_prob, snr, rng) if noise else clean
        assert split.extra is not None
        yield (
            torch.from_numpy(x),
            torch.from_numpy(split.extra[idx]),
            torch.from_numpy(split.y[idx]),
            torch.from_numpy(clean),
        )


def beat_class_weights(y: np.ndarray, n_classes: int, cfg: TrainConfig) -> torch.Tensor:
    """Inverse-frequency weights of the classes as an epoch draws them, to the given power.
    With `cfg.record_cap` the weights stay those of the uncapped pool, so the cap also lowers
    the prior that S-heavy records set (what the cap is for)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[0] *= cfg.majority_keep
    freq = np.maximum(counts, 1) / counts.sum()
    w = (1.0 / freq) ** cfg.class_weight_power
    return torch.tensor(w / w.mean(), dtype=torch.float32)
