# deepseek-onprem: the user-facing commands. Everything runs offline (no Pulumi CLI needed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= prod
STAMP := $(VENV)/.setup-stamp
MAKEFLAGS += --no-print-directory

DIR ?= out
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.setup-stamp

.PHONY: setup tools checkov preview snapshot manifests bench test lint

# Setup is idempotent: it reinstalls only when a requirements file changed.
setup: $(STAMP)
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@touch $(STAMP)

preview: setup  ## evaluate prod and dr offline and print their resource trees
	@$(PY) -m offline preview prod dr

snapshot: setup  ## the stable JSON graph of STACK on stdout (nothing else)
	@$(PY) -m offline snapshot $(STACK)

manifests: setup  ## every plain Kubernetes object of STACK as YAML under DIR/STACK/
	@$(PY) -m offline manifests $(STACK) $(DIR)

# checkov pins packages that conflict with the Pulumi SDK: it gets a virtualenv of its own.
checkov: $(CHECKOV_STAMP)
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV) >&2
	@$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt >&2
	@touch $(CHECKOV_STAMP)

bench: setup  ## time 100- and 1,000-host inventories against the SDK's floor
	@$(PY) -m offline bench --hosts 100 1000

lint: setup
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

tools:  ## Debian packages the tests use (shellcheck, fio, iperf3, ...)
	@bash tools/system-packages.sh

test: setup tools checkov  ## the whole test suite (what CI runs)
	@$(PY) -m pytest -q
