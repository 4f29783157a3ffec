"""The totals of a part's rows (overall and per database) and the table printed at the end."""

from __future__ import annotations


def failing(rows: list[dict]) -> list[dict]:
    """The rows that crashed, printed invalid lines or met a problem, and their channel-0
    retries that did."""
    rows_failing = [
        {
            "database": r["database"],
            "record": r["record"],
            "exit_code": r["exit_code"],
            "invalid_lines": r["invalid_lines"],
            "error": r["error"],
            **({"problems": r["problems"]} if r.get("problems") else {}),
        }
        for r in rows
        if r["crash"] or r["invalid_lines"] or r.get("problems")
    ]
    retries_failing = [
        {
            "database": r["database"],
            "record": r["record"],
            "args": ["--channel", "0"],
            "exit_code": t["exit_code"],
            "invalid_lines": t["invalid_lines"],
            "error": t["error"],
        }
        for r in rows
        if (t := r.get("channel_0_retry")) and (t["crash"] or t["invalid_lines"])
    ]
    return rows_failing + retries_failing


def totals(rows: list[dict]) -> dict:
    levels: dict[str, int] = {}
    ordered = [r for r in rows if "lines_out_of_sample_order" in r]
    for r in rows:
        for k, v in r["alerts"].items():
            levels[k] = levels.get(k, 0) + v
    out = {
        "records": len(rows),
        "crashes": sum(bool(r["crash"]) for r in rows),
        "refused": sum(bool(r.get("refused")) for r in rows),
        "hard_crashes": sum(bool(r["crash"]) and not r.get("refused") for r in rows),
        "channel_0_retries": sum(1 for r in rows if "channel_0_retry" in r),
        "channel_0_retry_crashes": sum(
            bool(r["channel_0_retry"]["crash"]) for r in rows if "channel_0_retry" in r
        ),
        "channel_0_retry_invalid_lines": sum(
            r["channel_0_retry"]["invalid_lines"] for r in rows if "channel_0_retry" in r
        ),
        "tracebacks": sum(bool(r["traceback"]) for r in rows),
        "nonzero_exit": sum(1 for r in rows if r["exit_code"] not in (0, 130)),
        "invalid_lines": sum(r["invalid_lines"] for r in rows),
        "records_with_invalid_lines": sum(1 for r in rows if r["invalid_lines"]),
        "no_summary": sum(1 for r in rows if not r["summary"]),
        "beats": sum(r["beats"] for r in rows),
        "alerts": dict(sorted(levels.items())),
        "signal_hours": round(sum(r["signal_seconds"] or 0 for r in rows) / 3600.0, 3),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 1),
        "max_wall_seconds": max((r["wall_seconds"] for r in rows), default=None),
        # classify rows only (the serial part does not measure it): None, never a false 0
        "lines_out_of_sample_order": sum(r["lines_out_of_sample_order"] for r in ordered)
        if ordered
        else None,
        "max_step_back_s": max((r["max_step_back_s"] for r in ordered), default=None),
        "failing": failing(rows),
    }
    if any("samples_sent" in r for r in rows):
        out["samples_sent"] = sum(r["samples_sent"] or 0 for r in rows)
        out["samples_decoded"] = sum(r["samples_decoded"] or 0 for r in rows)
        out["records_not_all_decoded"] = [
            r["record"] for r in rows if r["samples_sent"] != r["samples_decoded"]
        ]
        out["records_with_problems"] = sum(1 for r in rows if r["problems"])
    return out


def by_database(rows: list[dict]) -> dict:
    return {
        db: {
            k: v
            for k, v in totals([r for r in rows if r["database"] == db]).items()
            if k != "failing"
        }
        for db in sorted({r["database"] for r in rows})
    }


def _counts(part: str, db: str, t: dict, refused) -> str:
    """A table row's first columns: the part, the database and its totals' counts."""
    return (
        f"{part:<10} {db:<7} {t['records']:>7} {t['crashes']:>7} {refused:>7} "
        f"{t['invalid_lines']:>7} {t['beats']:>8}"
    )


def print_table(result: dict) -> None:
    print()
    print(
        f"{'part':<10} {'db':<7} {'records':>7} {'crashes':>7} {'refused':>7} {'invalid':>7} "
        f"{'beats':>8} "
        f"{'critical':>8} {'crit/h':>7} {'crit in noise/noise h':>22}"
    )
    crit = result.get("reference", {}).get("critical_by_database", {})
    for db, t in result.get("classify", {}).get("by_database", {}).items():
        c = crit.get(db, {})
        noise = f"{c.get('critical_in_noise', '-')} / {c.get('noise_hours', '-')}"
        print(
            _counts("classify", db, t, t["refused"])
            + f" {c.get('critical', '-'):>8} {str(c.get('critical_per_hour', '-')):>7} {noise:>22}"
        )
    s = result.get("serial", {}).get("totals")
    if s:
        print(
            _counts("serial", "mitdb", s, "")
            + f"   decoded {s['samples_decoded']}/{s['samples_sent']} samples"
        )
    af = result.get("reference", {}).get("af_mitdb")
    if af:
        print(
            f"AF (mitdb): episodes >= 30 s warned {af['episodes_ge_30s_warned']}/"
            f"{af['episodes_ge_30s']} (Se {af['episode_sensitivity']}), false AF "
            f"{af['false_af_raised']} in {af['hours_outside_af']} h = "
            f"{af['false_af_per_hour']}/h"
        )
