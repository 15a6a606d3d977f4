#!/usr/bin/env bash
# Waits until the API server answers /healthz through the VIP (as pulumi-eks waits before it
# builds a provider), for at most API_READY_SECONDS. Read-only: safe to run again.
# Runs after lib.sh (sent ahead of it by the component).
set -euo pipefail

: "${API_ENDPOINT:?API_ENDPOINT is required}"
: "${API_READY_SECONDS:=600}"

deadline=$((SECONDS + API_READY_SECONDS))
until [[ "$(curl --silent --max-time 5 --cacert /etc/kubernetes/pki/ca.crt "${API_ENDPOINT}/healthz" || true)" == ok ]]; do
  if ((SECONDS >= deadline)); then
    echo "the API server at ${API_ENDPOINT} did not answer /healthz within ${API_READY_SECONDS}s" >&2
    exit 1
  fi
  sleep 5
done
echo "api-ready: ${API_ENDPOINT}/healthz ok"
result_field endpoint "${API_ENDPOINT}"
result_emit api-ready
