"""Device profiles: what a target board has and the budgets a model must meet on it.

TOML files in `device_profiles/` (shipped inside the package) are read with stdlib tomllib into
frozen dataclasses. Unknown and missing keys are errors: a typo in a budget must not silently
fall back to a default that was never checked.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from edge_monitor.errors import DataNotFoundError, InputError, check_keys


@dataclass(frozen=True)
class Hardware:
    arch: str
    cpu: str
    cores: int
    memory_mb: int


@dataclass(frozen=True)
class Runtime:
    intra_op_threads: int
    inter_op_threads: int

    @property
    def threads(self) -> tuple[int, int]:
        """(intra-op, inter-op) threads, as onnxruntime sessions take them."""
        return self.intra_op_threads, self.inter_op_threads


@dataclass(frozen=True)
class Budgets:
    latency_p95_ms: float
    peak_rss_mb: float
    model_kb: dict[str, float]  # per task
    max_int8_auc_drop: float
    max_int8_f1_drop: float
    # `edge-monitor bench`'s start-up and throughput budgets. Every profile file sets them (a
    # missing key is an error); the defaults (None: not checked) serve code that builds Budgets.
    cold_start_s: float | None = None  # process start to the first beat, headless replay
    min_realtime_factor: float | None = None  # signal seconds per pipeline second, at least
    # how far (in probability) an int8 model's 1st / 99th output percentiles may fall inside its
    # fp32 twin's (trainer.quantize.range_gap): a clipped output keeps a rank score and breaks
    # the device's probability thresholds. Optional in a profile file (added 7 Dec 2026)
    max_int8_range_gap: float = 0.05


@dataclass(frozen=True)
class Quantization:
    format: str
    per_channel: bool
    calibration_methods: list[str]
    activation_type: str  # "uint8" or "int8"; weights are always int8


@dataclass(frozen=True)
class Sensor:
    port: str
    baud: int
    fs: float
    adc_gain: float  # ADC counts per mV (WFDB `adc_gain`)
    baseline: int  # ADC count of 0 mV (WFDB `baseline`)
    adc_bits: int  # the ADC's rails are 0 and 2**adc_bits - 1
    sig_name: list[str]
    stall_s: float  # no sample for this long: "no signal from the front end"


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    hardware: Hardware
    runtime: Runtime
    budgets: Budgets
    quantization: Quantization
    sensor: Sensor


_SECTIONS = {
    "hardware": Hardware,
    "runtime": Runtime,
    "budgets": Budgets,
    "quantization": Quantization,
    "sensor": Sensor,
}
_CALIBRATION_METHODS = {"minmax", "percentile", "entropy"}
# The profile every command uses unless told: the user's choice in this environment variable (a
# shipped name or a TOML path), else the reference target. One default for the monitor's commands
# and the trainer's gate, so a replay on the desk checks the budgets the device will be held to.
PROFILE_ENV = "ECG_EDGE_PROFILE"
DEFAULT_PROFILE = "rpi4"
ACTIVATION_TYPES = ("uint8", "int8")


def available_profiles() -> list[str]:
    return sorted(
        p.name[: -len(".toml")] for p in _profile_dir().iterdir() if p.name.endswith(".toml")
    )


def default_profile() -> str:
    """$ECG_EDGE_PROFILE when set, else rpi4 (the CLIs read the variable through typer)."""
    return os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE


def is_profile(value: str) -> bool:
    """A shipped profile's name or an existing .toml file (what `load_profile` reads)."""
    if value.endswith(".toml"):
        return Path(value).is_file()
    return value in available_profiles()


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name (`rpi4`) or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        shipped = _profile_dir().joinpath(f"{name_or_path}.toml")
        if not shipped.is_file():
            raise DataNotFoundError(
                f"no device profile {name_or_path!r}; shipped: {', '.join(available_profiles())}"
            )
        text, where = shipped.read_text(), f"profile {name_or_path}"
    else:
        if not path.exists():
            raise DataNotFoundError(f"device profile not found: {path}")
        text, where = path.read_text(), str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML in {where}: {exc}") from exc
    return parse_profile(doc, where)


def parse_profile(doc: dict[str, Any], where: str = "profile") -> DeviceProfile:
    check_keys(doc, {"name", "description", *_SECTIONS}, where)
    sections = {}
    for key, cls in _SECTIONS.items():
        table = doc[key]
        if not isinstance(table, dict):
            raise InputError(f"{where}: [{key}] must be a table")
        check_keys(
            table, {f.name for f in fields(cls)}, f"{where} [{key}]", _OPTIONAL.get(key, set())
        )
        for name, value in table.items():
            _check_field(f"{key}.{name}", value, _FIELDS[key][name], where)
        sections[key] = cls(**table)
    for name in ("name", "description"):
        _check_field(name, doc[name], (str,), where)
    profile = DeviceProfile(name=doc["name"], description=doc["description"], **sections)
    _validate(profile, where)
    return profile


