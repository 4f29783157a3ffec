#!/usr/bin/env bash
# The edge runtime on a Raspberry Pi 4 CPU (Cortex-A72: ARMv8.0, no dot-product instructions)
# under qemu-aarch64 user emulation, in an arm64 Debian userland built from Debian's packages.
#
#   sudo apt-get install qemu-user-static debootstrap   # once
#   bash scripts/pi4_emulation.sh [WORKDIR]             # default: build/pi4
#
# 1. debootstrap --foreign fetches bookworm arm64 (minbase + python3) and every .deb is unpacked
#    with dpkg-deb: no arm64 code runs to build the userland, so binfmt_misc is not needed.
# 2. The host's pip installs this project's wheel and the aarch64 wheels of its runtime
#    dependencies (onnxruntime, numpy, scipy, wfdb, ...) into the userland, as pip on the Pi would.
# 3. Every run is `qemu-aarch64-static -cpu cortex-a72`: the emulated CPU reports the A72's
#    features (checked: no asimddp in HWCAP), so a wheel that assumes dot-product or newer
#    instructions dies here with SIGILL as it would on the Pi.
# 4. `edge-monitor version`, `replay --no-ui` and `classify --json` on both embedded samples run
#    under emulation; scripts/compare_predictions.py compares them with the same commands on this
#    host. Timing under emulation means nothing (a JIT translates every instruction); only
#    correctness is checked.
# Writes WORKDIR/result.json (and benchmarks/results/pi4_emulation.json when run from the repo).
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$ROOT_DIR/build/pi4}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm  # Python 3.11, as Raspberry Pi OS bookworm
CPU=cortex-a72
# the host environment with the project installed (README: .venv)
PY=${PYTHON:-$ROOT_DIR/.venv/bin/python}
command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 2; }
USERLAND=$WORK/rootfs
SITE=$USERLAND/opt/ecg-edge
mkdir -p "$WORK"

# qemu-user 7.2 (Debian bookworm) segfaults inside onnxruntime >= 1.28 at import, whatever -cpu
# (a qemu limitation: 10.0 runs the same wheels); take qemu-user from bookworm-backports then.
qemu_major() { "$1" --version | head -1 | sed -E 's/.*version ([0-9]+).*/\1/'; }
QEMU=${QEMU:-$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)}
if [ -z "$QEMU" ] || [ "$(qemu_major "$QEMU")" -lt 8 ]; then
    if [ ! -x "$WORK/qemu/usr/bin/qemu-aarch64" ]; then
        echo "== qemu-user >= 8 from bookworm-backports (found: ${QEMU:-none})"
        grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ || {
            echo "deb $MIRROR bookworm-backports main" > /etc/apt/sources.list.d/backports.list
            apt-get update -qq
        }
        (cd "$WORK" && apt-get download -qq -t bookworm-backports qemu-user 2>/dev/null)
        dpkg-deb -x "$WORK"/qemu-user_*.deb "$WORK/qemu"
    fi
    QEMU=$WORK/qemu/usr/bin/qemu-aarch64
fi
echo "qemu: $("$QEMU" --version | head -1)"

if [ ! -x "$USERLAND/usr/bin/python3.11" ]; then
    echo "== arm64 Debian $SUITE userland (packages unpacked, nothing executed)"
    rm -rf "$USERLAND"
    debootstrap --foreign --arch=arm64 --variant=minbase --include=python3 "$SUITE" "$USERLAND" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    for deb in "$USERLAND"/var/cache/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$USERLAND"
    done
fi

echo "== aarch64 wheels of the edge runtime"
rm -rf "$SITE" "$WORK/dist"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$WORK/dist" "$ROOT_DIR"
"$PY" -m pip install --quiet --target "$SITE" --only-binary=:all: \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 \
    "$WORK"/dist/ecg_edge-*.whl

