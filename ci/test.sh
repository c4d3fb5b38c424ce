#!/usr/bin/env bash
# Build (via ci/setup.sh) and run the whole test suite on every OpenCL device:
# device tests get one ctest entry per device found (test.devN), the CLI
# training tests run once on the first device that is not a software
# rasterizer, host tests once. RCL_TEST_DEVICES=K registers device tests for
# devices 0..K-1 instead, so that fewer than K devices fails loudly.
# RCL_TEST_JOBS: parallel ctest jobs (default: the number of CPUs).
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
ctest --output-on-failure -j"${RCL_TEST_JOBS:-$(nproc)}" --timeout 900
