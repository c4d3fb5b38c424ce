#!/usr/bin/env bash
# Install resnet-cl's dependencies from Debian packages and build it into
# build/ (Release with debug info). Safe to re-run. Usage: ci/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git ocl-icd-opencl-dev opencl-headers libclblast-dev
      pocl-opencl-icd mesa-opencl-icd clinfo libcmocka-dev libjpeg62-turbo-dev libpng-dev
      libopenblas-dev gnuplot-nox libopenmpi-dev openmpi-bin)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${RCL_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/resnet-cl"
