#!/usr/bin/env python3
"""Boot time of the default Debian guest under vireo's emulator beside QEMU TCG and Bochs.

Runs, alternating in one run, `vireo run --accel emu` (and with `--jit off`, the interpreter
alone),
`qemu-system-x86_64 -M microvm -accel tcg` and Debian's Bochs on the same kernel,
initramfs, memory and vCPUs; measures the time from launch to the guest's ready marker
("vireo-guest: ready") and to process exit after the guest powers off, and the peak
RSS of each process. Prints medians and the ratios of vireo's figures to each reference's.

Bochs (Debian packages bochs, bochsbios, vgabios; with dosfstools, mtools, syslinux and
syslinux-common for its disk; scripts/install-deps.sh --bench installs them all):
  - It has no direct kernel loader, so bench/bochs_disk.py builds (once per benchmark run,
    in a temporary directory, without mounting anything) a raw disk image: SYSLINUX's MBR,
    one FAT16 partition holding the kernel, the initramfs and a SYSLINUX configuration that
    boots them with the command line below. Bochs boots it through its own BIOS
    (BIOS-bochs-latest) on its i440FX machine, as the IDE primary master. The time to the
    ready marker therefore includes Bochs's BIOS POST and SYSLINUX reading 15 MB from the
    emulated IDE disk, which the other two skip (they load the kernel directly); measured
    once, SYSLINUX's banner came 0.6 s after launch and the kernel's first message (at its
    clock's 3.0 s) 7.7 s after, of a 40 s boot: firmware and loader cost a few seconds.
  - The guest's serial console (com1) goes to a file, polled every 20 ms for the ready
    marker, so a ready time may be up to 20 ms late.
  - The guest's `poweroff -f` goes through ACPI (S5 in the PIIX4 power-management
    registers); Bochs ends its process on it, with status 1 and "ACPI control: soft power
    off" in its log, which is what a good run must show. Should a Bochs not end there, the
    benchmark kills it 10 s after the guest's "reboot: Power down" line, counts the exit at
    that line, and says so.
  - Its command line lacks tsc_early_khz=1000000: Bochs's TSC counts its virtual
    instruction clock (`ips` ticks per emulated second, not 1 GHz), and the kernel's fast
    PIT calibration measures it correctly, since the PIT runs on the same clock. Declaring
    1 GHz would make every TSC-based delay 25x too short.
  - Bochs runs with `clock: sync=none` (the guest's time advances with emulated
    instructions, idle periods are skipped, nothing waits for the host's clock) and
    ips=--bochs-ips, by default 40 M: about what Bochs emulates per second on the hosts
    this was measured on, so the guest's clock runs near real time, as the other two
    machines' clocks do. The figure sets the guest's timer-interrupt rate per emulated
    instruction; a boot with Bochs's default (4 M) took about as much CPU time.
  - Debian builds Bochs with its debugger, which stops before the first instruction and
    reads commands from stdin: the benchmark feeds it "c" (continue). Debian's Bochs has
    no display-less GUI ("nogui" is not built), so it runs with its VNC server (rfb,
    timeout=0: it does not wait for a viewer), which listens on the first free port from
    5900 while it runs.
  - Bochs's boot takes minutes: it has its own timeout (--bochs-timeout); --no-bochs skips it.

usage: boot_time.py [--build build] [--runs 3] [--cpus 1] [--memory 256] [--timeout 600]
                    [--no-bochs] [--bochs-timeout 900] [--bochs-ips 40000000]
"""
import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bochs_disk  # noqa: E402

READY = b"vireo-guest: ready"
POWER_DOWN = b"reboot: Power down"
BOCHS_POWER_OFF = b"ACPI control: soft power off"
BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGA_BIOS = "/usr/share/bochs/VGABIOS-lgpl-latest"
POLL_SECONDS = 0.02
KILL_AFTER_POWER_DOWN_SECONDS = 10.0


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


class DirectBootMachine:
    """A monitor that loads the kernel itself and prints the guest's console on stdout."""

    def __init__(self, name, argv, timeout):
        self.name, self.argv, self.timeout = name, argv, timeout

    def run(self):
        return run_once(self.argv, self.timeout)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


