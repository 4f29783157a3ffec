"""The VT/VF fusion ships the settings its benchmark chose on all records (README row 11), and
the blind hold and the clean-windows clear as their pre-registered tests left them: a
default changed in code without the benchmark run again fails here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edge_monitor.ventricular import FusionSpec

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks/results"
RESULT = RESULTS / "ventricular_alarms_sustained.json"
# the hold's third test: five fold sets, the exemption fixed on as shipped, the hold in every
# grid point (docs/preregistrations/2026-12-07-blind-hold-exempt-fixed.md), whose rule turned it
# on again after its replication had turned it off
HOLD_RESULTS = [RESULTS / f"ventricular_alarms_exempt_on_hold10_s{s}.json" for s in range(2, 7)]


def test_the_shipped_fusion_spec_is_the_one_the_benchmark_chose():
    doc = json.loads(RESULT.read_text())
    chosen = doc["after_cross_validated"]["spec_on_all_records (in-sample; for shipping)"]
    shipped = dataclasses.asdict(FusionSpec())
    # the fields added since, each pinned by its own test below
    assert set(shipped) - set(chosen) == {
        "blind_hold_s",
        "quiet_clean_only",
        "withhold_slow_regular",
        "strict_renewal",
    }
    assert {k: shipped[k] for k in chosen} == chosen
    per_fold = doc["after_cross_validated"]["chosen_per_fold"].values()
    assert {fold["disagree_p"] for fold in per_fold} == {FusionSpec().disagree_p}


def test_the_shipped_blind_hold_is_the_one_its_last_test_measured():
    for path in HOLD_RESULTS:
        doc = json.loads(path.read_text())
        folds = doc["after_cross_validated"]["chosen_per_fold"].values()
        assert {fold["blind_hold_s"] for fold in folds} == {FusionSpec().blind_hold_s} == {10.0}
        assert {fold["exempt_amplitude"] for fold in folds} == {FusionSpec().exempt_amplitude}


# the clean-windows clear: its first pre-registered test failed (seed 2's set 5 segments fewer
# with the option in the grid, docs/preregistrations/2026-12-07-quiet-clean-only.md); its
# pre-registered replication on two new fold sets, the other settings fixed as shipped, decides
# (docs/preregistrations/2026-12-07-quiet-clean-replication.md)
BEFORE = [RESULTS / f"ventricular_alarms_exempt_on_hold10_s{s}.json" for s in range(2, 7)]
QUIET_RESULTS = [RESULTS / f"ventricular_alarms_quiet_cap2_s{s}.json" for s in range(2, 7)]
REPLICATION = [RESULTS / f"fold_specs_quiet_replication_s{s}.json" for s in (7, 8)]
ALL_RECORDS_ON = RESULTS / "all_records_quiet_replication_on.json"
TREMOR = {on: RESULTS / f"tremor_stress_quiet_replication_{on}.json" for on in ("on", "off")}


def _cross_validated(path: Path) -> dict:
    return json.loads(path.read_text())["after_cross_validated"]["result"]["all"]


def _found(path: Path) -> int:
    return _cross_validated(path)["segments"]["tp"]


def _tremor_onsets(path: Path, field: str = "quiet_clean_only") -> tuple[bool, int]:
    doc = json.loads(path.read_text())
    return doc["fusion"][field], sum(c["false_critical"] for c in doc["conditions"])


def _no_crash(path: Path) -> None:
    totals = json.loads(path.read_text())["classify"]["totals"]
    assert totals["records"] == 111 and totals["failing"] == []
    assert all(totals[k] == 0 for k in ("crashes", "tracebacks", "nonzero_exit", "no_summary"))
    assert totals["invalid_lines"] == totals["hard_crashes"] == 0


def test_the_clean_windows_clear_ships_as_its_replication_decided():
    for path in QUIET_RESULTS:  # the first test: measured, and failed on one set
        folds = json.loads(path.read_text())["after_cross_validated"]["chosen_per_fold"].values()
        assert {fold["quiet_clean_only"] for fold in folds} == {True}
    assert max(_found(b) - _found(q) for b, q in zip(BEFORE, QUIET_RESULTS, strict=True)) >= 2
    gained = 0
    for path in REPLICATION:
        doc = json.loads(path.read_text())
        assert doc["field"] == "quiet_clean_only"
        off, on = doc["quiet_clean_only=False"]["all"], doc["quiet_clean_only=True"]["all"]
        assert on["segments"]["tp"] >= off["segments"]["tp"]  # rule 1: no set fewer
        gained += on["segments"]["tp"] - off["segments"]["tp"]
        assert on["false"] <= off["false"] and on["false_per_hour"] <= 1  # rule 2
        assert abs(on["segment_sp"] - off["segment_sp"]) <= 0.005  # rule 3
        assert on["se_>=4s"] >= off["se_>=4s"]
    assert gained >= 2  # rule 1: pooled
    _no_crash(ALL_RECORDS_ON)  # rule 4
    (flag_on, onsets_on), (flag_off, onsets_off) = map(_tremor_onsets, TREMOR.values())
    assert (flag_on, flag_off) == (True, False) and onsets_on <= onsets_off  # rule 4
    assert FusionSpec().quiet_clean_only is True  # every rule held, so the option ships on


# the model's own raise withheld over a slow regular rhythm: its first pre-registered rule asked
# 3 fewer false alarms pooled over the seven fold sets and no set with more; the runs that count
# are the amended ones on streams that log every beat (the first ones saw V beats alone: void;
# docs/preregistrations/2026-12-07-slow-regular.md). It failed there; its replication on two new
# fold sets, judged on false alarm time, decides (2026-12-07-slow-regular-replication.md)
SLOW_REGULAR = [RESULTS / f"fold_specs_slow_regular_allbeats_s{s}.json" for s in range(2, 9)]
SLOW_REPLICATION = [RESULTS / f"fold_specs_slow_regular_replication_s{s}.json" for s in (9, 10)]
SLOW_ALL_RECORDS = RESULTS / "all_records_slow_regular_replication_on.json"
SLOW_TREMOR = {
    on: RESULTS / f"tremor_stress_slow_regular_replication_{on}.json" for on in ("on", "off")
}


def _off_on(path: Path) -> tuple[dict, dict]:
    doc = json.loads(path.read_text())
    assert doc["field"] == "withhold_slow_regular"
    return doc["withhold_slow_regular=False"]["all"], doc["withhold_slow_regular=True"]["all"]


def test_the_slow_regular_withholding_failed_its_first_test():
    more, lost = [], []
    for off, on in map(_off_on, SLOW_REGULAR):
        more.append(on["false"] - off["false"])
        lost.append(off["segments"]["tp"] - on["segments"]["tp"])
    assert sum(more) <= -3 and max(lost) <= 0  # pooled it held (15 fewer), no segment lost...
    assert max(more) > 0  # ...but seeds 4's and 7's sets have one more, which rule 1 forbade


def test_the_slow_regular_withholding_ships_as_its_replication_decided():
    pooled = {"false_segments": 0, "onsets": 0, "found": 0, "short": 0}
    for off, on in map(_off_on, SLOW_REPLICATION):
        assert on["segments"]["fp"] < off["segments"]["fp"]  # rule 1: on each set
        pooled["false_segments"] += on["segments"]["fp"] - off["segments"]["fp"]
        assert on["false"] <= off["false"] + 1 and on["false_per_hour"] <= 1  # rule 2
        pooled["onsets"] += on["false"] - off["false"]
        assert on["segments"]["tp"] >= off["segments"]["tp"] - 1  # rule 3
        pooled["found"] += on["segments"]["tp"] - off["segments"]["tp"]
        assert on["se_>=4s"] >= off["se_>=4s"]  # rule 4
        short = [int(x["episodes_<4s"].split("/")[0]) for x in (on, off)]
        pooled["short"] += short[0] - short[1]
    assert pooled["false_segments"] <= -10 and pooled["onsets"] <= 0  # rules 1, 2: pooled
    assert pooled["found"] >= 0 and pooled["short"] >= -1  # rules 3, 4: pooled
    _no_crash(SLOW_ALL_RECORDS)  # rule 5
    (flag_on, onsets_on), (flag_off, onsets_off) = (
        _tremor_onsets(path, "withhold_slow_regular") for path in SLOW_TREMOR.values()
    )
    assert (flag_on, flag_off) == (True, False) and onsets_on <= onsets_off  # rule 5
    # every rule held, but the fresh-clone review found the withholding unbounded (a VT the
    # detector counts at every other complex is withheld while it lasts:
    # test_ventricular_slow_regular.py), which no rule had looked at: it ships off
    assert FusionSpec().withhold_slow_regular is False


# the clean-windows clear's bound renewed only by raise-grade evidence: its pre-registered rule 1
# allowed a set 1 segment fewer (docs/preregistrations/2026-12-07-strict-renewal.md)
STRICT = [RESULTS / f"fold_specs_strict_renewal_s{s}.json" for s in range(2, 9)]


def test_the_strict_renewal_ships_as_its_test_decided():
    lost = []
    for path in STRICT:
        doc = json.loads(path.read_text())
        assert doc["field"] == "strict_renewal"
        off, on = doc["strict_renewal=False"]["all"], doc["strict_renewal=True"]["all"]
        lost.append(off["segments"]["tp"] - on["segments"]["tp"])
    assert max(lost) > 1  # rule 1 failed (seed 3's set 4 fewer, seed 7's 3)...
    assert FusionSpec().strict_renewal is False  # ...so it ships off


# MIT-BIH's paced records as VT/VF training negatives: its first pre-registered test failed on
# one episode (docs/preregistrations/2026-12-07-paced-negatives.md); its replication on seeds 11
# and 12 against the nine shipped sets decides (2026-12-07-paced-negatives-replication.md)
PACED = ("mitdb/102", "mitdb/104", "mitdb/107", "mitdb/217")
EMBEDDED_VT = Path(__file__).resolve().parents[2] / "edge_monitor/default_models/ventricular"


def _paced_false(path: Path) -> int:
    rows = json.loads(path.read_text())["false_by_record"]
    return sum(row["false"] for row in rows if row["record"] in PACED)


def test_the_first_paced_test_failed_on_one_episode():
    a = [_cross_validated(RESULTS / f"ventricular_alarms_replication_A_s{s}.json") for s in (9, 10)]
    b = [_cross_validated(RESULTS / f"ventricular_alarms_paced_B_s{s}.json") for s in (9, 10)]
    paced = {arm: sum(_paced_false(RESULTS / f"ventricular_misses_paced_{arm}_s{s}.json")
                      for s in (9, 10)) for arm in "AB"}  # fmt: skip
    assert paced["B"] <= paced["A"] / 2  # rule 1 held (28 -> 2)...
    assert sum(x["false"] for x in b) < sum(x["false"] for x in a)  # rule 2 held
    assert min(x["se_>=4s"] for x in b) < 0.95  # ...rule 3 failed on seed 9's set


def test_the_embedded_vt_model_learned_the_paced_records_as_its_replication_decided():
    found = 0
    for s in (11, 12):
        result = _cross_validated(RESULTS / f"ventricular_alarms_paced_B_s{s}.json")
        assert _paced_false(RESULTS / f"ventricular_misses_paced_B_s{s}.json") <= 2  # rule 1
        assert result["false"] <= 35 and result["false_per_hour"] <= 1  # rule 2
        assert result["segments"]["tp"] >= 195 and result["se_>=4s"] >= 0.95  # rules 3, 4
        found += result["segments"]["tp"]
    assert found >= 408  # rule 3, pooled
    _no_crash(RESULTS / "all_records_paced_embedded.json")  # rule 5
    _, onsets = _tremor_onsets(RESULTS / "tremor_stress_paced_embedded.json")
    assert onsets <= 1.10 * 298
    bench = json.loads((RESULTS / "bench_rpi4_paced_embedded.json").read_text())["checks"]
    assert all(check["ok"] for check in bench.values())
    manifest = json.loads((EMBEDDED_VT / "manifest.json").read_text())
    assert "ECG_EDGE_VENTRICULAR_PACED=negatives" in manifest["command"]  # so it ships
    assert manifest["checks"]["int8_drop"]["ok"]


PACED_SETS = [RESULTS / f"ventricular_alarms_paced_B_s{s}.json" for s in range(9, 15)]
BOUNDED = [RESULTS / f"fold_specs_slow_bounded_s{s}.json" for s in range(9, 15)]


def test_the_shipped_recipe_meets_the_vt_targets_as_its_third_test_decided():
    """docs/preregistrations/2026-12-08-paced-third-replication.md, question A: each new set
    (seeds 13, 14) meets the issue's targets, and the six sets' one-sided 95 % lower bound of
    the mean 8 s Se (t with 5 df) is >= 0.90."""
    import math
    import statistics

    se = []
    for path in PACED_SETS:
        result = _cross_validated(path)
        seg = result["segments"]
        se.append(seg["tp"] / (seg["tp"] + seg["fn"]))
        if path.name.endswith(("_s13.json", "_s14.json")):  # A1
            assert se[-1] >= 0.90 and seg["tn"] / (seg["tn"] + seg["fp"]) >= 0.95
            assert result["se_>=4s"] >= 0.90 and result["false_per_hour"] <= 1
    bound = statistics.mean(se) - 2.015 * statistics.stdev(se) / math.sqrt(len(se))
    assert len(se) == 6 and bound >= 0.90  # A2: 0.919


def test_the_bounded_slow_regular_withholding_stays_off_as_its_test_decided():
    """Question B: 10 false 8 s segments fewer pooled, but 4 onsets more (its rule 2 asked
    none): off."""
    pooled_segments = pooled_onsets = 0
    for off, on in map(_off_on, BOUNDED):
        pooled_segments += on["segments"]["fp"] - off["segments"]["fp"]
        pooled_onsets += on["false"] - off["false"]
        assert on["segments"]["tp"] == off["segments"]["tp"]
    assert pooled_segments <= -10 and pooled_onsets > 0  # rule 1 held, rule 2 failed
    assert FusionSpec().withhold_slow_regular is False


def test_the_gate_judging_a_streams_first_second_moved_no_beat_or_alert_on_the_shared_records():
    before = json.loads((RESULTS / "all_records_paced_embedded.json").read_text())["classify"]
    after = json.loads((RESULTS / "all_records_gate_first_second.json").read_text())["classify"]
    _no_crash(RESULTS / "all_records_gate_first_second.json")
    rows = {(r["database"], r["record"]): r for r in before["rows"]}
    assert len(after["rows"]) == len(rows) == 111
    for r in after["rows"]:
        old = rows[(r["database"], r["record"])]
        assert (r["beats"], r["alerts"]) == (old["beats"], old["alerts"]), r["record"]
