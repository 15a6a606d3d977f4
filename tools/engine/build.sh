#!/usr/bin/env bash
# `make engine`: builds the real Pulumi engine from Go modules into a cache outside the repo.
#
#   tools/engine/build.sh            build, or reuse a build made from the same pins; prints its folder
#   tools/engine/build.sh --locate   print the folder of a finished build of these pins; exit 1 if none
#
# The cache key is the hash of versions.env and of this script: a changed pin or recipe builds
# afresh beside the old build. The folder holds bin/pulumi, the Go module and build caches of
# the build (so its download size can be measured), and status.json: one entry per part of the
# engine (CLI, language host, providers) with "built" or "blocked" and, for a blocked one, the
# Go command's own words for why. A part that cannot be built does not stop the parts before it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091  # versions.env holds KEY=VALUE lines only
source "${here}/versions.env"

cache_root=${DEEPSEEK_ENGINE_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/deepseek-onprem/engine}
key=$(cat "${here}/versions.env" "${here}/build.sh" | sha256sum | cut -c1-16)
dir="${cache_root}/${key}"

finished() { [[ -f "${dir}/status.json" && -x "${dir}/bin/pulumi" ]]; }

if [[ "${1:-}" == "--locate" ]]; then
  finished || { echo "no engine built from these pins under ${cache_root}; run: make engine" >&2; exit 1; }
  echo "${dir}"
  exit 0
fi
if finished; then
  echo "engine: reusing ${dir} (built from these pins)" >&2
  echo "${dir}"
  exit 0
fi

command -v go >/dev/null || { echo "engine: no Go toolchain on PATH (needs go ${PULUMI_CLI_VERSION} toolchain line or newer)" >&2; exit 1; }

# Everything the build downloads or compiles stays inside the cache (not the user's ~/go).
export GOMODCACHE="${cache_root}/gomodcache" GOCACHE="${cache_root}/gobuildcache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
work="${dir}.partial"
rm -rf "${work}"
mkdir -p "${work}/bin" "${work}/wrapper"
parts="${work}/parts.tsv"
: >"${parts}"
started=$(date +%s)
download_before=$(du -sb "${GOMODCACHE}/cache/download" 2>/dev/null | cut -f1 || echo 0)

record() { # name, module@version, status, detail
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ')" >>"${parts}"
  echo "engine: $1 ($2): $3${4:+: $4}" >&2
}

# Asks the proxy for a module; prints the go command's error text on failure.
probe() {
  local out
  if out=$(cd "${work}" && go mod download -json "$1" 2>&1); then
    return 0
  fi
  printf '%s' "${out}" | sed -n 's/.*"Error": "\(.*\)".*/\1/p' | head -1
  printf '%s' "${out}" | grep -v '"Error"' | grep -E '^go: ' | head -1
  return 1
}

# 1. The CLI. pkg/v3's go.mod has replace directives, which `go install module@version`
# refuses: a wrapper module of ours requires it and carries its replaces (all but the local
# ones, which point into the repository and are satisfied by requiring sdk/v3 at the same version).
cli="github.com/pulumi/pulumi/pkg/v3@${PULUMI_CLI_VERSION}"
if reason=$(probe "${cli}"); then
  pkg_mod=$(cd "${work}" && go mod download -json "${cli}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  go_line=$(grep -m1 '^go ' "${pkg_mod}")
  {
    echo "module deepseek.local/engine"
    echo
    echo "${go_line}"
    echo
    echo "require ("
    echo "	github.com/pulumi/pulumi/pkg/v3 ${PULUMI_CLI_VERSION}"
    echo "	github.com/pulumi/pulumi/sdk/v3 ${PULUMI_CLI_VERSION}"
    echo ")"
    echo
    grep '^replace ' "${pkg_mod}" | grep -v '=> \.' || true
  } >"${work}/wrapper/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"${work}/wrapper/tools.go"
  (
    cd "${work}/wrapper"
    go mod tidy >&2
    go build -trimpath \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_CLI_VERSION}" \
      -o "${work}/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  )
  record cli "${cli}" built "$("${work}/bin/pulumi" version)"
else
  record cli "${cli}" blocked "${reason}"
  echo "engine: the CLI cannot be built; nothing else is tried" >&2
  exit 1
fi

# 2. The Python language host: without it the CLI cannot run a Python program or policy pack.
# 3. The providers, at the versions the Python packages register with. Each one served would
# still need its recipe here (generated files such as schema-embed.json, shim modules); a part
# the proxy does not serve is recorded with the go command's reason.
for part in \
  "language-python ${PULUMI_LANGUAGE_PYTHON_MODULE}@${PULUMI_CLI_VERSION}" \
  "provider-command ${PROVIDER_COMMAND_MODULE}@v${PROVIDER_COMMAND_VERSION}" \
  "provider-random ${PROVIDER_RANDOM_MODULE}@v${PROVIDER_RANDOM_VERSION}" \
  "provider-kubernetes ${PROVIDER_KUBERNETES_MODULE}@v${PROVIDER_KUBERNETES_VERSION}"; do
  name=${part%% *}
  module=${part#* }
  if reason=$(probe "${module}"); then
    record "${name}" "${module}" blocked "served by the proxy, but this script has no build recipe for it yet"
  else
    record "${name}" "${module}" blocked "${reason:-the go command failed without saying why}"
  fi
done

# What the proxy sent (zips, go.mod and info files), not the unpacked tree.
download_after=$(du -sb "${GOMODCACHE}/cache/download" 2>/dev/null | cut -f1 || echo 0)
python3 - "${parts}" "${work}/status.json" "$(($(date +%s) - started))" "$((download_after - download_before))" "${key}" <<'PY'
import json
import sys

parts_path, out_path, seconds, downloaded, key = sys.argv[1:]
parts = []
for line in open(parts_path, encoding="utf-8"):
    name, module, status, detail = line.rstrip("\n").split("\t")
    parts.append({"name": name, "module": module, "status": status, "detail": detail})
status = {
    "key": key,
    "buildSeconds": int(seconds),
    "downloadedBytes": int(downloaded),
    "parts": parts,
}
with open(out_path, "w", encoding="utf-8") as out:
    json.dump(status, out, indent=2)
    out.write("\n")
PY
rm -rf "${dir}"
mv "${work}" "${dir}"
echo "engine: built in $(($(date +%s) - started)) s into ${dir}" >&2
echo "${dir}"
