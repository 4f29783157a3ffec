"""Hostile WFDB files given to the real CLI: each is refused in one line with exit 1, never a hang,
a swollen process, a silent default or a traceback. Records are real ECG (the shipped MIT-BIH
excerpt) written with wfdb.wrsamp into the test's folder, then spoiled."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import wfdb
from typer.testing import CliRunner

from edge_monitor.cli import app
from edge_monitor.errors import InputError
from edge_monitor.sources import replay_record
from edge_monitor.wfdb_io import read_annotations, read_header, read_signal

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_refused(result, needle):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def cli_subprocess(*args, timeout=60):
    """The CLI in its own process: a regression that hangs fails on the timeout."""
    cmd = [sys.executable, "-m", "edge_monitor", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def ecg(sample_record, seconds=20.0):
    rec = wfdb.rdrecord(str(sample_record), sampto=int(seconds * 360))
    return rec.p_signal


def write_record(folder, name, signal, sig_name=("MLII",), fs=360):
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(sig_name),
        sig_name=list(sig_name),
        p_signal=signal,
        fmt=["16"] * len(sig_name),
        adc_gain=[200.0] * len(sig_name),
        baseline=[0] * len(sig_name),
        write_dir=str(folder),
    )
    return folder / name


@pytest.fixture
def record(tmp_path, sample_record):
    return write_record(tmp_path, "rec", ecg(sample_record))


def edit_header(record, old, new):
    hea = record.parent / (record.name + ".hea")
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, 1))


def test_the_untouched_record_runs(record):
    r = invoke("classify", record, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.splitlines()[-1])["signal_seconds"] == 20.0


def test_a_fifo_header_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "x.hea")
    r = cli_subprocess("classify", tmp_path / "x")
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_fifo_signal_file_is_refused_without_hanging(record):
    dat = record.parent / "rec.dat"
    dat.unlink()
    os.mkfifo(dat)
    r = cli_subprocess("replay", record, "--no-ui", "--speed", "0")
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_header_is_refused_at_once(tmp_path, device):
    (tmp_path / "x.hea").symlink_to(device)
    r = cli_subprocess("classify", tmp_path / "x")
    assert r.returncode == 1 and "leads out of its record's folder" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_oversized_header_is_refused_before_parsing(record):
    hea = record.parent / "rec.hea"
    hea.write_text(hea.read_text() + "# padding\n" * 200_000)  # 2 MB of comments
    assert_refused(invoke("classify", record), "more than the 1048576 allowed")


def test_a_signal_file_symlinked_out_of_the_folder_is_refused(record):
    dat = record.parent / "rec.dat"
    dat.unlink()
    dat.symlink_to("/etc/passwd")
    assert_refused(invoke("classify", record), "leads out of its record's folder")


def test_a_symlink_inside_the_folder_is_fine(record):
    store = record.parent / "store"
    store.mkdir()
    (record.parent / "rec.dat").rename(store / "rec.dat")
    (record.parent / "rec.dat").symlink_to(store / "rec.dat")
    assert invoke("classify", record).exit_code == 0


def test_an_annotation_file_out_of_the_folder_is_refused(record):
    (record.parent / "rec.atr").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match="leads out"):
        read_annotations(record)


def test_a_signal_file_far_longer_than_its_header_says_is_refused(record):
    with open(record.parent / "rec.dat", "ab") as f:
        f.write(b"\0" * 1_000_000)
    assert_refused(invoke("classify", record), "not this record's signal file")


def test_a_header_promising_more_than_the_file_holds_is_refused(record):
    edit_header(record, "rec 1 360 7200", "rec 1 360 72000000")
    assert_refused(invoke("classify", record), "the file holds")


@pytest.mark.parametrize("n_sig", [10_000, 65, 0])
def test_absurd_signal_counts_are_refused(tmp_path, n_sig):
    lines = [f"big {n_sig} 360 100"] + ["big.dat 16 200 16 0 0 0 0 MLII"] * n_sig
    (tmp_path / "big.hea").write_text("\n".join(lines) + "\n")
    (tmp_path / "big.dat").write_bytes(b"\0" * 200 * n_sig)
    said = f"{n_sig} signals" if n_sig else "no signals"
    assert_refused(invoke("classify", tmp_path / "big"), said)


@pytest.mark.parametrize("fs", ["-1", "0", "nan", "inf", "1e9", "25000", "fast", "3.6e2", "+360"])
def test_absurd_sampling_rates_are_refused(record, fs):
    # wfdb reads -1 and nan as 250 Hz, 1e9 as 1 Hz and 3.6e2 as 3.6 Hz: the header text is checked
    edit_header(record, "rec 1 360 7200", f"rec 1 {fs} 7200")
    assert_refused(invoke("classify", record), "sampling frequency")


@pytest.mark.parametrize("gain", ["nan", "inf", "-inf", "1e-300", "1e12"])
def test_absurd_gains_are_refused(record, gain):
    edit_header(record, " 200.0(0)/mV", f" {gain}(0)/mV")
    assert_refused(invoke("classify", record), "ADC gain")


@pytest.mark.parametrize("baseline", ["99999999999999999999999", "-9007199254740993"])
def test_an_absurd_baseline_is_refused_naming_it(record, baseline):
    """It used to surface as numpy's casting message."""
    edit_header(record, " 200.0(0)/mV", f" 200.0({baseline})/mV")
    assert_refused(invoke("classify", record), "ADC baseline")


