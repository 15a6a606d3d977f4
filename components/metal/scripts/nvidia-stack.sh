#!/usr/bin/env bash
# The NVIDIA stack on a GPU host: driver from the internal mirror (unless the GPU Operator
# manages it), NVIDIA Container Toolkit, and containerd's nvidia runtime. If the new driver
# cannot be loaded in place, the host reboots detached from this SSH session, so the deploy
# never hangs on it; the next step's connection retries until the host is back.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a second run changes nothing.
set -euo pipefail

: "${DRIVER_MANAGED_BY:?DRIVER_MANAGED_BY is required (host or gpu-operator)}"
: "${DRIVER_PACKAGE:?DRIVER_PACKAGE is required}"
: "${TOOLKIT_PACKAGE:?TOOLKIT_PACKAGE is required}"

write_if_changed /etc/modprobe.d/deepseek-blacklist-nouveau.conf 0644 <<'CONF'
# Managed by deepseek-onprem: the NVIDIA driver needs nouveau out of the way.
blacklist nouveau
options nouveau modeset=0
CONF
# The initramfs carries the blacklist too, or nouveau still loads early at the next boot.
run_when_changed initramfs /etc/modprobe.d/deepseek-blacklist-nouveau.conf -- update-initramfs -u

if [[ "${DRIVER_MANAGED_BY}" == gpu-operator ]]; then
  echo "nvidia-stack: driver and toolkit are managed by the GPU Operator"
  result_field driver gpu-operator
  result_emit nvidia-stack
  exit 0
fi

apt_install "${DRIVER_PACKAGE}" "${TOOLKIT_PACKAGE}"

nvidia-ctk runtime configure --runtime=containerd >/dev/null
run_when_changed containerd /etc/containerd -- systemctl restart containerd

# report_loaded: the driver answers; its version goes into the result.
report_loaded() {
  local version
  version=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)
  say "nvidia-stack: driver ${version} loaded"
  result_field driver loaded
  result_field version "${version}"
  result_emit nvidia-stack
}

if nvidia-smi -L >/dev/null 2>&1; then
  report_loaded
  exit 0
fi
reboot_unit=deepseek-driver-reboot
if systemctl is-active --quiet "${reboot_unit}.timer"; then
  echo "nvidia-stack: the reboot that loads the driver is already scheduled"
  result_field driver reboot-scheduled
  result_emit nvidia-stack
  exit 0
fi
# Without nouveau (or an older nvidia module) in the way, the new driver loads in place.
modules=$(lsmod)
if ! grep -Eq '^(nouveau|nvidia) ' <<<"${modules}" && modprobe nvidia 2>/dev/null; then
  note_change
  if nvidia-smi -L >/dev/null 2>&1; then
    report_loaded
    exit 0
  fi
fi
tool_output systemd-run --on-active=5 --unit="${reboot_unit}" systemctl reboot
echo "nvidia-stack: driver installed; the host reboots in 5 s to load it"
note_change
result_field driver reboot-scheduled
result_emit nvidia-stack
