import pytest
import torch

from edge_monitor.errors import InputError
from trainer.checkpoint import load_checkpoint
from trainer.models import build_model, model_size, preset
from trainer.prune import prune_inner_channels


def trained_looking(task: str = "diagnostic", name: str = "student") -> torch.nn.Module:
    """A model whose BatchNorms are not at their defaults, so equality checks mean something."""
    torch.manual_seed(0)
    model = build_model(preset(task, name)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return model


def test_pruning_nothing_keeps_the_function():
    model = trained_looking()
    x = torch.randn(3, 12, 250)
    assert torch.equal(prune_inner_channels(model, 0.0).eval()(x), model(x))


def test_removing_dead_channels_keeps_the_function_and_shrinks_the_network():
    model = trained_looking()
    for block in model.blocks:  # silence half of each block's inner channels
        n = block.bn1.weight.shape[0]
        block.bn1.weight.data[: n // 2] = 0
        block.bn1.bias.data[: n // 2] = 0
    pruned = prune_inner_channels(model, 0.5).eval()
    x = torch.randn(3, 12, 250)
    torch.testing.assert_close(pruned(x), model(x), atol=1e-5, rtol=1e-5)
    assert pruned.cfg.inner_widths == (8, 16, 16)
    assert model_size(pruned).params < model_size(model).params


def test_sixty_percent_of_inner_channels_is_about_half_the_macs():
    model = trained_looking()
    before, after = model_size(model), model_size(prune_inner_channels(model, 0.6))
    assert 0.45 < 1 - after.macs / before.macs < 0.6
    assert after.params < 0.6 * before.params


def test_pruned_network_saves_and_loads_with_its_new_shape(tmp_path):
    from trainer.checkpoint import save_checkpoint

    pruned = prune_inner_channels(trained_looking("arrhythmia"), 0.5)
    save_checkpoint(tmp_path / "p.pt", pruned, task="arrhythmia")
    loaded, ckpt = load_checkpoint(tmp_path / "p.pt")
    assert ckpt["model_config"]["inner_widths"] == list(pruned.cfg.inner_widths)
    x, rr = torch.randn(2, 2, 128), torch.randn(2, 6)
    torch.testing.assert_close(loaded(x, rr), pruned.eval()(x, rr))


def test_an_ensemble_is_pruned_member_by_member():
    teacher = build_model(preset("diagnostic", "teacher")).eval()
    pruned = prune_inner_channels(teacher, 0.5).eval()
    before, after = model_size(teacher), model_size(pruned)
    assert after.params < before.params and after.macs < 0.7 * before.macs
    assert len(pruned.members) == len(teacher.members)
    x = torch.randn(1, 12, 250)
    assert pruned(x).shape == teacher(x).shape


def test_the_seed_cnn_and_bad_ratios_are_refused():
    with pytest.raises(InputError, match="seed CNN"):
        prune_inner_channels(build_model(preset("diagnostic", "seed_cnn")), 0.5)
    with pytest.raises(InputError, match="ratio"):
        prune_inner_channels(trained_looking(), 1.0)
