# The two commands of the README:  `make demo`  (set up, demo data, serve with the scheduler)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install i18n clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/greenshield init-db
	$(BIN)/greenshield seed-demo
	$(BIN)/greenshield serve --plain-http --with-scheduler --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

i18n: install
	$(BIN)/python scripts/i18n.py --check

clean:
	rm -rf $(VENV) instance .pytest_cache
