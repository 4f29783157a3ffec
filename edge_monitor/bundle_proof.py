"""What a bundle's model must prove before it runs, besides its hash (see `bundle.load_bundle`).

- Every weight inside the hashed file. ONNX tensors may keep their data in "external data"
  files, which the manifest's sha256 does not cover (swapped weights would load) and whose
  paths onnxruntime 1.17 follows anywhere (../../secret.bin, /etc/passwd). onnxruntime has no
  session option that forbids them, so `refuse_external_data` walks the protobuf wire format of
  the model (no onnx package on the device) through every initializer, sparse initializer,
  node attribute tensor, subgraph (If/Loop/Scan), function and training graph, and refuses any
  tensor whose `data_location` is EXTERNAL or that lists `external_data`.
- A graph that takes and gives what the contract says (`check_graph`), so the first inference
  cannot fail on a name or a shape once monitoring has started.
- A trial run (`trial_run`): a child process loads the model and runs it on zeros under an
  address-space limit and a timeout. A ConstantOfShape or Expand bomb, folded while the session
  is built or run at the first inference, then kills or fails the child, not the monitor; a
  model too slow for the stream is refused by its median time (`check_trial`). The parent reads
  the contract and builds its own sessions only after the child survived the same model. A
  passed trial of the same bytes under the same conditions is remembered per user
  (`proof_cache`), so start-up does not prove an unchanged model again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edge_monitor import proof_cache
from edge_monitor.errors import CheckFailedError, InputError, first_line

# --- external data -----------------------------------------------------------------------

# ONNX messages (onnx.proto field numbers) and their fields that hold messages that may hold a
# tensor: ModelProto.graph/training_info/functions, GraphProto.node/initializer/
# sparse_initializer, NodeProto.attribute, AttributeProto.t/g/tensors/graphs/sparse_tensor(s),
# FunctionProto.node/attribute_proto, TrainingInfoProto.initialization/algorithm,
# SparseTensorProto.values/indices.
_HOLDERS: dict[str, dict[int, str]] = {
    "model": {7: "graph", 20: "training", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "function": {7: "node", 11: "attribute"},
    "training": {1: "graph", 2: "graph"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {},
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
# model > graph > node > attribute > graph: four levels per nested If/Loop body; 64 levels is
# fifteen nested bodies, more than any exporter writes, and keeps the walk's recursion small.
MAX_PROTO_DEPTH = 64
# Exporters pack numbers into raw_data (one field); a file of millions of one-number fields is
# built to make this walk slow.
MAX_PROTO_FIELDS = 2_000_000


class _Malformed(Exception):
    pass


def refuse_external_data(model: bytes, where: str) -> None:
    """Refuse a model any of whose tensors keeps its data outside the (hashed) file."""
    try:
        name = _walk(model, 0, len(model), "model", 0, [MAX_PROTO_FIELDS])
    except _Malformed as exc:
        raise InputError(f"{where}: not an ONNX model ({exc})") from exc
    if name is not None:
        raise InputError(
            f"{where}: tensor {name[:80]!r} keeps its data outside the model file (ONNX external "
            "data), which the manifest's sha256 does not cover: refused"
        )


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed(f"bad varint at byte {pos}")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _walk(data: bytes, pos: int, end: int, kind: str, depth: int, left: list[int]) -> str | None:
    """The name of the first tensor with external data in the message data[pos:end], or None."""
    if depth > MAX_PROTO_DEPTH:
        raise _Malformed(f"messages nested over {MAX_PROTO_DEPTH} deep")
    holders, name, external = _HOLDERS[kind], None, False
    while pos < end:
        left[0] -= 1
        if left[0] < 0:
            raise _Malformed(f"over {MAX_PROTO_FIELDS} protobuf fields")
        tag, pos = _varint(data, pos, end)
        field, wire, value, start = tag >> 3, tag & 7, 0, pos
        if wire == 0:
            value, pos = _varint(data, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, start = _varint(data, pos, end)
            pos = start + length
        elif wire == 5:
            pos += 4
        else:
            raise _Malformed(f"wire type {wire} at byte {start}")
        if field == 0 or pos > end:
            raise _Malformed(f"truncated or invalid field at byte {start}")
        if kind == "tensor":
            if field == _TENSOR_NAME and wire == 2:
                name = data[start:pos].decode("utf-8", "replace")
            elif field == _TENSOR_EXTERNAL_DATA or (field == _TENSOR_DATA_LOCATION and value):
                external = True  # any external_data entry, or data_location EXTERNAL (1)
        elif field in holders:
            if wire != 2:
                raise _Malformed(f"field {field} of a {kind} is not a message")
            found = _walk(data, start, pos, holders[field], depth + 1, left)
            if found is not None:
                return found
    return (name or "(unnamed)") if external else None


# --- graph against contract --------------------------------------------------------------

FLOAT = "tensor(float)"  # what the pipeline feeds and reads


def describe(model_path: Path) -> dict:
    """The graph's inputs and outputs, read in this process (no trial run: trusted models)."""
    from edge_monitor.inference import open_session

    return {"io": _io(open_session(model_path))}


