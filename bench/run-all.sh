#!/usr/bin/env bash
# Runs every benchmark against the build in $1 (default: build) and prints the figures.
set -uo pipefail
BUILD=${1:-build}
status=0
if [[ -r /dev/kvm && -w /dev/kvm ]]; then
  "$BUILD"/bench/port_io_exit || status=1
  echo
  "$BUILD"/bench/memory_overhead || status=1
  echo
else
  echo "bench: /dev/kvm does not open here; the KVM benchmarks are skipped"
fi
python3 bench/boot_time.py --build "$BUILD" || status=1
echo
"$BUILD"/bench/emu_speed || status=1
exit $status
