"""The header is read once (`header_text`): its checks and its units as written come from the
same walk. These properties hold it to the two readers it replaced, on any bytes."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.wfdb_io import MILLIVOLTS_PER, header_text, unit_key, unknown_units


def lines_before(text: str) -> list[str]:
    """What the checks read before: the ASCII text's lines as str.splitlines breaks them."""
    lines = [ln.strip() for ln in text.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def units_before(raw: bytes, n_sig: int) -> list[str]:
    """The units reader before: its own walk over the bytes."""
    units = []
    for line in re.split(rb"\r\n|\r|\n", raw):
        plain = line.decode("ascii", errors="ignore").strip()
        if not plain or plain.startswith("#"):
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("latin-1")
        parts = text.replace("\ufeff", "").split()
        gain = parts[2] if len(parts) > 2 else ""
        units.append(gain.split("/", 1)[1] if "/" in gain else "mV")
    units = units[1 : 1 + n_sig]
    return units + ["mV"] * (n_sig - len(units))


# header-like bytes: fields, comments, every line break Python or wfdb knows, BOMs, stray bytes
PIECES = [b"r 2 360 20", b"r.dat 16 200/uV 11 0 0 0 0 MLII", b"x 212 100/\xb5V", b"# note"]
PIECES += [b"\r\n", b"\r", b"\n", b"\x0b", b"\x0c", b"\x1c", b"\x85", b"\xef\xbb\xbf", b"\xff"]
PIECES += [b" ", b"\t", b"/", b"\xc2\xb5V", b"mV", b"#"]
header_bytes = st.lists(st.sampled_from(PIECES) | st.binary(max_size=6), max_size=14).map(b"".join)


UNITS = ["uV", " UV ", "\u00b5V", "\u03bcv", "mV", "Volts", "adu", "NU", "\u00b5v "]


@settings(max_examples=300, deadline=None)
@given(raw=header_bytes, n_sig=st.integers(1, 4))
def test_one_walk_reads_what_the_two_walks_read(raw, n_sig):
    read = header_text(raw)
    assert read.text == raw.decode("ascii", errors="ignore")
    assert read.lines == lines_before(read.text)
    assert read.signal_units(n_sig) == units_before(raw, n_sig)


@given(st.lists(st.sampled_from(UNITS) | st.text(max_size=8), max_size=6))
def test_unknown_units_are_what_they_were_and_what_the_scale_does_not_know(units):
    given_ = [u.strip() for u in units if u and u.strip()]
    before = sorted({u for u in given_ if u.casefold() not in MILLIVOLTS_PER})
    odd = unknown_units(units)
    assert odd == before
    assert all((u in odd) == (unit_key(u) not in MILLIVOLTS_PER) for u in given_)


def test_units_are_one_unit_whatever_their_case_or_spaces():
    assert {unit_key(u) for u in ("uV", " UV ", "\u00b5V", "\u03bcv")} == {"uv", "\u03bcv"}
    assert unknown_units([" uV", "\u00b5V", "Microvolts", "adu ", "", "NU"]) == ["NU", "adu"]
