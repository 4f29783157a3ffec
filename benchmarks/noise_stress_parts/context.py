"""What a pool worker loads once (the models, the noise recordings) and the task it is handed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edge_monitor.bundle import Bundle, embedded_bundle, load_bundle
from edge_monitor.contract import read_contract
from edge_monitor.quality import QualitySpec
from trainer.datasets import nstdb

CONTEXT: dict = {}  # set by init_worker in each worker process


@dataclass(frozen=True)
class Task:
    """One run: a record clean, or under one noise at one SNR."""

    record: str
    noise: str  # "clean" or a noise name
    snr: float | None


def load_model(bundle: Path | None, model: Path | None) -> Bundle:
    """The bundle, or for an experiment a bare ONNX model (its own contract) run in the embedded
    bundle's place: no sha256 to check, so never a way to ship one."""
    loaded = load_bundle(bundle or embedded_bundle("arrhythmia"))
    if model is None:
        return loaded
    return replace(loaded, model_path=model, contract=read_contract(model))


def init_worker(
    mitdb: Path,
    nstdb_dir: Path,
    quality: QualitySpec,
    bundle: Path | None,
    model: Path | None,
    reverse: bool = False,
    ventricular: bool = False,
) -> None:
    """A pool worker's set-up: the models and the three noise recordings, loaded once."""
    CONTEXT["mitdb"] = mitdb
    CONTEXT["reverse"] = reverse
    CONTEXT["quality"] = quality
    CONTEXT["bundle"] = load_model(bundle, model)
    # as `edge-monitor` runs on an MLII record by default: the beat model and the VT/VF model,
    # whose rhythm verdict the VT / VF alarms are fused with
    extra = [load_bundle(embedded_bundle("ventricular"))] if ventricular else []
    CONTEXT["bundles"] = [CONTEXT["bundle"], *extra]
    CONTEXT["noise"] = {
        name: nstdb.load_noise(name, nstdb_dir, mitdb) for name in nstdb.NOISE_NAMES
    }