def _io(session) -> dict:
    def rows(args) -> list[dict]:
        return [{"name": a.name, "shape": list(a.shape), "type": a.type} for a in args]

    return {"inputs": rows(session.get_inputs()), "outputs": rows(session.get_outputs())}


def check_graph(contract, report: dict, where: str) -> None:
    """The graph's inputs are exactly the contract's (names, float, shapes; a symbolic size
    only for a batch of 1) and its first output, the one the pipeline reads, is the contract's
    output with one logit per class."""
    io = report["io"]
    classes = list(contract.classes)
    if not classes:
        raise InputError(f"{where}: the contract lists no classes")
    graph = {i["name"]: i for i in io["inputs"]}
    if set(graph) != set(contract.inputs):
        raise InputError(
            f"{where}: the graph's inputs ({', '.join(sorted(graph)) or 'none'}) are not the "
            f"contract's ({', '.join(sorted(contract.inputs))})"
        )
    for name, shape in contract.inputs.items():
        _check_tensor(f"input {name!r}", graph[name], list(shape), where)
    outputs = [o["name"] for o in io["outputs"]]
    if contract.output not in outputs:
        raise InputError(
            f"{where}: the contract's output {contract.output!r} is not a graph output "
            f"({', '.join(outputs) or 'none'})"
        )
    if outputs[0] != contract.output:
        raise InputError(
            f"{where}: the contract's output {contract.output!r} is not the graph's first "
            f"output ({outputs[0]!r}), the one the monitor reads"
        )
    _check_tensor(f"output {contract.output!r}", io["outputs"][0], [1, len(classes)], where)


def _check_tensor(what: str, tensor: dict, shape: list, where: str) -> None:
    if tensor["type"] != FLOAT:
        raise InputError(f"{where}: graph {what} is {tensor['type']}, not {FLOAT}")
    graph = tensor["shape"]
    fits = len(graph) == len(shape) and all(
        g == c if isinstance(g, int) else (i == 0 and c == 1)
        for i, (g, c) in enumerate(zip(graph, shape, strict=False))
    )
    if not fits:
        shown = ", ".join(str(g) if isinstance(g, int) else "?" for g in graph)
        raise InputError(f"{where}: graph {what} has shape [{shown}]; the contract needs {shape}")


# --- trial run ---------------------------------------------------------------------------

WARMUP_RUNS, TIMED_RUNS = 2, 5
# The tightest beat interval the monitor must keep up with: 300/min (ventricular flutter).
MAX_HEART_RATE_BPM = 300.0
# A model may take at most half the time between its inferences (beats, or window strides):
# the filter, QRS detector, serial reader and UI share the same core.
REALTIME_SHARE = 0.5
# With a profile, a median over 10x its p95 budget is not the model that was measured for it.
PROFILE_BUDGET_FACTOR = 10.0
# No stream here needs an inference slower than this; it also bounds the trial's own time.
MAX_LIMIT_MS = 2000.0
# Address space a trial may add to the child's runtime (numpy + onnxruntime): a model needing a
# GiB fits no board we ship (a Pi Zero 2 W has 512 MB); a profile lowers it to its memory.
TRIAL_MEMORY_MB = 1024
# Starting Python, numpy and onnxruntime from an SD card takes seconds on a Pi Zero; then every
# run may take up to the largest limit (the child stops once most timed runs are over it).
TRIAL_TIMEOUT_S = 30.0 + (WARMUP_RUNS + TIMED_RUNS) * 1.5 * MAX_LIMIT_MS / 1e3
_MARK = "ecg-edge-trial "
_proven: dict[tuple, dict] = {}  # (file, stat, arguments) -> report: loads repeat in tests


