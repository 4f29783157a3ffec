"""A student trained on every RR feature the device computes (the seventh, local_rr_msd, too):
its contract names them, the device feeds them, and a checkpoint never meets data carrying other
features silently (a torch shape error, or worse, the right width and the wrong columns)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge_monitor.beats import RR_FEATURES
from edge_monitor.errors import InputError
from tests.trainer.conftest import ONE_THREAD
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.evaluate import evaluate_checkpoint
from trainer.export import export_checkpoint
from trainer.kinds import arrhythmia
from trainer.tasks import load_task
from trainer.train import fit

pytestmark = pytest.mark.slow
TINY = {"task": "arrhythmia", "model": "tiny", "epochs": 1, "batch_size": 32}


@pytest.fixture(scope="module")
def seven(tiny_mitdb, tmp_path_factory):
    root = tmp_path_factory.mktemp("rr7")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrhythmia, "TRAINED_RR_FEATURES", RR_FEATURES)
        data = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "c")
        fit(TrainConfig(**TINY, threads=ONE_THREAD), data, root / "m.pt", show_progress=False)
        result = export_checkpoint(root / "m.pt", root / "model.onnx", tiny_mitdb, data=data)
    return root, data, result


def test_a_student_on_seven_features_names_them_and_the_device_feeds_them(seven, sample_record):
    from edge_monitor.bench import capture_feeds
    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.contract_ranges import validate
    from edge_monitor.events import BeatEvent
    from edge_monitor.pipeline import Monitor
    from edge_monitor.wfdb_io import read_header, read_signal

    root, data, result = seven
    assert data.train.extra.shape[1] == len(RR_FEATURES) == 7
    contract = result["contract"]
    assert contract.input.rr_features == RR_FEATURES and contract.inputs["rr"] == [1, 7]
    validate(contract)
    bundle = replace(
        load_bundle(embedded_bundle("arrhythmia")),
        contract=contract,
        model_bytes=Path(result["onnx"]).read_bytes(),
    )
    feeds = capture_feeds(bundle, sample_record, limit=100)
    assert np.concatenate([f["rr"] for f in feeds]).shape == (100, 7)
    x, meta = read_signal(sample_record)
    monitor = Monitor([bundle], float(meta["fs"]), list(read_header(sample_record).sig_name))
    beats = [e for e in monitor.stream(x) if isinstance(e, BeatEvent)]
    assert len(beats) > 100 and all(b.label in contract.classes for b in beats)


def test_a_checkpoint_never_meets_data_with_other_rr_features(seven, tiny_mitdb, tmp_path):
    root, _, _ = seven
    with pytest.raises(InputError, match="reads the RR features"):  # six columns here
        evaluate_checkpoint(root / "m.pt", tiny_mitdb, tmp_path / "ev", cache_dir=root / "c")
    six = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "c")
    assert six.train.extra.shape[1] == 6 and six.preprocessing["rr_features"] == list(
        RR_FEATURES[:6]
    )
    with pytest.raises(InputError, match="teacher reads the RR features"):
        fit(
            TrainConfig(**TINY, threads=ONE_THREAD),
            six,
            tmp_path / "s.pt",
            show_progress=False,
            teacher=load_checkpoint(root / "m.pt"),
        )


def test_compress_and_the_benchmarks_refuse_such_a_checkpoint_in_one_line(
    seven, tiny_mitdb, tmp_path
):
    """Before any stage trains or scores: a teacher reading other RR features than the data."""
    from typer.testing import CliRunner

    from tests.trainer.test_compress import quick_args
    from trainer.cli import app
    from trainer.scoring import load_for

    root, _, _ = seven
    six = load_task("arrhythmia", tiny_mitdb, cache_dir=root / "c")
    with pytest.raises(InputError, match="reads the RR features"):
        load_for(root / "m.pt", six)
    args = quick_args(tiny_mitdb, root / "m.pt", "rpi4", tmp_path / "b", root / "c")
    result = CliRunner().invoke(app, args[: args.index("--student")])
    assert result.exit_code != 0 and "teacher reads the RR features" in result.output
    assert "Traceback" not in result.output and "\nteacher:" not in result.output  # not scored
