# deepseek-onprem: the user-facing commands. Everything runs offline (no Pulumi CLI needed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= prod
STAMP := $(VENV)/.setup-stamp
MAKEFLAGS += --no-print-directory

DIR ?= out
VALIDATORS_VENV := .venv-validators
VALIDATORS_STAMP := $(VALIDATORS_VENV)/.setup-stamp

.PHONY: setup tools validators preview snapshot manifests policy policy-config bench check test lint engine engine-test

# Setup is idempotent: it reinstalls only when a requirements file changed.
setup: $(STAMP)
$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r policies/requirements.txt >&2
	@touch $(STAMP)

preview: setup  ## evaluate prod and dr offline: resource trees, outputs, policy summary
	@$(PY) -m offline preview prod dr $(if $(AGAINST),--against $(AGAINST))

policy: setup  ## the policy pack over STACK through its real analyzer server; fails on a mandatory violation
	@$(PY) -m offline policy $(STACK)

policy-config: setup  ## regenerate policies/config/<stack>.json (hand-owned bounds + stack configs) and the README rule table
	@$(PY) -m tools.policy_config --readme prod dr

snapshot: setup  ## the stable JSON graph of STACK on stdout (nothing else)
	@$(PY) -m offline snapshot $(STACK)

manifests: setup  ## every plain Kubernetes object of STACK as YAML under DIR/STACK/
	@$(PY) -m offline manifests $(STACK) $(DIR)

# checkov and tritonclient pin packages that conflict with the Pulumi SDK: own virtualenv.
validators: $(VALIDATORS_STAMP)
$(VALIDATORS_STAMP): requirements-validators.txt
	@test -x $(VALIDATORS_VENV)/bin/python || $(PYTHON) -m venv $(VALIDATORS_VENV) >&2
	@$(VALIDATORS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-validators.txt >&2
	@touch $(VALIDATORS_STAMP)

bench: setup  ## time 100- and 1,000-host inventories against the SDK's floor, and the timings tests do not assert
	@$(PY) -m offline bench --hosts 100 1000

lint: setup  ## ruff lint and format check
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

tools:  ## Debian packages the tests use (shellcheck, fio, iperf3, ...)
	@bash tools/system-packages.sh

# Two lanes. check: minutes, in process, no external tool (run it before every commit).
# test: lint and every test, external validators, real processes and host sandboxes included.
check: lint  ## the quick lane: lint, format check, pure and graph tests (in process, minutes)
	@$(PY) -m pytest -q tests/unit tests/program

test: lint tools validators  ## the whole suite but the real engine: lint, format check and every test
	@$(PY) -m pytest -q --ignore=tests/engine

# The real engine: the Pulumi CLI built from its Go modules (tools/engine/versions.env pins it)
# into a cache outside the repo, reused while the pins are unchanged.
engine:  ## build (or reuse) the real Pulumi CLI; status.json in its folder says what could not be built and why
	@bash tools/engine/build.sh >/dev/null

engine-test: setup engine  ## the real-engine lane: the built CLI on the project's own Pulumi files
	@DEEPSEEK_REQUIRE_ENGINE=1 $(PY) -m pytest -q tests/engine
