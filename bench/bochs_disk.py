#!/usr/bin/env python3
"""A bootable hard-disk image of a Linux kernel and initramfs, for PC emulators that
boot only from disks (they have no direct kernel loader).

The image is a raw disk with a BIOS geometry of 16 heads and 63 sectors per track:
  sector 0            SYSLINUX's master boot record (boot code) and a partition table
                      with one active FAT16 partition (type 0x0e, LBA addressed)
  sector 2048 (1 MiB) the FAT16 file system: VMLINUZ, INITRD.GZ, SYSLINUX.CFG (which
                      boots VMLINUZ with INITRD.GZ and the given command line at once,
                      without a prompt) and SYSLINUX's own files (ldlinux.sys, ldlinux.c32)
It is built without mounting anything, so without root: mkfs.fat writes the file system
at an offset inside the image file, mtools' mcopy copies files into it, and syslinux
(its mtools-based installer) installs the partition's boot sector and loader.

Debian packages: dosfstools (mkfs.fat), mtools (mcopy), syslinux (installer),
syslinux-common (mbr.bin, ldlinux.c32); scripts/install-deps.sh --bench installs them.

usage: bochs_disk.py IMAGE KERNEL INITRD CMDLINE
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SECTOR = 512
HEADS = 16
SECTORS_PER_TRACK = 63
PARTITION_START = 2048  # sectors: 1 MiB, the usual alignment
MBR_BOOT_CODE = "/usr/lib/syslinux/mbr/mbr.bin"
TOOLS = {"mkfs.fat": "dosfstools", "mcopy": "mtools", "syslinux": "syslinux"}


class DiskError(Exception):
    pass


def missing_tools():
    """Names of the Debian packages whose tools are missing (empty when all are there)."""
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if not os.path.exists(MBR_BOOT_CODE):
        missing.append("syslinux-common")
    return missing


def _run(argv):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise DiskError(f"{' '.join(argv)} failed (status {done.returncode}): "
                        f"{done.stdout.decode(errors='replace').strip()}")


def _partition_entry(first_lba, sectors):
    """One 16-byte MBR partition entry: active, type 0x0e (FAT16, LBA). The CHS fields hold
    the "beyond CHS" marker (1023/254/63) that LBA-addressed partitions use."""
    chs_beyond = bytes([0xFE, 0xFF, 0xFF])
    return struct.pack("<B3sB3sII", 0x80, chs_beyond, 0x0E, chs_beyond, first_lba, sectors)


def syslinux_config(cmdline):
    if "\n" in cmdline:
        raise DiskError("the kernel command line must be one line")
    return ("DEFAULT linux\n"
            "PROMPT 0\n"
            "TIMEOUT 0\n"
            "LABEL linux\n"
            "  KERNEL VMLINUZ\n"
            "  INITRD INITRD.GZ\n"
            f"  APPEND {cmdline}\n")


def make_disk(image, kernel, initrd, cmdline):
    """Writes the bootable image to `image`; returns its cylinder count (heads and sectors
    per track are HEADS and SECTORS_PER_TRACK)."""
    missing = missing_tools()
    if missing:
        raise DiskError(f"missing Debian packages {', '.join(missing)} (scripts/install-deps.sh --bench)")
    payload = os.path.getsize(kernel) + os.path.getsize(initrd)
    # Room for the files, FAT16's tables and SYSLINUX, rounded up to whole cylinders.
    want = PARTITION_START * SECTOR + payload + payload // 4 + (8 << 20)
    cylinder = HEADS * SECTORS_PER_TRACK * SECTOR
    cylinders = -(-want // cylinder)
    total_sectors = cylinders * HEADS * SECTORS_PER_TRACK
    part_sectors = total_sectors - PARTITION_START
    if part_sectors * SECTOR >= (2 << 30):
        raise DiskError("kernel and initramfs are too large for a FAT16 partition")

    with open(MBR_BOOT_CODE, "rb") as f:
        boot_code = f.read(440)
    mbr = bytearray(SECTOR)
    mbr[:len(boot_code)] = boot_code
    mbr[446:462] = _partition_entry(PARTITION_START, part_sectors)
    mbr[510:512] = b"\x55\xaa"
    with open(image, "wb") as f:
        f.write(mbr)
        f.truncate(total_sectors * SECTOR)

    offset = PARTITION_START * SECTOR
    _run(["mkfs.fat", "-F", "16", "-n", "VIREOBOOT", "-g", f"{HEADS}/{SECTORS_PER_TRACK}",
          "-h", str(PARTITION_START), f"--offset={PARTITION_START}", image, str(part_sectors * SECTOR // 1024)])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "SYSLINUX.CFG")
        with open(cfg, "w") as f:
            f.write(syslinux_config(cmdline))
        env_image = f"{image}@@{offset}"
        for src, name in ((kernel, "VMLINUZ"), (initrd, "INITRD.GZ"), (cfg, "SYSLINUX.CFG")):
            _run(["mcopy", "-n", "-o", "-i", env_image, src, f"::{name}"])
    _run(["syslinux", "--offset", str(offset), "--install", image])
    return cylinders


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: bochs_disk.py IMAGE KERNEL INITRD CMDLINE\n")
        return 2
    try:
        cylinders = make_disk(*sys.argv[1:5])
    except (DiskError, OSError) as e:
        sys.stderr.write(f"bochs_disk: error: {e}\n")
        return 1
    print(f"{sys.argv[1]}: cylinders={cylinders} heads={HEADS} spt={SECTORS_PER_TRACK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
