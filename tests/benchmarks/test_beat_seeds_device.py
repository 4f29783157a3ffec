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
    return {"S": {"se": s_f1, "ppv": s_f1, "f1": s_f1}, "V": {"se": v_f1, "ppv": v_f1, "f1": v_f1}}


def _entry(s_f1: float, svdb_s: float = 0.7) -> dict:
    return {"bundle": "b", "model_sha256": "x",
            "databases": {"mitdb": _scores(s_f1, 0.9), "svdb": _scores(svdb_s, 0.8)}}  # fmt: skip


def test_the_spread_is_the_sample_sd_over_the_seeds_with_a_bundle():
    source = {"a": _entry(0.6), "b": _entry(0.7), "c": _entry(0.8), "other": _entry(0.1)}
    got = bsd.gather(source, {0: "a", 1: "b", 4: "c"}, refused=[3, 2])
    assert [s["seed"] for s in got["seeds"]] == [0, 1, 4]
    assert got["refused_by_the_int8_gate"] == [2, 3]
    summary = got["summary (over the seeds with a bundle; sample sd)"]
    assert summary["mitdb f1_S"]["mean"] == pytest.approx(0.7)
    assert summary["mitdb f1_S"]["sd"] == pytest.approx(0.1)
    assert summary["mitdb f1_V"]["sd"] == pytest.approx(0.0)
    assert summary["svdb se_S"]["mean"] == pytest.approx(0.7)


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
    assert paired["differences"] == [0.1, 0.1, 0.1] and paired["mean"] == pytest.approx(0.1)


def test_a_label_that_is_not_in_the_source_is_refused_in_one_line(tmp_path):
    source = tmp_path / "bg.json"
    source.write_text(json.dumps({"a": _entry(0.6)}))
    r = subprocess.run([sys.executable, str(BENCH / "beat_seeds_device.py"), "--name", "x",
                        "--entry", "0=missing", "--source", str(source),
                        "--out", str(tmp_path / "o.json")],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()
