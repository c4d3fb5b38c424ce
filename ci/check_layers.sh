#!/usr/bin/env bash
# Fails on any #include that points up the layer stack (docs/architecture.md).
# Layers, lowest first; each may include its own folder and the ones listed:
#   base                                  no OpenCL: status, hashing, files
#   io, data, runtime   -> base           file formats; datasets; OpenCL runtime
#   gemm                -> runtime, base
#   ops                 -> gemm, runtime, base
#   model               -> ops, gemm, runtime, base
#   train               -> model, ops, gemm, runtime, data, io, base
#   tools               -> the core library (all of the above)
#   dist                -> the core library (MPI: data-parallel training)
#   cli, tune           -> tools (cli: and dist) and the core library (not each other)
# Public headers (include/rcl/*.h) belong to the layer of their code and obey
# the same rule; include/rcl.h (everything) is for tools, cli, tune, tests.
# Usage: ci/check_layers.sh  (from anywhere; exits 1 listing each violation)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A DEPS=(
  [base]=""
  [io]="base"
  [data]="base"
  [runtime]="base"
  [gemm]="runtime base"
  [ops]="gemm runtime base"
  [model]="ops gemm runtime base"
  [train]="model ops gemm runtime data io base"
  [tools]="train model ops gemm runtime data io base"
  [dist]="train model ops gemm runtime data io base"
  [cli]="tools dist train model ops gemm runtime data io base umbrella"
  [tune]="tools train model ops gemm runtime data io base umbrella"
)
# the layer of each public header
declare -A PUB=(
  [status.h]=base [rng.h]=base
  [safetensors.h]=io [data.h]=data
  [runtime.h]=runtime [tensor.h]=runtime [profile.h]=runtime
  [gemm.h]=gemm [tune_cache.h]=gemm
  [ops.h]=ops [optim.h]=ops [norm.h]=ops [batchnorm_sync.h]=ops
  [model.h]=model
  [checkpoint.h]=train [trainer.h]=train [optimizer.h]=train [plateau.h]=train
  [dist.h]=dist
)

bad=0
# layer_of_include INCLUDED_PATH -> layer name, or "" for system/unknown
layer_of() {
  local inc=$1
  case "$inc" in
    rcl.h) echo umbrella ;;
    rcl/*) local h=${inc#rcl/}
           if [ -z "${PUB[$h]:-}" ]; then echo "unknown-public:$h"; else echo "${PUB[$h]}"; fi ;;
    */*) local l=${inc%%/*}
         if [ -n "${DEPS[$l]+x}" ]; then echo "$l"; else echo "unknown:$inc"; fi ;;
    *) echo "local" ;;
  esac
}

check_file() {
  local file=$1 layer=$2
  while IFS= read -r line; do
    local inc
    inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
    local to
    to=$(layer_of "$inc")
    case "$to" in
      "$layer") continue ;;
      local) continue ;;   # a header beside the file, same folder
      unknown*) echo "$file: #include \"$inc\": not in any layer (${to})"; bad=1; continue ;;
    esac
    if ! grep -qw -- "$to" <<<"${DEPS[$layer]}"; then
      echo "$file: #include \"$inc\": layer '$layer' may not include layer '$to'"
      bad=1
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
}

for dir in src/*/; do
  layer=$(basename "$dir")
  if [ -z "${DEPS[$layer]+x}" ]; then
    echo "$dir: a folder that is not a layer (add it to ci/check_layers.sh and docs/architecture.md)"
    bad=1
    continue
  fi
  for f in "$dir"*.c "$dir"*.h; do [ -e "$f" ] && check_file "$f" "$layer"; done
done
for f in tune/*.c tune/*.h; do [ -e "$f" ] && check_file "$f" tune; done
for f in include/rcl/*.h; do
  h=$(basename "$f")
  if [ -z "${PUB[$h]:-}" ]; then
    echo "$f: public header without a layer (add it to PUB in ci/check_layers.sh)"
    bad=1
    continue
  fi
  check_file "$f" "${PUB[$h]}"
done
if compgen -G "src/*.c" >/dev/null || compgen -G "src/*.h" >/dev/null; then
  echo "src/: files directly in src/ (each belongs in its layer's folder)"
  bad=1
fi
if [ "$bad" = 0 ]; then echo "check_layers: no upward include"; fi
exit "$bad"
