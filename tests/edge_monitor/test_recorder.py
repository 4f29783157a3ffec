"""The recorder writes a WFDB record readable at every flush; a full disk stops it, politely."""

import json
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.recorder import INVALID, WfdbRecorder


def test_what_was_written_reads_back_with_gaps_as_nan(tmp_path):
    rec = WfdbRecorder(tmp_path, "ecg", 250.0, ["MLII"], 341.3, 512, flush_every=10)
    adc = np.arange(500, 530).reshape(-1, 1)
    adc[5] = INVALID
    rec.write_adc(adc[:20])
    rec.write_alert({"type": "alert", "level": "warning"})
    # readable before close (a pulled plug leaves at most the unflushed tail)
    mid = wfdb.rdrecord(str(tmp_path / "ecg"))
    assert mid.sig_len == 20
    rec.write_adc(adc[20:])
    rec.close()
    r = wfdb.rdrecord(str(tmp_path / "ecg"))
    assert r.sig_len == 30 and r.fs == 250 and r.sig_name == ["MLII"]
    expected = (adc[:, 0] - 512) / 341.3
    assert np.isnan(r.p_signal[5, 0])
    keep = np.arange(30) != 5
    assert np.allclose(r.p_signal[keep, 0], expected[keep], atol=1e-3)
    lines = (tmp_path / "ecg.alerts.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["level"] == "warning"


def test_a_full_disk_stops_recording_with_a_message(tmp_path):
    rec = WfdbRecorder(tmp_path, "ecg", 250.0, ["MLII"], 341.3, 512, flush_every=1)
    rec._dat.close()
    rec._dat = open("/dev/full", "wb")  # noqa: SIM115 (the kernel always-full device: ENOSPC)
    rec.write_adc(np.zeros((10, 1)))
    assert not rec.ok and "No space left" in rec.error
    rec.write_adc(np.zeros((10, 1)))  # later writes are ignored, not raised
    rec.close()


def test_a_file_given_as_the_folder_is_not_a_folder(tmp_path):
    """`run --record afile` said "100 records named ... already in afile" (mkdir's "exists",
    taken for a name another monitor had): it is a file, and the message says so."""
    import os

    import pytest

    from edge_monitor.recorder import open_recorder

    afile = tmp_path / "afile"
    afile.write_text("mine")
    for path in (afile, Path(os.devnull)):
        with pytest.raises(NotADirectoryError) as exc:
            open_recorder(path, 250.0, ["MLII"], 341.3, 512)
        assert str(exc.value) == f"{path} is not a folder"
    assert afile.read_text() == "mine" and sorted(tmp_path.iterdir()) == [afile]
    rec = open_recorder(tmp_path / "new" / "sub", 250.0, ["MLII"], 341.3, 512)  # made, as before
    rec.close()
    assert rec.folder.is_dir()
