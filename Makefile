# sovereign developer tasks. `make help` lists them.
# `make demo` and `make test` install what they need on a fresh Debian machine (as root, or with sudo).

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := libpcap-dev pkg-config
# What the sidecar tests (tests/sidecar.rs) start themselves: network namespaces (iproute2), a real
# Alertmanager and Prometheus (+ promtool), curl as the tenant's HTTP client, python3 as the server.
TEST_PACKAGES := iproute2 curl prometheus prometheus-alertmanager

.PHONY: help deps test-deps install-packages build demo test lint fmt fixtures golden bench clean

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

deps: ## install the system packages the build needs (libpcap-dev), if missing
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEBIAN_PACKAGES)"
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first"; exit 1; }

test-deps: deps ## also install what the sidecar tests run (iproute2, curl, prometheus, alertmanager)
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(TEST_PACKAGES)"
	@command -v python3 >/dev/null || $(MAKE) --no-print-directory install-packages PACKAGES="python3"

install-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps ## release build
	$(CARGO) build --release --locked

demo: build ## replay fixtures/demo.pcap with the bundled config: alerts on stdout, summary on stderr
	./target/release/sovereign replay --flows target/demo-flows.jsonl fixtures/demo.pcap
	@echo "(flow records: target/demo-flows.jsonl)"

test: test-deps ## unit, golden, corpus, lookup, workers and sidecar (netns, as root) tests, then fmt and clippy
	$(CARGO) test --locked
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

lint: ## formatting and clippy only
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

fixtures: ## regenerate fixtures/*.pcap from src/fixture (then review and run make golden)
	$(CARGO) run --locked --example gen_fixtures

golden: ## refresh golden outputs after a reviewed change of behaviour
	UPDATE_GOLDEN=1 $(CARGO) test --locked --test golden

bench: deps ## criterion micro-benchmarks and the end-to-end replay benchmark (reported, not asserted)
	$(CARGO) bench --locked

clean:
	$(CARGO) clean
