#!/usr/bin/env bash
# GPU check after the driver: the GPU interconnect matrix (NVLink, PCIe, NUMA).
# Read-only: safe to run again.
set -euo pipefail

nvidia-smi topo -m
