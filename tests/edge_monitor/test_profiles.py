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


# --- every field bounded at load (fs = 1e12 was a 1 TiB allocation, nan a traceback) ---------

import math  # noqa: E402
import tomllib  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edge_monitor.profiles import parse_profile  # noqa: E402


def _rpi4_doc() -> dict:
    return tomllib.loads(copy_of(None))


def _fields(doc: dict) -> list[tuple[str, ...]]:
    out = [("name",), ("description",)]
    for section, table in doc.items():
        if isinstance(table, dict):
            out += [(section, key) for key in table]
    return out


ABSURD = st.sampled_from(
    [math.nan, math.inf, -math.inf, -1, -1e300, 1e12, 1e308, 2**70, "", [], [5], {}, "WRONG"]
)


def _wrong_type(old):
    """A value of another TOML type than the field's own."""
    if isinstance(old, bool):
        return "yes"
    if isinstance(old, str):
        return 5
    if isinstance(old, int | float):
        return "5"
    if isinstance(old, list):
        return "MLII"
    return 5  # a table


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(_fields(_rpi4_doc())), value=ABSURD)
def test_any_field_with_an_absurd_value_is_refused_in_one_line(field, value):
    doc = _rpi4_doc()
    table = doc if len(field) == 1 else doc[field[0]]
    table[field[-1]] = _wrong_type(table[field[-1]]) if value == "WRONG" else value
    with pytest.raises(InputError) as exc:
        parse_profile(doc, "p.toml")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("p.toml: ")


def test_the_review_cases_are_refused_with_the_field_and_its_range(tmp_path):
    f = tmp_path / "p.toml"
    base = copy_of(tmp_path)
    for old, new, says in [
        ("fs = 250.0", "fs = 1e12", "sensor.fs = 1e+12 is outside 0 < fs <= 20000"),
        ("fs = 250.0", "fs = nan", "sensor.fs = nan is not a finite number"),
        ('sig_name = ["MLII"]', "sig_name = 5", "sensor.sig_name = 5 is not"),
        ("adc_bits = 10", "adc_bits = 200", "sensor.adc_bits = 200 is outside 1 <= adc_bits <= 24"),
        ("adc_gain = 341.3", "adc_gain = 1e-300", "sensor.adc_gain"),
        ("cores = 4", 'cores = "4"', "hardware.cores = '4' is not an integer"),
    ]:
        assert old in base
        f.write_text(base.replace(old, new, 1))
        with pytest.raises(InputError) as exc:
            load_profile(f)
        assert str(exc.value) == f"{f}: {says}" or str(exc.value).startswith(f"{f}: {says}")


def test_the_int8_range_gap_is_optional_and_bounded(tmp_path):
    """Added after profiles were out: a profile without it gets 0.05; a value outside 0-1 is a
    one-line refusal like any other budget."""
    from importlib import resources

    import pytest

    from edge_monitor.errors import InputError
    from edge_monitor.profiles import load_profile

    text = resources.files("device_profiles").joinpath("rpi4.toml").read_text()
    assert "max_int8_range_gap" not in text
    assert load_profile("rpi4").budgets.max_int8_range_gap == 0.05
    for value, ok in (("0.2", True), ("1.5", False), ("-0.1", False), ('"x"', False)):
        path = tmp_path / f"p{len(value)}{ok}.toml"
        path.write_text(text.replace("[budgets]\n", f"[budgets]\nmax_int8_range_gap = {value}\n"))
        if ok:
            assert load_profile(path).budgets.max_int8_range_gap == 0.2
        else:
            with pytest.raises(InputError, match="max_int8_range_gap"):
                load_profile(path)
