"""benchmarks/beat_seeds_device.py: device-path entries gathered into a seed spread that
beat_seeds_paired.py reads, and a label that is not there refused in one line."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks"
SPEC = importlib.util.spec_from_file_location("beat_seeds_device", BENCH / "beat_seeds_device.py")
bsd = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bsd)


def _scores(s_f1: float, v_f1: float) -> dict:
    # Se, +P and F1 apart, so that a figure read under another's name shows
    return {"S": {"se": s_f1 + 0.05, "ppv": s_f1 - 0.05, "f1": s_f1},
            "V": {"se": v_f1 + 0.02, "ppv": v_f1 - 0.02, "f1": v_f1}}  # fmt: skip


def _entry(s_f1: float, svdb_s: float = 0.5) -> dict:
    return {"bundle": "b", "model_sha256": "x",
            "databases": {"mitdb": _scores(s_f1, 0.9), "svdb": _scores(svdb_s, 0.8)}}  # fmt: skip


def test_the_spread_is_the_sample_sd_over_the_seeds_with_a_bundle():
    source = {"a": _entry(0.6), "b": _entry(0.7), "c": _entry(0.8), "other": _entry(0.1)}
    got = bsd.gather(source, [(4, "c"), (0, "a"), (1, "b")], refused=[3, 2])
    assert [s["seed"] for s in got["seeds"]] == [0, 1, 4]
    assert got["refused_by_the_int8_gate"] == [2, 3]
    assert got["seeds"][0]["mitdb"] == pytest.approx({"f1_S": 0.6, "se_S": 0.65, "ppv_S": 0.55,
                                        "f1_V": 0.9, "se_V": 0.92, "ppv_V": 0.88})  # fmt: skip
    summary = got["summary (over the seeds with a bundle; sample sd)"]
    assert summary["mitdb f1_S"]["mean"] == pytest.approx(0.7)
    assert summary["mitdb f1_S"]["sd"] == pytest.approx(0.1)
    assert summary["mitdb se_S"]["mean"] == pytest.approx(0.75)
    assert summary["mitdb f1_V"]["sd"] == pytest.approx(0.0)
    assert summary["svdb f1_S"]["mean"] == pytest.approx(0.5)
    assert summary["svdb ppv_V"]["mean"] == pytest.approx(0.78)


@pytest.mark.parametrize(
    ("entries", "refused"),
    [
        ([(0, "a"), (0, "b")], []),  # one seed twice
        ([(0, "a"), (1, "a")], []),  # one bundle under two seeds
        ([(0, "a")], [0]),  # scored and refused
        ([(0, "a")], [1, 1]),
        ([(0, "a")], [-1]),
    ],
)
def test_a_seed_or_label_given_twice_is_refused(entries, refused):
    with pytest.raises(SystemExit, match="^error:"):
        bsd.gather({"a": _entry(0.6), "b": _entry(0.7)}, entries, refused)


@pytest.mark.parametrize(
    "bad", [[], "text", {"databases": {}}, {"databases": {"mitdb": {"S": {}}}}, {"bundle": "b"}]
)
def test_an_entry_not_shaped_as_beat_generalization_writes_it_is_refused(bad):
    with pytest.raises(SystemExit, match="^error: entry 'a'"):
        bsd.gather({"a": bad}, [(0, "a")], [])


def test_two_recipes_pair_by_seed_in_beat_seeds_paired(tmp_path):
    source = tmp_path / "bg.json"
    source.write_text(json.dumps({f"a{i}": _entry(0.6 + i / 100) for i in range(3)}
                                 | {f"b{i}": _entry(0.5 + i / 100) for i in range(3)}))  # fmt: skip
    out = tmp_path / "spread.json"
    for name in ("a", "b"):
        entries = [f"--entry={i}={name}{i}" for i in range(3)]
        r = subprocess.run([sys.executable, str(BENCH / "beat_seeds_device.py"), "--name", name,
                            *entries, "--source", str(source), "--out", str(out)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, str(BENCH / "beat_seeds_paired.py"), str(out), "a", "b"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    paired = json.loads(out.read_text())["a"]["paired"]["mitdb f1_S"]
    assert paired["differences"] == pytest.approx([0.1, 0.1, 0.1]) and paired[
        "mean"
    ] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("entry", "out"),
    [
        ("0=missing", "o.json"),  # a label the source does not hold
        ("0=a", "no/such/folder/o.json"),
        ("0=a", "list.json"),  # an --out that holds no object
        ("0=a", "."),  # a folder
    ],
)
def test_bad_input_is_refused_in_one_line(tmp_path, entry, out):
    source = tmp_path / "bg.json"
    source.write_text(json.dumps({"a": _entry(0.6)}))
    (tmp_path / "list.json").write_text("[1, 2]")
    r = subprocess.run([sys.executable, str(BENCH / "beat_seeds_device.py"), "--name", "x",
                        "--entry", entry, "--source", str(source), "--out", str(tmp_path / out)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()
    assert (tmp_path / "list.json").read_text() == "[1, 2]"
