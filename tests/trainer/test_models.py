import pytest
import torch

from edge_monitor.errors import InputError
from trainer.models import PRESETS, ModelConfig, build_model, model_size, preset


def test_seed_baseline_is_the_size_of_the_seed_project():
    size = model_size(build_model(preset("diagnostic", "seed_cnn")))
    assert 6.3e6 < size.params < 6.7e6


@pytest.mark.parametrize(("task", "name"), [(t, n) for t in PRESETS for n in PRESETS[t]])
def test_every_preset_runs_forward_and_reports_its_size(task, name):
    cfg = preset(task, name)
    model = build_model(cfg).eval()
    x = torch.randn(3, cfg.in_channels, cfg.input_length)
    extra = torch.randn(3, cfg.n_extra) if cfg.n_extra else None
    assert model(x, extra).shape == (3, cfg.n_classes)
    size = model_size(model)
    assert size.params == sum(p.numel() for p in model.parameters())
    assert size.macs > size.params / 2  # convolutions reuse their weights along time


# how many times smaller a student is than its teacher: the beat and diagnostic chains distil a
# large teacher; the VT/VF window task's "teacher" is only a wider twin (its data is small)
SHRINK = {"diagnostic": 8, "arrhythmia": 8, "ventricular": 1.2}


def test_students_are_far_smaller_than_teachers():
    assert set(SHRINK) == set(PRESETS), "a new task states how much its student shrinks"
    for task in PRESETS:
        teacher = model_size(build_model(preset(task, "teacher")))
        student = model_size(build_model(preset(task, "student")))
        ratio = SHRINK[task]
        assert student.params * ratio < teacher.params and student.macs * ratio < teacher.macs


def test_config_round_trips_and_rejects_unknown_keys():
    cfg = preset("arrhythmia", "student")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(InputError, match="no model"):
        preset("diagnostic", "giant")


def test_beat_model_refuses_to_run_without_rr_features():
    cfg = preset("arrhythmia", "tiny")
    with pytest.raises(InputError):
        build_model(cfg)(torch.randn(1, cfg.in_channels, cfg.input_length))
