#!/usr/bin/env bash
# Download the official CIFAR-10 binary release and check its MD5.
# Usage: data/get_cifar10.sh [DEST]   (default: data/, giving data/cifar-10-batches-bin/)
# Needs internet access; never run in CI (tests use ../shared/data).
# CIFAR10_URL overrides the download address (a mirror; tests point it at
# an unreachable one).
set -euo pipefail
ME="data/get_cifar10.sh"
DEST="${1:-$(dirname "$0")}"
URL="${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}"
MD5="c32a1d4ab5d03f1284b67883e8d87530"
mkdir -p "$DEST"
tgz="$DEST/cifar-10-binary.tar.gz"
if [ ! -f "$tgz" ] || ! echo "$MD5  $tgz" | md5sum -c --status; then
  echo "downloading $URL"
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  rc=0
  if command -v curl >/dev/null; then
    tool=curl
    curl -fsSL --retry 3 -o "$tgz.part" "$URL" 2>"$log" || rc=$?
  else
    tool=wget
    wget -q -O "$tgz.part" "$URL" 2>"$log" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    rm -f "$tgz.part"
    # the tool's own last line says why (e.g. "curl: (7) Failed to connect ...")
    reason="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | sed 's/^curl: //; s/^wget: //')"
    [ -n "$reason" ] || reason="exit status $rc"
    echo "$ME: could not download $URL ($tool: $reason); check the network or download it by hand and put it in $DEST/ (see README, Data)" >&2
    exit 1
  fi
  mv "$tgz.part" "$tgz"
fi
if ! echo "$MD5  $tgz" | md5sum -c --status; then
  echo "$ME: $tgz has the wrong MD5 (expected $MD5); delete it and retry" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$DEST"
echo "CIFAR-10 ready in $DEST/cifar-10-batches-bin (use --data $DEST/cifar-10-batches-bin)"
