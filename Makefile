# The two commands a newcomer needs: `make run` and `make test`. Everything else is for us.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` installs what the server needs, the rest adds the dev extras (pytest,
# mypy, Playwright, …), and neither undoes the other.
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8080
# pytest-xdist workers; the suite is I/O bound, so two per core pays off.
WORKERS ?= 4

.PHONY: run test lint bench soak demo fmt clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The dev extras include the runtime, so this stamp stands for both.
$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME)

run: $(RUNTIME)  ## create .venv, install warroom (runtime only), start it on SQLite at http://127.0.0.1:8080
	$(BIN)/warroom serve --host $(HOST) --port $(PORT)

test: $(DEV)  ## install dev dependencies and run the whole suite (SQLite and PostgreSQL)
	$(BIN)/pytest -n $(WORKERS) $(PYTEST_ARGS)

lint: $(DEV)  ## ruff, mypy (strict on src/) and the import contracts (docs/adr/006)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

soak: $(DEV)  ## 30 minutes under load: memory, files, latency (docs/benchmarks.md)
	$(BIN)/python -m bench.soak

bench: $(DEV)  ## benchmarks; results go to docs/benchmarks.md
	$(BIN)/python -m bench.cli
	$(BIN)/python -m bench.incidents
	$(BIN)/python -m bench.access
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.live
	$(BIN)/python -m bench.oncall
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.storm --floor --client raw --rounds 3
	$(BIN)/python -m bench.index_cost
	$(BIN)/python -m bench.heartbeats
	$(BIN)/python -m bench.related
	$(BIN)/python -m bench.escalation
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.evidence
	$(BIN)/python -m bench.paging
	$(BIN)/python -m bench.delivery

demo: $(RUNTIME)  ## replay the runbook's two examples into the local database
	$(BIN)/warroom demo

fmt: $(DEV)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
