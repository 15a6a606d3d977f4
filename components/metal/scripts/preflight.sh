#!/usr/bin/env bash
# Preflight diagnostics, before anything is installed: fio 4K random read/write on a file in
# PREFLIGHT_DIR (never a raw device), iperf3 to the peer host's server, and the NVIDIA GPUs
# on the PCI bus. Each tool's output goes verbatim into the result line (lib.sh); the program
# parses and judges it, this script only measures.
# Runs after lib.sh (sent ahead of it by the component).
# Read-only: the fio file (and any folder made for it) is removed afterwards, so a second run
# finds the host unchanged.
set -euo pipefail

: "${PREFLIGHT_DIR:?PREFLIGHT_DIR is required}"
: "${FIO_SIZE_MIB:=1024}"
: "${FIO_RUNTIME_SECONDS:=30}"
: "${FIO_DIRECT:=1}"
: "${PEER_ADDRESS:=}"
: "${IPERF_PORT:=5201}"
: "${IPERF_SECONDS:=10}"
: "${IPERF_ATTEMPTS:=5}"
: "${COUNT_PCI_GPUS:=false}"

need() {
  command -v "$1" >/dev/null || {
    echo "$1 is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
    exit 127
  }
}

need fio
if [[ -n "${PEER_ADDRESS}" ]]; then
  need iperf3
fi
if [[ "${COUNT_PCI_GPUS}" == true ]]; then
  need lspci
fi

# The run leaves nothing behind: neither the fio file nor the folders it had to create. It
# removes only what it made itself: the files it wrote (by name, never a whole tree) and the
# folders it created while they are empty, so whatever appeared in them meanwhile (a file
# system automounted there, another's files) stays, and so do they.
created=() # deepest first
missing=${PREFLIGHT_DIR}
while [[ ! -e "${missing}" && ! -L "${missing}" ]]; do
  created+=("${missing}")
  missing=$(dirname "${missing}")
done
test_file="${PREFLIGHT_DIR}/fio-preflight.dat"
outputs=$(mktemp -d)
clean_up() {
  local directory
  rm -f "${test_file}" "${outputs}/fio" "${outputs}/iperf3" "${outputs}/lspci" || true
  rmdir "${outputs}" 2>/dev/null || true
  for directory in "${created[@]}"; do
    rmdir "${directory}" 2>/dev/null || break
  done
}
trap clean_up EXIT
mkdir -p "${PREFLIGHT_DIR}"
fio --name=preflight --filename="${test_file}" \
  --rw=randrw --rwmixread=70 --bs=4k --size="${FIO_SIZE_MIB}M" \
  --runtime="${FIO_RUNTIME_SECONDS}" --time_based \
  --direct="${FIO_DIRECT}" --ioengine=libaio --iodepth=32 \
  --output-format=json >"${outputs}/fio"
result_output fio "${outputs}/fio"

if [[ -n "${PEER_ADDRESS}" ]]; then
  # A refused connection is reported in iperf3's own JSON (3.12 even exits 0): the program
  # reads it there. The peer may still be starting its server, so retry a few times.
  for ((attempt = 1; attempt <= IPERF_ATTEMPTS; attempt++)); do
    result=$(iperf3 --client "${PEER_ADDRESS}" --port "${IPERF_PORT}" --time "${IPERF_SECONDS}" --json) || true
    if ! grep -q '"error"' <<<"${result}" || ((attempt == IPERF_ATTEMPTS)); then
      break
    fi
    sleep 2
  done
  printf '%s\n' "${result}" >"${outputs}/iperf3"
  result_output iperf3 "${outputs}/iperf3"
fi

if [[ "${COUNT_PCI_GPUS}" == true ]]; then
  lspci -nn -d 10de: >"${outputs}/lspci"
  result_output lspci "${outputs}/lspci"
fi
result_emit preflight
