"""benchmarks/noise_stress.py's own parts on real records: the protocol's mix lands where and as
loud as asked, the reference spans that justify a critical alarm, and the alarm window's sides."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edge_monitor.wfdb_io import read_signal
from trainer.datasets import nstdb

SPEC = importlib.util.spec_from_file_location(
    "noise_stress", Path(__file__).parents[2] / "benchmarks" / "noise_stress.py"
)
noise_stress = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(noise_stress)
FS = noise_stress.FS


@pytest.fixture
def noise_context(mitdb_dir, nstdb_dir, monkeypatch):
    """The worker context `mixed` reads, with the two noises these tests mix (em, ma)."""
    noise = {name: nstdb.load_noise(name, nstdb_dir, mitdb_dir) for name in ("em", "ma")}
    monkeypatch.setitem(noise_stress._CONTEXT, "mitdb", mitdb_dir)
    monkeypatch.setitem(noise_stress._CONTEXT, "noise", noise)
    return mitdb_dir


@pytest.mark.parametrize("noise,snr,reverse", [("em", 6.0, False), ("ma", -6.0, True)])
def test_the_mix_is_as_loud_as_asked_on_mlii_alone_and_only_after_the_clean_minutes(
    noise_context, noise, snr, reverse
):
    clean, header = read_signal(noise_context / "105")
    x, _, path, spans = noise_stress.mixed(noise_stress.Task("105", noise, snr), reverse)
    lead = header["sig_name"].index("MLII")
    added = x[:, lead] - clean[:, lead]
    signal = nstdb.qrs_amplitude(clean[:, lead], nstdb.normal_beats(path), FS)
    assert nstdb.snr_db(signal, nstdb.noise_amplitude(added, FS, spans)) == pytest.approx(
        snr, abs=0.01
    )
    assert np.array_equal(x[:, 1 - lead], clean[:, 1 - lead])
    assert spans[0][0] == int(nstdb.CLEAN_S * FS) and not added[: spans[0][0]].any()
    # between the bursts the offset the last one left is held: no steps
    assert all(np.ptp(added[b:c]) < 1e-9 for (_, b), (c, _) in zip(spans, spans[1:], strict=False))


def test_a_clean_task_streams_the_record_as_it_is(noise_context):
    clean, _ = read_signal(noise_context / "105")
    x, _, _, _ = noise_stress.mixed(noise_stress.Task("105", "clean", None), False)
    assert np.array_equal(x, clean)


@pytest.mark.parametrize("record", ["207", "200", "119"])
def test_the_spans_an_alarm_must_catch_are_among_those_that_justify_one(mitdb_dir, record):
    spans, required = noise_stress.reference_events(mitdb_dir / record, FS)
    assert set(required) <= set(spans) and all(a <= b for a, b in spans)


def test_207s_flutter_must_be_alarmed_on(mitdb_dir):
    _, required = noise_stress.reference_events(mitdb_dir / "207", FS)
    # 207's first ventricular flutter episode: (VFL at 14689 to the next rhythm note
    assert (14689, 18396) in required


def test_an_alarm_may_come_late_by_ten_seconds_but_early_by_two_only():
    run = [(100_000, 101_000)]
    assert noise_stress.justified(101_000 + int(9.9 * FS), run)
    assert not noise_stress.justified(101_000 + int(10.1 * FS), run)
    assert noise_stress.justified(100_000 - int(1.9 * FS), run)
    assert not noise_stress.justified(100_000 - int(2.1 * FS), run)
