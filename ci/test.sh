#!/usr/bin/env bash
# Build (via ci/setup.sh) and run the whole test suite on every OpenCL device.
# RCL_TEST_DEVICES=K registers every device test once per device 0..K-1, so
# that fewer than K devices fails loudly (CI uses 2: PoCL and Mesa rusticl).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTICL_ENABLE="${RUSTICL_ENABLE:-llvmpipe}"
RCL_CMAKE_ARGS="-DRCL_TEST_DEVICES=${RCL_TEST_DEVICES:-0} ${RCL_CMAKE_ARGS:-}" ci/setup.sh
build/resnet-cl devices
# Tune GEMM for device 0 once (the CLI training tests use its cache); a valid
# cache is kept. RCL_TUNE_BUDGET=0 skips tuning.
if [ "${RCL_TUNE_BUDGET:-120}" != 0 ]; then
  build/resnet-cl-tune --device 0 --if-missing --budget "${RCL_TUNE_BUDGET:-120}"
fi
cd build
ctest --output-on-failure -j"${RCL_TEST_JOBS:-1}" --timeout 900
