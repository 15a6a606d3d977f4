#!/usr/bin/env bash
# Preflight: keep an iperf3 server listening for a bounded time, so that the peer host can
# measure its link to this one. Idempotent: a server already listening is left alone.
# Runs after lib.sh (sent ahead of it by the component).
set -euo pipefail

: "${IPERF_PORT:?IPERF_PORT is required}"
: "${IPERF_SERVER_SECONDS:=1800}"

listening() {
  ss -H -t -l -n "sport = :${IPERF_PORT}" | grep -q .
}

command -v iperf3 >/dev/null || {
  echo "iperf3 is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
  exit 127
}

if listening; then
  echo "iperf3 server already listening on port ${IPERF_PORT}"
  result_field port "${IPERF_PORT}"
  result_field server running
  result_emit net-server
  exit 0
fi

# Detached from this SSH session and ended by timeout, so nothing is left running for good.
setsid --fork timeout "${IPERF_SERVER_SECONDS}" iperf3 --server --port "${IPERF_PORT}" \
  </dev/null >/dev/null 2>&1

for _ in $(seq 1 50); do
  if listening; then
    echo "iperf3 server listening on port ${IPERF_PORT} for ${IPERF_SERVER_SECONDS}s"
    note_change
    result_field port "${IPERF_PORT}"
    result_field server started
    result_emit net-server
    exit 0
  fi
  sleep 0.1
done
echo "iperf3 server did not start listening on port ${IPERF_PORT}" >&2
exit 1
