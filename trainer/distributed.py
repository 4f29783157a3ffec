"""Training on several processes (torchrun): the ranks, their device, and what they exchange.

`torchrun --nproc_per_node=N -m trainer ...` starts N processes. Rank 0 runs the command as
usual (data, evaluation, export, every file and every line printed); the other ranks only train:
each `fit` on rank 0 sends them the job (config, training split, starting weights, teacher,
recorded noise), all ranks run the same epochs under DistributedDataParallel, and rank 0 alone
validates, decides when to stop and writes the checkpoint. The ranks draw the same global
batches from the same seed and each trains on its own contiguous share of every batch (its loss
weighted by that share), and BatchNorm normalises over the global batch (torch's SyncBatchNorm
on GPUs; `GlobalBatchNorm` on CPUs, where SyncBatchNorm does not run), so N ranks take the
optimiser steps one process would. Without torchrun nothing here runs: no process group, the
loop as it always was.

Backends follow the device: nccl when the rank has a GPU (rank pinned to cuda:LOCAL_RANK), gloo
on CPUs. Control messages (jobs, stop decisions, losses) go through a gloo group whose timeout
covers rank 0's evaluation and export between two fits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.batches import Batch
from trainer.config import TrainConfig
from trainer.models import ModelConfig, build_model
from trainer.splits import Split

# a follower waits this long for rank 0's next job (rank 0 evaluates, exports and quantizes
# between two fits of a compress chain); collectives inside an epoch keep torch's default
CONTROL_TIMEOUT = timedelta(hours=12)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    control: Any = None  # the gloo group for control messages (None alone)

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"

    def describe(self) -> dict:
        """What a checkpoint records about how it was trained."""
        return {"world_size": self.world, "backend": self.backend, "device": str(self.device)}


_current: Ranks | None = None


def current() -> Ranks | None:
    """The ranks of this process when launched by torchrun, else None (one process, CPU)."""
    return _current


def setup() -> Ranks:
    """Join the process group torchrun describes in the environment; pin the GPU if any."""
    global _current
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cpu")
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    control = None
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world)
        control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    _current = Ranks(rank, world, local_rank, device, control)
    return _current


def teardown() -> None:
    global _current
    if dist.is_initialized():
        dist.destroy_process_group()
    _current = None


def launch(command: Callable[[], Any], follow: Callable[[Ranks], None] | None = None) -> None:
    """Rank 0 (or the only rank) runs `command`; the others `follow` until rank 0 is done.

    The end is announced only when rank 0 leaves between fits; a rank 0 that fails inside a fit
    exits without it and torchrun stops the other ranks."""
    ranks = setup()
    try:
        if not ranks.leader:
            (follow or follow_jobs)(ranks)
            return
        try:
            command()
        finally:
            if ranks.world > 1 and not _in_job:
                share(ranks, None)
    finally:
        teardown()


# ---- jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What every rank needs to run the same fit: rank 0 sends it to the others (the training
    split goes beside it, by `share_split`)."""

    cfg: TrainConfig
    model: dict  # `weights_of` the starting network
    teacher: dict | None  # the same of the frozen teacher, or None
    anchored: bool  # the initial network, frozen, anchors the clean beats' answers
    noise: list[np.ndarray] | None  # recorded noise tracks added to training beats
    torch_rng: torch.Tensor  # rank 0's torch random state as training starts (dropout)


def weights_of(model: nn.Module | None) -> dict | None:
    """A network as plain config and CPU tensors, to send to other ranks."""
    if model is None:
        return None
    cfg: ModelConfig = model.cfg  # type: ignore[assignment]
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"config": cfg.to_dict(), "state": state}


def rebuild(weights: dict) -> nn.Module:
    model = build_model(ModelConfig.from_dict(weights["config"]))
    model.load_state_dict(weights["state"])
    return model


def receive_job(ranks: Ranks) -> tuple[Job, Split] | None:
    """A rank other than 0: rank 0's next job and its training split, or None when it is done."""
    job = share(ranks, None)
    return None if job is None else (job, share_split(ranks, None))


