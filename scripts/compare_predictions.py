"""Compare two `edge-monitor classify --json` runs of one record (here: x86 host vs Cortex-A72
under emulation): same beats at the same samples, same labels, same alerts, and how far the
probabilities moved (different CPUs take different int8/float kernels, so tiny differences are
expected; a changed label or a missing beat is not).

    python scripts/compare_predictions.py --pair A.jsonl B.jsonl [--pair ...] --out result.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read(path: Path) -> dict:
    out: dict = {"beat": [], "window": [], "alert": [], "summary": None}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        kind = event.get("type")
        if kind == "summary":
            out["summary"] = event
        elif kind in out:
            out[kind].append(event)
    return out


def max_prob_diff(a: list[dict], b: list[dict]) -> float:
    diffs = [
        abs(x["probs"][k] - y["probs"][k]) for x, y in zip(a, b, strict=True) for k in x["probs"]
    ]
    return max(diffs, default=0.0)


def compare(first: Path, second: Path) -> dict:
    a, b = read(first), read(second)
    beats_same = [x["sample"] for x in a["beat"]] == [y["sample"] for y in b["beat"]]
    labels = sum(x["label"] != y["label"] for x, y in zip(a["beat"], b["beat"], strict=False))
    windows_same = [(x["start"], x["end"]) for x in a["window"]] == [
        (y["start"], y["end"]) for y in b["window"]
    ]
    alerts = [(x["sample"], x["level"], x["label"]) for x in a["alert"]]
    result = {
        "record": first.name.split(".")[0],
        "beats": [len(a["beat"]), len(b["beat"])],
        "beat_samples_identical": beats_same,
        "beat_label_mismatches": labels,
        "beat_max_abs_prob_diff": max_prob_diff(a["beat"], b["beat"]) if beats_same else None,
        "windows": [len(a["window"]), len(b["window"])],
        "window_max_abs_prob_diff": max_prob_diff(a["window"], b["window"])
        if windows_same
        else None,
        "alerts": [len(a["alert"]), len(b["alert"])],
        "alerts_identical": alerts == [(y["sample"], y["level"], y["label"]) for y in b["alert"]],
    }
    result["identical_predictions"] = bool(
        beats_same and labels == 0 and windows_same and result["alerts_identical"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", nargs=2, type=Path, action="append", required=True)
    parser.add_argument("--platform", type=Path, help="JSON describing the emulated platform")
    parser.add_argument("--control", type=Path, help="JSON of the negative control run")
    parser.add_argument("--qemu", help="the emulator's version line")
    parser.add_argument(
        "--kernels", nargs=2, type=Path, help="kernel_counts.py output here and emulated"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    records = [compare(a, b) for a, b in args.pair]
    result = {
        "platform": json.loads(args.platform.read_text()) if args.platform else None,
        "qemu": args.qemu,
        "negative_control": json.loads(args.control.read_text()) if args.control else None,
        "records": records,
        "identical_predictions": all(r["identical_predictions"] for r in records),
        "kernels": {
            "host": json.loads(args.kernels[0].read_text()),
            "emulated": json.loads(args.kernels[1].read_text()),
        }
        if args.kernels
        else None,
        "note": "timing under emulation means nothing and is not reported",
    }
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not result["identical_predictions"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
