"""The CNN families. Teacher and student are configs of one ResNet1d; the seed's plain CNN is the
reference row of the comparison table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edge_monitor.errors import InputError
from trainer.presets import PRESETS  # noqa: F401 (re-exported: trainer.models.PRESETS)

ARCHS = ("resnet1d", "seed_cnn")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; stored inside every checkpoint."""

    arch: str = "resnet1d"
    in_channels: int = 12
    n_classes: int = 5
    input_length: int = 250
    n_extra: int = 0  # side features joined after pooling (RR context for beats)
    widths: tuple[int, ...] = (64, 128, 128)
    blocks_per_stage: int = 1
    kernel_size: int = 5
    stem_kernel: int = 7
    dropout: float = 0.2
    head_hidden: int = 64
    # "avgmax": global average and max pooling (any input length); "flatten": keep where in the
    # window a feature fired (a P wave before the QRS), for fixed-length, R-aligned beats
    pool: str = "avgmax"
    # >1: an ensemble of independently initialised networks whose logits are averaged; each
    # member is trained on its own loss. On 1.5 k training records one big network overfits,
    # while averaging small ones removes seed-to-seed noise (a better teacher).
    members: int = 1
    # Channels inside each residual block (between its two convolutions), in block order; None
    # means the block's width. Structured pruning narrows these and records the result here.
    inner_widths: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"unknown model arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.members < 1:
            raise InputError("an ensemble needs at least one member")
        if self.pool not in ("avgmax", "flatten"):
            raise InputError(f"unknown pooling {self.pool!r}; choose avgmax or flatten")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["inner_widths"] = None if self.inner_widths is None else list(self.inner_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "widths" in d:
            d["widths"] = tuple(int(w) for w in d["widths"])
        if d.get("inner_widths") is not None:
            d["inner_widths"] = tuple(int(w) for w in d["inner_widths"])
        return cls(**d)


def preset(task: str, name: str, **overrides) -> ModelConfig:
    try:
        base = PRESETS[task][name]
    except KeyError:
        names = ", ".join(PRESETS.get(task, {}))
        raise InputError(f"no model {name!r} for task {task!r}; choose one of {names}") from None
    return ModelConfig(**{**base, **overrides})


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a (projected) shortcut; stride 2 halves the time axis."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, inner: int | None = None
    ) -> None:
        super().__init__()
        pad = kernel // 2
        inner = inner or c_out
        self.conv1 = nn.Conv1d(c_in, inner, kernel, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm1d(inner)
        self.conv2 = nn.Conv1d(inner, c_out, kernel, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNet1d(nn.Module):
    """A ResNet1d in the spirit of resnet1d_wang: stem, residual stages, avg+max pool, MLP head."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w0 = cfg.widths[0]
        self.stem = nn.Sequential(
            nn.Conv1d(cfg.in_channels, w0, cfg.stem_kernel, 1, cfg.stem_kernel // 2, bias=False),
            nn.BatchNorm1d(w0),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        c_in = w0
        n_blocks = len(cfg.widths) * cfg.blocks_per_stage
        inner = cfg.inner_widths or (None,) * n_blocks
        if len(inner) != n_blocks:
            raise InputError(f"inner_widths has {len(inner)} entries for {n_blocks} blocks")
        for stage, width in enumerate(cfg.widths):
            for b in range(cfg.blocks_per_stage):
                stride = 2 if (b == 0 and stage > 0) else 1
                k = stage * cfg.blocks_per_stage + b
                blocks.append(ResidualBlock(c_in, width, cfg.kernel_size, stride, inner[k]))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        length = cfg.input_length
        for _ in cfg.widths[1:]:
            length = (length - 1) // 2 + 1  # each later stage halves the time axis
        pooled = 2 * c_in if cfg.pool == "avgmax" else c_in * length
        self.head = nn.Sequential(
            nn.Linear(pooled + cfg.n_extra, cfg.head_hidden),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.head_hidden, cfg.n_classes),
        )

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        pooled = [h.mean(dim=-1), h.amax(dim=-1)] if self.cfg.pool == "avgmax" else [h.flatten(1)]
        if self.cfg.n_extra:
            if extra is None:
                raise InputError("this model needs its side features (RR context)")
            pooled.append(extra)
        return self.head(torch.cat(pooled, dim=1))


class SeedCNN(nn.Module):
    """The seed project's plain CNN (~6.5 M parameters on 12 x 1000): conv-pool stacks, dense head.

    Most of its weights sit in the dense layer over the flattened feature map, which is what made
    it large and what naive pruning and quantization broke.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = (cfg.in_channels, 64, 128, 256, 256)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv1d(c_in, c_out, 7, padding=3), nn.BatchNorm1d(c_out), nn.ReLU()]
            layers.append(nn.MaxPool1d(2))
        self.features = nn.Sequential(*layers)
        flat = chans[-1] * (cfg.input_length // 16)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(flat, 360),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(360, cfg.n_classes),
        )

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x))


class Ensemble(nn.Module):
    """Members of one config; the output is the mean of their logits."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        single = replace(cfg, members=1)
        self.members = nn.ModuleList(build_model(single) for _ in range(cfg.members))

    def member_logits(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([m(x, extra) for m in self.members])

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.member_logits(x, extra).mean(dim=0)


def ensemble_of(models: list[nn.Module]) -> Ensemble:
    """Trained models of one config as one Ensemble (mean of logits): students trained on
    different patient folds, shipped together instead of the luckiest one."""
    cfgs = {replace(m.cfg, members=1) for m in models}  # type: ignore[arg-type]
    if len(cfgs) != 1:
        raise InputError("an ensemble needs members of one model config")
    ens = Ensemble(replace(cfgs.pop(), members=len(models)))
    for member, model in zip(ens.members, models, strict=True):
        member.load_state_dict(model.state_dict())
    return ens


def build_model(cfg: ModelConfig) -> nn.Module:
    if cfg.members > 1:
        return Ensemble(cfg)
    return SeedCNN(cfg) if cfg.arch == "seed_cnn" else ResNet1d(cfg)


@dataclass(frozen=True)
class ModelSize:
    params: int
    macs: int
    fp32_bytes: int
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.params:,} parameters, {self.macs / 1e6:.2f} M MACs per input"


def model_size(model: nn.Module) -> ModelSize:
    """Parameters and multiply-accumulates of one forward pass on one input (torch flop counter)."""
    cfg: ModelConfig = model.cfg  # type: ignore[assignment]
    x = torch.zeros(1, cfg.in_channels, cfg.input_length)
    extra = torch.zeros(1, cfg.n_extra) if cfg.n_extra else None
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, extra)
    model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return ModelSize(params=params, macs=counter.get_total_flops() // 2, fp32_bytes=4 * params)
