# The two quick-start commands: `make demo` (set up, build the demo DB, open the TUI) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint bench validated clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/cstui demo

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check cstui screens evaluators sample_data tests bench

bench: setup
	$(BIN)/python bench/run_all.py

# Re-measure the evaluators on the shipped validation set; reports show its held-out figures (refined by a run's labels).
V := tests/data/validation
validated: setup
	$(BIN)/cstui validate --sessions $(V)/taubench/gpt-4o-airline-even-tasks.json $(V)/taubench/late-escalations.json \
		$(V)/sgd/dev.jsonl $(V)/sgd/held-out.jsonl $(V)/maia/pt_br_client_02_a.json --labels $(V)/taubench/labels-hand.jsonl \
		$(V)/taubench/labels-derived.jsonl $(V)/sgd/labels-dev.jsonl $(V)/sgd/labels-held-out.jsonl \
		$(V)/sgd/labels-hand.jsonl --by corpus --save-summary cstui/validated.json

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
