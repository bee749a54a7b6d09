# Tributary: two commands for a newcomer.
#   make dev    the whole stack locally (emulators, sandbox vendors, functions) and a first sync
#   make test   install, start the emulators, run every test, stop them
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CHECKOV := .venv-checkov/bin/checkov

.PHONY: dev test unit bench bundles openapi manifest rules indexes firestore static clean

$(STAMP): requirements/runtime.txt requirements/dev.txt
	@$(PYTHON) scripts/check_prereqs.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

# checkov pins conflict with ours, so it lives in its own virtualenv.
$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov==3.3.30

dev: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.stack $(ARGS)

# The console's browser tests drive Debian's chromium; installed here when missing.
chromium:
	@bash scripts/ensure_chromium.sh

# Two pytest-xdist workers, each test file on one of them (its module's stack started once):
# most of the suite waits on sandboxes' rate limits and the emulators, so on 2 cores the run
# takes about half the time. XDIST= runs it in one process.
XDIST ?= -n 2 --dist loadfile
test: $(STAMP) $(CHECKOV) chromium
	PYTHONPATH=. $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

unit: $(STAMP)
	PYTHONPATH=. $(PY) -m pytest tests/unit -q

# #16's figures as one table (target, measured, pass/fail); ARGS="--quick" for smaller data sets
bench: $(STAMP)
	PYTHONPATH=. $(PY) -m bench.table $(ARGS)
	PYTHONPATH=. $(PY) -m bench.webhooks

bundles: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.bundles

# The console for Firebase Hosting: build/console (Firebase's SDK from npm, vendored).
console: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.console_build $(ARGS)

openapi: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.openapi

manifest: $(STAMP) firestore
	PYTHONPATH=. $(PY) -m devtools.deploy_manifest

# firestore.rules and firestore.indexes.json from the connectors' declarations (one generator)
firestore rules indexes: $(STAMP)
	PYTHONPATH=. $(PY) -m devtools.firestore_config

static: $(STAMP) $(CHECKOV)
	PYTHONPATH=. $(PY) -m devtools.deploy_manifest --check
	PYTHONPATH=. $(PY) -m devtools.firestore_config --check
	PYTHONPATH=. $(PY) -m pytest tests/deploy -q

clean:
	rm -rf $(VENV) .venv-checkov .local build
