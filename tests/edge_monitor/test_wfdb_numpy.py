"""The numpy reader gives wfdb's values to the bit (headers and physical signals, NaN for the
invalid-sample code, any block and channel choice), leaves every other record to wfdb, and lets
a replay of a plain record run without importing wfdb at all."""

import re
import subprocess
import sys

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_monitor.errors import InputError
from edge_monitor.wfdb_io import read_header, read_signal
from edge_monitor.wfdb_numpy import INVALID, parse_header, read_frames

HEALTH = HealthCheck.function_scoped_fixture
RANGE = {"16": (-32768, 32767), "212": (-2048, 2047), "80": (-128, 127)}


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@st.composite
def records(draw):
    fmt = draw(st.sampled_from(sorted(RANGE)))
    n_sig = draw(st.integers(1, 4))
    n = draw(st.integers(1, 300))
    lo, hi = RANGE[fmt]
    d = draw(st.lists(st.integers(lo, hi), min_size=n * n_sig, max_size=n * n_sig))
    d = np.array(d, np.int64).reshape(n, n_sig)
    if draw(st.booleans()):  # gaps: the format's invalid-sample code, NaN after conversion
        d[draw(st.integers(0, n - 1)), draw(st.integers(0, n_sig - 1))] = INVALID[fmt]
    gains = draw(st.lists(st.sampled_from([1.0, 200.0, 1000.0, 0.5, 12.3]), min_size=n_sig))
    baselines = draw(st.lists(st.integers(-1000, 1000), min_size=n_sig, max_size=n_sig))
    fs = draw(st.sampled_from([125, 250, 360, 128, 500]))
    return fmt, d, gains[:n_sig], baselines, fs


