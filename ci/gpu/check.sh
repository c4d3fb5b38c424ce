#!/bin/bash
# Run on the device tool's NVIDIA machine (docs/gpu.md), in the repository
# root, with .gpu/ (from ci/gpu/bundle.sh) carried:
#   1. is NVIDIA's OpenCL driver there, and does the ICD loader find it
#      (an .icd file naming libnvidia-opencl.so.1 is written if the machine
#      has none);
#   2. every device test (ctest's .devN entries) on the NVIDIA device;
#   3. `resnet-cl bench` for resnet18 (batch 100), resnet50 (batch 64) and
#      resnet50 at 224x224 (batch 16) against PyTorch CUDA, alternated
#      (bench/torch_peer.py --torch-device cuda), if PyTorch sees the GPU.
# Everything goes to $OUT/gpu.log (and $OUT/peer.csv); budget about 8
# minutes (GPU_TEST_TIMEOUT per test, 120 s). A dry run here:
#   OUT=/tmp/g GPU_MATCH=Portable GPU_TEST_TIMEOUT=5 GPU_SKIP_BENCH=1 bash ci/gpu/check.sh
set -uo pipefail
OUT=${OUT:-/tmp/rcl-gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu.log") 2>&1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=/tmp/rcl-gpu
T0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }

stamp "machine"
uname -a; nvidia-smi -L 2>&1 | head -4
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3

stamp "unpacking .gpu/bundle.tar.xz"
rm -rf "$T" && mkdir -p "$T" && tar -C "$T" -xJf "$ROOT/.gpu/bundle.tar.xz" || { echo "no bundle: run ci/gpu/bundle.sh here and carry .gpu"; exit 1; }
export LD_LIBRARY_PATH="$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

stamp "NVIDIA OpenCL driver"
ls -la /etc/OpenCL/vendors 2>&1
ldconfig -p | grep -i -E "opencl|nvidia-opencl" || echo "ldconfig: no OpenCL library registered"
LIB=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
[ -n "$LIB" ] || LIB=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/lib/x86_64-linux-gnu -name 'libnvidia-opencl.so*' 2>/dev/null | head -1)
echo "libnvidia-opencl: ${LIB:-not found}"
if [ -n "$LIB" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    mkdir -p "$T/vendors" && echo "$LIB" > "$T/vendors/nvidia.icd"
    export OCL_ICD_VENDORS="$T/vendors"
    echo "wrote $T/vendors/nvidia.icd ($LIB); OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
fi
export RESNET_CL_SOURCE_DIR="$ROOT" RESNET_CL_BUILD_DIR="$T/bin" RESNET_CL_BIN="$T/bin/resnet-cl"
"$T/bin/resnet-cl" devices
MATCH=${GPU_MATCH:-NVIDIA}
DEV=$("$T/bin/resnet-cl" devices 2>/dev/null | awk -v m="$MATCH" 'index($0, m) && $2 ~ /^[0-9]+$/ {print $2; exit} index($0, m) && $1 ~ /^[0-9]+$/ {print $1; exit}')
if [ -z "$DEV" ]; then
    stamp "no $MATCH OpenCL device: stopping (see above)"
    exit 2
fi
stamp "$MATCH OpenCL device: $DEV"

stamp "device tests on device $DEV"
pass=0; fail=0; failed=""
run_test() { # name, args...
    local n=$1; shift
    local t1=$(date +%s)
    timeout "${GPU_TEST_TIMEOUT:-120}" "$@" > "$T/$n.log" 2>&1
    local rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "PASS $n ($(( $(date +%s) - t1 )) s)"
    else
        fail=$((fail + 1)); failed="$failed $n"; echo "FAIL $n (rc $rc$([ $rc -eq 124 ] && echo ", timed out"), $(( $(date +%s) - t1 )) s)"
        grep -E "ERROR|FAILED|error|Failure" "$T/$n.log" | head -8
        cp "$T/$n.log" "$OUT/" 2>/dev/null
    fi
}
for t in test_add test_avgpool test_batchnorm test_batchnorm_sync test_batchrenorm test_checkpoint \
         test_conv2d test_e2e_tiny test_fold test_gemm test_groupnorm test_linear test_lrn \
         test_maxpool test_model test_norm_model test_optim test_relu test_runtime \
         test_softmax_xent test_tunables test_tune_cache test_weight_std; do
    run_test "$t" "$T/bin/$t" --device "$DEV"
done
for m in resnet20 resnet18 resnet50 resnet20_gn resnet18_ln resnet20_none; do
    run_test "test_parity_$m" "$T/bin/test_parity" --device "$DEV" --filter "test_parity_$m"
done
stamp "device tests: $pass passed, $fail failed${failed:+:$failed}"

[ -n "${GPU_SKIP_BENCH:-}" ] && { stamp "GPU_SKIP_BENCH: done"; exit 0; }
stamp "bench (untuned: CLBlast on GPUs)"
for mb in "resnet18 100 32" "resnet50 64 32" "resnet50 16 224"; do
    set -- $mb
    "$T/bin/resnet-cl" --device "$DEV" bench --model "$1" --batch-size "$2" --size "$3" --steps 10 --warmup 3 2>&1 | head -30
done

if python3 -c "import torch, torchvision, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    stamp "PyTorch CUDA peer"
    PYTHONUNBUFFERED=1 python3 "$ROOT/bench/torch_peer.py" --bin "$T/bin/resnet-cl" --device "$DEV" \
        --torch-device cuda --models resnet18,resnet50,resnet50@224 --rounds 3 --steps 10 --warmup 3 \
        --csv "$OUT/peer.csv"
else
    stamp "PyTorch with CUDA not available: no peer run"
fi
stamp "done"
