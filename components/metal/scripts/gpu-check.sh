#!/usr/bin/env bash
# GPU check after the driver: the GPUs as nvidia-smi reports them (CSV with its header) and
# the interconnect matrix (NVLink, PCIe, NUMA), verbatim in the result line for the program's
# parsers. Read-only: safe to run again.
# Runs after lib.sh (sent ahead of it by the component).
set -euo pipefail

: "${GPU_QUERY_FIELDS:?GPU_QUERY_FIELDS is required}"

outputs=$(mktemp -d)
trap 'rm -rf "${outputs}"' EXIT
nvidia-smi --query-gpu="${GPU_QUERY_FIELDS}" --format=csv >"${outputs}/query"
nvidia-smi topo -m >"${outputs}/topo"
result_output nvidia-smi-query "${outputs}/query"
result_output nvidia-smi-topo "${outputs}/topo"
result_emit gpu-check
