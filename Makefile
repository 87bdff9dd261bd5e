# Tessera — the commands CI and developers run. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help test check fmt clippy layering coverage build run clean bench fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

test: ## every test: the workspace's (PostgreSQL ones against TESSERA_TEST_DATABASE_URL), then the browser tests in headless Chromium
	$(CARGO) test --workspace
	bash tests/browser/run.sh

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

bench: ## release build, Tessera on PostgreSQL under load, ceilings in the same run (docs/performance.md); BENCH_ARGS=--quick for a smoke run
	@bash scripts/bench.sh $(BENCH_ARGS)

fuzz: ## the cargo-fuzz targets (token parsing, request decoding), FUZZ_SECONDS each (default 60), on copies of the seeds (docs/security.md); FUZZ_TARGETS=name for one
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@bash scripts/fuzz.sh $(FUZZ_TARGETS)

build: ## release build of the workspace
	$(CARGO) build --workspace --release

clean:
	$(CARGO) clean