emulated() {
    PYTHONPATH="${EXTRA_PATH:+$EXTRA_PATH:}$SITE" PYTHONDONTWRITEBYTECODE=1 "$QEMU" -cpu "$CPU" \
        -L "$USERLAND" "$USERLAND/usr/bin/python3.11" "$@"
}

echo "== negative control: onnxruntime 1.21.0, the release that dies on the Pi 4"
rm -rf "$WORK/ort-1.21.0"
"$PY" -m pip install --quiet --no-deps --target "$WORK/ort-1.21.0" --only-binary=:all: \
    --platform manylinux_2_28_aarch64 --python-version 3.11 --implementation cp --abi cp311 \
    onnxruntime==1.21.0
set +e
EXTRA_PATH=$WORK/ort-1.21.0 emulated -c "import onnxruntime" > "$WORK/ort-1.21.0.txt" 2>&1
CONTROL_RC=$?
set -e
SIGNAL=$([ "$CONTROL_RC" -gt 128 ] && kill -l $((CONTROL_RC - 128)) || echo none)
echo "import onnxruntime 1.21.0 on $CPU: exit $CONTROL_RC (signal $SIGNAL)"
printf '{"onnxruntime": "1.21.0", "cpu": "%s", "exit": %d, "signal": "%s"}\n' \
    "$CPU" "$CONTROL_RC" "$SIGNAL" > "$WORK/control.json"

echo "== under qemu-aarch64 -cpu $CPU"
emulated - > "$WORK/platform.json" <<'EOF'
import ctypes, json, platform
import numpy, onnxruntime
HWCAP_ASIMDDP = 1 << 20  # arch/arm64/include/uapi/asm/hwcap.h
hwcap = ctypes.CDLL(None).getauxval(16)  # AT_HWCAP
print(json.dumps({
    "machine": platform.machine(),
    "python": platform.python_version(),
    "numpy": numpy.__version__,
    "onnxruntime": onnxruntime.__version__,
    "hwcap": hex(hwcap),
    "dot_product_instructions": bool(hwcap & HWCAP_ASIMDDP),
}))
EOF
cat "$WORK/platform.json"
emulated -m edge_monitor version | tee "$WORK/version.txt"
emulated -m edge_monitor replay --no-ui --speed 0 > "$WORK/replay_arm64.txt" 2>&1
tail -4 "$WORK/replay_arm64.txt"

SAMPLES=$("$PY" -c "from importlib import resources; print(resources.files('edge_monitor') / 'sample_data')")
for rec in mitdb-200-excerpt ptbxl-00063; do
    emulated -m edge_monitor classify "$SAMPLES/$rec.dat" --json > "$WORK/$rec.arm64.jsonl"
    "$PY" -m edge_monitor classify "$SAMPLES/$rec.dat" --json > "$WORK/$rec.x86.jsonl"
done
# the kernels onnxruntime runs for the int8 models: fused integer convolutions on both CPUs?
emulated - < "$ROOT_DIR/scripts/kernel_counts.py" > "$WORK/kernels.arm64.json"
"$PY" "$ROOT_DIR/scripts/kernel_counts.py" > "$WORK/kernels.x86.json"
"$PY" "$ROOT_DIR/scripts/compare_predictions.py" --platform "$WORK/platform.json" \
    --kernels "$WORK/kernels.x86.json" "$WORK/kernels.arm64.json" \
    --control "$WORK/control.json" --qemu "$("$QEMU" --version | head -1)" \
    --pair "$WORK/mitdb-200-excerpt.x86.jsonl" "$WORK/mitdb-200-excerpt.arm64.jsonl" \
    --pair "$WORK/ptbxl-00063.x86.jsonl" "$WORK/ptbxl-00063.arm64.jsonl" \
    --out "$WORK/result.json"
if [ -d "$ROOT_DIR/benchmarks/results" ]; then
    cp "$WORK/result.json" "$ROOT_DIR/benchmarks/results/pi4_emulation.json"
fi
