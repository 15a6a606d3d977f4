#!/usr/bin/env bash
# The site's monitors and OSDs, as cephadm service specifications (SERVICE_SPECS, YAML from
# components/storage/ceph_spec.py: the monitors on every monitor host, one OSD service per
# storage host and device class naming its declared disks of that class by path, with that
# `crush_device_class`), applied with `ceph orch apply -i` on the
# first storage host. `ceph orch apply` is declarative: they are applied again whenever they
# differ from what this step last applied here, or a service of SERVICES is missing from
# `ceph orch ls`. cephadm then creates the OSDs in the background: the step waits, up to
# OSD_READY_SECONDS, until OSDS_EXPECTED of them are up, and fails naming the count if not.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${SERVICE_SPECS:?SERVICE_SPECS is required}"
: "${SERVICES:?SERVICES is required}"
: "${OSDS_EXPECTED:?OSDS_EXPECTED is required}"
: "${OSD_READY_SECONDS:=1800}"

if [[ ! "${OSDS_EXPECTED}" =~ ^[0-9]{1,5}$ ]]; then
  refuse ceph-osds OSDS_EXPECTED "${OSDS_EXPECTED}" "a number of OSDs"
fi
if [[ ! "${OSD_READY_SECONDS}" =~ ^[1-9][0-9]{0,5}$ ]]; then
  refuse ceph-osds OSD_READY_SECONDS "${OSD_READY_SECONDS}" "a positive number of seconds"
fi
# Only the monitors' and OSDs' services: this step never touches another one.
types=$(sed -n 's/^service_type:[[:space:]]*//p' <<<"${SERVICE_SPECS}" | sort -u)
if [[ -z "${types}" ]] || grep -qvxE 'mon|osd' <<<"${types}"; then
  refuse ceph-osds SERVICE_SPECS "${types//$'\n'/ }" "service specifications of type mon and osd only"
fi
read -r -d '' -a services <<<"${SERVICES}" || true
for service in "${services[@]}"; do
  if [[ ! "${service}" =~ ^(mon|osd\.[a-z0-9]([a-z0-9-]{0,70}[a-z0-9])?)$ ]]; then
    refuse ceph-osds SERVICES "${service}" "a service name (mon, osd.<host>-<device class>)"
  fi
done

# json_query EXPRESSION [ARG...] < JSON: a Python expression over the document `d` (the
# arguments in `a`); a list is printed one item a line.
json_query() {
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "null")
a = sys.argv[2:]
r = eval(sys.argv[1])
print("\n".join(map(str, r)) if isinstance(r, (list, tuple)) else ("" if r is None else r))
' "$@"
}

# apply_specs KEY FILE SERVICE...: `ceph orch apply -i FILE` when FILE differs from what was
# last applied under KEY, or one of the services is missing from the cluster.
apply_specs() {
  local key=$1 file=$2 record digest listed service missing=0
  shift 2
  record=/var/lib/deepseek/applied/${key}
  digest=$(file_digest "${file}")
  listed=$(ceph orch ls --format json | json_query '[s["service_name"] for s in d]')
  for service in "$@"; do
    grep -qxF -- "${service}" <<<"${listed}" || missing=1
  done
  if ((missing)) || [[ ! -f "${record}" || "$(<"${record}")" != "${digest}" ]]; then
    tool_output ceph orch apply -i "${file}"
    note_change
    printf '%s\n' "${digest}" | write_if_changed "${record}" 0644 >/dev/null
  fi
}

specs=/etc/deepseek/ceph/cluster-services.yaml
printf '%s\n' "${SERVICE_SPECS}" | write_if_changed "${specs}" 0600
apply_specs ceph-cluster-services "${specs}" "${services[@]}"

deadline=$((SECONDS + OSD_READY_SECONDS))
while :; do
  up=$(ceph osd stat --format json | json_query 'd["num_up_osds"]')
  if ((up >= OSDS_EXPECTED)); then
    break
  fi
  if ((SECONDS >= deadline)); then
    say "ceph-osds: ${up} of ${OSDS_EXPECTED} OSDs up after ${OSD_READY_SECONDS}s: a declared disk is missing, not empty, or failed. \`ceph orch device ls\` lists what cephadm sees on each host (a disk holding data is left alone: wipe it with \`ceph orch device zap <host> <path> --force\` if it holds nothing), \`ceph orch ps --daemon-type osd\` the OSDs" >&2
    exit 1
  fi
  sleep 10
done
say "ceph-osds: ${up} OSDs up (${OSDS_EXPECTED} declared)"
result_field osdsExpected "${OSDS_EXPECTED}"
result_field osdsUp "${up}"
result_emit ceph-osds
