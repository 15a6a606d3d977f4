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
nouveau_changed=${CHANGED}

if [[ "${DRIVER_MANAGED_BY}" == gpu-operator ]]; then
  echo "nvidia-stack: driver and toolkit are managed by the GPU Operator"
  result_field driver gpu-operator
  result_emit nvidia-stack
  exit 0
fi

apt_install "${DRIVER_PACKAGE}" "${TOOLKIT_PACKAGE}"

config=/etc/containerd/config.toml
before=$(file_digest "${config}")
nvidia-ctk runtime configure --runtime=containerd >/dev/null
if [[ "$(file_digest "${config}")" != "${before}" ]]; then
  systemctl restart containerd
fi

if nvidia-smi -L >/dev/null 2>&1; then
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)
  echo "nvidia-stack: driver ${driver} loaded"
  result_field driver loaded
  result_field version "${driver}"
  result_emit nvidia-stack
  exit 0
fi
if ! lsmod | grep -q '^nouveau' && modprobe nvidia 2>/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "nvidia-stack: driver loaded without a reboot"
  note_change
  result_field driver loaded
  result_emit nvidia-stack
  exit 0
fi
if ((nouveau_changed)); then
  update-initramfs -u
fi
systemd-run --on-active=5 --unit=deepseek-driver-reboot systemctl reboot
echo "nvidia-stack: driver installed; the host reboots in 5 s to load it"
note_change
result_field driver reboot-scheduled
result_emit nvidia-stack
