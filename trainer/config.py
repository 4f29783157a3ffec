"""Run configuration: a frozen dataclass, TOML in (people edit it), JSON out (with artifacts)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from edge_monitor.errors import DataNotFoundError, InputError


@dataclass(frozen=True)
class TrainConfig:
    task: str = "diagnostic"
    model: str = "teacher"  # a preset of trainer.models.PRESETS
    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-2
    patience: int = 8  # epochs without a better validation score before stopping
    # which epoch's weights are kept: "best" validation score (stopping after `patience` stale
    # epochs), or "last": every epoch runs and the last (annealed by the one-cycle schedule) is
    # kept, because on a validation fold of a few patients the best epoch is partly luck;
    # "average": every epoch runs and the mean of the last `average_epochs` epochs' weights is
    # kept (weight averaging, Izmailov et al. 2018): one annealed epoch is still one draw of
    # the last batches' noise, the mean of several is less so, which is what seed spread is
    keep_epoch: str = "best"
    average_epochs: int = 10
    seed: int = 0
    limit: int | None = None  # records (diagnostic) or beats per split (arrhythmia) for quick runs
    threads: int = 2
    # diagnostic: random crops of the model's window from each 10 s record
    crops_per_record: int = 4
    eval_stride: int = 125  # samples between sliding windows at evaluation (1.25 s at 100 Hz)
    aggregate: str = "mean"  # windows -> record: "mean" or "max" of the window probabilities
    # arrhythmia: class balance and augmentation
    majority_keep: float = 0.35  # share of N beats drawn into each epoch
    # per-patient balance: at most this many beats of each minority class from one record per
    # epoch (drawn afresh each epoch; 0 = no cap), so a few S-heavy patients do not set the prior
    record_cap: int = 0
    # N beats inside annotated atrial fibrillation / flutter of the training records (MIT-BIH
    # labels them N) are drawn this many times per epoch and never left out by majority_keep:
    # counter-examples to "short in an irregular rhythm = S"; 1 = no emphasis
    af_n_repeat: int = 1
    class_weight_power: float = 0.5  # loss weight ~ (1 / class frequency) ** power
    focal_gamma: float = 0.0
    jitter: int = 3  # R-peak jitter in model samples, covers detector error
    # share of training beats read on the inverted lead (beat and template negated together:
    # swapped electrodes, a Holter channel of the other polarity); 0 = as recorded
    polarity_flip_prob: float = 0.0
    label_smoothing: float = 0.0
    # recorded noise (nstdb bw + ma, their first 5 minutes: the stress test never adds those)
    # added to this share of training beats at an SNR drawn between the bounds; 0 = none
    noise_prob: float = 0.0
    noise_snr_min_db: float = 0.0
    noise_snr_max_db: float = 24.0
    noise_dir: str | None = None  # nstdb folder (else $ECG_EDGE_NSTDB / $ECG_EDGE_DATA/nstdb)
    # fine-tuning: keep BatchNorm's running statistics as the initial model has them, so noisy
    # fine-tuning beats do not move the normalisation the clean beats were learned with
    freeze_batchnorm: bool = False
    # fine-tuning: weight of a distillation term that keeps the outputs on the clean inputs as
    # the initial model gave them, so learning to ignore noise does not unlearn clean beats
    anchor_weight: float = 0.0
    # knowledge distillation (used when a teacher is given)
    kd_alpha: float = 0.5  # share of the loss that follows the teacher
    kd_temperature: float = 2.0

    def __post_init__(self) -> None:
        # the registry's kinds import this module: the lookup is imported when it is needed
        from trainer.kinds import kind_of

        kind_of(self.task)
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch size must be at least 1")
        if not 0.0 <= self.kd_alpha <= 1.0 or self.kd_temperature <= 0:
            raise InputError("kd_alpha must lie in [0, 1] and kd_temperature be positive")
        if self.keep_epoch not in ("best", "last", "average"):
            raise InputError(
                f"keep_epoch must be 'best', 'last' or 'average', not {self.keep_epoch!r}"
            )
        whole = isinstance(self.average_epochs, int) and not isinstance(self.average_epochs, bool)
        if not whole or self.average_epochs < 1:
            raise InputError(
                f"average_epochs must be a whole number >= 1, not {self.average_epochs!r}"
            )
        if self.aggregate not in ("mean", "max"):
            raise InputError(f"aggregate must be 'mean' or 'max', not {self.aggregate!r}")
        if self.anchor_weight < 0:
            raise InputError("anchor_weight must not be negative")
        if not 0.0 <= self.noise_prob <= 1.0 or self.noise_snr_min_db > self.noise_snr_max_db:
            raise InputError("noise_prob must lie in [0, 1] and the SNR bounds be ordered")
        if not 0.0 <= self.polarity_flip_prob <= 1.0:
            raise InputError("polarity_flip_prob must lie in [0, 1]")
        if self.record_cap < 0:
            raise InputError("record_cap must not be negative (0 = no cap)")
        if self.af_n_repeat < 1:
            raise InputError("af_n_repeat must be at least 1 (1 = no emphasis)")
        if self.limit is not None and self.limit < 1:
            raise InputError("--limit must be a positive number")
        for name, (low, high, open_low) in _BOUNDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            inside = low < value <= high if open_low else low <= value <= high  # False for NaN
            if not inside:
                span = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
                raise InputError(f"{name} must lie in {span}, not {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        if not isinstance(d, dict):
            raise InputError(f"a config's [train] must be a table, not {type(d).__name__}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise InputError(f"unknown config keys: {', '.join(sorted(unknown))}")
        for key, value in d.items():
            if not _of_type(value, str(known[key])):
                raise InputError(f"config key {key} must be {known[key]}, not {value!r}")
        return cls(**d)

    def with_overrides(self, **overrides) -> TrainConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


# Where each number of a run may lie: a recipe file from a stranger (or a typo) is refused in one
# line before the data loads, not by torch or sklearn minutes into training. (low, high, whether
# low itself is refused); NaN lies nowhere.
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "epochs": (1, 100_000, False),
    "batch_size": (1, 1_000_000, False),
    "lr": (0.0, 10.0, True),
    "weight_decay": (0.0, 10.0, False),
    "patience": (0, 100_000, False),
    "average_epochs": (1, 100_000, False),
    "seed": (0, 2**32 - 1, False),
    "limit": (1, 10**12, False),
    "threads": (1, 1024, False),
    "crops_per_record": (1, 10_000, False),
    "eval_stride": (1, 10**7, False),
    "majority_keep": (0.0, 1.0, True),
    "record_cap": (0, 10**9, False),
    "af_n_repeat": (1, 10_000, False),
    "class_weight_power": (0.0, 10.0, False),
    "focal_gamma": (0.0, 100.0, False),
    "jitter": (0, 10_000, False),
    "label_smoothing": (0.0, 0.999, False),
    "noise_snr_min_db": (-100.0, 200.0, False),
    "noise_snr_max_db": (-100.0, 200.0, False),
    "anchor_weight": (0.0, 1e6, False),
    "kd_temperature": (0.0, 1000.0, True),
}
_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _of_type(value: object, annotation: str) -> bool:
    """A TOML value against a field's annotation ("int", "float | None", ...): bool is not a
    number here, and a number is not a word."""
    allowed: tuple = ()
    for part in (a.strip() for a in annotation.split("|")):
        if part == "None":
            allowed += (type(None),)
        else:
            allowed += _TYPES.get(part, (object,))
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


MAX_CONFIG_BYTES = 1 << 20  # a recipe is a few lines; /dev/zero behind a link is not one

# what `trainer compress` sets itself for every model of its chain, so a recipe may not: its own
# flags (--seed, --limit, --noise-prob, ...) or the stage (task, model) decide them
CHAIN_KEYS = (
    "task",
    "model",
    "seed",
    "limit",
    "noise_prob",
    "noise_dir",
    "noise_snr_min_db",
    "polarity_flip_prob",
    "freeze_batchnorm",  # hardening's and pruning's fine-tuning set these two
    "anchor_weight",
)


def train_table(path: Path) -> dict:
    """A config file's [train] table (what a bundle's manifest records of it)."""
    try:
        exists, regular = path.exists(), path.is_file()
        if regular:
            with path.open("rb") as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:  # a name too long, a file it may not read
        raise InputError(f"config file not readable: {path} ({exc.__class__.__name__})") from exc
    if not exists:
        raise DataNotFoundError(f"config file not found: {path}")
    if not regular:  # a FIFO would hang the read, /dev/zero never end it, a folder fail it
        raise InputError(f"config file not a regular file: {path}")
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputError(f"config file over {MAX_CONFIG_BYTES >> 20} MiB: {path}")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"config file not readable: {path} (not UTF-8 text)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML in {path}: {exc}") from exc
    extra = set(doc) - {"train"}
    if extra:
        raise InputError(f"unknown tables in {path}: {', '.join(sorted(extra))}")
    return doc.get("train", {})


def chain_recipe(path: Path, task: str, **flags) -> dict:
    """The [train] table `trainer compress --config` applies to every model it trains, checked
    whole: no key the chain sets itself, every value in range, also under the `flags` given."""
    table = train_table(path)
    taken = sorted(set(table) & set(CHAIN_KEYS)) if isinstance(table, dict) else []
    if taken:
        raise InputError(
            f"{path}: {', '.join(taken)} set by trainer compress's own options, not by a recipe"
        )
    config_from(table, task=task, **flags)
    return table


def config_from(table: dict, **overrides) -> TrainConfig:
    """Defaults, then the task's own (`TaskKind.train_defaults`), then a [train] table, then
    the command-line flags (None: not given)."""
    from trainer.kinds import kind_of

    task = overrides.get("task") or (table.get("task") if isinstance(table, dict) else None)
    try:
        own = dict(kind_of(task or TrainConfig.task).train_defaults)
    except InputError:  # an unknown task: TrainConfig says so in its own words
        own = {}
    base = {**own, **table} if isinstance(table, dict) else table
    return TrainConfig.from_dict(base).with_overrides(**overrides)


def load_config(path: Path | None, **overrides) -> TrainConfig:
    """Defaults, the task's own, then the TOML file's [train] table, then the command-line
    flags (`config_from`)."""
    return config_from(train_table(path) if path is not None else {}, **overrides)
