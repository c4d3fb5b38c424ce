#!/usr/bin/env bash
# Download the official CIFAR-10 binary release and check its MD5.
# Usage: data/get_cifar10.sh [DEST]   (default: data/, giving data/cifar-10-batches-bin/)
# Needs internet access; never run in CI (tests use ../shared/data).
set -euo pipefail
DEST="${1:-$(dirname "$0")}"
URL="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5="c32a1d4ab5d03f1284b67883e8d87530"
mkdir -p "$DEST"
tgz="$DEST/cifar-10-binary.tar.gz"
if [ ! -f "$tgz" ] || ! echo "$MD5  $tgz" | md5sum -c --status; then
  echo "downloading $URL"
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$tgz.part" "$URL"
  else wget -O "$tgz.part" "$URL"; fi
  mv "$tgz.part" "$tgz"
fi
if ! echo "$MD5  $tgz" | md5sum -c --status; then
  echo "error: $tgz has the wrong MD5 (expected $MD5); delete it and retry" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$DEST"
echo "CIFAR-10 ready in $DEST/cifar-10-batches-bin (use --data $DEST/cifar-10-batches-bin)"
