"""Writes the sample record shipped in edge_monitor/sample_data from the MIT-BIH Arrhythmia
Database: record 200 (a DS2 test record the models never trained on), lead MLII, the first
three minutes (ventricular bigeminy and a short ventricular tachycardia).

    python scripts/make_sample_record.py --mitdb ../shared/data/mitdb
"""

import argparse
from pathlib import Path

from trainer.datasets.excerpt import write_mitdb_excerpt

ATTRIBUTION = [
    "Excerpt of MIT-BIH Arrhythmia Database record 200 (samples 0-64799, lead MLII).",
    "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng in Med and",
    "Biol 20(3):45-50 (2001). Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet.",
    "Circulation 101(23):e215-e220 (2000). Open Data Commons Attribution License v1.0.",
]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("edge_monitor/sample_data"))
    args = parser.parse_args()
    path = write_mitdb_excerpt(
        args.mitdb,
        "200",
        args.out,
        180.0,
        channels=["MLII"],
        new_name="mitdb-200-excerpt",
        comments=ATTRIBUTION,
    )
    print(f"wrote {path}")
