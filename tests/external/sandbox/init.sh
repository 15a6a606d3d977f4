#!/usr/bin/env bash
# The sandboxed host's first process (PID 1 of its own mount, PID, network and UTS
# namespaces, started by the harness with unshare). It lays the sandbox over the machine:
# overlays whose upper layers live under ROOT/state on /etc, /var, /opt, /usr/local and
# /root; /run and /tmp of its own; the stand-ins on /usr/local/sbin (read-only), ahead of
# the real tools on sudo's secure_path; /proc/sys and /sys read-only, so not even a real
# tool could change the machine's kernel settings. Then it names the host, gives its
# loopback the host's addresses, seeds or boots it, and waits until the harness ends it.
# Usage: init.sh ROOT SANDBOX_DIR seed|boot|keep HOSTNAME [ADDRESS...]
set -euo pipefail

root=$1 sandbox=$2 mode=$3 host=$4
shift 4

mount --make-rprivate /
# The harness's control folder (call log, failure switch, hardware, CA) where stand-ins look.
mount -t tmpfs -o mode=0755,size=64m deepseek-sandbox-shm /dev/shm
mkdir /dev/shm/deepseek-sandbox
mount --bind "${root}/control" /dev/shm/deepseek-sandbox

state=${root}/state
for target in /etc /var /opt /usr/local /root; do
  name=${target#/}
  name=${name//\//-}
  mkdir -p "${state}/${name}.upper" "${state}/${name}.work"
  mount -t overlay "sandbox-${name}" \
    -o "lowerdir=${target},upperdir=${state}/${name}.upper,workdir=${state}/${name}.work" "${target}"
done
mount --bind "${sandbox}/standins" /usr/local/sbin
mount -o remount,bind,ro /usr/local/sbin
for target in /run /tmp; do
  mkdir -p "${state}${target}"
  mount --bind "${state}${target}" "${target}"
done
chmod 1777 /tmp
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /sys

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
