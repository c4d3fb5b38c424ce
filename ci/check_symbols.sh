#!/usr/bin/env bash
# Fail if the static library exports a symbol outside the rcl_ namespace.
# Usage: ci/check_symbols.sh build/librcl.a
# Every defined global symbol (functions, data, weak, common) of every
# member must start with "rcl_"; the offenders are listed, one a line.
set -euo pipefail
lib="${1:?usage: $0 path/to/librcl.a}"
[ -r "$lib" ] || { echo "check_symbols: cannot read $lib" >&2; exit 2; }
NM="${NM:-nm}"
syms=$("$NM" -g --defined-only "$lib") || { echo "check_symbols: $NM failed on $lib" >&2; exit 2; }
# lines are "<address> <type> <name>"; member headers ("x.c.o:") and blank lines have fewer fields
# (symbols the sanitizers' instrumentation adds to every global, e.g.
# __odr_asan.rcl_tunables under -fsanitize=address, are not ours and skipped)
bad=$(printf '%s\n' "$syms" | awk 'NF == 3 { print $3 }' | grep -v '^rcl_' |
      grep -Ev '^(__odr_asan[._]|__asan_|__ubsan_|__sancov_|__sanitizer_)' | sort -u || true)
if [ -n "$bad" ]; then
  n=$(printf '%s\n' "$bad" | wc -l)
  echo "check_symbols: $lib exports $n symbol(s) without the rcl_ prefix:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
echo "check_symbols: every exported symbol of $lib starts with rcl_"
