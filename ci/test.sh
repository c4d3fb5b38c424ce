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
# RCL_TUNE_BUDGET=S: tune device 0 for S seconds first (kept if a valid
# cache exists; the CLI training tests then use it). Off by default: the
# untuned CPU defaults train these tests about as fast (README "Tuning and
# speed": 161 s untuned, 154 s after a 122 s tune), and test_train_tuner
# runs the tuner end to end anyway.
if [ "${RCL_TUNE_BUDGET:-0}" != 0 ]; then
  build/resnet-cl-tune --device 0 --if-missing --budget "$RCL_TUNE_BUDGET"
fi
cd build
ctest --output-on-failure -j"${RCL_TEST_JOBS:-$(nproc)}" --timeout 900