def time_limit(contract, p95_ms: float | None = None, budget_ms: float | None = None):
    """(limit in ms on the median inference, why) for this contract's stream: `budget_ms` when
    given, else half the time between inferences, lowered to 10x a profile's p95 budget."""
    if budget_ms is not None:
        return float(budget_ms), f"the budget of {budget_ms:g} ms given"
    stride = _stride(contract)
    if stride is None:  # one inference per beat
        interval = 60_000.0 / MAX_HEART_RATE_BPM
        limit = interval * REALTIME_SHARE
        why = f"half the {interval:.0f} ms between beats at {MAX_HEART_RATE_BPM:.0f}/min"
    else:
        interval = 1000.0 * stride / float(contract.fs)
        limit, why = interval * REALTIME_SHARE, f"half the {interval:.0f} ms window stride"
    if p95_ms is not None and PROFILE_BUDGET_FACTOR * p95_ms < limit:
        limit = PROFILE_BUDGET_FACTOR * p95_ms
        why = f"{PROFILE_BUDGET_FACTOR:g}x the profile's p95 budget of {p95_ms:g} ms"
    if not 0 < limit <= MAX_LIMIT_MS:  # also NaN
        limit, why = MAX_LIMIT_MS, f"the {MAX_LIMIT_MS:g} ms ceiling"
    return limit, why


def _stride(contract) -> float | None:
    """Model samples between window inferences; None for a beat model (contract version 2:
    `input.stride`; version 1: `preprocessing['stride']`)."""
    stride = getattr(getattr(contract, "input", None), "stride", None)
    pre = getattr(contract, "preprocessing", None)
    if stride is None and isinstance(pre, dict):
        stride = pre.get("stride")
    return stride


def trial_run(
    model_path: Path, profile=None, budget_ms: float | None = None, sha256: str | None = None
) -> dict:
    """Load and run the model in a child process (see the module doc); its report. With the
    `sha256` of the bytes the caller hashed, a passed proof of those bytes under the same
    conditions is taken from the user's proof cache instead (`proof_cache`)."""
    threads = list(profile.runtime.threads) if profile else [1, 1]
    memory_mb = min(TRIAL_MEMORY_MB, profile.hardware.memory_mb) if profile else TRIAL_MEMORY_MB
    p95 = profile.budgets.latency_p95_ms if profile else None
    args = {
        "model": str(model_path.resolve()),
        "threads": threads,
        "memory_mb": memory_mb,
        "p95_ms": p95,
        "budget_ms": budget_ms,
    }
    st = os.stat(args["model"])
    key = (args["model"], st.st_ino, st.st_size, st.st_mtime_ns, json.dumps(args))
    if key not in _proven:
        cached = proof_cache.recall(sha256, args) if sha256 else None
        report = cached or _spawn(args)
        if sha256 and not cached and "failed" not in report and report.get("sha256") != sha256:
            report["failed"] = "it changed while it was hashed and tried (other bytes were tried)"
        _proven[key] = report
    report = _proven[key]
    if "failed" in report:  # the parent must not load what failed, nor check it further
        raise InputError(f"{model_path}: {report['failed']}: refused")
    return report


def _spawn(args: dict) -> dict:
    # -I: no PYTHON* variables, no current folder on the path; this process's path instead
    paths = [str(Path(__file__).resolve().parents[1])] + [p for p in sys.path if p]
    code = (
        f"import sys; sys.path[:0] = {paths!r}; "
        "from edge_monitor.bundle_proof import _child_main; _child_main()"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", code],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=TRIAL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {
            "io": None,
            "args": args,
            "failed": f"it did not load and answer in {TRIAL_TIMEOUT_S:g} s",
        }
    except OSError as exc:
        raise CheckFailedError(f"cannot start the model's trial run: {exc}") from exc
    report: dict[str, Any] = {"io": None, "args": args}
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            with contextlib.suppress(ValueError):  # a line cut short by the child's death
                report.update(json.loads(line[len(_MARK) :]))
    if not {"seconds", "failed", "unchecked"} & set(report):
        if done.returncode < 0:
            how = f"died of {signal.Signals(-done.returncode).name}"
        else:
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
            how = f"exited {done.returncode} ({tail})"
        report["failed"] = f"its trial run {how} under a {args['memory_mb']} MiB memory limit"
    return report


