# Passerelle: the two set-up commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions, with their hashes, of everything `make install` puts in .venv: the
# dependencies, the `test` extra and the build's own (setuptools, mypy). `make lock` writes it.
LOCK := requirements.lock

.PHONY: install lock run test test-fast lint imports audit typecheck pytest bench fuzz crash-test soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The hot path is compiled with mypyc (setup.py): editing one of its sources rebuilds it.
HOT_SOURCES := setup.py mypyc.ini $(wildcard hub/hl7/*.py certification/*.py mappings/*.py hub/store/*.py) \
	hub/governance/journal.py hub/engine/entries.py

# Every requirement of pyproject.toml (the `test` extra too) must be met by what the lock installed:
# a dependency added to pyproject.toml without `make lock` stops the install here.
define CHECK_LOCK
import sys
from importlib.metadata import PackageNotFoundError, requires, version
from packaging.requirements import Requirement
stale = []
for req in map(Requirement, requires("passerelle") or []):
    if req.marker and not req.marker.evaluate({"extra": "test"}):
        continue
    try:
        found = version(req.name)
    except PackageNotFoundError:
        found = None
    if found is None or not req.specifier.contains(found, prereleases=True):
        stale.append(f"{req} (locked: {found or 'absent'})")
if stale:
    sys.exit("$(LOCK) does not meet pyproject.toml; run `make lock`:\n  " + "\n  ".join(stale))
endef
export CHECK_LOCK

# The locked versions first (hashes checked), then the project from the tree without resolving
# again; no build isolation, so the mypyc build runs with the locked setuptools and mypy.
$(STAMP): $(BIN)/python $(LOCK) pyproject.toml hub/__init__.py $(HOT_SOURCES)
	find hub channels mappings certification -name '*.so' -delete  # a module dropped from setup.py
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -c "$$CHECK_LOCK"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the hub with its test tools, at the versions of requirements.lock

# pip-compile keeps the versions already locked unless told otherwise: `make lock LOCK_ARGS=--upgrade`
# moves everything to the newest, `LOCK_ARGS="--upgrade-package cryptography"` one package.
# PASSERELLE_PURE: reading the build's requirements must not compile the hot path.
lock: $(BIN)/python  ## regenerate requirements.lock from pyproject.toml (after any change of dependencies)
	test -x $(BIN)/pip-compile || $(BIN)/pip install -q pip-tools
	PASSERELLE_PURE=1 CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile -q --extra test --build-deps-for editable --allow-unsafe \
		--strip-extras --generate-hashes --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		-o $(LOCK) pyproject.toml

run: install  ## create the SQLite schema if needed and serve config.yaml
	$(BIN)/passerelle db upgrade --config config.yaml
	$(BIN)/passerelle serve --config config.yaml

lint: install
	$(BIN)/ruff check hub channels mappings certification tests bench docs/examples setup.py
	$(BIN)/ruff format --check hub channels mappings certification tests bench docs/examples setup.py

imports: install  ## the layer contracts of [tool.importlinter] in pyproject.toml
	$(BIN)/lint-imports

# pip-audit asks PyPI's JSON API, one request per locked version, for its advisories. Where that feed
# does not answer (a mirror or proxy that serves the package pages only), pip-audit skips every
# package and still prints "No known vulnerabilities found"; so a probe on one version first, and a
# loud NOT RUN when the feed is out of reach (AUDIT_REQUIRED=1 makes that a failure).
# --strict: a locked package that could not be audited fails the audit.
AUDIT := $(BIN)/pip-audit --progress-spinner off --disable-pip
AUDIT_OFFLINE := could not be audited|Could not connect
audit: install  ## known vulnerabilities of the locked versions (pip-audit)
	@probe=$$(mktemp) && echo 'pip==24.0' > $$probe; \
	if $(AUDIT) --strict --no-deps -r $$probe 2>&1 | grep -qE '$(AUDIT_OFFLINE)'; then \
		rm -f $$probe; echo "pip-audit: NOT RUN: its vulnerability feed does not answer from here"; \
		test -z "$(AUDIT_REQUIRED)"; \
	else \
		rm -f $$probe; echo "$(AUDIT) --strict --require-hashes -r $(LOCK)"; \
		$(AUDIT) --strict --require-hashes -r $(LOCK); \
	fi

typecheck: install
	$(BIN)/mypy hub channels mappings certification
	MYPYPATH=tests/support $(BIN)/mypy --explicit-package-bases tests bench docs/examples  # tests/support holds helpers imported by bare name

pytest: install
	$(BIN)/pytest -q

test-fast: install  ## the unit tests only (not the `slow` end-to-end ones): about 90 s on 2 cores
	$(BIN)/pytest -q -m "not slow"

test: lint typecheck imports audit pytest  ## ruff, mypy --strict, import-linter, pip-audit and pytest (PostgreSQL too when PASSERELLE_TEST_PG is set)

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
