#!/usr/bin/env bash
# Restore the shared PTB-XL subset (a compact .npz) as the original PhysioNet WFDB layout.
# Usage: bash benchmarks/prepare_ptbxl.sh [SHARED_PTBXL_DIR] [OUT_DIR]
set -euo pipefail
src=${1:-../shared/data/ptbxl}
out=${2:-data/ptbxl}
python "$src/restore_wfdb.py" "$out"
cp "$src/ptbxl_database.csv" "$src/scp_statements.csv" "$out/"
echo "PTB-XL subset ready in $out (pass --data-dir $out or set ECG_EDGE_PTBXL=$out)"
