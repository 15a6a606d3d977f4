#!/usr/bin/env bash
# Reads the cluster's admin kubeconfig (server: the API VIP) for the program's Kubernetes
# provider, verbatim in the result line. Its stdout is a Pulumi secret and is never logged.
# Read-only (but for its log: lib.sh step_log): safe to run again.
# Runs after lib.sh (sent ahead of it by the component).
set -euo pipefail
step_log admin-kubeconfig
result_output kubeconfig /etc/kubernetes/admin.conf
result_emit admin-kubeconfig
