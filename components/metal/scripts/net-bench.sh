#!/usr/bin/env bash
# Preflight: TCP throughput to the peer host's iperf3 server, as iperf3's JSON on stdout.
# A refused connection is reported in that JSON (iperf3 3.12 even exits 0), so the program's
# parser, not this script, decides whether the link passes. Read-only: safe to run again.
set -euo pipefail

: "${PEER_ADDRESS:?PEER_ADDRESS is required}"
: "${IPERF_PORT:?IPERF_PORT is required}"
: "${IPERF_SECONDS:=10}"

command -v iperf3 >/dev/null || {
  echo "iperf3 is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
  exit 127
}

# The peer may still be starting its server: retry a refused connection a few times.
for attempt in 1 2 3 4 5; do
  result=$(iperf3 --client "${PEER_ADDRESS}" --port "${IPERF_PORT}" --time "${IPERF_SECONDS}" --json) || true
  if ! grep -q '"error"' <<<"${result}" || [[ ${attempt} -eq 5 ]]; then
    break
  fi
  sleep 2
done
printf '%s\n' "${result}"
