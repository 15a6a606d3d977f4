#!/usr/bin/env bash
# The sandboxed host's boot, as far as the scripts' work shows in it: modules from
# /etc/modules-load.d; on a GPU host nouveau unless the initramfs blacklists it, else the
# nvidia driver when installed; sysctls from /etc/sysctl.d; swap from /etc/fstab; enabled
# services started with the configuration they read. Runs inside the sandbox (init.sh).
set -euo pipefail
export STANDIN_QUIET=1
control=/dev/shm/deepseek-sandbox

mkdir -p /run/standin-kernel /run/standin-systemd
for file in /etc/modules-load.d/*.conf /etc/modules; do
  [[ -f "${file}" ]] || continue
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${file}" | while read -r module; do
    modprobe "${module}" 2>/dev/null || true
  done
done
if [[ -f "${control}/hardware/gpu" ]]; then
  blacklist="/var/lib/initramfs-tools/$(uname -r).blacklist"
  if [[ -f "${control}/hardware/nouveau" ]] && ! grep -qx nouveau "${blacklist}" 2>/dev/null; then
    modprobe nouveau
  fi
  modprobe nvidia 2>/dev/null || true
fi
sysctl --system >/dev/null 2>&1 || true
swapon -a
for unit in /var/lib/standin/systemd/enabled/*; do
  [[ -f "${unit}" ]] || continue
  systemctl start "${unit##*/}" 2>/dev/null || true
done
