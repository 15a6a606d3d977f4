#!/usr/bin/env bash
# Preflight: keep an iperf3 server listening for a bounded time, so that the peer host can
# measure its link to this one. IPERF_CLIENT names the client's preflight run: a new one
# (a host added, removed or replaced, its settings changed) gets a fresh server with the full
# lifetime, the one started for an earlier client being stopped first. The same client with
# the server still listening changes nothing.
# Runs after lib.sh (sent ahead of it by the component).
set -euo pipefail

: "${IPERF_PORT:?IPERF_PORT is required}"
: "${IPERF_SERVER_SECONDS:=1800}"
: "${IPERF_CLIENT:=}"

# Which client the server on this port was started for; in /run, which a reboot empties
# along with the server itself.
record=/run/deepseek/iperf3-server-${IPERF_PORT}.client
# The server this step starts: timeout ends it, setsid detaches it from the SSH session.
server_pattern="^timeout [0-9]+ iperf3 --server --port ${IPERF_PORT}\$"

# listening: our server runs and the port accepts connections.
listening() {
  pgrep -f "${server_pattern}" >/dev/null && ss -H -t -l -n "sport = :${IPERF_PORT}" | grep -q .
}

command -v iperf3 >/dev/null || {
  echo "iperf3 is not installed: the host image must carry the preflight tools (fio, iperf3, pciutils)" >&2
  exit 127
}

if listening && [[ -f "${record}" && "$(<"${record}")" == "${IPERF_CLIENT}" ]]; then
  echo "iperf3 server already listening on port ${IPERF_PORT} for client ${IPERF_CLIENT:-(none)}"
  result_field port "${IPERF_PORT}"
  result_field server running
  result_emit net-server
  exit 0
fi

if pgrep -f "${server_pattern}" >/dev/null; then
  echo "stopping the iperf3 server started for an earlier client"
  pkill -f "${server_pattern}"
  for _ in $(seq 1 50); do
    ss -H -t -l -n "sport = :${IPERF_PORT}" | grep -q . || break
    sleep 0.1
  done
  note_change
fi
rm -f "${record}"

setsid timeout "${IPERF_SERVER_SECONDS}" iperf3 --server --port "${IPERF_PORT}" \
  </dev/null >/dev/null 2>&1 &
disown

for _ in $(seq 1 50); do
  if listening; then
    printf '%s\n' "${IPERF_CLIENT}" | write_if_changed "${record}" 0644 >/dev/null
    echo "iperf3 server listening on port ${IPERF_PORT} for ${IPERF_SERVER_SECONDS}s (client ${IPERF_CLIENT:-(none)})"
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
