"""How far real 12-lead records stay from the diagnostic stream's flat-lead bound
(`edge_monitor.streams.FLAT_LEAD_MV`): per PTB-XL record of the shared subset, the smallest
peak-to-peak swing of any lead in any of the model's windows, through the stream's own band-pass
filter (causal, as the device runs it) at the record's 100 Hz. A record under the bound would lose
those windows' verdict for a lead that is there.

    ECG_EDGE_DATA=../shared/data python benchmarks/lead_swings.py

Writes benchmarks/results/lead_swings.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.dsp import StreamFilter, design_sos
from edge_monitor.streams import FLAT_LEAD_MV
from trainer.datasets.locate import dataset_dir


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument(
        "--ptbxl", type=Path, help="PTB-XL folder (else $ECG_EDGE_PTBXL, else $ECG_EDGE_DATA/ptbxl)"
    )
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results/lead_swings.json"))
    args = cli.parse_args()
    folder = dataset_dir(args.ptbxl, "ECG_EDGE_PTBXL", "ptbxl", "PTB-XL")
    contract = load_bundle(embedded_bundle("diagnostic"), probe=False).contract
    window, stride = contract.input.window, contract.input.stride
    smallest = []
    for path in sorted(folder.glob("records100_*.npz")):
        with np.load(path) as z:
            signals, gain = z["signal"], float(z["adc_gain"])
        for x in signals:  # (samples, 12) digital
            band = StreamFilter(design_sos(contract.filter, 100.0), x.shape[1])(x / gain)
            swings = [
                np.ptp(band[a : a + window], axis=0).min()
                for a in range(0, len(band) - window + 1, stride)
            ]
            smallest.append(float(min(swings)))
    values = np.asarray(smallest)
    result = {
        "records": len(values),
        "flat_lead_mv": FLAT_LEAD_MV,
        "records_under_the_bound": int((values < FLAT_LEAD_MV).sum()),
        "smallest_swing_mv": {
            "min": float(values.min()),
            "p1": float(np.percentile(values, 1)),
            "median": float(np.median(values)),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
