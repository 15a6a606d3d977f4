#!/usr/bin/env bash
# Preflight: 4K random read/write IOPS on the data disk, as fio's JSON on stdout.
# fio writes a test file in PREFLIGHT_DIR (never a raw device) and the file is removed
# afterwards, so a second run leaves the disk as the first found it.
set -euo pipefail

: "${PREFLIGHT_DIR:?PREFLIGHT_DIR is required}"
: "${FIO_SIZE_MIB:=1024}"
: "${FIO_RUNTIME_SECONDS:=30}"
: "${FIO_DIRECT:=1}"

command -v fio >/dev/null || {
  echo "fio is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
  exit 127
}

mkdir -p "${PREFLIGHT_DIR}"
test_file="${PREFLIGHT_DIR}/fio-preflight.dat"
trap 'rm -f "${test_file}"' EXIT

fio --name=preflight --filename="${test_file}" \
  --rw=randrw --rwmixread=70 --bs=4k --size="${FIO_SIZE_MIB}M" \
  --runtime="${FIO_RUNTIME_SECONDS}" --time_based \
  --direct="${FIO_DIRECT}" --ioengine=libaio --iodepth=32 \
  --output-format=json