class BochsMachine:
    """Debian's Bochs booting the guest from a SYSLINUX disk image (see the docstring)."""

    name = "bochs"

    def __init__(self, workdir, kernel, initrd, cmdline, memory_mib, cpus, ips, timeout):
        self.timeout = timeout
        self.serial = os.path.join(workdir, "bochs-serial.log")
        self.log = os.path.join(workdir, "bochs.log")
        self.console = os.path.join(workdir, "bochs-console.log")
        self.commands = os.path.join(workdir, "bochs-commands")
        disk = os.path.join(workdir, "bochs-disk.img")
        cylinders = bochs_disk.make_disk(disk, kernel, initrd, cmdline)
        rc = os.path.join(workdir, "bochsrc")
        with open(rc, "w") as f:
            f.write(f"memory: guest={memory_mib}, host={memory_mib}\n"
                    f"romimage: file={BOCHS_BIOS}\n"
                    f"vgaromimage: file={BOCHS_VGA_BIOS}\n"
                    f"cpu: model=corei7_sandy_bridge_2600k, count={cpus}, ips={ips}\n"
                    "pci: enabled=1, chipset=i440fx\n"
                    f"ata0-master: type=disk, path={disk}, mode=flat, cylinders={cylinders}, "
                    f"heads={bochs_disk.HEADS}, spt={bochs_disk.SECTORS_PER_TRACK}\n"
                    "boot: disk\n"
                    f"com1: enabled=1, mode=file, dev={self.serial}\n"
                    "display_library: rfb, options=\"timeout=0\"\n"
                    f"log: {self.log}\n"
                    "panic: action=fatal\n"
                    "error: action=report\n"
                    "clock: sync=none\n"
                    "speaker: enabled=0\n"
                    "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n")
        with open(self.commands, "w") as f:
            f.write("c\n")
        # -unlock: a run that had to be killed leaves the disk image's lock file behind.
        self.argv = ["bochs", "-q", "-unlock", "-f", rc]

    def run(self):
        for p in (self.serial, self.log):
            if os.path.exists(p):
                os.remove(p)
        start = time.monotonic()
        with open(self.commands, "rb") as stdin, open(self.console, "wb") as console:
            proc = subprocess.Popen(self.argv, stdin=stdin, stdout=console, stderr=subprocess.STDOUT)
        ready_at = power_down_at = None
        killed_why = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            now = time.monotonic() - start
            if pid:
                break
            serial = read_file(self.serial)
            if ready_at is None and READY in serial:
                ready_at = now
            if power_down_at is None and POWER_DOWN in serial:
                power_down_at = now
            if power_down_at is not None and now - power_down_at > KILL_AFTER_POWER_DOWN_SECONDS:
                killed_why = "power-down"
            elif now > self.timeout:
                killed_why = "timeout"
            if killed_why:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(POLL_SECONDS)
        total = time.monotonic() - start
        serial = read_file(self.serial)
        if ready_at is None and READY in serial:
            ready_at = total  # written in the last poll interval before the process ended
        log = read_file(self.log)
        note = None
        if killed_why == "power-down":
            ok = ready_at is not None
            total = power_down_at
            note = "Bochs did not end on the guest's ACPI power-off: killed, exit counted at 'reboot: Power down'"
        elif killed_why == "timeout":
            ok = False
        else:
            ok = ready_at is not None and BOCHS_POWER_OFF in log
        out = (b"--- serial console ---\n" + serial[-2000:] + b"\n--- bochs stdout ---\n" +
               read_file(self.console)[-1500:] + b"\n--- bochs log ---\n" + log[-2500:])
        if killed_why == "timeout":
            out += f"\n--- killed at the {self.timeout:.0f} s timeout (--bochs-timeout) ---\n".encode()
        return {"ok": ok, "ready": ready_at, "exit": total, "rss_mib": usage.ru_maxrss / 1024.0, "out": out,
                "note": note}


def bochs_missing():
    """Why Bochs cannot run here, or None."""
    missing = []
    if shutil.which("bochs") is None:
        missing.append("bochs")
    if not os.path.exists(BOCHS_BIOS):
        missing.append("bochsbios")
    if not os.path.exists(BOCHS_VGA_BIOS):
        missing.append("vgabios")
    missing += bochs_disk.missing_tools()
    if not missing:
        return None
    return f"Debian packages {', '.join(missing)} are missing (scripts/install-deps.sh --bench installs them)"


