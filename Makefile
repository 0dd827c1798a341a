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

NETWORK_ANVIL := ethereum:local:foundry

.PHONY: help setup demo test audit bench slither deploy abi clean

help:
	@echo "make demo     run the compute marketplace end to end on a fresh local anvil"
	@echo "make test     run the whole test suite (sets itself up first)"
	@echo "make bench    gas per operation against its floor, SDK throughput against raw web3.py"
	@echo "              (fresh local anvil; writes bench/results.json and the README's tables)"
	@echo "make deploy   deploy the protocol to a fresh local anvil and stop it again"
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

.solc/solc-v$(SOLC_VERSION): tools/solc-bridge.js node_modules/.installed
	@mkdir -p .solc
	ln -sf ../tools/solc-bridge.js $@
	@$@ --version | grep -q "Version: $(SOLC_VERSION)" || { echo "solc bridge does not answer $(SOLC_VERSION)"; exit 1; }

test: setup
	$(BIN)/ape compile
	$(BIN)/ape test tests -p no:cacheprovider
	$(BIN)/ape test tests -m anvil --network $(NETWORK_ANVIL) -p no:cacheprovider
	$(BIN)/python tools/slither_gate.py

audit: setup
	$(BIN)/ape compile
	$(BIN)/python -m tests.stateful.audit $(if $(BUDGET),--budget $(BUDGET)) $(ARGS)

bench: setup
	$(BIN)/ape compile
	$(BIN)/python -m bench $(ARGS)

slither: setup
	$(BIN)/python tools/slither_gate.py

demo: setup
	$(BIN)/ape compile
	$(BIN)/python -m computerails.sim $(ARGS)

abi: setup
	$(BIN)/ape compile
	$(BIN)/python tools/export_abi.py

deploy: setup
	$(BIN)/ape compile
	$(BIN)/ape run deploy --network $(NETWORK_ANVIL)

clean:
	rm -rf .build .cache .solc $(VENV) node_modules .ape