def follow_jobs(ranks: Ranks) -> None:
    """A rank other than 0 under torchrun: train every job rank 0 sends, until it is done."""
    from trainer.train import train_job  # the training loop imports this module

    while (received := receive_job(ranks)) is not None:
        train_job(*received, ranks)


# ---- control messages ------------------------------------------------------------------------

_in_job = False  # rank 0: the followers are inside a job (an abort must not announce the end)
_sent_split: Split | None = None  # rank 0: the training split the followers already hold
_held_split: Split | None = None  # a follower: that split


def share(ranks: Ranks, obj: Any) -> Any:
    """Rank 0's `obj` on every rank (pickled: configs, small state dicts, flags)."""
    box = [obj if ranks.leader else None]
    dist.broadcast_object_list(box, src=0, group=ranks.control)
    return box[0]


def job_started(started: bool) -> None:
    global _in_job
    _in_job = started


def share_split(ranks: Ranks, split: Split | None) -> Split:
    """Rank 0's training split on every rank, as raw tensors (no pickling of large arrays); a
    split the followers already hold (the next fit of a compress chain) is not sent again."""
    global _sent_split, _held_split
    fresh = share(ranks, split is not _sent_split if ranks.leader else None)
    if not fresh:
        held = split if ranks.leader else _held_split
        assert held is not None
        return held
    if ranks.leader:
        assert split is not None
        arrays = [split.x, split.y, split.extra, split.groups]
        share(ranks, [_layout(a) for a in arrays])
    else:
        arrays = [_receiving(m) for m in share(ranks, None)]
    for a in arrays:
        if a is not None and a.size and _raw(a):
            dist.broadcast(torch.from_numpy(np.ascontiguousarray(a)), src=0, group=ranks.control)
    if ranks.leader:
        _sent_split = split
        return split  # type: ignore[return-value]
    _held_split = Split(*arrays)  # type: ignore[arg-type]
    return _held_split


def _raw(a: np.ndarray) -> bool:
    """Numbers go as tensors; anything else (record names) is pickled with the layout."""
    return a.dtype.kind in "biuf"


def _layout(a: np.ndarray | None) -> Any:
    return None if a is None else (a.shape, a.dtype.str) if _raw(a) else a


def _receiving(layout: Any) -> np.ndarray | None:
    """The array a layout announces: empty, to be filled by the broadcast, or the array itself."""
    if layout is None or isinstance(layout, np.ndarray):
        return layout
    return np.empty(layout[0], layout[1])


def mean_loss(ranks: Ranks | None, losses: list[torch.Tensor]) -> float:
    """The epoch's mean training loss over the global batches (each rank's loss is weighted by
    its share of the batch, so the sum over ranks over N is the global batch's loss)."""
    if not losses:
        return float("nan")
    if ranks is None or ranks.world == 1:
        return float(np.mean([float(loss) for loss in losses]))
    local = torch.stack([loss.detach().double().cpu() for loss in losses])
    dist.all_reduce(local, group=ranks.control)
    return float(local.mean()) / ranks.world


# ---- the global batch, shared out ------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """A rank's rows of one global batch, and the weight that makes its loss count as its
    share: the mean over ranks of weighted losses is the global batch's mean loss."""

    batch: Batch
    weight: float
    rows: tuple[int, int, int] | None = None  # the global batch's rows, this rank's first, end


def shard(batch: Batch, ranks: Ranks | None) -> Share | None:
    """This rank's contiguous rows of the global batch on its device; None for a batch with
    fewer rows than ranks (every rank skips it alike: an empty share has no loss)."""
    if ranks is None:
        return Share(batch, 1.0)
    n = len(batch[2])
    if n < ranks.world:
        return None
    bounds = np.linspace(0, n, ranks.world + 1).round().astype(int)
    lo, hi = bounds[ranks.rank], bounds[ranks.rank + 1]
    x, extra, y, clean = (None if t is None else t[lo:hi].to(ranks.device) for t in batch)
    assert x is not None and y is not None and clean is not None
    return Share((x, extra, y, clean), (hi - lo) * ranks.world / n, (n, int(lo), int(hi)))


