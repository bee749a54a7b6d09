# Tributary: two commands for a newcomer.
#   make dev    the whole stack locally (emulators, sandbox vendors, functions) and a first sync
#   make test   install, start the emulators, run every test, stop them
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test unit bench bundles openapi manifest static clean

$(STAMP): requirements/runtime.txt requirements/dev.txt
	@$(PYTHON) scripts/check_prereqs.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

dev: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.stack $(ARGS)

test: $(STAMP)
	PYTHONPATH=. $(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	PYTHONPATH=. $(PY) -m pytest tests/unit -q

bench: $(STAMP)
	PYTHONPATH=. $(PY) -m bench.cold_start
	PYTHONPATH=. $(PY) -m bench.full_sync $(ARGS)

bundles: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.bundles

openapi: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.openapi

manifest: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.deploy_manifest

clean:
	rm -rf $(VENV) .local build
