# ComputeRails: every target sets itself up first (venv, npm packages, solc bridge), idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SOLC_VERSION := 0.8.37

ANVIL_DIR := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin

# py-solc-x (used by ape-solidity) finds `solc-v<version>` here: our bridge to npm's solc.
export SOLCX_BINARY_PATH := $(CURDIR)/.solc
# The real anvil binary (not npm's Node wrapper, which can orphan anvil on a hard kill).
export PATH := $(BIN):$(ANVIL_DIR):$(PATH)

# Python writes bytecode caches even where the environment says not to (PYTHONDONTWRITEBYTECODE=1,
# set on this machine; the installed libraries have pip's already): otherwise every process the
# tests and the demo start (oracle nodes, agents, keepers, CLI runs: about 200 in make test)
# compiles the computerails package from source again, 0.25 s each, and pytest rewrites every
# test module again in every worker. The caches go to __pycache__/ (ignored by git).
unexport PYTHONDONTWRITEBYTECODE

NETWORK_ANVIL := ethereum:local:foundry
# pytest-xdist workers for make test: one per core.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: help setup chromium compile demo demo-sim test test-steps test-fast lint audit bench slither deploy abi clean postgres

help:
	@echo "make demo     run the network as real processes (anvil, 5 agents, 3 oracle nodes, a keeper)"
	@echo "              with five scripted faults, and check the books; then the rewards flywheel"
	@echo "              (emissions fade as fees grow, washing loses money: reports/flywheel-*/flywheel.png)"
	@echo "make demo-sim the marketplace simulation (SDK calls in one process; scales to 10,000s of jobs)"
	@echo "make test     run the whole test suite (sets itself up first; prints its wall time)"
	@echo "make test-fast  the gates, the SDK and CLI suites, the stateful machine at smoke size (about a minute)"
	@echo "make lint     ruff, ruff format, mypy --strict, the Solidity format check"
	@echo "make bench    gas per operation against its floor, SDK throughput against raw web3.py"
	@echo "              (fresh local anvil; writes bench/results.json and the README's tables)"
	@echo "make deploy   deploy the protocol to a fresh local anvil and stop it again;"
	@echo "              RPC=http://127.0.0.1:8545 deploys to a devnet node you keep running"
	@echo "make audit    deep stateful property run (BUDGET=seconds for a time budget)"
	@echo "make slither  static analysis gate (also part of make test)"
	@echo "make abi      re-export contract ABIs into the SDK package"
	@echo "make setup    only install: .venv, npm packages, solc bridge"

setup: $(VENV)/.installed node_modules/.installed .solc/solc-v$(SOLC_VERSION)

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@test -x $(ANVIL_DIR)/anvil || { echo "anvil binary missing at $(ANVIL_DIR)"; exit 1; }
	@touch $@

# A small launcher file, not a symlink: make would date a symlink by the bridge it points to,
# which is older than node_modules/.installed, and rebuild it on every run. Written beside and
# renamed into place, so an old symlink is replaced, never written through.
.solc/solc-v$(SOLC_VERSION): tools/solc-bridge.js node_modules/.installed
	@mkdir -p .solc
	@printf '#!/bin/sh\n# py-solc-x runs this as solc-v$(SOLC_VERSION): the bridge to npm'"'"'s solc (make setup writes it)\nexec node "$$(dirname "$$0")/../tools/solc-bridge.js" "$$@"\n' > $@.tmp
	@chmod +x $@.tmp && mv -f $@.tmp $@
	@$@ --version | grep -q "Version: $(SOLC_VERSION)" || { echo "solc bridge does not answer $(SOLC_VERSION)"; exit 1; }

# Debian's Chromium, for the dashboard's browser tests (Playwright drives it) and the demo's
# dashboard screenshot: Playwright's own browser download cannot work offline. Installed as root
# when /usr/bin/chromium is missing; nothing to do when it is there.
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
		[ "$$(id -u)" = 0 ] || { echo "$(CHROMIUM) is missing: run make as root, or apt-get install chromium"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "chromium did not install at $(CHROMIUM)"; exit 1; }