def wrap(module: nn.Module, ranks: Ranks | None) -> nn.Module:
    """`module` under DistributedDataParallel when there are several ranks (gradients averaged
    over ranks; rank 0's weights copied to all at the start); as it is otherwise."""
    if ranks is None or ranks.world == 1:
        return module
    ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    # BatchNorm statistics are global (identical on every rank): buffers are synced at the
    # start only, not before every forward
    return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)


# ---- BatchNorm over the global batch ---------------------------------------------------------


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) that passes gradients back: every rank's output depends on every rank's
    input, so the gradient of a rank's input is the sum of all ranks' output gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group: Any) -> torch.Tensor:  # type: ignore[override]
        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics cover the global batch of all ranks, for CPUs
    (torch's SyncBatchNorm runs on GPUs only). Two passes (mean, then squared deviations) keep
    the variance exact in float32; in evaluation it is the plain BatchNorm it replaced."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized():
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype, device=x.device)
        total = _SumOverRanks.apply(torch.cat([x.sum(dims), count]), None)
        n = total[-1].detach()
        mean = total[:-1] / n
        centred = x - mean.reshape(shape)
        var = _SumOverRanks.apply((centred * centred).sum(dims), None) / n
        if self.track_running_stats and self.running_mean is not None:
            self._update_running(mean.detach(), var.detach(), float(n))
        y = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        """As BatchNorm does: unbiased variance, momentum (or a cumulative mean without one)."""
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        m = self.momentum if self.momentum is not None else 1.0 / int(self.num_batches_tracked)
        self.running_mean.mul_(1 - m).add_(m * mean)
        self.running_var.mul_(1 - m).add_(m * var * n / max(n - 1.0, 1.0))


class GlobalDropout(nn.Dropout):
    """Dropout whose mask is drawn for the global batch from the random stream every rank holds
    alike, and cut to this rank's rows: N ranks drop the units one process would (the same
    draws and arithmetic as torch's CPU dropout)."""

    rows: tuple[int, int, int] | None = None  # set before each step (`mark_rows`)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.rows is None:
            return super().forward(x)
        n, lo, hi = self.rows
        noise = torch.empty((n, *x.shape[1:]), dtype=x.dtype, device=x.device)
        noise.bernoulli_(1 - self.p).div_(1 - self.p)
        return x * noise[lo:hi]


def mark_rows(model: nn.Module, share: Share) -> None:
    """Tell the global dropout layers which rows of the global batch this rank holds."""
    for m in model.modules():
        if isinstance(m, GlobalDropout):
            m.rows = share.rows


def global_batch(model: nn.Module, ranks: Ranks | None) -> nn.Module:
    """`model` (changed in place) with the layers that look across the batch made global when
    there are several ranks: BatchNorm (SyncBatchNorm on GPUs, `GlobalBatchNorm` on CPUs) and
    dropout (`GlobalDropout`). Weights and buffers are the same tensors and the state dict's
    keys the same, so the original class loads it back."""
    if ranks is None or ranks.world == 1:
        return model
    if ranks.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and ranks.device.type == "cpu":
            setattr(model, name, _as_global(child))
        elif type(child) is nn.Dropout:
            setattr(model, name, GlobalDropout(child.p))
        else:
            global_batch(child, ranks)
    return model


def _as_global(bn: nn.modules.batchnorm._BatchNorm) -> GlobalBatchNorm:
    out = GlobalBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    if bn.affine:
        out.weight, out.bias = bn.weight, bn.bias
    out.running_mean, out.running_var = bn.running_mean, bn.running_var
    out.num_batches_tracked = bn.num_batches_tracked
    out.train(bn.training)
    return out
