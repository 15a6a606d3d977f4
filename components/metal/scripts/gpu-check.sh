#!/usr/bin/env bash
# GPU check after the driver: the GPUs as nvidia-smi reports them (CSV with its header) and
# the interconnect matrix (NVLink, PCIe, NUMA), each after a marker line naming it, for the
# program's parsers. Read-only: safe to run again.
set -euo pipefail

: "${GPU_QUERY_FIELDS:?GPU_QUERY_FIELDS is required}"

printf '##### deepseek-preflight: %s\n' nvidia-smi-query
nvidia-smi --query-gpu="${GPU_QUERY_FIELDS}" --format=csv
printf '##### deepseek-preflight: %s\n' nvidia-smi-topo
nvidia-smi topo -m
