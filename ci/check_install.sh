#!/usr/bin/env bash
# Installs build/ into a temporary prefix and builds and runs a C program
# that uses the library through find_package(resnet-cl) (tests/install/).
# Usage: ci/check_install.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
prefix=$(mktemp -d /tmp/rcl-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/usr" >/dev/null
for f in bin/resnet-cl bin/resnet-cl-tune include/rcl.h include/rcl/model.h; do
  [ -e "$prefix/usr/$f" ] || { echo "check_install: $f not installed" >&2; exit 1; }
done
cmake -S tests/install -B "$prefix/build" -DCMAKE_PREFIX_PATH="$prefix/usr" >/dev/null
cmake --build "$prefix/build" >/dev/null
RUSTICL_ENABLE=${RUSTICL_ENABLE:-llvmpipe} "$prefix/build/rcl_install_check"
echo "check_install: find_package(resnet-cl) works from $build"
