"""benchmarks/beat_seeds_paired.py: differences by seed, only seeds both recipes hold."""

import importlib.util
import json
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "beat_seeds_paired", Path(__file__).parents[2] / "benchmarks" / "beat_seeds_paired.py"
)
bsp = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bsp)


def _seed(seed: int, s: float, v: float) -> dict:
    scores = {"f1_S": s, "f1_V": v}
    return {"seed": seed, "mitdb": scores, "svdb": dict(scores)}


def test_pairs_by_seed_and_skips_unshared_seeds(tmp_path):
    doc = {
        "new": {"seeds": [_seed(0, 0.7, 0.9), _seed(1, 0.5, 0.8), _seed(2, 0.6, 0.9)]},
        "old": {"seeds": [_seed(1, 0.4, 0.8), _seed(0, 0.5, 0.9), _seed(7, 0.0, 0.0)]},
    }
    out = bsp.paired(doc, "new", "old")
    assert out["seeds"] == [0, 1]
    assert out["mitdb f1_S"]["differences"] == [0.2, 0.1]
    assert out["mitdb f1_S"]["mean"] == pytest.approx(0.15)
    lo, hi = out["mitdb f1_S"]["ci95"]
    assert lo < 0.15 < hi
    assert out["svdb f1_V"]["mean"] == pytest.approx(0.0)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SystemExit, match="no configuration 'gone'"):
        bsp.paired(doc, "gone", "old")
    doc["old"]["seeds"] = [_seed(0, 0.5, 0.9)]
    with pytest.raises(SystemExit, match="share 1 seed"):
        bsp.paired(doc, "new", "old")
