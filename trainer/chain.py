"""What the stages of one `trainer compress` run share: its options, profile, data, the
students' config and recorded noise, and the stage records; and the typed values passed from
stage to stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_monitor.errors import InputError
from edge_monitor.profiles import DeviceProfile, load_profile
from trainer.config import TrainConfig, chain_recipe, config_from
from trainer.evaluate import evaluate_checkpoint
from trainer.kinds import TaskKind, kind_of
from trainer.splits import TaskData
from trainer.stage_records import stage_entry
from trainer.tasks import load_task
from trainer.train import fit, training_noise_for


@dataclass(frozen=True)
class CompressOptions:
    task: str
    profile: str
    out: Path
    data_dir: Path | None = None
    cache_dir: Path | None = None
    teacher: Path | None = None  # trained here when absent
    student: Path | None = None  # a trained student to go on with: no students trained here
    baseline: Path | None = None  # the seed CNN checkpoint, scored for the table when given
    seed: int = 0
    student_seeds: tuple[int, ...] = ()  # students trained per seed (default: `seed` alone)
    prune_ratio: float = 0.5  # share of inner channels removed; 0 skips pruning
    ablation: bool = True  # also train the student without the teacher
    epochs: int | None = None
    finetune_epochs: int | None = None
    limit: int | None = None
    threads: int | None = None
    leads: str | None = None
    latency_runs: int = 300
    noise_prob: float = 0.0  # arrhythmia students: share of beats with recorded noise added
    noise_dir: Path | None = None
    noise_snr_min_db: float | None = None  # lower bound of the drawn SNR (config default else)
    # arrhythmia: fine-tune the chosen student with recorded noise on this share of beats
    # ("hardening"); 0 skips the stage
    harden_noise_prob: float = 0.0
    harden_epochs: int = 10
    harden_anchor_weight: float = 1.0  # the clean beats keep the student's answers (LwF)
    polarity_flip_prob: float = 0.0  # arrhythmia students and hardening: inverted-lead beats
    # a TOML [train] table under the options above (a recipe: keep_epoch, lr, ...), for the
    # teacher and the students alike; the chain's own options and flags win over it
    config: Path | None = None
    command: str = ""


@dataclass
class Chain:
    """What every stage of one run shares: its options, profile, data and stage records."""

    opts: CompressOptions
    profile: DeviceProfile
    data: TaskData
    kind: TaskKind
    student_cfg: TrainConfig
    noise_tracks: list[np.ndarray] | None  # students trained with recorded noise, or None
    say: Callable[[str], None]
    recipe: dict = field(default_factory=dict)  # --config's [train] table, read once
    stages: dict[str, dict] = field(default_factory=dict)

    @property
    def stages_dir(self) -> Path:
        return self.opts.out / "stages"

    def score(self, name: str, ckpt: Path, form: str, note: str) -> dict:
        """Evaluate a checkpoint on the test split and record it as stage `name`."""
        metrics = evaluate_checkpoint(
            ckpt, self.opts.data_dir, self.stages_dir / name, data=self.data
        )
        self.stages[name] = stage_entry(form, note, ckpt, metrics, self.kind)
        self.say(f"{name}: {self.stages[name]['summary']}")
        return metrics

    def fit(self, cfg: TrainConfig, path: Path, **kwargs) -> dict:
        """Train into `path`, the resolved config saved beside it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        return fit(cfg, self.data, path, **kwargs)


@dataclass(frozen=True)
class OnnxPair:
    fp32: Path
    int8: Path


def open_chain(opts: CompressOptions, say: Callable[[str], None]) -> Chain:
    """The profile, the data and the students' config; the stages folder made."""
    profile = load_profile(opts.profile)
    kind = kind_of(opts.task)
    refuse_beat_options(opts, kind)
    (opts.out / "stages").mkdir(parents=True, exist_ok=True)
    data = load_task(
        opts.task,
        opts.data_dir,
        leads=opts.leads,
        cache_dir=opts.cache_dir,
        limit=opts.limit,
        seed=opts.seed,
    )
    say(f"data: {data.source['dataset']}, {json.dumps(data.source.get('splits', ''))}")
    beat_inputs = {  # how the students' training beats are altered (beat tasks only)
        "polarity_flip_prob": opts.polarity_flip_prob,
        "noise_prob": opts.noise_prob,
        "noise_dir": opts.noise_dir and str(opts.noise_dir),
        "noise_snr_min_db": opts.noise_snr_min_db,
    }
    recipe = chain_recipe(opts.config, opts.task) if opts.config is not None else {}
    student_cfg = config_from(
        recipe, task=opts.task, model="student", **overrides(opts), **beat_inputs
    )
    tracks = None
    if kind.noise_training and opts.noise_prob > 0:
        tracks = training_noise_for(student_cfg, data)
    chain = Chain(opts, profile, data, kind, student_cfg, tracks, say, recipe)
    if opts.config is not None:  # the recipe travels with the bundle, not only its file name
        chain.stages["_config"] = {"file": str(opts.config), "train": recipe}
    return chain


def refuse_beat_options(opts: CompressOptions, kind: TaskKind) -> None:
    """Options that alter training beats: shares in [0, 1] (NaN or a negative one skipped the
    hardening asked for; one over 1 was refused only after the students had trained), and for
    beat tasks only (a window task ignored them: a run that reads as hardened or
    polarity-trained and is neither)."""
    asked = {
        "--noise-prob": opts.noise_prob,
        "--harden-noise-prob": opts.harden_noise_prob,
        "--polarity-flip-prob": opts.polarity_flip_prob,
    }
    for flag, value in asked.items():
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{flag} must lie in [0, 1], not {value}")
    if kind.noise_training:
        return
    used = [flag for flag, value in asked.items() if value != 0]
    if used:
        raise InputError(
            f"{', '.join(used)}: options of the beat model (--task arrhythmia), not of {opts.task}"
        )


def overrides(opts: CompressOptions) -> dict:
    """The options every model of the chain is trained with."""
    return dict(seed=opts.seed, epochs=opts.epochs, limit=opts.limit, threads=opts.threads)
