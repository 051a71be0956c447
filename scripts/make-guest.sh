#!/usr/bin/env bash
# Builds vireo's default guest from Debian 12 packages into OUTDIR:
#   vmlinuz            the kernel's bzImage (boot/vmlinuz-*)
#   vmlinux            the uncompressed ELF kernel taken out of that bzImage (PVH entry note)
#   kernel-version     the kernel release string (uname -r inside the guest)
#   config             the kernel's build configuration
#   initramfs.cpio.gz  static busybox, the virtio (and pvpanic) modules, /init
# The kernel package is whatever linux-image-cloud-amd64 depends on; it and busybox-static
# are downloaded and unpacked into a work directory under OUTDIR, never installed.
# Cached: does nothing when every output exists and is newer than this script and
# scripts/guest-init.sh.
#
# Usage: scripts/make-guest.sh OUTDIR
set -euo pipefail

die() { echo "make-guest: error: $*" >&2; exit 1; }
say() { echo "make-guest: $*" >&2; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: scripts/make-guest.sh OUTDIR"
OUTDIR=$1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
GUEST_INIT="$SCRIPT_DIR/guest-init.sh"
OUTPUTS=(vmlinuz vmlinux kernel-version config initramfs.cpio.gz)
[[ -f "$GUEST_INIT" ]] || die "$GUEST_INIT is missing (it becomes the guest's /init)"

# The modules the guest loads, named as their files are (without .ko); their dependencies
# are added and ordered below. pvpanic-mmio is added when the kernel builds it as a module.
LEAF_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_console virtio_balloon virtio-rng)

# --- Cache check -----------------------------------------------------------------------
up_to_date() {
  local out input
  for out in "${OUTPUTS[@]}"; do
    [[ -s "$OUTDIR/$out" ]] || return 1
    for input in "$SCRIPT" "$GUEST_INIT"; do
      [[ "$OUTDIR/$out" -nt "$input" ]] || return 1
    done
  done
}
if up_to_date; then
  exit 0
fi

# --- Tools -----------------------------------------------------------------------------
need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found (Debian package $2); run scripts/install-deps.sh"
}
need apt-get apt; need apt-cache apt; need dpkg-deb dpkg
need cpio cpio; need gzip gzip; need lz4 lz4; need od coreutils
# A module's dependencies come from its .modinfo section: modinfo (kmod) reads it when
# installed, otherwise objcopy (binutils) cuts the section out.
MODINFO=$(command -v modinfo || command -v /sbin/modinfo || true)
if [[ -z "$MODINFO" ]]; then need objcopy binutils; fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
# apt-get download works unprivileged; as root, apt would drop to the _apt user and warn
# that it cannot write to the private work directory, so keep it as root.
APT_DOWNLOAD=(apt-get download -q)
if [[ $(id -u) -eq 0 ]]; then APT_DOWNLOAD+=(-o APT::Sandbox::User=root); fi

