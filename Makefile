# streamer — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KAFKA_PORT ?= 19092

.DEFAULT_GOAL := help
.PHONY: help venv kafka kafka-down kafka-status demo test test-unit test-integration test-durability lint typecheck eval bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install streamer with its dev tools

kafka: $(STAMP) ## start a local Apache Kafka 3.9.2 broker (KRaft) unless KAFKA_BOOTSTRAP_SERVERS is set
	$(BIN)/streamer kafka up

kafka-down: $(STAMP) ## stop the local broker
	$(BIN)/streamer kafka down

kafka-status: $(STAMP) ## is the local broker up?
	$(BIN)/streamer kafka status

demo: $(STAMP) ## broker (if needed) + worker + attack simulation, alerts shown live
	$(BIN)/streamer demo

test: $(STAMP) lint typecheck test-unit test-integration test-durability ## the full suite: lint, types, unit, real-broker integration and fault tests

test-unit: $(STAMP) ## unit and doctests of the pure core (no broker)
	$(BIN)/pytest -q -m "not kafka and not durability" tests/unit streamer

test-integration: $(STAMP) ## integration tests against the real broker
	$(BIN)/pytest -q -m "kafka and not durability" tests/integration

test-durability: $(STAMP) ## kill -9, rebalance and broker-restart tests against the real broker
	$(BIN)/pytest -q -m durability tests/durability

lint: $(STAMP) ## ruff
	$(BIN)/ruff check streamer tests

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy streamer

eval: $(STAMP) ## held-out evaluation (red team + split), curves in reports/heldout/, README table
	$(BIN)/streamer evaluate --heldout --out reports --readme README.md

bench: $(STAMP) ## throughput and state-size benchmark of the core
	$(BIN)/python -m streamer.bench

clean: ## remove the virtualenv and local broker data
	-$(BIN)/streamer kafka down
	rm -rf $(VENV) .local reports