# The whole suite: the gates (lint, slither), then every test once in parallel (one chain per
# worker: Ape's in-process chain for the contract suites, an anvil for the SDK, CLI, scripts,
# demo, gas budgets and the stateful harness). Prints its wall time after set-up.
# Ape recompiles a contract when its own file changes, not when a file it imports does (three
# errors added to libraries/Errors.sol left ProviderStaking's build, and so the exported-ABI
# check, stale on an existing checkout). So: everything again whenever any source, the compiler
# settings or the npm packages (OpenZeppelin) changed since the last full compile; else Ape's own
# incremental compile (a no-op when nothing changed). A fresh clone always compiles everything.
SOURCES_STAMP := .build/.sources.sha256
compile: setup
	@sum=$$(cat $$(find contracts -name '*.sol' | sort) ape-config.yaml package-lock.json | sha256sum | cut -c1-64); \
	if [ "$$(cat $(SOURCES_STAMP) 2>/dev/null)" = "$$sum" ]; then $(BIN)/ape compile; \
	else $(BIN)/ape compile --force && echo "$$sum" > $(SOURCES_STAMP); fi

# The indexer's tests (tests/indexer) and its bench run a real PostgreSQL server: Debian's
# postgresql package, installed here (as root) when no initdb is present; a no-op otherwise.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		[ "$$(id -u)" = 0 ] || { echo "PostgreSQL is missing: run as root: apt-get install -y postgresql"; exit 1; }; \
		echo "installing Debian's postgresql (the indexer's tests run a real server)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: setup postgres chromium
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory test-steps; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s after set-up ($$([ $$status -eq 0 ] && echo passed || echo FAILED))"; \
	exit $$status

# The compile, the lint gates and the slither gate side by side, CPU-bound jobs packed onto the
# cores (45 s -> 41 s on two cores from a forced compile: slither's own compile through the solc
# bridge ran alone on one core after the tests before); --output-sync keeps each one's output
# together. A gate that fails stops make test before the tests.
test-steps:
	@$(MAKE) --no-print-directory -j2 --output-sync=target compile lint slither
	$(BIN)/ape test tests -n $(WORKERS) --dist loadgroup -p no:cacheprovider --durations=25

# Quick feedback: the gates, the SDK and CLI suites (one anvil per worker), the error-coverage
# check and the stateful machine at smoke size (10 examples instead of the default).
test-fast: setup
	@$(MAKE) --no-print-directory -j2 --output-sync=target compile lint
	STATEFUL_EXAMPLES=10 $(BIN)/ape test tests/sdk tests/stateful tests/test_error_coverage.py -n $(WORKERS) \
		-p no:cacheprovider -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/.bin/prettier --check "contracts/**/*.sol"

audit: setup
	@$(MAKE) --no-print-directory compile
	$(BIN)/python -m tests.stateful.audit $(if $(BUDGET),--budget $(BUDGET)) $(ARGS)

bench: setup postgres
	@$(MAKE) --no-print-directory compile
	$(BIN)/python -m bench $(ARGS)

slither: setup
	$(BIN)/python tools/slither_gate.py

demo: setup chromium
	@$(MAKE) --no-print-directory compile
	$(BIN)/python -m computerails.sim.network $(ARGS)
	$(BIN)/python -m computerails.sim.flywheel

demo-sim: setup
	@$(MAKE) --no-print-directory compile
	$(BIN)/python -m computerails.sim $(ARGS)

abi: setup
	@$(MAKE) --no-print-directory compile
	$(BIN)/python tools/export_abi.py

# make deploy RPC=http://127.0.0.1:8545 deploys to a devnet node you keep running (its deployment
# file stays valid while it runs); without RPC, to a fresh anvil that stops again afterwards.
deploy: setup
	@$(MAKE) --no-print-directory compile
ifdef RPC
	$(BIN)/computerails --rpc $(RPC) devnet deploy
else
	$(BIN)/ape run deploy --network $(NETWORK_ANVIL)
	@echo "Note: that anvil has stopped, so deployments/31337.json names contracts no node holds now;"
	@echo "to deploy to a node you keep running: anvil & then make deploy RPC=http://127.0.0.1:8545"
endif

clean:
	rm -rf .build .cache .solc $(VENV) node_modules .ape
