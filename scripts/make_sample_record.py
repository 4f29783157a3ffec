"""Writes the sample record shipped in edge_monitor/sample_data from the MIT-BIH Arrhythmia
Database: record 200 (a DS2 test record the models never trained on), lead MLII, the first
three minutes (ventricular bigeminy and a short ventricular tachycardia), and one PTB-XL
12-lead test record for the diagnostic model.

    python scripts/make_sample_record.py --mitdb ../shared/data/mitdb --ptbxl data/ptbxl
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

PTBXL_ATTRIBUTION = [
    "PTB-XL record ecg_id 63 (test fold 10; statements ASMI, ABQRS, SR), 100 Hz, 12 leads.",
    "Wagner P, Strodthoff N, Bousseljot R-D, et al. PTB-XL, a large publicly available",
    "electrocardiography dataset. Scientific Data 7:154 (2020). PhysioNet, CC BY 4.0.",
]


def write_ptbxl_sample(ptbxl: Path, out: Path) -> Path:
    """The 12-lead sample for the diagnostic model: one test-fold record, renamed."""
    import wfdb

    rec = wfdb.rdrecord(str(ptbxl / "records100" / "00000" / "00063_lr"), physical=False)
    wfdb.wrsamp(
        "ptbxl-00063",
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal,
        fmt=rec.fmt,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        comments=PTBXL_ATTRIBUTION,
        write_dir=str(out),
    )
    return out / "ptbxl-00063"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--ptbxl", type=Path, help="restored PTB-XL folder (records100/)")
    parser.add_argument("--out", type=Path, default=Path("edge_monitor/sample_data"))
    args = parser.parse_args()
    if args.ptbxl:
        print(f"wrote {write_ptbxl_sample(args.ptbxl, args.out)}")
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
