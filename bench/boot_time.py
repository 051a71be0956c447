#!/usr/bin/env python3
"""Boot time of the default Debian guest under vireo's emulator beside QEMU TCG.

Runs, alternating in one run, `vireo run --accel emu` and
`qemu-system-x86_64 -M microvm -accel tcg` on the same kernel, initramfs, memory,
vCPUs and command line; measures the time from launch to the guest's ready marker
("vireo-guest: ready") and to process exit after the guest powers off, and the peak
RSS of each process. Prints medians and ratios.

usage: boot_time.py [--build build] [--runs 3] [--cpus 1] [--memory 256]
"""
import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

READY = b"vireo-guest: ready"


def run_once(argv, timeout):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    ready_at = None
    deadline = start + timeout
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
        if ready_at is None and READY in out:
            ready_at = time.monotonic() - start
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.monotonic() - start
    ok = ready_at is not None and os.waitstatus_to_exitcode(status) == 0
    return {"ok": ok, "ready": ready_at, "exit": total, "rss_mib": usage.ru_maxrss / 1024.0, "out": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--memory", type=int, default=256, help="MiB")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    guest = os.path.join(args.build, "guest")
    kernel = os.path.join(guest, "vmlinuz")
    initrd = os.path.join(guest, "initramfs.cpio.gz")
    # The same command line for both; tsc_early_khz lets QEMU TCG's guest skip TSC
    # calibration (vireo's guest reads the frequency from CPUID leaf 0x15 anyway).
    cmdline = "console=ttyS0 quiet tsc_early_khz=1000000 -- true"
    machines = {
        "vireo emu": [os.path.join(args.build, "vireo"), "-q", "run", "--accel", "emu", "--kernel", kernel,
                      "--initrd", initrd, "--memory", f"{args.memory}M", "--cpus", str(args.cpus),
                      "--cmdline", cmdline],
    }
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        machines["qemu tcg"] = [qemu, "-M", "microvm,acpi=on", "-accel", "tcg", "-m", f"{args.memory}M",
                                "-smp", str(args.cpus), "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                                "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio"]
    else:
        print("qemu-system-x86_64 not found (make bench installs it): vireo alone")

    results = {name: [] for name in machines}
    for _ in range(args.runs):
        for name, argv in machines.items():
            r = run_once(argv, args.timeout)
            if not r["ok"]:
                sys.stderr.write(f"{name}: run failed; last output:\n{r['out'][-2000:].decode(errors='replace')}\n")
                return 1
            results[name].append(r)

    print(f"Boot of the default guest to its ready marker and to exit after poweroff "
          f"({args.cpus} vCPU, {args.memory} MiB, medians of {args.runs} alternating runs)")
    med = {}
    for name, rs in results.items():
        med[name] = {k: statistics.median(r[k] for r in rs) for k in ("ready", "exit", "rss_mib")}
        m = med[name]
        print(f"  {name:10s}: ready {m['ready']:7.2f} s   exit {m['exit']:7.2f} s   peak RSS {m['rss_mib']:7.1f} MiB")
    if "qemu tcg" in med:
        v, q = med["vireo emu"], med["qemu tcg"]
        print(f"  ratio vireo/qemu: ready {v['ready'] / q['ready']:.2f}x   exit {v['exit'] / q['exit']:.2f}x   "
              f"peak RSS {v['rss_mib'] / q['rss_mib']:.2f}x   (targets: time <= 3x, RSS < 1x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