def check_trial(contract, report: dict, where: str) -> None:
    """The trial run answered one logit per class, with a median inside the limit. (NaN logits
    are not refused here: the monitor reports each such answer as model_invalid.)"""
    if "unchecked" in report:  # the contract or graph checks should have said why
        raise InputError(f"{where}: {report['unchecked']}: refused")
    n = len(contract.classes)
    if report["shape"] != [1, n]:
        raise InputError(f"{where}: the model answers shape {report['shape']}, not [1, {n}]")
    args = report["args"]
    limit, why = time_limit(contract, args["p95_ms"], args["budget_ms"])
    median_ms = 1e3 * statistics.median(report["seconds"])
    if median_ms > limit:
        raise InputError(
            f"{where}: {median_ms:.1f} ms per inference cannot keep up: the limit is "
            f"{limit:.1f} ms ({why})"
        )


def _child_main() -> None:
    """The child: load under the memory limit, describe the graph, read the contract, time."""
    args = json.loads(sys.stdin.read())
    import numpy as np

    from edge_monitor.contract import read_contract
    from edge_monitor.inference import open_session

    _limit_memory(args["memory_mb"])
    limit = f"under a {args['memory_mb']} MiB memory limit"

    def say(**kw) -> None:
        print(_MARK + json.dumps(kw), flush=True)

    try:
        data = Path(args["model"]).read_bytes()
        # the session of the bytes hashed here, not of the name again (read twice, a name can
        # be two files: the parent's hashed one, and one swapped in for the trial, whose pass
        # the proof cache would then keep for the hashed bytes)
        session = open_session(data, *args["threads"], name=args["model"])
    except Exception as exc:  # InputError from onnxruntime's own, MemoryError, OSError
        return say(failed=f"onnxruntime cannot load it {limit} ({first_line(exc)})")
    io = _io(session)
    say(io=io, sha256=hashlib.sha256(data).hexdigest())
    if any(t["type"] != FLOAT for t in io["inputs"] + io["outputs"][:1]):
        return say(unchecked="it takes or gives other than float tensors")
    try:
        contract = read_contract(Path(args["model"]), data)  # of the same bytes
    except Exception as exc:  # the parent reads it again and says why
        return say(unchecked=f"its contract cannot be read ({first_line(exc)})")
    del data
    limit_s = time_limit(contract, args["p95_ms"], args["budget_ms"])[0] / 1e3
    feeds = {
        t["name"]: np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in t["shape"]], "f4")
        for t in io["inputs"]
    }
    try:
        out, seconds = _time_runs(session, feeds, limit_s)
    except Exception as exc:  # onnxruntime's allocation failures, MemoryError
        return say(failed=f"it fails on a zero input {limit} ({first_line(exc)})")
    say(seconds=seconds, shape=list(out.shape))


def _time_runs(session, feeds: dict, limit_s: float):
    """The first output and the seconds of each timed run; stops once most runs are over."""
    import numpy as np

    for _ in range(WARMUP_RUNS):
        session.run(None, feeds)
    seconds: list[float] = []
    while len(seconds) < TIMED_RUNS and sum(s > limit_s for s in seconds) <= TIMED_RUNS // 2:
        t0 = time.perf_counter()
        out = session.run(None, feeds)[0]
        seconds.append(time.perf_counter() - t0)
    return np.asarray(out, dtype=float), seconds


def _limit_memory(megabytes: int) -> None:
    """Cap the address space at what this process maps now plus `megabytes` (Linux)."""
    try:
        import resource

        with open("/proc/self/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError):
        return  # no procfs: the timeout alone bounds the trial
    soft = kb * 1024 + (megabytes << 20)
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
