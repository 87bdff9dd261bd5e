# Tessera — the commands CI and developers run. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help test check fmt clippy layering coverage build run clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

test: ## every test of the workspace (PostgreSQL tests run against TESSERA_TEST_DATABASE_URL)
	$(CARGO) test --workspace

check: fmt clippy layering ## formatting, lints on all targets, dependency direction

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Dependencies point inward: the domain knows no IO crate, the application no
# framework or database crate.
layering:
	@bash scripts/check-layering.sh

coverage: ## line coverage per crate with cargo-tarpaulin (installed when missing)
	@command -v cargo-tarpaulin >/dev/null || $(CARGO) install cargo-tarpaulin --locked
	@bash scripts/coverage.sh

run: ## build and serve on the embedded SQLite default (./data), printing the URLs
	$(CARGO) run -p tessera-server --bin tessera -- serve

build: ## release build of the workspace
	$(CARGO) build --workspace --release

clean:
	$(CARGO) clean