def print_ratio(label, v, r):
    print(f"  ratio vireo/{label + ':':6s} ready {v['ready'] / r['ready']:.2f}x   exit {v['exit'] / r['exit']:.2f}x   "
          f"peak RSS {v['rss_mib'] / r['rss_mib']:.2f}x", end="")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--memory", type=int, default=256, help="MiB")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per vireo or QEMU boot")
    ap.add_argument("--no-interp", action="store_true", help="skip vireo with --jit off (the interpreter alone)")
    ap.add_argument("--no-bochs", action="store_true", help="skip Bochs (its boot takes minutes)")
    ap.add_argument("--bochs-timeout", type=float, default=900, help="seconds per Bochs boot")
    ap.add_argument("--bochs-ips", type=int, default=40_000_000,
                    help="Bochs's emulated instructions per guest second (its TSC frequency)")
    args = ap.parse_args()

    guest = os.path.join(args.build, "guest")
    kernel = os.path.join(guest, "vmlinuz")
    initrd = os.path.join(guest, "initramfs.cpio.gz")
    # The same command line for vireo and QEMU; tsc_early_khz lets QEMU TCG's guest skip TSC
    # calibration (vireo's guest reads the frequency from CPUID leaf 0x15 anyway). Bochs's
    # guest calibrates its TSC against the PIT instead (see the docstring).
    cmdline = "console=ttyS0 quiet tsc_early_khz=1000000 -- true"
    bochs_cmdline = "console=ttyS0 quiet -- true"
    def vireo(jit):
        return [os.path.join(args.build, "vireo"), "-q", "run", "--accel", "emu", "--jit", jit, "--kernel", kernel,
                "--initrd", initrd, "--memory", f"{args.memory}M", "--cpus", str(args.cpus), "--cmdline", cmdline]
    machines = [DirectBootMachine("vireo emu", vireo("on"), args.timeout)]
    if not args.no_interp:
        machines.append(DirectBootMachine("vireo int", vireo("off"), args.timeout))
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        machines.append(DirectBootMachine(
            "qemu tcg", [qemu, "-M", "microvm,acpi=on", "-accel", "tcg", "-m", f"{args.memory}M",
                         "-smp", str(args.cpus), "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                         "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio"], args.timeout))
    else:
        print("qemu-system-x86_64 not found (make bench installs it): no QEMU TCG figures")

    with tempfile.TemporaryDirectory(prefix="vireo-boot-time-") as workdir:
        if not args.no_bochs:
            why = bochs_missing()
            if why:
                print(f"Bochs skipped: {why}")
            else:
                try:
                    machines.append(BochsMachine(workdir, kernel, initrd, bochs_cmdline, args.memory, args.cpus,
                                                 args.bochs_ips, args.bochs_timeout))
                except (bochs_disk.DiskError, OSError) as e:
                    sys.stderr.write(f"Bochs skipped: cannot build its boot disk: {e}\n")
                    return 1

        results = {m.name: [] for m in machines}
        notes = set()
        for _ in range(args.runs):
            for m in machines:
                r = m.run()
                if not r["ok"]:
                    sys.stderr.write(f"{m.name}: run failed; last output:\n{r['out'][-6000:].decode(errors='replace')}\n")
                    return 1
                if r.get("note"):
                    notes.add(f"{m.name}: {r['note']}")
                results[m.name].append(r)

    print(f"Boot of the default guest to its ready marker and to exit after poweroff "
          f"({args.cpus} vCPU, {args.memory} MiB, medians of {args.runs} alternating runs)")
    med = {}
    for name, rs in results.items():
        med[name] = {k: statistics.median(r[k] for r in rs) for k in ("ready", "exit", "rss_mib")}
        m = med[name]
        print(f"  {name:10s}: ready {m['ready']:7.2f} s   exit {m['exit']:7.2f} s   peak RSS {m['rss_mib']:7.1f} MiB")
    v = med["vireo emu"]
    if "vireo int" in med:
        i = med["vireo int"]
        print(f"  translation: vireo with --jit off takes {i['ready'] / v['ready']:.2f}x as long to ready")
    if "qemu tcg" in med:
        print_ratio("qemu", v, med["qemu tcg"])
        print("   (targets: time <= 3x, RSS < 1x)")
    if "bochs" in med:
        print_ratio("bochs", v, med["bochs"])
        print()
        print(f"  bochs: booted from a SYSLINUX disk through its BIOS (ready includes POST and the disk load), "
              f"ips={args.bochs_ips}, command line without tsc_early_khz")
    for note in sorted(notes):
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
