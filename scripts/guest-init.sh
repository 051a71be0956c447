#!/bin/sh
# /init of vireo's default guest (busybox sh; scripts/make-guest.sh puts it into the
# initramfs). Mounts the kernel file systems, loads the modules listed in
# /etc/modules-order, prints "vireo-guest: ready", then either
#   - command mode: the kernel command line contains " -- "; everything after the first
#     such occurrence is run with sh -c, then "vireo-guest: exit status N" is printed, or
#   - interactive mode: a shell with the console as its controlling terminal,
# and finally powers the machine off. It must never exit: the kernel panics when init dies.
# Apart from warnings about failures, it prints only the two lines above.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root

warn() {
  echo "vireo-guest: warning: $*"
}

mount_fs() {  # TYPE DIR
  if ! out=$(mount -t "$1" "$1" "$2" 2>&1); then
    warn "cannot mount $1 on $2: $out"
  fi
}

power_off() {
  poweroff -f
  # poweroff -f only returns when it failed; init must stay alive regardless.
  while :; do sleep 3600; done
}

mount_fs proc /proc
mount_fs sysfs /sys
mount_fs devtmpfs /dev
mkdir -p /dev/pts
mount_fs devpts /dev/pts

kernel_release=$(uname -r)
if [ -f /etc/modules-order ]; then
  while read -r module; do
    [ -n "$module" ] || continue
    # A driver built into the kernel (or loaded already) has nothing to load.
    [ -d "/sys/module/$(echo "$module" | tr - _)" ] && continue
    if ! out=$(insmod "/lib/modules/$kernel_release/$module.ko" 2>&1); then
      case "$out" in
        *"File exists"*) ;;
        *) warn "cannot load module $module: $out" ;;
      esac
    fi
  done </etc/modules-order
fi

hostname vireo

echo "vireo-guest: ready"

cmdline=$(cat /proc/cmdline)
case "$cmdline" in
  *" -- "*)
    # busybox's poweroff, reboot and halt ask PID 1 (this script) by signal: USR2,
    # TERM and USR1. A command that uses them ends the VM once it returns.
    trap 'poweroff -f' USR2 USR1
    trap 'reboot -f' TERM
    cmd=${cmdline#* -- }
    sh -c "$cmd"
    echo "vireo-guest: exit status $?"
    ;;
  *)
    # The interactive shell runs under busybox init, so that `poweroff`, `reboot` and
    # `halt` typed in it work as on any machine. setsid makes a new session;
    # cttyhack opens the real console device so that it becomes the shell's
    # controlling terminal (job control, Ctrl-C). Leaving the shell powers off.
    cat >/etc/vireo-session <<'SESSION'
#!/bin/sh
setsid cttyhack sh
poweroff
SESSION
    chmod 755 /etc/vireo-session
    echo "::once:/etc/vireo-session" >/etc/inittab
    exec init
    ;;
esac
power_off
