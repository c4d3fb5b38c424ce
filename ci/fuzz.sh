#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser (docs/fuzzing.md):
#   ci/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
# Configures and builds build-fuzz with clang (RCL_FUZZ=ON: libFuzzer +
# AddressSanitizer + UndefinedBehaviorSanitizer), then runs each target for
# SECONDS_PER_TARGET on a copy of its seed corpus (tests/fuzz/corpus/<t>,
# plus a few real CIFAR-10 JPEGs from ../shared/data when it is there) with
# its dictionary. Fails on any crash, leak, timeout, out-of-memory or
# sanitizer report, printing the reproducer's path and a hexdump of its
# head. Environment: CC (default clang), BUILD_DIR (default build-fuzz),
# FUZZ_TARGETS (default: all), RCL_DATA_DIR (default ../shared/data),
# JOBS (build parallelism, default nproc), FUZZ_SEED (libFuzzer -seed, default 1:
# the same mutations on every run, so a CI finding reproduces), FUZZ_KEEP=1 (start from the
# corpora the previous run grew in $BUILD/fuzz-run, plus the seeds, instead
# of the seeds alone: for campaigns split into several runs).
set -uo pipefail
SECS=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD_DIR:-build-fuzz}
TARGETS=${FUZZ_TARGETS:-"json safetensors tune_cache program_entry cifar_bin image imagenet_index cli"}
DATA=${RCL_DATA_DIR:-$ROOT/../shared/data}
JOBS=${JOBS:-$(nproc)}
t0=$(date +%s)

command -v "${CC:-clang}" >/dev/null || { echo "ci/fuzz.sh: ${CC:-clang} not found (install clang and libclang-rt-dev)" >&2; exit 1; }
mkdir -p "$BUILD"
CC=${CC:-clang} cmake -S . -B "$BUILD" -DRCL_FUZZ=ON -DRCL_BUILD_TESTS=OFF >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log" >&2; exit 1; }
cmake --build "$BUILD" -j "$JOBS" >"$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log" >&2; exit 1; }
echo "ci/fuzz.sh: built $BUILD in $(( $(date +%s) - t0 )) s"

RUN="$BUILD/fuzz-run"
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
  rm -rf "$RUN"/*/artifacts "$RUN"/*/log.txt
else
  rm -rf "$RUN"
fi
mkdir -p "$RUN"
# a few real images (never committed): CIFAR-10 JPEGs and their records
REAL="$RUN/real"
if [ -f "$DATA/cifar10/cifar10-jpeg.tar.gz" ]; then
  mkdir -p "$REAL" &&
    tar -xzf "$DATA/cifar10/cifar10-jpeg.tar.gz" -C "$REAL" test/cat/0000.jpg test/ship/0001.jpg 2>/dev/null ||
    echo "ci/fuzz.sh: could not extract real CIFAR-10 samples; seeds only"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=""
for t in $TARGETS; do
  bin="$BUILD/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "ci/fuzz.sh: no $bin" >&2; failed="$failed $t"; continue; }
  dir="$RUN/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  if [ -d "$REAL/test" ]; then
    case $t in
      image) cp "$REAL"/test/*/*.jpg "$dir/corpus/" ;;
      cifar_bin) python3 - "$REAL" "$dir/corpus/real_records.bin" <<'PY' 2>/dev/null || true
import sys, glob
from PIL import Image
out = b""
for i, p in enumerate(sorted(glob.glob(sys.argv[1] + "/test/*/*.jpg"))):
    px = Image.open(p).convert("RGB").tobytes()
    out += bytes([3 if "/cat/" in p else 8]) + b"".join(px[c::3] for c in range(3))
open(sys.argv[2], "wb").write(out)
PY
      ;;
    esac
  fi
  args=(-seed="${FUZZ_SEED:-1}" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  [ "$t" = cli ] && args+=(-close_fd_mask=3)
  log="$dir/log.txt"
  timeout $((SECS + 120)) "$bin" "${args[@]}" "$dir/corpus" >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | cut -d' ' -f2)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | cut -d' ' -f2)
  corp=$(echo "$last" | grep -o 'corp: [0-9]*' | cut -d' ' -f2)
  printf 'ci/fuzz.sh: %-14s rc %d  execs %s  cov %s  ft %s  corpus %s\n' "$t" "$rc" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    failed="$failed $t"
    echo "---- $t: log tail ($log)" >&2
    tail -60 "$log" >&2
    for a in "$dir"/artifacts/*; do
      [ -f "$a" ] || continue
      echo "---- reproducer: $a ($(stat -c %s "$a") bytes); rerun: $bin $a" >&2
      od -A x -t x1z -v "$a" | head -16 >&2
    done
  fi
done
echo "ci/fuzz.sh: $(( $(date +%s) - t0 )) s in all"
if [ -n "$failed" ]; then
  echo "ci/fuzz.sh: FAILED:$failed" >&2
  exit 1
fi
echo "ci/fuzz.sh: every target ran ${SECS}s without a finding"
