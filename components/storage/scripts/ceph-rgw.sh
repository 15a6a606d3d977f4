#!/usr/bin/env bash
# The site's S3 object store: RGW on every storage host and cephadm's ingress in front of it
# (keepalived holding the site's RGW virtual IP, haproxy there), as cephadm service
# specifications (RGW_SPECS, YAML from components/storage/ceph_spec.py) applied with
# `ceph orch apply -i` on the first storage host whenever they differ from what this step
# last applied here, or a service of SERVICES is missing from `ceph orch ls`. haproxy's and
# keepalived's images come from the internal registry (HAPROXY_IMAGE, KEEPALIVED_IMAGE, set
# as cephadm's `container_image_*` before the ingress is deployed). RGW reads its zone's
# placement targets (ceph-pools adds the backups') when it starts: a running RGW is restarted
# (`ceph orch restart`) when they changed since it last started. cephadm deploys them in
# the background: the step waits, up to RGW_READY_SECONDS, until RGW_ENDPOINT answers S3.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${RGW_SPECS:?RGW_SPECS is required}"
: "${SERVICES:?SERVICES is required}"
: "${RGW_ENDPOINT:?RGW_ENDPOINT is required}"
: "${HAPROXY_IMAGE:?HAPROXY_IMAGE is required}"
: "${KEEPALIVED_IMAGE:?KEEPALIVED_IMAGE is required}"
: "${RGW_READY_SECONDS:=900}"

for variable in HAPROXY_IMAGE KEEPALIVED_IMAGE; do
  if [[ ! "${!variable}" =~ ^[a-z0-9.:/_-]+:[A-Za-z0-9._-]+$ ]]; then
    refuse ceph-rgw "${variable}" "${!variable}" "an image reference (a-z 0-9 . : / _ -, a tag)"
  fi
done
if [[ ! "${RGW_ENDPOINT}" =~ ^http://[0-9.]+:[0-9]{1,5}$ ]]; then
  refuse ceph-rgw RGW_ENDPOINT "${RGW_ENDPOINT}" "http://<virtual IP>:<port>"
fi
if [[ ! "${RGW_READY_SECONDS}" =~ ^[1-9][0-9]{0,5}$ ]]; then
  refuse ceph-rgw RGW_READY_SECONDS "${RGW_READY_SECONDS}" "a positive number of seconds"
fi
# Only the RGW and its ingress: this step never touches another service.
types=$(sed -n 's/^service_type:[[:space:]]*//p' <<<"${RGW_SPECS}" | sort -u)
if [[ -z "${types}" ]] || grep -qvxE 'rgw|ingress' <<<"${types}"; then
  refuse ceph-rgw RGW_SPECS "${types//$'\n'/ }" "service specifications of type rgw and ingress only"
fi
read -r -d '' -a services <<<"${SERVICES}" || true
for service in "${services[@]}"; do
  if [[ ! "${service}" =~ ^(rgw|ingress\.rgw)\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
    refuse ceph-rgw SERVICES "${service}" "a service name (rgw.<site>, ingress.rgw.<site>)"
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

for component in haproxy keepalived; do
  option=mgr/cephadm/container_image_${component}
  image=HAPROXY_IMAGE
  [[ "${component}" == haproxy ]] || image=KEEPALIVED_IMAGE
  if [[ "$(ceph config get mgr "${option}")" != "${!image}" ]]; then
    tool_output ceph config set mgr "${option}" "${!image}"
    note_change
  fi
done

# The zonegroup's and zone's placement targets, as RGW reads them at start.
placements() {
  radosgw-admin zonegroup placement list
  radosgw-admin zone placement list
}
rgw_service=""
for service in "${services[@]}"; do
  [[ "${service}" != rgw.* ]] || rgw_service=${service}
done
running=$(ceph orch ls --format json | json_query '[s["service_name"] for s in d]')

specs=/etc/deepseek/ceph/rgw-services.yaml
printf '%s\n' "${RGW_SPECS}" | write_if_changed "${specs}" 0600
apply_specs ceph-rgw-services "${specs}" "${services[@]}"

# A service applied just now starts with the placements as they are; one that ran before is
# restarted when they changed since it last started (the record is written after the
# restart, so a run cut short between the two restarts it again).
record=/var/lib/deepseek/applied/ceph-rgw-placements
placed=$(placements | sha256sum | cut -d' ' -f1)
if [[ -n "${rgw_service}" && (! -f "${record}" || "$(<"${record}")" != "${placed}") ]]; then
  if grep -qxF -- "${rgw_service}" <<<"${running}"; then
    tool_output ceph orch restart "${rgw_service}"
    say "ceph-rgw: restarted ${rgw_service}: its zone's placement targets changed"
    note_change
  fi
  printf '%s\n' "${placed}" | write_if_changed "${record}" 0644 >/dev/null
fi

deadline=$((SECONDS + RGW_READY_SECONDS))
until code=$(curl --silent --output /dev/null --max-time 5 --write-out '%{http_code}' "${RGW_ENDPOINT}/") &&
  [[ "${code}" == 200 ]]; do
  if ((SECONDS >= deadline)); then
    say "ceph-rgw: ${RGW_ENDPOINT} did not answer S3 within ${RGW_READY_SECONDS}s (last: ${code:-no answer}); \`ceph orch ps --daemon-type rgw\` and \`ceph orch ps --daemon-type haproxy\` show the daemons cephadm deployed" >&2
    exit 1
  fi
  sleep 5
done
say "ceph-rgw: S3 answers at ${RGW_ENDPOINT}"
result_field endpoint "${RGW_ENDPOINT}"
result_emit ceph-rgw
