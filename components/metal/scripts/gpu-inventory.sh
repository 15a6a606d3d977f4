#!/usr/bin/env bash
# GPU check after the driver: the GPUs as nvidia-smi reports them, CSV with its header.
# Read-only: safe to run again.
set -euo pipefail

: "${GPU_QUERY_FIELDS:?GPU_QUERY_FIELDS is required}"
nvidia-smi --query-gpu="${GPU_QUERY_FIELDS}" --format=csv
