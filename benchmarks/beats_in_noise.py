"""Should a beat the monitor does not trust be reported Q (unclassifiable) instead of the model's
label? The rhythm rules already treat it so (`Monitor._alert_on`: a beat inside or just after bad
signal drives no rule, one the second QRS detector does not see counts as Q), but the beat events
carry the model's label, and in noise the model calls artefacts and deformed beats V (MIT-BIH
105). AAMI EC57's Q class is for beats that cannot be classified.

Every record is streamed once through the device path (the embedded bundle), each reported
beat logged with whether the rules trusted it and whether the second detector confirmed it; the
beats are then scored as reported (the shipped behaviour) and with the untrusted ones, or the
untrusted and unconfirmed ones, as Q. A variant is a candidate only if it helps on the TRAINING
records (MIT-BIH DS1 + svdb training: pooled S and V F1 both not lower); the test records are
reported beside. What was decided: docs/beat_af.md section 6.

    ECG_EDGE_DATA=../shared/data python benchmarks/beats_in_noise.py --jobs 2

Writes benchmarks/results/beats_in_noise.json.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import database_scores  # noqa: E402
from beat_logging import jobs_and_out, logged_stream, record_paths, record_sets  # noqa: E402

from edge_monitor.events import BeatEvent
from edge_monitor.pipeline import Monitor
from trainer.metrics import match_beats

VARIANTS = ("as reported", "untrusted as Q", "untrusted or unconfirmed as Q")
OUT = Path("benchmarks/results/beats_in_noise.json")


class LoggingMonitor(Monitor):
    """The Monitor, noting per reported beat what the rules will make of it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trust_log: dict[int, tuple[bool, bool]] = {}

    def _alert_on(self, beat: BeatEvent):
        self.trust_log[beat.sample] = (
            self.trusted(beat.sample),
            self.quality.confirms(beat.sample),
        )
        return super()._alert_on(beat)


def stream(path: Path) -> dict:
    return logged_stream(path, LoggingMonitor, "trust_log", (True, True))


def relabelled(r: dict, variant: str) -> dict:
    def label(lab, trusted: bool, confirmed: bool):
        if lab is None or variant == VARIANTS[0]:
            return lab
        if not trusted or (variant == VARIANTS[2] and not confirmed):
            return "Q"
        return lab

    labels = [label(lab, *t) for lab, t in zip(r["labels"], r["log"], strict=True)]
    t, p = match_beats(r["ref_samples"], r["ref_labels"], r["samples"], labels, r["tolerance"])
    return {"y_true": t, "y_pred": p}


def main() -> None:
    args = jobs_and_out(__doc__, OUT)
    root, sets = record_sets()
    doc: dict = {"variants": list(VARIANTS)}
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, ids in sets.items():
            streamed = list(pool.map(stream, record_paths(ids, root)))
            doc[name] = {}
            for v in VARIANTS:
                s = database_scores([relabelled(r, v) for r in streamed])
                doc[name][v] = {c: s[c] for c in ("N", "S", "V")}
                print(
                    f"{name:10s} {v:32s} "
                    + "  ".join(
                        f"{c} {s[c]['se']:.3f}/{s[c]['ppv']:.3f}/{s[c]['f1']:.3f}"
                        for c in ("S", "V")
                    ),
                    flush=True,
                )
    args.out.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
