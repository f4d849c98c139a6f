PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rota check policies/*.rota
	$(BIN)/rota batch policies/demo/desk.rota --snapshot policies/demo/snapshot --contacts policies/demo/contacts.jsonl --out .venv/demo-decisions.csv --now 2026-11-25T10:00:00Z

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/batch.py

clean:
	rm -rf $(VENV)
