"""How much of a fusion change's cross-validated gain is the change itself, and how much the
folds choosing other settings with it: every record is replayed with the spec its fold chose in
an earlier `ventricular_alarms.py --tune` run (`--results`), once with a boolean FusionSpec field
off and once on, nothing else moved. A report beside a pre-registered test, never its decision.

    python benchmarks/fold_specs_replay.py --model-map runs/ventricular-last-s2/folds.json \\
        --model runs/ventricular-last-s2/fold-all/bundle --gate-exempt-p 0.9 \\
        --code-from <the edge_monitor that streamed the cache> --field quiet_clean_only \\
        --results benchmarks/results/ventricular_alarms_exempt_on_hold10_s2.json \\
        --out benchmarks/results/fold_specs_quiet_clean_s2.json

Reads the stream cache of the alarm benchmark (streams what it misses, as that benchmark would).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_alarms import StreamOptions, fused, load, parser, score, summary  # noqa: E402
from ventricular_misses import specs_by_group  # noqa: E402

from edge_monitor.ventricular import FusionSpec  # noqa: E402

MOVED = ("false", "false_onsets_s", "segments")  # what records_changed reports
BOOLEAN_FIELDS = [f.name for f in dataclasses.fields(FusionSpec) if f.type in (bool, "bool")]


def main() -> None:
    cli = parser()
    cli.add_argument("--results", type=Path, required=True, help="a --tune run's JSON")
    cli.add_argument("--field", choices=BOOLEAN_FIELDS, required=True)
    cli.add_argument("--out", type=Path, required=True)
    args = cli.parse_args()
    data = load(args)
    specs = specs_by_group(args.results)
    result: dict = {"results": str(args.results), "field": args.field,
                    "stream_options": dataclasses.asdict(StreamOptions.of(args)),
                    "code_from": str(args.code_from) if args.code_from else None}  # fmt: skip
    per_record: dict[bool, dict] = {}
    for value in (False, True):
        rows = {}
        for key, log in data.logs.items():
            ref, view = data.refs[key], data.views[key]
            spec = specs[data.groups[key]].tuned(**{args.field: value}) if view else FusionSpec()
            rows[key] = score(fused(log, view, ref["fs"], spec), ref)
        per_record[value] = rows
        result[f"{args.field}={value}"] = summary(rows)
        pooled = result[f"{args.field}={value}"]["all"]
        print(f"{args.field}={value}: " + json.dumps({k: pooled[k] for k in (
            "segments", "segment_se", "segment_sp", "false", "false_per_hour", "se_>=4s",
            "episodes_<4s")}))  # fmt: skip
    # the records the change moved: their false alarm onsets and segments found, off -> on
    result["records_changed"] = {
        key: {field: [per_record[v][key][field] for v in (False, True)] for field in MOVED}
        for key in per_record[False]
        if any(per_record[False][key][f] != per_record[True][key][f] for f in MOVED)
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
