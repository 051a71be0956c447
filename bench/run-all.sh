#!/usr/bin/env bash
# Runs every benchmark against the build in $1 (default: build) and prints the figures.
set -euo pipefail
BUILD=${1:-build}
if [[ ! -r /dev/kvm ]]; then
  echo "bench: /dev/kvm does not open here; the KVM benchmarks are skipped"
  exit 0
fi
"$BUILD"/bench/port_io_exit
echo
"$BUILD"/bench/memory_overhead
