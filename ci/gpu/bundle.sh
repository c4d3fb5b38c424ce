#!/bin/bash
# Packs what ci/gpu/check.sh needs on a machine with no package registry
# (the device tool's NVIDIA machine, docs/gpu.md) into .gpu/ at the
# repository root (git-ignored; carry it): the built resnet-cl,
# resnet-cl-tune and device test binaries (stripped), the shared libraries
# they need beyond the C/C++ runtime (ocl-icd's libOpenCL loader, CLBlast,
# OpenBLAS, libjpeg, libpng, cmocka, Open MPI), as one xz tarball, and
# the check script's NVIDIA ICD file.
#
#   ci/setup.sh && ci/gpu/bundle.sh     # here; then, through the device tool:
#   bash ci/gpu/check.sh                # there (carry .gpu)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUTD=$ROOT/.gpu
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib"
# the device tests (ctest's .devN entries: cmake/device_tests.cmake.in)
TESTS="test_add test_avgpool test_batchnorm test_batchnorm_sync test_batchrenorm test_checkpoint
test_conv2d test_e2e_tiny test_faults test_fold test_gemm test_groupnorm test_linear test_lrn test_maxpool
test_model test_norm_model test_optim test_parity test_relu test_runtime test_softmax_xent
test_tunables test_tune_cache test_weight_std"
for b in resnet-cl resnet-cl-tune $TESTS; do
    [ -x "$BUILD/$b" ] || { echo "bundle: $BUILD/$b is missing: build first (ci/setup.sh)" >&2; exit 1; }
    strip -o "$STAGE/bin/$b" "$BUILD/$b"
done
# libraries: everything ldd resolves except glibc's own and the C/C++
# runtime, which the target has (newer)
for b in "$STAGE"/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libgcc_s|libstdc\+\+|libz)\.so' |
    while read -r l; do cp -L "$l" "$STAGE/lib/"; done
mkdir -p "$OUTD"
tar -C "$STAGE" -cJf "$OUTD/bundle.tar.xz" bin lib
echo "bundle: $(du -h "$OUTD/bundle.tar.xz" | cut -f1) in $OUTD/bundle.tar.xz ($(ls "$STAGE/lib" | wc -l) libraries)"
