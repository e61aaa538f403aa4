# Theobroma Geo API deployment. `make demo` runs the whole lifecycle on the local emulator;
# `make test` runs the test suite. Both set themselves up on first use.
SHELL       := /bin/bash
PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
DEPLOYTOOL  := $(BIN)/deploytool
TERRAFORM   := $(BIN)/deploytool-terraform
STAMP       := $(VENV)/.installed
DEPLOY_STAMP := $(VENV)/.installed-deploy
# checkov pins its own HCL parser and older boto3: it lives in a venv of its own.
CHECKOV_VENV ?= .venv-checkov
CHECKOV     := $(CHECKOV_VENV)/bin/checkov

ENV         ?= staging
BRANCH      ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
# The tag CI pushes for this commit: the environment's image_tag_prefix (deploy.toml) + the full SHA.
IMAGE_TAG_PREFIX ?= $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("deploy.toml", "rb"))["environments"].get("$(ENV)", {}).get("image_tag_prefix", ""))' 2>/dev/null)
IMAGE_TAG   ?= $(IMAGE_TAG_PREFIX)$(shell git rev-parse HEAD 2>/dev/null)
# YES=1: no confirmation prompt (deploy and destroy pass --yes).
YES         ?=
YES_FLAG    := $(if $(filter 1 yes true,$(YES)),--yes)
PYTEST_ARGS ?=
# Three workers on two cores: much of the suite waits on the emulator's waiters, not the CPU.
TEST_WORKERS ?= 3

.PHONY: setup setup-deploy test lint fmt demo deploy plan destroy cleanup bench perf help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[emulator,test,dev,service]'
	$(DEPLOYTOOL) toolchain install
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3'
	touch $(STAMP)

setup: $(STAMP) ## Create the venv, install everything, lay out the offline provider mirror

# Deploy jobs (a cloud credential is live): deploytool's runtime only, every file checked against
# the hashes of requirements/deploy.txt; no test, dev or emulator packages, no offline mirror. No
# bytecode up front (an ephemeral runner imports a fraction of botocore; Python compiles what it imports).
# deploytool itself is built with the build backend of requirements/build.txt, hash-checked too
# (build isolation would fetch the newest setuptools unchecked).
$(DEPLOY_STAMP): requirements/deploy.txt requirements/build.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile --require-hashes --no-deps -r requirements/deploy.txt -r requirements/build.txt
	$(BIN)/pip install --quiet --no-compile --no-deps --no-build-isolation .
	touch $(DEPLOY_STAMP)

setup-deploy: $(DEPLOY_STAMP) ## Deploy jobs: the hash-locked runtime only (requirements/deploy.txt)

test: $(STAMP) ## Run the whole test suite (emulator, Terraform and all)
	CHECKOV=$(CURDIR)/$(CHECKOV) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, terraform fmt -check
	$(BIN)/ruff check deploytool tests tools $(wildcard bench)
	$(BIN)/mypy
	$(TERRAFORM) fmt -check -recursive modules
	$(TERRAFORM) fmt -check -recursive environments
	$(MAKE) -C examples/geo-api lint

fmt: $(STAMP) ## Format Python and HCL
	$(BIN)/ruff check --fix deploytool tests tools $(wildcard bench)
	$(TERRAFORM) fmt -recursive modules
	$(TERRAFORM) fmt -recursive environments

demo: $(STAMP) ## The whole lifecycle on the local AWS emulator, narrated
	@$(BIN)/python -c "import psycopg; c = psycopg.connect('$${DEPLOYTOOL_LOCAL_DATABASE_URL:-postgresql://geoapi:geoapi@127.0.0.1:5432/geoapi_test}', connect_timeout=3); assert c.execute('SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user').fetchone()[0]" 2>/dev/null \
	  || { echo "== no local PostgreSQL/PostGIS yet: installing it (.ci/install-postgis.sh)"; \
	       if [ "$$(id -u)" = 0 ]; then bash .ci/install-postgis.sh; else sudo bash .ci/install-postgis.sh; fi; }
	$(DEPLOYTOOL) demo

plan: $(STAMP) ## Plan ENV (BRANCH, IMAGE_TAG default to the current git branch and commit)
	$(DEPLOYTOOL) plan --env "$(ENV)" --branch "$(BRANCH)" --image-tag "$(IMAGE_TAG)"

deploy: $(STAMP) ## Deploy ENV (BRANCH, IMAGE_TAG default to the current git branch and commit; YES=1: no prompt)
	$(DEPLOYTOOL) deploy --env "$(ENV)" --branch "$(BRANCH)" --image-tag "$(IMAGE_TAG)" $(YES_FLAG)

destroy: $(STAMP) ## Destroy the branch environment of BRANCH in ENV (YES=1: no prompt)
	$(DEPLOYTOOL) destroy --env "$(ENV)" --branch "$(BRANCH)" $(YES_FLAG)

cleanup: $(STAMP) ## Destroy expired or orphaned branch environments of ENV
	$(DEPLOYTOOL) cleanup --env "$(ENV)"

perf: $(STAMP) ## Load test of the reference service against a seeded PostGIS (locust, loopback only)
	$(MAKE) -C examples/geo-api perf

bench: $(STAMP) ## Benchmarks on the emulator (prints tables; see bench/README.md)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
