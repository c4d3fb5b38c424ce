#!/bin/bash
# Run on the device tool's NVIDIA machine (docs/gpu.md), in the repository
# root, with .gpu/ (from ci/gpu/bundle.sh) carried:
#   1. is NVIDIA's OpenCL driver there, and does the ICD loader find it
#      (an .icd file naming libnvidia-opencl.so.1 is written if the machine
#      has none);
#   2. every device test (ctest's .devN entries) on the NVIDIA device, four
#      at a time (GPU_TEST_JOBS), each under GPU_TEST_TIMEOUT (150 s);
#   3. `resnet-cl bench` (per-layer breakdown) for resnet18 (batch 100),
#      resnet50 (batch 64) and resnet50 at 224x224 (batch 16), then
#      resnet18, resnet50, resnet50 at 224x224 and resnet20 against PyTorch
#      CUDA in float32 (TF32 off), alternated (bench/torch_peer.py
#      --torch-device cuda --cuda-fp32), if PyTorch sees the GPU;
#   3b. test_parity_resnet50 alone, twice, with RESNET_CL_POISON=1 (the
#      first run's open failure, docs/gpu.md);
#   4. if time is left, a short resnet-cl-tune and resnet18's bench with
#      its cache.
# Each stage starts only if the time left (GPU_DEADLINE, default 530 s
# after the start) allows it, so the run ends inside the device tool's
# limit and the log in $OUT/gpu.log (and $OUT/peer.csv) comes back whole.
# A dry run here:
#   OUT=/tmp/g GPU_MATCH=Portable GPU_TEST_TIMEOUT=5 GPU_SKIP_BENCH=1 bash ci/gpu/check.sh
set -uo pipefail
OUT=${OUT:-/tmp/rcl-gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu.log") 2>&1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=/tmp/rcl-gpu
T0=$(date +%s)
DEADLINE=${GPU_DEADLINE:-530}
stamp() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }

stamp "machine"
uname -a; nproc; nvidia-smi -L 2>&1 | head -4
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3

stamp "unpacking .gpu/bundle.tar.xz"
rm -rf "$T" && mkdir -p "$T" && tar -C "$T" -xJf "$ROOT/.gpu/bundle.tar.xz" || { echo "no bundle: run ci/gpu/bundle.sh here and carry .gpu"; exit 1; }
export LD_LIBRARY_PATH="$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_CACHE_HOME="$T/cache"

stamp "NVIDIA OpenCL driver"
ls -la /etc/OpenCL/vendors 2>&1
ldconfig -p | grep -i -E "opencl|libcuda\.so" || echo "ldconfig: no OpenCL library registered"
LIB=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
[ -n "$LIB" ] || LIB=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/lib/x86_64-linux-gnu -name 'libnvidia-opencl.so*' 2>/dev/null | head -1)
echo "libnvidia-opencl: ${LIB:-not found}"
if [ -z "$LIB" ]; then
    echo "-- /usr/local/nvidia:"; ls -R /usr/local/nvidia 2>&1 | head -60
    echo "-- any OpenCL library on the machine (/usr /opt, 30 s):"
    timeout 30 find /usr /opt -xdev \( -name 'libnvidia-opencl*' -o -name 'libOpenCL*' -o -name '*.icd' \) 2>/dev/null | head -20
