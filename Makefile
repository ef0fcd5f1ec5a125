# Two commands on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint typecheck schema bench install clean down

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start embedded PostgreSQL/Redis (unless DATABASE_URL/REDIS_URL are set), migrate, serve API + worker.
up: install
	$(BIN)/stratus up

down: install
	$(BIN)/stratus down

## The whole suite (real PostgreSQL, Redis, git, OpenBao; embedded ones when the URLs are unset).
test: install lint typecheck contract-deps
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy app db jobs resolvers

## Regenerate the committed SDL from the code.
schema: install
	$(BIN)/stratus export-schema

bench: install
	$(BIN)/python -m bench.dashboard $(BENCH_ARGS)

.PHONY: bench-logs
## Live build logs to 1, 100 and 1,000 websocket subscribers: shared feed vs per-subscriber
## (~3 min; e.g. make bench-logs BENCH_LOGS_ARGS="--ns 1000 --duration 5 --rate 2000").
bench-logs: install
	$(BIN)/python -m bench.logs_fanout $(BENCH_LOGS_ARGS)

.PHONY: bench-deploy
## Deploy mutation -> first 200 through the router (static site, Python app; cold and warm) vs
## the same steps by hand, and the router's overhead (~2 min; e.g. BENCH_DEPLOY_ARGS="--rounds 3").
bench-deploy: install
	$(BIN)/python -m bench.deploy_bench $(BENCH_DEPLOY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: contract contract-deps

## Node tools of frontend-contract/ (graphql-codegen): `npm ci` when node_modules is missing or
## older than package-lock.json.
contract-deps:
	@cd frontend-contract && if [ ! -f node_modules/.package-lock.json ] || \
	  [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; fi

## Regenerate frontend-contract/generated/ (TypeScript types) from the committed SDL and operations.
contract: contract-deps
	cd frontend-contract && node node_modules/.bin/graphql-codegen --config codegen.yml --silent
