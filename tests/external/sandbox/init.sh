#!/usr/bin/env bash
# The sandboxed host's first process (PID 1 of its own mount, PID, network and UTS
# namespaces, started by the harness with unshare). It lays the sandbox over the machine:
# overlays whose upper layers live under ROOT/state on /etc, /var, /opt, /usr/local and
# /root; /run and /tmp of its own; the stand-ins on /usr/local/sbin (read-only), ahead of
# the real tools on sudo's secure_path; the rest of the machine's tree, /proc/sys and /sys
# read-only, so not even a real tool could change the machine's files or kernel settings.
# Then it names the host, gives its
# loopback the host's addresses, seeds or boots it, and waits until the harness ends it.
# Usage: init.sh ROOT SANDBOX_DIR seed|boot|keep HOSTNAME [ADDRESS...]
set -euo pipefail

root=$1 sandbox=$2 mode=$3 host=$4
shift 4

state=${root}/state
mount -n --make-rprivate /
# /run first, and mount -n (no records in /run/mount): nothing of the sandbox lands on the
# machine's /run.
mkdir -p "${state}/run" "${state}/tmp"
mount -n --bind "${state}/run" /run
# The harness's control folder (call log, failure switch, hardware, CA) where stand-ins look.
mount -n -t tmpfs -o mode=0755,size=64m deepseek-sandbox-shm /dev/shm
mkdir /dev/shm/deepseek-sandbox
mount -n --bind "${root}/control" /dev/shm/deepseek-sandbox

for target in /etc /var /opt /usr/local /root; do
  name=${target#/}
  name=${name//\//-}
  mkdir -p "${state}/${name}.upper" "${state}/${name}.work"
  mount -n -t overlay "sandbox-${name}" \
    -o "lowerdir=${target},upperdir=${state}/${name}.upper,workdir=${state}/${name}.work" "${target}"
done
mount -n --bind "${sandbox}/standins" /usr/local/sbin
mount -n -o remount,bind,ro /usr/local/sbin
mount -n --bind "${state}/tmp" /tmp
chmod 1777 /tmp
mount -n --bind /proc/sys /proc/sys
mount -n -o remount,bind,ro /proc/sys
mount -n -o remount,bind,ro /sys
# Everywhere else the machine's own files are read-only to the sandbox.
mount -n -o remount,bind,ro /

hostname "${host}"
ip link set lo up
for address in "$@"; do
  ip address add "${address}/32" dev lo
done

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
case "${mode}" in
  seed)
    bash "${sandbox}/seed.sh" "${sandbox}" "${host}"
    bash "${sandbox}/boot.sh"
    ;;
  boot) bash "${sandbox}/boot.sh" ;;
  keep) ;;
esac
: >/dev/shm/deepseek-sandbox/ready

# Reap whatever the scripts leave running (an iperf3 server) until the harness ends us.
while :; do
  sleep 3600 &
  wait $! || true
done
