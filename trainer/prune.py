"""Structured pruning that removes channels: a narrower network, not a masked one.

Inside each residual block the channels between the two convolutions are free to go: nothing
outside the block sees them, so removing one takes a filter out of the first convolution, its
BatchNorm entry, and an input slice out of the second. Those two convolutions carry most of the
MACs of our ResNets (85% of the diagnostic student's). A channel's importance is the L1 norm of
its filter times the |scale| of its BatchNorm (a channel the BatchNorm silences is unused however
large its filter). torch.nn.utils.prune only masks weights; the model would stay as large and as
slow, so the copy into a narrower network is done here.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from edge_monitor.errors import InputError
from trainer.models import Ensemble, ResidualBlock, ResNet1d, build_model


def channel_importance(block: ResidualBlock) -> torch.Tensor:
    l1 = block.conv1.weight.detach().abs().sum(dim=(1, 2))
    return l1 * block.bn1.weight.detach().abs()


def prune_inner_channels(model: torch.nn.Module, ratio: float) -> ResNet1d:
    """A copy of `model` with `ratio` of each block's inner channels removed (at least one kept).
    An ensemble is pruned member by member (each by its own channel importance)."""
    if isinstance(model, Ensemble):
        members = [prune_inner_channels(m, ratio) for m in model.members]
        pruned_ensemble = build_model(replace(model.cfg, inner_widths=members[0].cfg.inner_widths))
        for dst, src in zip(pruned_ensemble.members, members, strict=True):  # type: ignore[attr-defined]
            dst.load_state_dict(src.state_dict())
        pruned_ensemble.train(model.training)
        return pruned_ensemble  # type: ignore[return-value]
    if not isinstance(model, ResNet1d):
        raise InputError("structured pruning works on ResNet1d networks (not the seed CNN)")
    if not 0.0 <= ratio < 1.0:
        raise InputError(f"pruning ratio must lie in [0, 1), got {ratio}")
    blocks = [b for b in model.blocks if isinstance(b, ResidualBlock)]
    keep = []
    for block in blocks:
        n = block.conv1.out_channels
        k = max(1, round(n * (1.0 - ratio)))
        keep.append(torch.sort(torch.topk(channel_importance(block), k).indices).values)
    pruned = build_model(replace(model.cfg, inner_widths=tuple(len(k) for k in keep)))
    assert isinstance(pruned, ResNet1d)
    pruned.load_state_dict(_narrowed_state(model, keep))
    pruned.train(model.training)
    return pruned


def _narrowed_state(model: ResNet1d, keep: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i, idx in enumerate(keep):
        prefix = f"blocks.{i}."
        state[prefix + "conv1.weight"] = state[prefix + "conv1.weight"][idx]
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[prefix + f"bn1.{name}"] = state[prefix + f"bn1.{name}"][idx]
        state[prefix + "conv2.weight"] = state[prefix + "conv2.weight"][:, idx]
    return state