fi
if [ -n "$LIB" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    mkdir -p "$T/vendors" && echo "$LIB" > "$T/vendors/nvidia.icd"
    export OCL_ICD_VENDORS="$T/vendors"
    echo "wrote $T/vendors/nvidia.icd ($LIB); OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
fi
export RESNET_CL_SOURCE_DIR="$ROOT" RESNET_CL_BUILD_DIR="$T/bin" RESNET_CL_BIN="$T/bin/resnet-cl"
OCL_ICD_DEBUG=${OCL_ICD_DEBUG:-} "$T/bin/resnet-cl" devices
MATCH=${GPU_MATCH:-NVIDIA}
DEV=$("$T/bin/resnet-cl" devices 2>/dev/null | awk -v m="$MATCH" 'index($0, m) && $2 ~ /^[0-9]+$/ {print $2; exit} index($0, m) && $1 ~ /^[0-9]+$/ {print $1; exit}')
if [ -z "$DEV" ]; then
    echo "-- the ICD loader's view (OCL_ICD_DEBUG=7):"
    OCL_ICD_DEBUG=7 "$T/bin/resnet-cl" devices 2>&1 | head -40
    stamp "no $MATCH OpenCL device: stopping (see above)"
    exit 2
fi
stamp "$MATCH OpenCL device: $DEV"

stamp "device tests on device $DEV (${GPU_TEST_JOBS:-4} at a time)"
# longest first; test_parity once per fixture (ctest's test_parity_<model>.devN)
TESTS="test_conv2d test_gemm test_norm_model test_model test_batchnorm test_e2e_tiny test_checkpoint
test_tunables test_groupnorm test_faults test_optim test_runtime test_tune_cache test_add test_avgpool
test_batchnorm_sync test_batchrenorm test_fold test_linear test_lrn test_maxpool test_relu
test_softmax_xent test_weight_std"
PARITY="resnet20 resnet18 resnet50 resnet20_gn resnet20_ln resnet20_in resnet20_none resnet18_gn
resnet18_ln resnet18_none"
one_test() { # name, args...
    local n=$1; shift
    local t1=$(date +%s)
    timeout "${GPU_TEST_TIMEOUT:-150}" "$@" > "$T/$n.log" 2>&1
    local rc=$?
    if [ $rc -eq 0 ]; then
        echo "PASS $n ($(( $(date +%s) - t1 )) s)"
    else
        echo "FAIL $n (rc $rc$([ $rc -eq 124 ] && echo ", timed out"), $(( $(date +%s) - t1 )) s)"
        grep -E "ERROR|FAILED|rror|Failure|\[  FAILED|mismatch" "$T/$n.log" | head -8 | sed 's/^/    /'
        cp "$T/$n.log" "$OUT/" 2>/dev/null
    fi
}
export -f one_test; export T
{
    for m in $PARITY; do echo "test_parity_$m $T/bin/test_parity --device $DEV --filter test_parity_$m"; done | head -3
    for t in $TESTS; do echo "$t $T/bin/$t --device $DEV"; done
    for m in $PARITY; do echo "test_parity_$m $T/bin/test_parity --device $DEV --filter test_parity_$m"; done | tail -n +4
} | xargs -P "${GPU_TEST_JOBS:-4}" -L 1 bash -c 'one_test "$@"' _ | tee "$T/tests.txt"
stamp "device tests: $(grep -c ^PASS "$T/tests.txt") passed, $(grep -c ^FAIL "$T/tests.txt") failed: $(grep ^FAIL "$T/tests.txt" | cut -d' ' -f2 | tr '\n' ' ')"

# the first run's open failure (docs/gpu.md): resnet50's optimizer steps.
# Twice alone, every new buffer NaN-filled: identical outputs point at
# arithmetic, different ones at a race; NaNs at a read of unwritten memory.
stamp "test_parity_resnet50 alone, twice, RESNET_CL_POISON=1"
for i in 1 2; do
    RESNET_CL_POISON=1 RESNET_CL_PARITY_FULL=1 timeout 60 "$T/bin/test_parity" --device "$DEV" --filter test_parity_resnet50 \
        > "$T/p50_$i.log" 2>&1
    echo "run $i: rc $?"
done
grep -A13 "batch 8: worst" "$T/p50_1.log"
echo "build options (is -cl-fp32-correctly-rounded-divide-sqrt offered?):"
RESNET_CL_LOG_BUILDS=1 RESNET_CL_NO_PROGRAM_CACHE=1 timeout 30 "$T/bin/test_relu" --device "$DEV" 2>&1 | grep -m1 built
grep got "$T/p50_1.log" > "$T/p50_1.got"; grep got "$T/p50_2.log" > "$T/p50_2.got"
if cmp -s "$T/p50_1.got" "$T/p50_2.got"; then echo "the two runs' values are the same"; else
    echo "the two runs' values differ:"; diff "$T/p50_1.got" "$T/p50_2.got" | head -20; fi

[ -n "${GPU_SKIP_BENCH:-}" ] && { stamp "GPU_SKIP_BENCH: done"; exit 0; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv 2>&1 | head -2
stamp "bench (untuned: CLBlast on GPUs), per-layer breakdown"
for mb in "resnet18 100 32" "resnet50 64 32" "resnet50 16 224"; do
    set -- $mb
    [ "$(left)" -gt 200 ] || { stamp "skipping bench $1: $(left) s left"; continue; }
    timeout 60 "$T/bin/resnet-cl" --device "$DEV" bench --model "$1" --batch-size "$2" --size "$3" --steps 10 --warmup 3 2>&1 | head -48
done

if python3 -c "import torch, torchvision, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    MODELS=resnet18,resnet50,resnet50@224,resnet20
    [ "$(left)" -gt 150 ] || MODELS=resnet18,resnet50
    stamp "PyTorch CUDA peer ($MODELS; $(left) s left)"
    PYTHONUNBUFFERED=1 timeout $(( $(left) - 20 )) python3 "$ROOT/bench/torch_peer.py" --bin "$T/bin/resnet-cl" --device "$DEV" \
        --torch-device cuda --cuda-fp32 --models "$MODELS" --rounds 3 --steps 10 --warmup 3 \
        --csv "$OUT/peer.csv"
else
    stamp "PyTorch with CUDA not available: no peer run"
fi

if [ "$(left)" -gt 100 ]; then
    B=$(( $(left) - 60 ))
    stamp "resnet-cl-tune --model resnet18 --budget $B"
    timeout $(( B + 40 )) "$T/bin/resnet-cl-tune" --device "$DEV" --model resnet18 --batch-size 100 --budget "$B" 2>&1 | tail -70
    [ "$(left)" -gt 15 ] && timeout "$(left)" "$T/bin/resnet-cl" --device "$DEV" bench --model resnet18 --batch-size 100 --steps 10 --warmup 3 2>&1 | head -12
fi
stamp "done"