mkdir -p "$OUTDIR"
WORK=$(mktemp -d "$(cd "$OUTDIR" && pwd)/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- Download and unpack ---------------------------------------------------------------
apt_updated=0
apt_update() {
  say "updating the apt package lists"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq || die "apt-get update failed"
  apt_updated=1
}
kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(kernel_package)
if [[ -z "$KPKG" ]]; then
  apt_update
  KPKG=$(kernel_package)
fi
[[ -n "$KPKG" ]] ||
  die "apt-cache does not know which kernel linux-image-cloud-amd64 depends on (is this Debian 12 with deb.debian.org in its sources?)"

download() {
  (cd "$WORK" && "${APT_DOWNLOAD[@]}" "$@" >/dev/null)
}
say "downloading $KPKG and busybox-static"
if ! download "$KPKG" busybox-static; then
  # Stale package lists name files the mirror no longer has.
  ((apt_updated)) || apt_update
  KPKG=$(kernel_package)
  download "$KPKG" busybox-static || die "apt-get download $KPKG busybox-static failed"
fi
mkdir "$WORK/kernel" "$WORK/busybox"
dpkg-deb -x "$WORK/${KPKG}"_*.deb "$WORK/kernel"
dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/busybox"

# --- Kernel files ----------------------------------------------------------------------
shopt -s nullglob
vmlinuz_files=("$WORK"/kernel/boot/vmlinuz-*)
config_files=("$WORK"/kernel/boot/config-*)
moddirs=("$WORK"/kernel/lib/modules/*/)
shopt -u nullglob
((${#vmlinuz_files[@]} == 1)) || die "$KPKG has no single boot/vmlinuz-* file"
((${#config_files[@]} == 1)) || die "$KPKG has no single boot/config-* file"
((${#moddirs[@]} == 1)) || die "$KPKG has no single lib/modules/<version> directory"
KVER=$(basename "${moddirs[0]}")
MODDIR="$WORK/kernel/lib/modules/$KVER"
CONFIG="${config_files[0]}"
cp "${vmlinuz_files[0]}" "$WORK/vmlinuz"
cp "$CONFIG" "$WORK/config"
echo "$KVER" >"$WORK/kernel-version"

# --- vmlinux: the ELF kernel inside the bzImage ------------------------------------------
# Boot protocol (Documentation/x86/boot.rst): setup_sects at 0x1F1 (0 means 4); the
# protected-mode code starts at (setup_sects+1)*512; payload_offset (0x248) and
# payload_length (0x24C) locate the compressed kernel within it. The payload is the
# compressor's output followed by the 4-byte little-endian uncompressed size.
le_uint() {  # FILE OFFSET SIZE: unsigned little-endian integer
  od -An -tu"$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' '
}
extract_vmlinux() {
  local bz=$1 out=$2
  local magic setup_sects pm_start payload_offset payload_length start size_field got
  magic=$(od -An -c -j $((0x202)) -N 4 "$bz" | tr -d ' ')
  [[ "$magic" == "HdrS" ]] || die "$bz is not a bzImage (no HdrS at 0x202)"
  setup_sects=$(le_uint "$bz" $((0x1F1)) 1)
  ((setup_sects != 0)) || setup_sects=4
  pm_start=$(((setup_sects + 1) * 512))
  payload_offset=$(le_uint "$bz" $((0x248)) 4)
  payload_length=$(le_uint "$bz" $((0x24C)) 4)
  ((payload_length > 8)) || die "$bz has no compressed payload (payload_length $payload_length)"
  start=$((pm_start + payload_offset))
  dd if="$bz" of="$WORK/payload" iflag=skip_bytes,count_bytes skip="$start" \
    count="$payload_length" status=none
  (($(stat -c %s "$WORK/payload") == payload_length)) ||
    die "$bz is truncated: payload runs past the end of the file"
  # LZ4 legacy frames start with 02 21 4C 18.
  [[ $(od -An -tx1 -N 4 "$WORK/payload" | tr -d ' ') == "02214c18" ]] ||
    die "the kernel payload is not LZ4-compressed (magic $(od -An -tx1 -N 4 "$WORK/payload" | tr -d ' ')); extend extract_vmlinux in $SCRIPT for this compressor"
  size_field=$(le_uint "$WORK/payload" $((payload_length - 4)) 4)
  truncate -s -4 "$WORK/payload"
  lz4 -dc "$WORK/payload" >"$out" 2>"$WORK/lz4.err" ||
    die "lz4 could not decompress the kernel payload: $(tr '\n' ' ' <"$WORK/lz4.err")"
  got=$(stat -c %s "$out")
  ((got == size_field)) ||
    die "decompressed kernel is $got bytes but the bzImage says $size_field"
  [[ $(od -An -tx1 -N 4 "$out" | tr -d ' ') == "7f454c46" ]] ||
    die "decompressed kernel does not start with an ELF header"
  rm -f "$WORK/payload"
}
say "extracting vmlinux from the bzImage"
extract_vmlinux "$WORK/vmlinuz" "$WORK/vmlinux"

# --- Modules and their load order -------------------------------------------------------
config_value() {  # SYMBOL: y, m or "" (not set)
  sed -n "s/^$1=//p" "$CONFIG"
}
declare -A MODFILE=()  # module name (dashes as underscores) -> .ko path
while IFS= read -r -d '' ko; do
  base=$(basename "$ko" .ko)
  MODFILE[${base//-/_}]=$ko
done < <(find "$MODDIR/kernel" -name '*.ko' -print0)
((${#MODFILE[@]} > 0)) || die "$KPKG ships no uncompressed .ko modules under $MODDIR/kernel"

builtin_module() {  # NAME: true when modules.builtin lists it
  [[ -f "$MODDIR/modules.builtin" ]] &&
    sed 's|.*/||; s|\.ko$||; s|-|_|g' "$MODDIR/modules.builtin" | grep -x "$1" >/dev/null
}
module_depends() {  # KO: its depends= list, one name per line
  local field
  if [[ -n "$MODINFO" ]]; then
    field=$("$MODINFO" -F depends "$1")
  else
    field=$(objcopy -O binary --only-section=.modinfo "$1" /dev/stdout |
      tr '\0' '\n' | awk '/^depends=/ && !seen { print substr($0, 9); seen = 1 }')
  fi
  tr ',' '\n' <<<"$field" | sed '/^$/d; s/-/_/g' | sort
}

PVPANIC_MMIO=$(config_value CONFIG_PVPANIC_MMIO)
if [[ "$PVPANIC_MMIO" == "m" ]]; then
  LEAF_MODULES+=(pvpanic-mmio)
fi

# Depth-first topological sort: every module comes after the modules it depends on.
declare -A STATE=()  # name -> visiting | done
ORDER=()
visit() {
  local name=${1//-/_} dep
  case "${STATE[$name]:-}" in
    done) return ;;
    visiting) die "module dependency cycle through $name" ;;
  esac
  if [[ -z "${MODFILE[$name]:-}" ]]; then
    builtin_module "$name" || die "module $name is neither in $KPKG nor built into its kernel"
    STATE[$name]=done
    return
  fi
  STATE[$name]=visiting
  for dep in $(module_depends "${MODFILE[$name]}"); do
    visit "$dep"
  done
  STATE[$name]=done
  ORDER+=("$(basename "${MODFILE[$name]}" .ko)")
}
for leaf in "${LEAF_MODULES[@]}"; do
  visit "$leaf"
