PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml engine/_kernel.c  # the install builds the batch kernel
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

DEMO := policies/demo
OUT := build/demo

run: $(STAMP)
	@mkdir -p $(OUT) && rm -f $(OUT)/engine.duckdb
	$(BIN)/rota check policies/*.rota $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot
	$(BIN)/rota batch $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot --contacts $(DEMO)/contacts.jsonl \
		--out $(OUT)/decisions.csv --now 2026-11-25T10:00:00Z
	$(BIN)/rota replay $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot --events $(DEMO)/events.jsonl \
		--out $(OUT)/replay.jsonl --db $(OUT)/engine.duckdb
	$(BIN)/rota log --db $(OUT)/engine.duckdb --outcome timed_out
	$(BIN)/rota verify $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot
	$(BIN)/rota simulate $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot --report $(OUT)/simulation.html
	@rm -f $(OUT)/service.duckdb
	$(BIN)/rota serve --db $(OUT)/service.duckdb --policy $(DEMO)/desk.rota --snapshot $(DEMO)/snapshot

test: $(STAMP) lint
	$(BIN)/rota test policies/ --min-coverage 100
	$(BIN)/python -m pytest

# ruff (lint and format) over the whole tree, mypy over the packages. mypy reads
# the packages as installed (dsl/ is rota.dsl, ...) from a tree of links.
TYPECHECK := build/typecheck/rota
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	@for entry in rota/*.py rota/cli rota/diff rota/explain rota/policytest rota/testing rota/service rota/simulate; do ln -s "$(CURDIR)/$$entry" $(TYPECHECK)/; done
	@for package in dsl engine storage; do ln -s "$(CURDIR)/$$package" $(TYPECHECK)/$$package; done
	$(BIN)/mypy $(TYPECHECK)

bench: $(STAMP)
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/replay.py --reassign
	$(BIN)/python bench/history.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/diff.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) build
