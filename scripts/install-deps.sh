#!/usr/bin/env bash
# Installs the Debian packages vireo needs to build, test and prepare its default
# guest, but only those that are missing (so repeated runs cost nothing).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libfmt-dev libcli11-dev nlohmann-json3-dev libgtest-dev
  libzydis-dev liblz4-dev zlib1g-dev libzstd-dev liblzma-dev libbz2-dev
  nasm acpica-tools cpio gzip xz-utils lz4 bzip2 zstd
  python3
)
# Reference machines for the benchmarks only (`make bench`); Bochs boots the guest from a
# disk image that bench/bochs_disk.py builds with dosfstools, mtools and syslinux.
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(qemu-system-x86 bochs bochsbios vgabios dosfstools mtools syslinux syslinux-common)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "vireo: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
