import pytest

from edge_monitor.errors import DataNotFoundError, InputError
from trainer.config import TrainConfig, config_from, load_config


def test_flags_override_the_toml_file_which_overrides_defaults(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('[train]\ntask = "arrhythmia"\nepochs = 7\nlr = 0.01\n')
    cfg = load_config(f, epochs=3, lr=None)
    assert cfg.task == "arrhythmia" and cfg.epochs == 3 and cfg.lr == 0.01
    assert cfg.batch_size == TrainConfig().batch_size


def test_bad_files_and_values_are_input_errors(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(InputError, match="invalid TOML"):
        load_config(bad)
    bad.write_text("[model]\nwidth = 3\n")
    with pytest.raises(InputError, match="unknown tables"):
        load_config(bad)
    with pytest.raises(InputError, match="aggregate"):
        TrainConfig(aggregate="median")
    with pytest.raises(InputError, match="unknown task"):
        TrainConfig(task="sleep")
    for share in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="polarity_flip_prob"):
            TrainConfig(polarity_flip_prob=share)


def test_config_round_trips_through_its_dict():
    cfg = TrainConfig(task="arrhythmia", epochs=5, limit=100)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_distillation_settings_are_checked():
    with pytest.raises(InputError, match="kd_alpha"):
        TrainConfig(kd_alpha=1.5)
    with pytest.raises(InputError, match="kd_temperature"):
        TrainConfig(kd_temperature=0.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", float("nan")),
        ("lr", 0.0),
        ("lr", float("inf")),
        ("threads", 0),
        ("batch_size", 10**18),
        ("kd_temperature", float("nan")),
        ("majority_keep", -1.0),
        ("label_smoothing", 5.0),
        ("patience", -1),
        ("eval_stride", 0),
        ("noise_snr_max_db", float("nan")),
    ],
)
def test_numbers_out_of_range_are_refused_before_any_training(field, value):
    """What torch or sklearn would refuse minutes into a run (or train on: lr = inf) is one
    line at once."""
    with pytest.raises(InputError, match=f"{field} must lie in"):
        TrainConfig(**{field: value})


def test_a_task_trains_with_its_own_defaults_under_the_recipe_and_the_flags(tmp_path):
    """The VT/VF task keeps its last epoch unless told otherwise; other tasks the best."""
    assert load_config(None, task="ventricular", model="student").keep_epoch == "last"
    assert load_config(None, task="arrhythmia").keep_epoch == "best"
    assert config_from({"keep_epoch": "average"}, task="ventricular").keep_epoch == "average"
    f = tmp_path / "run.toml"
    f.write_text('[train]\ntask = "ventricular"\n')
    assert load_config(f).keep_epoch == "last"
    assert load_config(f, task="diagnostic").keep_epoch == "best"  # the flag's task decides
