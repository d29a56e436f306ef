#!/usr/bin/env bash
# Refuse to start an install that cannot fit, before any of it is written.
#
#   scripts/check-room.sh MIB FOLDER [MIB FOLDER ...]
#
# Each FOLDER (or, if it does not exist yet, its nearest existing parent) must have MIB
# mebibytes free. Folders on the same disk add up their needs. Prints one line per disk
# that is short, saying how much more it needs, and exits 1; prints nothing and exits 0
# when everything fits.
set -euo pipefail

if (( $# == 0 || $# % 2 )); then
  echo "usage: $0 MIB FOLDER [MIB FOLDER ...]" >&2
  exit 2
fi
declare -A need=() where=()
while (( $# )); do
  mib=$1 dir=$2 name=$2
  shift 2
  while [[ ! -e "$dir" ]]; do dir=$(dirname "$dir"); done
  dev=$(df -P "$dir" | awk 'NR == 2 {print $1 " " $6}')
  need[$dev]=$(( ${need[$dev]:-0} + mib ))
  where[$dev]="${where[$dev]:+${where[$dev]} and }$name"
done
short=0
for dev in "${!need[@]}"; do
  mount=${dev#* }
  free=$(( $(df -Pk "$mount" | awk 'NR == 2 {print $4}') / 1024 ))
  if (( free < need[$dev] )); then
    echo "Not enough disk space on $mount for ${where[$dev]}: about ${need[$dev]} MiB" \
         "are needed there and $free MiB are free. Free $(( need[$dev] - free )) MiB" \
         "there and run the command again." >&2
    short=1
  fi
done
exit "$short"