done

# --- Initramfs -------------------------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root} "$ROOT/lib/modules/$KVER"
chmod 1777 "$ROOT/tmp"
chmod 700 "$ROOT/root"
BUSYBOX="$WORK/busybox/bin/busybox"
[[ -x "$BUSYBOX" ]] || die "busybox-static has no bin/busybox"
install -m 755 "$BUSYBOX" "$ROOT/bin/busybox"
applets=0
while IFS= read -r applet; do
  [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
  mkdir -p "$ROOT/$(dirname "$applet")"
  ln -sf /bin/busybox "$ROOT/$applet"
  applets=$((applets + 1))
done < <("$BUSYBOX" --list-full)
((applets > 0)) || die "busybox --list-full listed no applets"
for required in bin/sh sbin/insmod bin/mount sbin/poweroff bin/hostname usr/bin/setsid bin/cttyhack; do
  [[ -L "$ROOT/$required" ]] || die "busybox-static lacks the $required applet that /init needs"
done
for m in "${ORDER[@]}"; do
  install -m 644 "${MODFILE[${m//-/_}]}" "$ROOT/lib/modules/$KVER/$m.ko"
done
printf '%s\n' "${ORDER[@]}" >"$ROOT/etc/modules-order"
echo vireo >"$ROOT/etc/hostname"
install -m 755 "$GUEST_INIT" "$ROOT/init"
# The kernel opens /dev/console before /init runs; its built-in initramfs usually has it,
# but do not depend on that.
if [[ $(id -u) -eq 0 ]]; then
  mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
fi
(cd "$ROOT" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
  cpio -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$WORK/initramfs.cpio.gz"

# --- Install the outputs ------------------------------------------------------------------
for out in "${OUTPUTS[@]}"; do
  mv -f "$WORK/$out" "$OUTDIR/$out"
done
say "kernel $KVER; modules: ${ORDER[*]}"
say "pvpanic: CONFIG_PVPANIC=$(config_value CONFIG_PVPANIC) CONFIG_PVPANIC_MMIO=${PVPANIC_MMIO:-unset} CONFIG_PVPANIC_PCI=$(config_value CONFIG_PVPANIC_PCI)"
say "built $OUTDIR: vmlinuz $(stat -c %s "$OUTDIR/vmlinuz") B, vmlinux $(stat -c %s "$OUTDIR/vmlinux") B, initramfs.cpio.gz $(stat -c %s "$OUTDIR/initramfs.cpio.gz") B"