def write_212(folder, d: np.ndarray) -> None:
    """wfdb writes no format 212: its 16 header with the format changed, and the samples packed
    here (two 12-bit samples in three bytes; an odd last sample in two, as WFDB writes it)."""
    hea = folder / "r.hea"
    hea.write_text(hea.read_text().replace(" 16 ", " 212 "))
    flat = d.reshape(-1) & 0xFFF
    pairs = np.append(flat, 0)[: len(flat) + len(flat) % 2].reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    packed = np.stack([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF], axis=1)
    (folder / "r.dat").write_bytes(packed.astype(np.uint8).tobytes()[: (3 * len(flat) + 1) // 2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HEALTH])
@given(rec=records(), data=st.data())
def test_any_plain_record_reads_as_wfdb_reads_it(tmp_path_factory, rec, data):
    fmt, d, gains, baselines, fs = rec
    folder = tmp_path_factory.mktemp("rec")
    n, n_sig = d.shape
    wfdb.wrsamp(
        "r", fs=fs, units=["mV"] * n_sig, sig_name=[f"lead {i}" for i in range(n_sig)],
        d_signal=d, fmt=["16" if fmt == "212" else fmt] * n_sig, adc_gain=gains,
        baseline=baselines, write_dir=str(folder),
    )  # fmt: skip
    if fmt == "212":
        write_212(folder, d)
    header = parse_header((folder / "r.hea").read_text())
    ref = wfdb.rdheader(str(folder / "r"))
    assert header is not None and header.sig_name == ref.sig_name
    assert (header.fs, header.sig_len, header.adc_gain, header.baseline, header.units) == (
        ref.fs, ref.sig_len, ref.adc_gain, ref.baseline, ref.units,
    )  # fmt: skip
    start = data.draw(st.integers(0, n - 1), label="start")
    stop = data.draw(st.integers(start + 1, n), label="stop")
    chans = data.draw(st.lists(st.integers(0, n_sig - 1), min_size=1, max_size=n_sig, unique=True))
    want = wfdb.rdrecord(str(folder / "r"), sampfrom=start, sampto=stop, channels=chans)
    assert same(read_frames(header, folder / "r", start, stop, chans), want.p_signal)


def test_real_excerpts_read_as_wfdb_reads_them(tiny_mitdb, sample_record):
    for record in (tiny_mitdb / "100", tiny_mitdb / "232", sample_record):
        x, meta = read_signal(record)
        ref = wfdb.rdrecord(str(record))
        assert read_header(record).numpy_readable
        assert same(x, ref.p_signal) and meta["units"] == ref.units


@pytest.mark.parametrize("fmt", ["24", "32"])
def test_other_formats_are_left_to_wfdb(tmp_path, fmt):
    d = np.arange(-50, 50, dtype=np.int64).reshape(50, 2)
    wfdb.wrsamp(
        "r", fs=250, units=["mV", "mV"], sig_name=["a", "b"], d_signal=d, fmt=[fmt] * 2,
        adc_gain=[100.0] * 2, baseline=[3, -3], write_dir=str(tmp_path),
    )  # fmt: skip
    assert parse_header((tmp_path / "r.hea").read_text()) is None
    x, _ = read_signal(tmp_path / "r")
    assert not read_header(tmp_path / "r").numpy_readable
    assert same(x, wfdb.rdrecord(str(tmp_path / "r")).p_signal)


@pytest.mark.parametrize(
    "line",
    [
        "r 1 360/1000 100",  # counter frequency
        "r 1 360",  # no length
        "r/2 1 360 100",  # segments
    ],
)
def test_record_lines_beyond_the_plain_go_to_wfdb(line):
    assert parse_header(f"{line}\nr.dat 212 200 11 1024 0 0 0 MLII\n") is None


@pytest.mark.parametrize(
    "signal",
    [
        "r.dat 212+512 200 11 1024 0 0 0 MLII",  # byte offset
        "r.dat 212x2 200 11 1024 0 0 0 MLII",  # two samples per frame
        "r.dat 212:3 200 11 1024 0 0 0 MLII",  # skew
        "r.dat 212 200",  # short line
        "r.dat 212 2e2 11 1024 0 0 0 MLII",  # a gain wfdb's own pattern reads
        "r.dat 311 200 11 1024 0 0 0 MLII",  # another format
    ],
)
def test_signal_lines_beyond_the_plain_go_to_wfdb(signal):
    assert parse_header(f"r 1 360 100\n{signal}\n") is None


@pytest.mark.parametrize("brk", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"])
def test_a_line_break_only_python_knows_goes_to_wfdb(tmp_path, brk):
    """str.splitlines breaks a description at a form feed or a file separator; wfdb reads it as
    one signal line and refuses it: the numpy reader must not read a header wfdb refuses (as
    the signal `ML` and a stray line `II`)."""
    text = f"r 1 360 20\nr.dat 16 200 11 0 0 0 0 ML{brk}II\n"
    assert parse_header(text) is None
    if brk.isascii():  # as a file: refused in one line, as wfdb refuses it
        (tmp_path / "r.hea").write_text(text)
        (tmp_path / "r.dat").write_bytes(bytes(40))
        with pytest.raises(Exception, match="invalid syntax in signal line"):
            wfdb.rdheader(str(tmp_path / "r"))
        with pytest.raises(InputError, match="invalid syntax in signal line"):
            read_header(tmp_path / "r")


def test_a_signal_file_swapped_for_a_fifo_mid_stream_is_refused_not_waited_on(tmp_path):
    """The name was checked before the stream began; a FIFO put there since must end the read
    with an error, not block the replay in open() forever."""
    import os
    import threading

    text = "r 1 360 20\nr.dat 16 200 11 0 0 0 0 MLII\n"
    (tmp_path / "r.hea").write_text(text)
    header = parse_header(text)
    os.mkfifo(tmp_path / "r.dat")
    got = []

    def read():
        try:
            got.append(read_frames(header, tmp_path / "r", 0, 20))
        except Exception as exc:
            got.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # release the blocked open before failing
        os.close(os.open(tmp_path / "r.dat", os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("read_frames waited on a FIFO")
    assert isinstance(got[0], OSError) and "not a regular file" in str(got[0])


def test_a_zero_gain_and_a_missing_baseline_are_wfdbs_defaults():
    h = parse_header("r 1 360 100\nr.dat 16 0/uV 16 7 0 0 0 x y\n")
    assert h.adc_gain == [200.0] and h.baseline == [7] and h.units == ["uV"]
    assert h.sig_name == ["x y"]


def test_a_plain_replay_never_imports_wfdb(sample_record):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from edge_monitor.sources import replay_record\n"
        "from edge_monitor.wfdb_io import read_signal\n"
        f"read_signal(Path({str(sample_record)!r}))\n"
        f"assert sum(len(c.samples) for c in replay_record({str(sample_record)!r}, speed=0))\n"
        "assert 'wfdb' not in sys.modules and 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("fmt", ["16", "212", "80"])
def test_a_header_without_its_length_reads_the_length_of_its_file(tmp_path, fmt):
    """Legal WFDB (a recorder that did not know the length yet): wfdb reckons it from the
    signal file's size, and so do we, instead of calling the header corrupt."""
    d = np.arange(-60, 60, dtype=np.int64).reshape(40, 3)
    wfdb.wrsamp(
        "r", fs=360, units=["mV"] * 3, sig_name=["a", "b", "c"], d_signal=d, fmt=[fmt] * 3,
        adc_gain=[100.0] * 3, baseline=[0] * 3, write_dir=str(tmp_path),
    )  # fmt: skip
    hea = tmp_path / "r.hea"
    first, *rest = hea.read_text().splitlines()
    hea.write_text("\n".join([" ".join(first.split()[:3]), *rest]) + "\n")  # "r 3 360"
    assert read_header(tmp_path / "r").sig_len == 40
    x, _ = read_signal(tmp_path / "r")
    assert same(x, wfdb.rdrecord(str(tmp_path / "r")).p_signal)


@pytest.mark.parametrize("length", ["1e12", "-5", "12.5", "0x10"])
def test_a_length_that_is_no_sample_count_is_said_as_such(tmp_path, length):
    (tmp_path / "r.hea").write_text(f"r 1 360 {length}\nr.dat 16 200 16 0 0 0 0 MLII\n")
    (tmp_path / "r.dat").write_bytes(b"\0" * 20)
    with pytest.raises(InputError, match=f"length '{re.escape(length)}' is not a sample count"):
        read_header(tmp_path / "r")
