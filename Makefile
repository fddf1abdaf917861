# The team's vocabulary: run, test, lint, demo, package, bench, reliability. Every target creates .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# chalice builds for the Lambda runtime of the Python it runs under, and picks the compiled
# wheels (pydantic-core, …) for it: packaging runs in its own virtualenv on Python 3.13, the
# functions' runtime. The default finds python3.13 on PATH (a pyenv shim needs the version
# named); elsewhere: make package PACKAGE_PYTHON=/path/to/python3.13.
PACKAGE_PYTHON ?= $(shell PYENV_VERSION=3.13 python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)
PACKAGE_VENV := .venv-package
PACKAGE_STAMP := $(PACKAGE_VENV)/.installed

.PHONY: run test lint format demo demo-sla package package-venv bench reliability clean

$(STAMP): pyproject.toml requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed: make PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m local_stack

demo: $(STAMP)
	$(PY) -m local_stack.demo

# Against a stack started with THREADLINE_SLA_MINUTE_SECONDS=1 make run.
demo-sla: $(STAMP)
	$(PY) -m local_stack.demo --sla

# One worker a core; an e2e file's tests stay together on one worker (they share its local
# stack), every other test goes to whichever worker is free (tests/conftest.py).
test: $(STAMP)
	$(PY) -m pytest -n auto

# Nothing lost, nothing doubled, under duplicates and faults; figures into docs/RELIABILITY.md.
# The issue's 5,000 messages across 200 conversations, and 1,000 in each fault scenario:
# about an hour on 2 cores (one process, emulator included).
RELIABILITY_ARGS ?= --messages 5000 --conversations 200 --fault-messages 1000 --fault-conversations 200
reliability: $(STAMP)
	$(PY) -m reliability $(RELIABILITY_ARGS) --doc

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app.py chalicelib local_stack threadline_cli tests reliability bench
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(PACKAGE_STAMP): pyproject.toml requirements.txt
	@test -n "$(PACKAGE_PYTHON)" || { echo "Python 3.13 is needed to package for python3.13: make package PACKAGE_PYTHON=/path/to/python3.13"; exit 1; }
	@$(PACKAGE_PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), "PACKAGE_PYTHON must be Python 3.13"'
	$(PACKAGE_PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PACKAGE_VENV)/bin/python -m pip install --quiet "$$(grep -o 'chalice==[0-9.]*' pyproject.toml)" -r requirements.txt
	@touch $(PACKAGE_STAMP)

# The virtualenv chalice packages from (tests/e2e/test_package.py uses it too).
package-venv: $(PACKAGE_STAMP)

# The bundle keeps the AWS SDK's models of the services the functions call, no others, and
# carries the bytecode of what a cold start imports, as far as its budget allows.
PACKAGE_OUT ?= out
package: $(PACKAGE_STAMP) $(STAMP)
	rm -rf $(PACKAGE_OUT)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(PACKAGE_VENV)/bin/chalice package \
		--stage dev --merge-template infra/template.json $(PACKAGE_OUT)
	$(PY) -m threadline_cli.bundle $(PACKAGE_OUT)/deployment.zip
	$(PY) -m threadline_cli.bytecode $(PACKAGE_OUT)/deployment.zip $(PACKAGE_VENV)/bin/python

# Figures against their floors, in one run (a few minutes): bench/results.json and a table.
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(PACKAGE_VENV) out build *.egg-info