@pytest.mark.parametrize("frame", ["16x0", "16x65", "16x0:0", "16x0+0", "16x1000:0"])
def test_samples_per_frame_out_of_range_are_refused_naming_them(record, frame):
    """`16x0` used to surface as numpy's reshape message."""
    edit_header(record, "rec.dat 16 ", f"rec.dat {frame} ")
    assert_refused(invoke("classify", record), "samples per frame")


def test_a_header_without_a_rate_is_read_at_250_hz_and_says_so(record):
    assert "sampling rate" not in invoke("classify", record).stderr
    edit_header(record, "rec 1 360 7200", "rec 1")
    result = invoke("classify", record)
    assert result.exit_code == 0, result.output
    assert "gives no sampling rate" in result.stderr and "250 Hz" in result.stderr


def test_a_zero_gain_is_wfdbs_default_200(record):
    """The WFDB spec reads a zero gain as 200 (nstdb's noise records are written that way)."""
    edit_header(record, " 200.0(0)/mV", " 0(0)/mV")
    assert read_header(record).adc_gain == [200.0]


def test_a_signal_without_description_is_named_not_a_crash(record):
    edit_header(record, " MLII", "")
    assert read_header(record).sig_name == ["ch0"]
    for args in ([], ["--channel", "0"]):  # the one channel stands in for lead II, said
        r = invoke("classify", record, *args)
        assert r.exit_code == 0, r.output
        assert "channel 0 is lead ch0; the arrhythmia model expects MLII" in r.output
    assert "has no lead II (ch0): reading channel 0 (ch0)" in invoke("classify", record).output


def test_multi_segment_records_are_refused(tmp_path):
    (tmp_path / "m.hea").write_text("m/2 1 360 200\nseg1 100\nseg2 100\n")
    assert_refused(invoke("classify", tmp_path / "m"), "multi-segment")
    (tmp_path / "a.hea").write_text("a 0 128 11321856 14:39:00\n")  # nsr2db: annotations only
    assert_refused(invoke("classify", tmp_path / "a"), "no signals (a record of annotations only)")


def test_only_the_analysed_channel_is_read(tmp_path, sample_record):
    """An invalid (all-NaN) second channel must not make the analysed lead look unplugged."""
    x = ecg(sample_record, 30.0)
    both = np.hstack([x, np.full_like(x, np.nan)])
    rec = write_record(tmp_path, "two", both, sig_name=("MLII", "V5"))
    assert np.isnan(wfdb.rdrecord(str(rec)).p_signal[:, 1]).all()
    r = invoke("classify", rec, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.splitlines()[-1])
    assert summary["beats"] and set(summary["quality_seconds"]) == {"good"}


def test_replay_reads_bounded_blocks_that_reassemble_the_record(tmp_path, sample_record):
    x = ecg(sample_record, 30.0)
    rec = write_record(tmp_path, "two", np.hstack([x, -x]), sig_name=("MLII", "V5"))
    small = list(replay_record(rec, chunk_s=0.5, speed=0, read_values=1000))
    np.testing.assert_array_equal(np.vstack([c.samples for c in small]), read_signal(rec)[0])
    with pytest.raises(InputError, match="no channel"):
        next(replay_record(rec, speed=0, channels=[2]))
