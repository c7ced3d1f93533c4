# Passerelle: the two set-up commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest bench fuzz crash-test soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The hot path is compiled with mypyc (setup.py): editing one of its sources rebuilds it.
HOT_SOURCES := setup.py mypyc.ini $(wildcard hub/hl7/*.py certification/*.py mappings/*.py)

$(STAMP): $(BIN)/python pyproject.toml $(HOT_SOURCES)
	find hub channels mappings certification -name '*.so' -delete  # a module dropped from setup.py
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the hub with its test tools

run: install  ## create the SQLite schema if needed and serve config.yaml
	$(BIN)/passerelle db upgrade --config config.yaml
	$(BIN)/passerelle serve --config config.yaml

lint: install
	$(BIN)/ruff check hub channels mappings certification tests bench setup.py
	$(BIN)/ruff format --check hub channels mappings certification tests bench setup.py

typecheck: install
	$(BIN)/mypy hub channels mappings certification

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest  ## ruff, mypy --strict and pytest (PostgreSQL too when PASSERELLE_TEST_PG is set)

bench: install  ## parse and end-to-end benchmarks, ours beside hl7apy and python-hl7
	$(BIN)/python -m bench

fuzz: install  ## long fuzzing: hypothesis properties at 5,000 examples, then 10 minutes of atheris
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/fuzz/test_properties.py
	mkdir -p var/fuzz-corpus && cp ../shared/samples/hl7v2/*/*.hl7 var/fuzz-corpus/ 2>/dev/null || true
	$(BIN)/python tests/fuzz/atheris_parser.py -max_total_time=600 -artifact_prefix=var/ var/fuzz-corpus

# PostgreSQL is tested when PASSERELLE_TEST_PG names it, or when the machine's default answers.
PG_DEFAULT := postgresql+psycopg://postgres@127.0.0.1:5432/test
PG_URL = $${PASSERELLE_TEST_PG:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo $(PG_DEFAULT))}

crash-test: install  ## the long crash test: 100,000 messages, 20 SIGKILLs, on SQLite (and PostgreSQL if reachable)
	PASSERELLE_TEST_PG="$(PG_URL)" PASSERELLE_CRASH_MESSAGES=100000 PASSERELLE_CRASH_KILLS=20 \
		PASSERELLE_CRASH_SECONDS=5400 $(BIN)/pytest -q -rs tests/e2e/test_crash.py

soak: install  ## 30 minutes of steady load on a durable hub; prints RSS at start and end
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) var/*.db* .pytest_cache .mypy_cache .ruff_cache build
	find hub channels mappings certification -name '*.so' -delete
