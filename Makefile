# The team's vocabulary: run, test, lint, demo, package, bench, reliability. Every target creates .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format demo demo-sla package bench reliability clean

$(STAMP): pyproject.toml requirements.txt requirements-aws.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed: make PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local

demo: $(STAMP)
	$(PY) -m chalicelib.local.demo

# Against a stack started with THREADLINE_SLA_MINUTE_SECONDS=1 make run.
demo-sla: $(STAMP)
	$(PY) -m chalicelib.local.demo --sla

test: $(STAMP)
	$(PY) -m pytest

# Nothing lost, nothing doubled, under duplicates and faults; figures into docs/RELIABILITY.md.
# The issue's 5,000 messages across 200 conversations, and 1,000 in each fault scenario:
# about an hour on 2 cores (one process, emulator included).
RELIABILITY_ARGS ?= --messages 5000 --conversations 200 --fault-messages 1000 --fault-conversations 200
reliability: $(STAMP)
	$(PY) -m reliability $(RELIABILITY_ARGS) --doc

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app.py chalicelib tests reliability bench
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

package: $(STAMP)
	rm -rf out
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package \
		--stage dev --merge-template infra/template.json out

# Figures against their floors, in one run (a few minutes): bench/results.json and a table.
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) out build *.egg-info
