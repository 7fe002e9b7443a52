# Every command a person or CI runs. `make run` starts knflow, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT_BASE=9000`: the broker on 9000, the functions on 9001-9005.
PORT_BASE ?= 8080

.PHONY: install install-test-tools run test lint fmt typecheck check migrate schema images deploy bench chaos clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock src/knflow/graphql/graphiql-assets.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m knflow.deploy.graphiql_assets
	touch $(STAMP)

# The GraphiQL page test needs a headless browser: Debian's chromium (as root).
install-test-tools:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

run: install
	$(BIN)/knflow dev --workflows workflows --port-base $(PORT_BASE)

test: install lint
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests functions bench chaos
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format src tests functions bench chaos
	$(BIN)/ruff check --fix src tests functions bench chaos

typecheck: install
	$(BIN)/mypy

check: test typecheck

migrate: install
	$(BIN)/knflow migrate

schema: install
	$(BIN)/knflow schema

# Build and tag each function image with docker, podman or buildah (REGISTRY, TAG optional).
images: install
	$(BIN)/python -m knflow.deploy.images build --registry "$(REGISTRY)" --tag "$(or $(TAG),latest)"

# Push the images, pin their digests in functions/*/func.yaml and run `kn func deploy`.
deploy: install
	$(BIN)/python -m knflow.deploy.images deploy --registry "$(REGISTRY)" --tag "$(or $(TAG),latest)"

# The side-by-side suite of issue 11 (README's Performance section): knflow next to DBOS and raw floors.
# QUICK=1 runs fewer rounds and smaller sizes; ONLY=p1,p3 picks measures; MARKDOWN=FILE
# also writes the table as Markdown (the README's).
BENCH_STAMP := $(VENV)/.bench-installed

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY)) $(if $(MARKDOWN),--markdown $(MARKDOWN))

$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -c requirements-bench.lock -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Faults against `knflow dev` (chaos/): kill -9 of each function, duplicated, shuffled and
# dropped deliveries, a PostgreSQL restart, on a throwaway server of its own. Not part of
# `make test`; exits 1 on any loss. ONLY="kill -9 notify" picks a scenario, MARKDOWN=FILE also
# writes the table (the README's).
chaos: install
	$(BIN)/python -m chaos $(if $(ONLY),--only "$(ONLY)") $(if $(MARKDOWN),--markdown $(MARKDOWN))

clean:
	rm -rf $(VENV) .pgdata
