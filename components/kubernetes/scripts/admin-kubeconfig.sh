#!/usr/bin/env bash
# Reads the cluster's admin kubeconfig (server: the API VIP) for the program's Kubernetes
# provider. Its stdout is a Pulumi secret. Read-only: safe to run again.
set -euo pipefail

cat /etc/kubernetes/admin.conf
