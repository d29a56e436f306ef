#!/usr/bin/env bash
# Build the llama-cpp-python wheel once into a wheelhouse, showing progress.
#
#   scripts/build-llama.sh PIP VERSION WHEELHOUSE   (CMAKE_ARGS from the environment)
#
# Does nothing when WHEELHOUSE already holds the wheel. Otherwise runs `PIP wheel` in the
# background, prints the build's step ([n/N]) every PROGRESS_SECONDS (30), and moves the
# wheel into WHEELHOUSE only when the build succeeded; on failure it prints the log's tail
# and where the whole log is, and exits non-zero. The Makefile calls it (make setup).
set -euo pipefail

pip=$1 version=$2 wheelhouse=$3
every=${PROGRESS_SECONDS:-30}

if compgen -G "$wheelhouse/llama_cpp_python-$version-*.whl" >/dev/null; then
  exit 0
fi
echo "Building llama-cpp-python $version for every x86-64 CPU level" \
     "(about 15 minutes on 2 cores, once)..."
tmp=$(mktemp -d)
log=$tmp/build.log
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  "$pip" wheel -v --no-cache-dir --no-deps "llama-cpp-python==$version" -w "$tmp/wheel" \
  >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep "$every"
  step=$(grep -aoE '\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 || true)
  echo "  llama.cpp build: step ${step:-[configuring]} ($(date +%H:%M:%S))"
done
if ! wait "$pid"; then
  tail -n 30 "$log"
  echo "The llama.cpp build failed; full log: $log" >&2
  exit 1
fi
wheels=("$tmp"/wheel/llama_cpp_python-"$version"-*.whl)
if [[ ! -f "${wheels[0]}" ]]; then
  echo "The llama.cpp build ended without a wheel in $tmp/wheel; full log: $log" >&2
  exit 1
fi
mkdir -p "$wheelhouse"
for w in "${wheels[@]}"; do  # a copy across disks may stop halfway: only a whole one counts
  name=${w##*/}
  mv "$w" "$wheelhouse/.$name.part"
  mv "$wheelhouse/.$name.part" "$wheelhouse/$name"
done
rm -rf "$tmp"
echo "Built ${wheels[0]##*/} into $wheelhouse"