# Each field's type and range, as the CLI options bound them (the sensor's fs within the WFDB
# header cap, adc_bits as --adc-bits): a profile is as much user input as an option, and an absurd
# value (fs = 1e12, nan, a name that is a number) must be one line here, not a traceback later.
# (int, lo, hi) / (float, lo, hi, lo_open): bounds inclusive unless lo_open; (str,) a non-empty
# string; (bool,); (list,) a non-empty list of non-empty strings; (dict, lo, hi) task -> number.
_INT, _FLOAT = int, float
# keys a profile may leave out (their dataclass default applies): added after profiles were out
_OPTIONAL: dict[str, set[str]] = {"budgets": {"max_int8_range_gap"}}
_FIELDS: dict[str, dict[str, tuple]] = {
    "hardware": {
        "arch": (str,),
        "cpu": (str,),
        "cores": (_INT, 1, 1024),
        "memory_mb": (_INT, 1, 1 << 24),
    },
    "runtime": {"intra_op_threads": (_INT, 1, 1024), "inter_op_threads": (_INT, 1, 1024)},
    "budgets": {
        "latency_p95_ms": (_FLOAT, 0, 1e6, True),
        "peak_rss_mb": (_FLOAT, 0, 1 << 24, True),
        "model_kb": (dict, 0, 1 << 24),
        "max_int8_auc_drop": (_FLOAT, 0, 1, False),
        "max_int8_f1_drop": (_FLOAT, 0, 1, False),
        "cold_start_s": (_FLOAT, 0, 3600, True),
        "min_realtime_factor": (_FLOAT, 0, 1e9, True),
        "max_int8_range_gap": (_FLOAT, 0, 1, False),
    },
    "quantization": {
        "format": (str,),
        "per_channel": (bool,),
        "calibration_methods": (list,),
        "activation_type": (str,),
    },
    "sensor": {
        "port": (str,),
        "baud": (_INT, 50, 20_000_000),  # as --baud
        "fs": (_FLOAT, 0, 20_000.0, True),  # as --fs: the WFDB header cap
        "adc_gain": (_FLOAT, 1e-6, 1e9, False),  # as --adc-gain and WFDB header gains
        "baseline": (_INT, 0, (1 << 24) - 1),  # an ADC count of a 24-bit ADC at most
        "adc_bits": (_INT, 1, 24),  # as --adc-bits
        "sig_name": (list,),
        "stall_s": (_FLOAT, 0.1, 60, False),
    },
}


def _check_field(name: str, value: Any, spec: tuple, where: str) -> None:
    kind = spec[0]
    shown = (
        repr(value)
        if isinstance(value, str)
        else f"{value:g}"
        if type(value) is float
        else str(value)
    )
    if len(shown) > 60:
        shown = shown[:57] + "..."
    shown = shown.replace("\n", " ")

    def bad(what: str) -> InputError:
        return InputError(f"{where}: {name} = {shown} {what}")

    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise bad("is not a non-empty string")
        if "\n" in value or "\r" in value:
            raise bad("must be one line")
    elif kind is bool:
        if not isinstance(value, bool):
            raise bad("is not true or false")
    elif kind is list:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() and "\n" not in v for v in value)
        ):
            raise bad("is not a non-empty list of names")
    elif kind is dict:
        if not isinstance(value, dict) or not value:
            raise bad("is not a table of task = number")
        for task, v in value.items():
            _check_field(f"{name}.{task}", v, (_FLOAT, spec[1], spec[2], True), where)
    elif kind is _INT:
        lo, hi = spec[1], spec[2]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("is not an integer")
        if not lo <= value <= hi:
            raise bad(f"is outside {lo} <= {name.rsplit('.', 1)[-1]} <= {hi}")
    else:
        lo, hi, lo_open = spec[1], spec[2], spec[3]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("is not a number")
        short = name.rsplit(".", 1)[-1]
        if not math.isfinite(value):
            raise bad("is not a finite number")
        if not ((lo < value) if lo_open else (lo <= value)) or value > hi:
            raise bad(f"is outside {lo} {'<' if lo_open else '<='} {short} <= {hi:g}")


def _validate(p: DeviceProfile, where: str) -> None:
    if p.hardware.cores < 1 or p.runtime.intra_op_threads < 1 or p.runtime.inter_op_threads < 1:
        raise InputError(f"{where}: cores and thread counts must be at least 1")
    if p.runtime.intra_op_threads > p.hardware.cores:
        raise InputError(f"{where}: more inference threads than cores")
    b = p.budgets
    positive = (b.latency_p95_ms, b.peak_rss_mb, b.cold_start_s, b.min_realtime_factor)
    if any(not isinstance(v, int | float) or v <= 0 for v in positive):
        raise InputError(f"{where}: budgets must be positive numbers")
    if unknown := set(p.quantization.calibration_methods) - _CALIBRATION_METHODS:
        raise InputError(f"{where}: unknown calibration methods {', '.join(sorted(unknown))}")
    if p.quantization.format not in ("QDQ", "QOperator"):
        raise InputError(f"{where}: quantization format must be QDQ or QOperator")
    if p.quantization.activation_type not in ACTIVATION_TYPES:
        raise InputError(f"{where}: activation_type must be {' or '.join(ACTIVATION_TYPES)}")
    if p.sensor.fs <= 0 or p.sensor.adc_gain <= 0 or not p.sensor.sig_name:
        raise InputError(f"{where}: the sensor needs fs > 0, adc_gain > 0 and lead names")
    if not 0.1 <= p.sensor.stall_s <= 60:
        raise InputError(f"{where}: sensor stall_s must be between 0.1 and 60 seconds")


def _profile_dir():
    return resources.files("device_profiles")
