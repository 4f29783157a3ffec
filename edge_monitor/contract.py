"""The model contract: everything the device needs to feed a model, stamped into the ONNX file.

It travels in the model's `metadata_props` (string keys, JSON values), so a bundle cannot drift
from the preprocessing it was trained with, and it survives quantization (checked by the
trainer). The runtime reads it with onnxruntime alone and refuses what it cannot honour.

Version 2 is typed: the filter, the input (`BeatInput`: one inference per detected beat, or
`WindowInput`: fixed windows every stride, aggregated over a record) and the output activation
are frozen dataclasses, and every nested part is validated when it is read: an unknown or missing
key, a number that is not finite or not in its range, is a one-line refusal at load time, never
a KeyError or an endless loop once monitoring has started. Version 1 contracts (a flat
`preprocessing` dict, the bundles shipped before version 2) are read through `_from_v1` and then
held to the same checks. The trainer builds its contracts through `parts_from_preprocessing`, the
same reader, so there is one recipe from a checkpoint's preprocessing to the typed contract.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edge_monitor.beats import BeatSpec
from edge_monitor.dsp import FilterSpec
from edge_monitor.errors import DataNotFoundError, InputError, check_keys, first_line
from edge_monitor.leads import match_leads

CONTRACT_VERSION = 2
PREFIX = "ecg_edge."
V1_TASKS = ("diagnostic", "arrhythmia")  # version 1 named the input by the task...
V1_BEAT_TASKS = ("arrhythmia",)  # ...and this one fed beats
ACTIVATIONS = ("softmax", "sigmoid")  # one class per input / independent labels
AGGREGATES = ("mean", "max")
MAX_FS = 2000.0
MAX_CLASSES = 64
MAX_INPUT_VALUES = 1 << 20  # one input tensor: a 12-lead 60 s window at 1 kHz is 720 k


@dataclass(frozen=True)
class BeatInput:
    """One inference per detected beat: a window around the R peak and its dominant-beat
    template at `beat.fs`, plus RR-interval features."""

    lead: str
    beat: BeatSpec
    rr_features: tuple[str, ...]
    channels: tuple[str, ...] = ("beat", "template")
    normalization: str = ""
    source_fs: float | None = None  # the rate the training records had (information)
    # "all": the beat model. "qrs_down": a companion that reads, in the beat model's place, the
    # beats whose dominant QRS points down (an inverted lead); it runs only beside a beat model
    # whose contract is its own but for this (bundle.check_companion)
    reads: str = "all"
    kind: str = "beats"


@dataclass(frozen=True)
class WindowInput:
    """Fixed windows of `window` samples every `stride`; a record's probabilities are the
    `aggregate` of its windows' (thresholds are tuned on those record-level probabilities)."""

    window: int
    stride: int
    aggregate: str
    record_samples: int  # the record length the thresholds were tuned on
    normalization: str = ""
    kind: str = "windows"

    @property
    def windows_per_record(self) -> int:
        return max(1, (self.record_samples - self.window) // self.stride + 1)


ModelInput = BeatInput | WindowInput


@dataclass(frozen=True)
class ModelContract:
    task: str  # a name for people and the trainer; the device reads `input` and `activation`
    fs: float  # model sampling rate, Hz
    leads: list[str]  # what the source must provide, in input-channel order
    classes: list[str]
    inputs: dict[str, list[int]]  # ONNX input name -> fixed shape (batch 1)
    output: str  # logits
    activation: str  # softmax or sigmoid over the logits
    filter: FilterSpec
    input: ModelInput
    thresholds: list[float] | None = None  # per class, on record-level probabilities
    provenance: dict = field(default_factory=dict)  # commit, checkpoint hash, data, metrics
    version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        from edge_monitor.contract_ranges import validate  # the ranges need these types

        validate(self)

    @property
    def multilabel(self) -> bool:
        return self.activation == "sigmoid"

    def as_json(self) -> dict:
        """Every field as JSON values (the filter and the input as their own dicts): what the
        ONNX metadata holds, one key per field, and a bundle's manifest shows."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "filter":
                value = value.as_dict()
            elif f.name == "input":
                value = _input_dict(value)
            out[f.name] = json.loads(json.dumps(value))
        return out

    def to_metadata(self) -> dict[str, str]:
        return {PREFIX + k: json.dumps(v, sort_keys=True) for k, v in self.as_json().items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "model") -> ModelContract:
        ours = {k[len(PREFIX) :]: v for k, v in meta.items() if k.startswith(PREFIX)}
        if not ours:
            raise InputError(f"{where} carries no ecg-edge contract (was it exported by trainer?)")
        try:
            values = {k: json.loads(v) for k, v in ours.items()}
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"{where}: contract value is not JSON ({first_line(exc)})") from exc
        return cls.from_json(values, where)

    @classmethod
    def from_json(cls, values: dict, where: str = "model") -> ModelContract:
        """The contract from its values as JSON gives them (as_json's layout, or version 1's):
        the ONNX metadata's, decoded, or a manifest's `contract`."""
        version = values.get("version", 1)
        if version == 1:
            values = _from_v1(values, where)
        elif version != CONTRACT_VERSION:
            raise InputError(
                f"{where}: model contract version {version!r} is not supported "
                f"(this runtime reads versions 1 and {CONTRACT_VERSION})"
            )
        return _build(values, where)

    def check_leads(self, available: list[str], who: str = "the model") -> list[int]:
        """The source channel feeding each of the model's leads, in the model's order; a source
        that lacks one, or names one twice, is refused. Names match through
        `leads.model_lead_key` (`Lead I`, `D1` and `i` are lead I; MLII is not lead II)."""
        match = match_leads(available, self.leads)
        if match.missing:
            raise InputError(
                f"{who} needs lead(s) {', '.join(match.missing)}; the source has "
                f"{', '.join(available) or 'none'}"
            )
        if match.duplicates:
            raise InputError(
                f"{match.duplicate_line()}: {who} reads each lead from one channel (rename one, "
                "or leave the model out with --model)"
            )
        return [c for c in match.channels if c is not None]


def parts_from_preprocessing(pre: dict, beats: bool, where: str = "preprocessing") -> dict:
    """A trainer checkpoint's preprocessing dict (the version-1 layout) -> the typed parts of a
    contract: activation, filter, input. `beats`: one inference per beat (else windows)."""
    pre = _mapping(pre, where)
    check_keys(pre, _PREPROCESSING_KEYS, where, optional=_PREPROCESSING_KEYS - {"filter"})
    filt = _dataclass(FilterSpec, pre["filter"], f"{where}.filter")
    common = {"normalization": str(pre.get("normalization", ""))}
    if beats:
        for key in ("beat", "lead", "rr_features"):
            if key not in pre:
                raise InputError(f"{where}: the beat model's contract lacks {key!r}")
        return {"activation": "softmax", "filter": filt, "input": _beat_input(pre, where)}
    for key in ("window", "stride", "aggregate"):
        if key not in pre:
            raise InputError(f"{where}: the window model's contract lacks {key!r}")
    window = WindowInput(
        window=pre["window"],
        stride=pre["stride"],
        aggregate=pre["aggregate"],
        record_samples=pre.get("record_samples", pre["window"]),
        **common,
    )
    return {"activation": "sigmoid", "filter": filt, "input": window}


def read_contract(onnx_path: Path, data: bytes | None = None) -> ModelContract:
    """The contract of an ONNX file (or of its bytes `data`, already read and hashed), read
    through onnxruntime (no onnx or torch on the device)."""
    import onnxruntime as ort

    if data is None and not onnx_path.exists():
        raise DataNotFoundError(f"model not found: {onnx_path}")
    try:
        source = data if data is not None else str(onnx_path)
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise InputError(f"not a loadable ONNX model: {onnx_path} ({first_line(exc)})") from exc
    return ModelContract.from_metadata(session.get_modelmeta().custom_metadata_map, str(onnx_path))


# --- reading ------------------------------------------------------------------------------

_PREPROCESSING_KEYS = {
    "fs",
    "source_fs",
    "lead",
    "leads",
    "filter",
    "beat",
    "rr_features",
    "channels",
    "normalization",
    "window",
    "stride",
    "aggregate",
    "record_samples",
}

_TOP = {
    "task",
    "fs",
    "leads",
    "classes",
    "inputs",
    "output",
    "activation",
    "filter",
    "input",
    "thresholds",
    "provenance",
    "version",
}
_TOP_REQUIRED = _TOP - {"thresholds", "provenance"}


def _from_v1(values: dict, where: str) -> dict:
    """Version 1: `preprocessing` held filter and geometry; the task named the activation."""
    known = {"task", "fs", "leads", "classes", "inputs", "output", "preprocessing"}
    known |= {"thresholds", "provenance", "version"}
    check_keys(values, known, where, optional={"thresholds", "provenance", "version"})
    task = values["task"]
    if task not in V1_TASKS:
        raise InputError(f"{where}: version-1 contract names an unknown task {task!r}")
    # version 1 said what the input was by the task's name: the beat task was the arrhythmia one
    beats = task in V1_BEAT_TASKS
    parts = parts_from_preprocessing(values["preprocessing"], beats, f"{where} preprocessing")
    rest = {k: v for k, v in values.items() if k not in ("preprocessing", "version")}
    return {**rest, **parts, "version": CONTRACT_VERSION}


def _build(values: dict, where: str) -> ModelContract:
    check_keys(values, _TOP, f"{where} contract", optional=_TOP - _TOP_REQUIRED)
    filt = values["filter"]
    if not isinstance(filt, FilterSpec):
        filt = _dataclass(FilterSpec, filt, f"{where} filter")
    model_input = values["input"]
    if not isinstance(model_input, BeatInput | WindowInput):
        model_input = _input_from_dict(model_input, f"{where} input")
    thresholds = values.get("thresholds")
    try:
        return ModelContract(
            task=_text(values["task"], f"{where} task"),
            fs=values["fs"],
            leads=_texts(values["leads"], f"{where} leads"),
            classes=_texts(values["classes"], f"{where} classes"),
            inputs=_shapes(values["inputs"], f"{where} inputs"),
            output=_text(values["output"], f"{where} output"),
            activation=values["activation"],
            filter=filt,
            input=model_input,
            thresholds=None if thresholds is None else list(_mapping_list(thresholds, where)),
            provenance=_mapping(values.get("provenance", {}), f"{where} provenance"),
            version=values["version"],
        )
    except TypeError as exc:  # a value of the wrong kind that _validate could not name
        raise InputError(f"{where}: contract value of the wrong type ({exc})") from exc


def _input_from_dict(obj: Any, where: str) -> ModelInput:
    obj = _mapping(obj, where)
    kind = obj.get("kind")
    if kind == "beats":
        body = {k: v for k, v in obj.items() if k != "kind"}
        known = {f.name for f in fields(BeatInput)} - {"kind"}
        check_keys(body, known, where, optional=known - {"lead", "beat"})
        return _beat_input(body, where)
    if kind == "windows":
        return _dataclass(WindowInput, obj, where, frozenset({"normalization"}))
    raise InputError(f"{where}: input kind {kind!r} is not 'beats' or 'windows'")


def _beat_input(obj: dict, where: str) -> BeatInput:
    """A BeatInput from its fields, as both layouts name them (version 1's preprocessing and
    version 2's input hold the same keys)."""
    return BeatInput(
        lead=_text(obj.get("lead"), f"{where}.lead"),
        beat=_dataclass(
            BeatSpec, obj.get("beat"), f"{where}.beat", frozenset({"upright"}), upright=False
        ),
        rr_features=tuple(_texts(obj.get("rr_features", []), f"{where}.rr_features")),
        channels=tuple(_texts(obj.get("channels", ["beat", "template"]), f"{where}.channels")),
        normalization=str(obj.get("normalization", "")),
        source_fs=obj.get("source_fs"),
        reads=_text(obj.get("reads", "all"), f"{where}.reads"),
    )


def _input_dict(model_input: ModelInput) -> dict:
    out = asdict(model_input)
    if isinstance(model_input, BeatInput):
        out["beat"] = model_input.beat.as_dict()
        out["rr_features"] = list(model_input.rr_features)
        out["channels"] = list(model_input.channels)
        if model_input.reads == "all":  # the bundles made before the key read every beat
            del out["reads"]
    return out


def _dataclass(cls, obj: Any, where: str, optional: frozenset[str] = frozenset(), **absent):
    """A frozen dataclass from a JSON object: every key known, every key present but the
    `optional` ones (a contract states its filter and geometry whole: a default filled in
    here was never checked against the training), numbers and switches checked for type here
    (ranges in _validate). `absent`: what an optional key that is missing means (a field added
    later: the bundles made before it were trained without it, whatever its default now)."""
    obj = _mapping(obj, where)
    names = {f.name for f in fields(cls)}
    required = names - optional
    check_keys(obj, names, where, optional=names - required)
    for f in fields(cls):
        numeric = f.type in ("float", "int", float, int)
        if f.name in obj and numeric and not _is_number(obj[f.name]):
            raise InputError(f"{where}.{f.name} must be a number, not {obj[f.name]!r}")
        if f.name in obj and f.type in ("bool", bool) and not isinstance(obj[f.name], bool):
            raise InputError(f"{where}.{f.name} must be true or false, not {obj[f.name]!r}")
    return cls(**{**absent, **obj})


def _mapping(obj: Any, where: str) -> dict:
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be an object, not {type(obj).__name__}")
    return obj


def _mapping_list(obj: Any, where: str) -> list:
    if not isinstance(obj, list):
        raise InputError(f"{where}: thresholds must be a list")
    return obj


def _text(obj: Any, where: str) -> str:
    if not isinstance(obj, str) or not obj or len(obj) > 200:
        raise InputError(f"{where} must be a non-empty name, not {obj!r}")
    return obj


def _texts(obj: Any, where: str) -> list[str]:
    if not isinstance(obj, list) or len(obj) > 1000:
        raise InputError(f"{where} must be a list of names")
    return [_text(x, where) for x in obj]


def _shapes(obj: Any, where: str) -> dict[str, list[int]]:
    obj = _mapping(obj, where)
    out = {}
    for name, shape in obj.items():
        if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
            raise InputError(f"{where}.{name}: a shape is a list of 1-4 sizes")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
            raise InputError(f"{where}.{name}: sizes must be positive integers, not {shape}")
        if math.prod(shape) > MAX_INPUT_VALUES:
            raise InputError(f"{where}.{name}: {shape} is larger than any ECG input")
        out[_text(name, where)] = list(shape)
    if not out:
        raise InputError(f"{where}: the model has no inputs")
    return out


def _is_number(x: Any) -> bool:
    if not isinstance(x, int | float) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer of 309 digits or more: no float holds it
        return False


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
