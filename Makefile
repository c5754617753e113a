# streamer — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FEAST_STAMP := $(VENV)/.feast-installed
export KAFKA_PORT ?= 19092

.DEFAULT_GOAL := help
.PHONY: help venv kafka kafka-down kafka-status demo test test-unit test-integration test-durability lint typecheck eval bench clean tools test-kafka4 test-bench

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml streamer/core/_kernels.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install streamer with its dev tools

kafka: $(STAMP) ## start a local Kafka broker (3.9.2; KAFKA_VERSION=4.1.2, KAFKA_SASL=1: others, own ports)
	$(BIN)/streamer kafka up $(KAFKA_FLAGS)

kafka-down: $(STAMP) ## stop the local broker (same KAFKA_VERSION / KAFKA_SASL as `make kafka`)
	$(BIN)/streamer kafka down $(KAFKA_FLAGS)

kafka-status: $(STAMP) ## is the local broker up?
	$(BIN)/streamer kafka status $(KAFKA_FLAGS)

demo: $(STAMP) ## broker (if needed) + worker + attack simulation, alerts shown live
	$(BIN)/streamer demo

test: $(STAMP) lint typecheck test-unit test-integration test-durability test-kafka4 test-bench ## the full suite: lint, types, unit, real-broker integration and fault tests, Kafka 4 stage, a quick bench

test-unit: $(STAMP) ## unit and doctests of the pure core (no broker)
	$(BIN)/pytest -q -m "not kafka and not durability" tests/unit streamer

test-integration: $(FEAST_STAMP) tools ## integration tests against the real broker
	$(BIN)/pytest -q -m "kafka and not durability" tests/integration

test-durability: $(STAMP) ## kill -9, rebalance and broker-restart tests against the real broker
	$(BIN)/pytest -q -m durability tests/durability

lint: $(STAMP) ## ruff
	$(BIN)/ruff check streamer tests

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy streamer

eval: $(STAMP) ## held-out evaluation (red team + split), curves in reports/heldout/, README table
	$(BIN)/streamer evaluate --heldout --out reports --readme README.md

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

test-bench: $(BENCH_STAMP) ## a quick `make bench` on the real broker: every part runs and reports
	$(BIN)/pytest -q -m kafka tests/bench

bench: $(BENCH_STAMP) ## on the real broker: ceilings, worker, Quix peer, offline core, latency, state, recovery; README table
	$(BIN)/python -m streamer.bench --readme README.md $(BENCH_ARGS)

clean: ## remove the virtualenv and local broker data
	-$(BIN)/streamer kafka down
	-$(BIN)/streamer kafka down --sasl
	-$(BIN)/streamer kafka down --kafka-version $(KAFKA4_VERSION)
	rm -rf $(VENV) .local reports

# ---- integrations, SASL/SCRAM and Kafka 4.x (streamer/integrations, deploy/{kafka,feast}) ----
# `make kafka KAFKA_SASL=1`: SASL_PLAINTEXT + SCRAM-SHA-512 broker on 19094 (.local/kafka-sasl,
# client settings in .local/kafka-sasl/credentials.env); `make kafka KAFKA_VERSION=4.1.2`: a
# Kafka 4.1.2 broker on 19096 (.local/kafka-4.1.2). Both run beside the default broker on 19092.
KAFKA_FLAGS = $(if $(KAFKA_VERSION),--kafka-version $(KAFKA_VERSION)) $(if $(filter 1 true yes,$(KAFKA_SASL)),--sasl)
KAFKA4_VERSION ?= 4.1.2
KAFKA4_PORT ?= 19096
# The Kafka 4 stage runs a representative subset (end to end, feedback, broker, simulator, the
# Alertmanager bridge: ~2.5 min); `make test-kafka4 KAFKA4_TESTS=tests/integration` runs all.
KAFKA4_TESTS ?= tests/integration/test_pipeline.py tests/integration/test_feedback.py \
	tests/integration/test_local_broker.py tests/integration/test_sim_kafka.py \
	tests/integration/test_alertmanager.py tests/integration/test_kcat.py
# Debian packages the tests drive: Prometheus/promtool, Alertmanager/amtool, Chromium, kcat.
DEBIAN_TOOLS := prometheus prometheus-alertmanager chromium kcat
test-unit test-integration test-durability: tools

$(FEAST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,feast]'
	touch $@

tools: ## install the Debian tools the integration tests drive (as root with apt; else they skip)
	@missing=""; for p in $(DEBIAN_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "WARNING: not root or no apt; tests needing$$missing will SKIP (FAIL under CI=true)"; fi

.PHONY: tools test-kafka4

test-kafka4: $(FEAST_STAMP) tools ## integration tests again on a Kafka 4.1.2 broker (port KAFKA4_PORT, 19096)
	@was_up=0; $(BIN)/streamer kafka status --kafka-version $(KAFKA4_VERSION) --port $(KAFKA4_PORT) >/dev/null 2>&1 && was_up=1; \
	$(BIN)/streamer kafka up --kafka-version $(KAFKA4_VERSION) --port $(KAFKA4_PORT) || exit 1; \
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(KAFKA4_PORT) $(BIN)/pytest -q -m "kafka and not durability" $(KAFKA4_TESTS); rc=$$?; \
	[ $$was_up = 1 ] || $(BIN)/streamer kafka down --kafka-version $(KAFKA4_VERSION); exit $$rc
