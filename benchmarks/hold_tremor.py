"""The other side of benchmarks/hold_delay.py: false critical VT/VF alarms over tremor_stress's
tremor mixes for each variant of the fusion's tremor hold. Each mix streams once through the
device Monitor with the fusion's output dropped (as ventricular_alarms caches a record), the log
is cached (cache/hold_tremor/, keyed like ventricular_alarms' cache), and every variant replays
it through `VentricularFusion`. A false alarm is the onset of a standing critical VT, VF or
VT/VF alarm (ventricular_alarms.standing) inside a burst or GRACE_S after it that no reference
event justifies, on tremor_stress's bursts and references; tremor_stress itself counts the
critical events of the live engine, which folds repeats, so the two scales differ. `--code-from`
replays mixes an earlier edge_monitor streamed (a change to the fusion alone).

    ECG_EDGE_DATA=../shared/data python benchmarks/hold_tremor.py --jobs 2 \
        --out benchmarks/results/hold_tremor.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hold_delay import VARIANTS  # noqa: E402
from noise_stress_parts.critical_events import justified, reference_events  # noqa: E402
from tremor_stress import (  # noqa: E402
    AMPLITUDES,
    GRACE_S,
    KINDS,
    Bursts,
    eligible,
    mitdb_folder,
    mixed,
)
from ventricular_alarms import fused, standing, to_events  # noqa: E402
from ventricular_alarms_stream import (  # noqa: E402
    LOG_VERSION,
    StreamOptions,
    code_hash,
    stream_signal,
)

from edge_monitor.bundle import embedded_bundle, load_bundle  # noqa: E402
from edge_monitor.ventricular import FusionSpec, ModelView  # noqa: E402

EXEMPT = FusionSpec().gate_exempt_p  # the stream as shipped


def code_tag(bundles: list, code_from: Path | None = None) -> str:
    """The models' and edge_monitor's bytes (or those of the folder `code_from`): a changed one
    streams again."""
    return f"{code_hash(bundles, code_from)}-log{LOG_VERSION}"


def stream_mixes(task: tuple[Path, str, Path, int]) -> str:
    """Every condition of one record into the cache (a worker)."""
    folder, rec, cache, seed = task
    bundles = [load_bundle(embedded_bundle(t), probe=False) for t in ("arrhythmia", "ventricular")]
    header = wfdb.rdheader(str(folder / rec))
    fs = float(header.fs)
    bursts = Bursts()
    x = wfdb.rdrecord(str(folder / rec), sampto=min(header.sig_len, int(bursts.end_s * fs)))
    x = x.p_signal
    spans = bursts.spans(fs, len(x))
    tag = code_tag(bundles)
    for kind in KINDS:
        for ptp in AMPLITUDES:
            path = cache / f"{rec}-{kind.replace(' ', '_')}-{ptp}-s{seed}-{tag}.json"
            if path.exists():
                continue
            mix = mixed(x, fs, spans, kind, ptp, seed, rec)
            log = stream_signal(mix, header, bundles, StreamOptions(EXEMPT, organised=True))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"fs": fs, "spans": spans, "log": log}))
    return rec


def false_alarms(events: list, fs: float, spans: list, ref_spans) -> int:
    """Onsets of a standing critical VT/VF alarm (ventricular_alarms.standing: a re-raised or
    escalated alarm that already stands is not a new one) inside a burst or GRACE_S after it
    that no reference event justifies."""
    windows = [(a, b + int(GRACE_S * fs)) for a, b in spans]
    end = max(b for _, b in windows) if windows else 0
    return sum(
        1
        for onset, _ in standing(events, end)
        if any(a <= onset < b for a, b in windows) and not justified(onset, ref_spans)
    )


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--mitdb", type=Path)
    cli.add_argument("--cache", type=Path, default=Path("cache/hold_tremor"))
    cli.add_argument("--jobs", type=int, default=1)
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--code-from", type=Path, metavar="EDGE_MONITOR_DIR",
                     help="replay the mixes this edge_monitor folder streamed (a change to the "
                     "fusion alone); never streams")  # fmt: skip
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results/hold_tremor.json"))
    args = cli.parse_args()
    folder = mitdb_folder(args.mitdb)
    names = eligible(folder)
    t0 = time.time()
    tasks = [(folder, rec, args.cache, args.seed) for rec in names]
    with ProcessPoolExecutor(args.jobs) as pool:
        for rec in [] if args.code_from else pool.map(stream_mixes, tasks):
            print(f"{rec} streamed ({time.time() - t0:.0f} s)", flush=True)
    bundles = [load_bundle(embedded_bundle(t), probe=False) for t in ("arrhythmia", "ventricular")]
    view = ModelView.of(bundles[1].name, bundles[1].contract)
    tag = code_tag(bundles, args.code_from)
    counts = {name: {f"{k} @ {p}": 0 for k in KINDS for p in AMPLITUDES} for name in VARIANTS}
    per_record = {name: {} for name in VARIANTS}
    for rec in names:
        ref_spans, _ = reference_events(folder / rec, float(wfdb.rdheader(str(folder / rec)).fs))
        for kind in KINDS:
            for ptp in AMPLITUDES:
                path = args.cache / f"{rec}-{kind.replace(' ', '_')}-{ptp}-s{args.seed}-{tag}.json"
                doc = json.loads(path.read_text())
                events = to_events(doc["log"])
                for name, spec in VARIANTS.items():
                    n = false_alarms(fused(events, view, doc["fs"], spec), doc["fs"],
                                     doc["spans"], ref_spans)  # fmt: skip
                    counts[name][f"{kind} @ {ptp}"] += n
                    per_record[name][rec] = per_record[name].get(rec, 0) + n
    result = {"records": names, "seed": args.seed, "variants": {}}
    for name, spec in VARIANTS.items():
        total = sum(counts[name].values())
        result["variants"][name] = {
            "organised_release": spec.organised_release,
            "release_window_s": spec.release_window_s,
            "withhold_organised": spec.withhold_organised,
            "false_critical": total,
            "by_condition": counts[name],
            "by_record": {k: v for k, v in per_record[name].items() if v},
        }
        print(
            f"{name}: {total} false critical; at 2 mV "
            + ", ".join(str(v) for k, v in counts[name].items() if k.endswith("2.0"))
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
