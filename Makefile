# archiver — the two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean-demo venv system-deps smoke-install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,replay,serve]"
	touch $(STAMP)

venv: $(STAMP)

# Best-effort system packages for the tests that drive real tools (chromium for the
# manifest screenshot, wget for the peer benchmarks); needs root, skipped otherwise.
system-deps:
	@bash scripts/system-deps.sh

## Archive the sample article against the bundled offline web; print where the output is.
demo: $(STAMP)
	@bash scripts/demo.sh

## The package as a user gets it: wheel → fresh venv, NO extras → pip check → every
## command of the README's "Real use" and command reference against the offline web.
## Any traceback or exit 70 fails (a runtime import missing from `dependencies`).
smoke-install: $(STAMP)
	@bash scripts/smoke-install.sh

## Everything: the plain-install smoke stage, unit, fixture-web, daemon, fault and
## PostgreSQL tests, then ruff and the layer contract (.importlinter).
## The second run is the same suite with every archive stored in PostgreSQL (a fresh
## database per archive; skips, saying why, if no server answers).
test: $(STAMP) system-deps smoke-install
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q --store=postgresql -m "not slow and not postgres"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## ruff, and the layers of ARCHITECTURE.md as import-linter checks them (.importlinter):
## an import that goes up a layer, or sideways between engines, fails the build.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## The five benchmarks of issue 9 against wget and LinkChecker; prints the table and
## records it in bench/RESULTS.md (see bench/README.md; BENCH_ARGS=--quick for a short run).
bench: $(STAMP) system-deps
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean-demo:
	rm -rf archive.db archive.db-wal archive.db-shm .demo
	find warcs manifests -mindepth 1 ! -name .gitkeep -delete
