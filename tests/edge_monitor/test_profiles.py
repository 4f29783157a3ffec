import pytest

from edge_monitor.errors import DataNotFoundError, InputError
from edge_monitor.profiles import available_profiles, load_profile

SHIPPED = ["host", "rpi-zero-2w", "rpi3", "rpi4", "rpi5"]


def test_every_shipped_profile_loads():
    assert available_profiles() == SHIPPED
    for name in SHIPPED:
        p = load_profile(name)
        assert p.name == name
        assert p.runtime.intra_op_threads <= p.hardware.cores
        assert set(p.budgets.model_kb) == {"arrhythmia", "diagnostic", "ventricular"}


def test_rpi4_is_a_cortex_a72_with_its_sensor_wiring():
    p = load_profile("rpi4")
    assert p.hardware.cpu == "cortex-a72" and p.hardware.cores == 4
    assert p.sensor.sig_name == ["MLII"] and p.sensor.baseline == 512


def copy_of(tmp_path, name="rpi4"):
    from importlib import resources

    return resources.files("device_profiles").joinpath(f"{name}.toml").read_text()


def test_unknown_key_is_an_error(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(copy_of(tmp_path).replace("cores = 4", "cores = 4\nturbo = true"))
    with pytest.raises(InputError, match="unknown keys turbo"):
        load_profile(f)


def test_missing_key_and_bad_values_are_errors(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(copy_of(tmp_path).replace("baud = 115200\n", ""))
    with pytest.raises(InputError, match="missing keys baud"):
        load_profile(f)
    f.write_text(copy_of(tmp_path).replace("intra_op_threads = 2", "intra_op_threads = 8"))
    with pytest.raises(InputError, match="more inference threads than cores"):
        load_profile(f)
    f.write_text(copy_of(tmp_path).replace('"entropy"', '"kl"'))
    with pytest.raises(InputError, match="calibration"):
        load_profile(f)
    f.write_text(copy_of(tmp_path).replace('activation_type = "uint8"', 'activation_type = "int4"'))
    with pytest.raises(InputError, match="activation_type"):
        load_profile(f)


def test_unknown_profile_names_the_shipped_ones(tmp_path):
    with pytest.raises(DataNotFoundError, match="rpi4"):
        load_profile("jetson")
    with pytest.raises(DataNotFoundError):
        load_profile(tmp_path / "none.toml")
