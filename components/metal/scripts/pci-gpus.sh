#!/usr/bin/env bash
# Preflight: the NVIDIA devices on the PCI bus, which lspci sees before any driver exists.
# Read-only: safe to run again.
set -euo pipefail

command -v lspci >/dev/null || {
  echo "lspci is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
  exit 127
}
lspci -nn -d 10de:
