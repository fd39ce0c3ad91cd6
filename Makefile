# rulecache — one entry point for building, running, testing and benchmarking.
#   make run     build the worker and run it locally in front of the demo origin
#   make test    every test the project has (lint, native, wasm build, runtime, browser)
#   make bench   criterion benchmarks, the load benchmark against plain workers, CPU profiles,
#                purge propagation
#   make soak    the split-view soak at a larger size (SOAK_REQUESTS, default 24000)
#   make test-e2e  the worker in front of real Plone 6.2.2, Django 5.2 and Wagtail 7.4 sites (from PyPI)
#   make fuzz    every fuzz target for FUZZ_SECONDS (default 60) on the stable toolchain
# Each target installs what it needs first and skips what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)

# The worker is packed by the workspace's own worker-pack (wasm-bindgen as a library, wasm-opt
# and esbuild from npm): nothing is downloaded or installed from source at build time.
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild
# Quiet, local-only wrangler/Miniflare.
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_LOG_PATH := $(CURDIR)/target/wrangler-logs
export CHROMIUM ?= /usr/bin/chromium

.PHONY: e2e-install e2e-start e2e-stop test-e2e e2e-measure
.PHONY: all tools tools-rust tools-node tools-browser build build-dev origin run test lint test-native test-runtime test-browser soak bench bench-core bench-load bench-profile bench-cold bench-propagation bench-purge-sim bench-fleet-sim bench-instructions bench-offload offload-content size clean-state tools-prometheus

all: build

tools: tools-rust tools-node

tools-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

tools-node:
	@if [ ! -x node_modules/.bin/wrangler ] || ! npm ls --depth=0 >/dev/null 2>&1; then npm ci --no-audit --no-fund; fi

tools-browser:
	@[ -x "$(CHROMIUM)" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# promtool and Prometheus (Debian's prometheus package) for the metrics test.
tools-prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

## The release worker: build/index.js + build/index_bg.wasm (a no-op when nothing changed)
build: tools
	cargo build -q -p worker-pack
	target/debug/worker-pack --out build

## The demo origin (native)
origin:
	cargo build --release -p demo-origin

run: build origin
	node tests/support/run.mjs

lint: tools-rust docs-check
	cargo fmt --all --check
	@# Imports run downwards only: the layer order of docs/src/architecture.md.
	cargo test -q -p rulecache --test layers
	@# The worker's JavaScript modules, the entry shim and the panel's modules parse as ES modules.
	@for f in js/*.js crates/pack/src/shim.js www/*.js; do node --input-type=module --check < $$f || { echo "$$f: syntax error"; exit 1; }; done
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p rulecache -p rulecache-worker --lib --target wasm32-unknown-unknown -- -D warnings

test-native:
	cargo test --workspace --all-targets

test-runtime: build origin tools-prometheus
	@# The command line tool, for the purge receipts' --wait.
	cargo build -q -p rulecache-cli
	node --test --test-concurrency=1 tests/integration/

test-browser: build origin tools-browser
	node --test --test-concurrency=1 tests/browser/

## End-to-end: Plone, Django and Wagtail from PyPI (pinned by tests/e2e/*-constraints.txt) in
## target/e2e, sites created by script, started on loopback; each step skipped when done.
export E2E_DIR := $(CURDIR)/target/e2e
export E2E_PLONE_PORT ?= 18080
export E2E_DJANGO_PORT ?= 18090
export E2E_WAGTAIL_PORT ?= 18100
export E2E_PLONE_URL := http://127.0.0.1:$(E2E_PLONE_PORT)
export E2E_DJANGO_URL := http://127.0.0.1:$(E2E_DJANGO_PORT)
export E2E_WAGTAIL_URL := http://127.0.0.1:$(E2E_WAGTAIL_PORT)

e2e-install:
	bash tests/e2e/plone/setup.sh $(E2E_DIR) $(E2E_PLONE_PORT)
	bash tests/e2e/django/setup.sh $(E2E_DIR)
	bash tests/e2e/wagtail/setup.sh $(E2E_DIR)

e2e-start: e2e-install
	bash tests/e2e/apps.sh start $(E2E_DIR)

e2e-stop:
	bash tests/e2e/apps.sh stop $(E2E_DIR)

# Starts the applications, runs the tests, stops what it started (also when a test fails).
test-e2e: build e2e-start
	@status=0; node --test --test-concurrency=1 tests/e2e/ || status=$$?; \
	  bash tests/e2e/apps.sh stop $(E2E_DIR); exit $$status

# Hit ratios and purge-to-visible times against the real applications.
e2e-measure: build e2e-start
	@status=0; node tests/e2e/measure.mjs || status=$$?; \
	  bash tests/e2e/apps.sh stop $(E2E_DIR); exit $$status

test: lint test-native test-runtime test-browser test-e2e
	@echo "all test suites passed"

# The split-view soak of the runtime suite (4000 requests there), larger; its report goes to
# bench-results/soak.json.
SOAK_REQUESTS ?= 24000
soak: build
	SOAK_REQUESTS=$(SOAK_REQUESTS) node --test tests/integration/soak.test.mjs

bench: bench-core bench-instructions bench-load bench-profile bench-cold bench-propagation bench-purge-sim bench-fleet-sim

# The benchmarks need unwinding (criterion), the release profile aborts on panic (wasm):
# a separate target folder keeps the two builds of the library apart.
bench-core:
	CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=$(CURDIR)/target/bench-core cargo bench -p rulecache --bench core

# The global purge path simulated natively and deterministically (1k, 10k, 100k isolates).
bench-purge-sim:
	CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=$(CURDIR)/target/bench-core cargo bench -p rulecache --bench purge_sim

# The fleet's statistics simulated natively and deterministically (1k, 10k, 100k isolates in
# 300 locations): the load on each Durable Object and the staleness of the figures
# (bench-results/fleet-sim.json).
bench-fleet-sim:
	CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=$(CURDIR)/target/bench-core cargo bench -p rulecache --bench fleet_sim

bench-load: build origin
	node --experimental-websocket --disable-warning=ExperimentalWarning benches/load/run.mjs

## CPU profiles through the runtime's inspector: where a request's time goes, rulecache beside
## the plain JS baselines (bench-results/profile.md)
bench-profile: build origin
	node --experimental-websocket --disable-warning=ExperimentalWarning benches/load/profile.mjs

## A cold start stage by stage in bare workerd (runtime, module compile, instantiation, the
## module's start, first request) and the wasm functions V8 compiles on the way
## (bench-results/cold.md)
bench-cold: build origin
	node benches/load/cold.mjs

## Instructions per request (hit, miss, bypass, revalidation) through the core's harness, natively and
## deterministically (valgrind's callgrind), at the release build's opt-level: the core's own
## cost, with nothing of the runtime in it (bench-results/instructions.json)
bench-instructions:
	@command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
	cargo build -q --release -p rulecache --example per_request
	@mkdir -p bench-results; out="{"; for kind in hit miss bypass reval; do \
	  one=$$(N=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/per_request $$kind 2>&1 | sed -n 's/.*Collected : //p'); \
	  many=$$(N=1001 valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/per_request $$kind 2>&1 | sed -n 's/.*Collected : //p'); \
	  per=$$(( (many - one) / 1000 )); echo "$$kind: $$per instructions a request"; out="$$out\"$$kind\": $$per, "; \
	done; echo "$${out%, }}" > bench-results/instructions.json

bench-propagation: build origin
	node benches/propagation/run.mjs

## Origin offload on one seeded trace (benches/offload/): rulecache with the shipped profiles,
## Varnish (Debian's, plone.vcl / django.vcl), the hand-written JS edge cache and no cache, each
## in front of the same real Plone and Django sites with OFFLOAD_PAGES pages; OFFLOAD_REQUESTS
## per contender (default 50000; smaller for a quick look). Writes bench-results/offload.json,
## offload.md and offload.png. Not part of `make test`.
export OFFLOAD_PAGES ?= 2000
PLOT_VENV := $(CURDIR)/target/offload/plot-venv

offload-content: e2e-install
	@command -v varnishd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq varnish >/dev/null; }
	@[ -x $(PLOT_VENV)/bin/python ] && $(PLOT_VENV)/bin/python -c 'import matplotlib' 2>/dev/null || { \
	  python3 -m venv $(PLOT_VENV) && $(PLOT_VENV)/bin/pip install -q --disable-pip-version-check -c benches/offload/plot-constraints.txt matplotlib; }
	@# The content is added with the applications stopped (Plone's database is written directly).
	@if [ ! -f $(E2E_DIR)/plone-instance/var/offload-$(OFFLOAD_PAGES) ]; then \
	  bash tests/e2e/apps.sh stop $(E2E_DIR); \
	  $(E2E_DIR)/plone-venv/bin/zconsole run $(E2E_DIR)/plone-instance/etc/zope.conf benches/offload/plone_content.py && \
	  touch $(E2E_DIR)/plone-instance/var/offload-$(OFFLOAD_PAGES); fi
	@if [ ! -f $(E2E_DIR)/django-state/offload-$(OFFLOAD_PAGES) ]; then \
	  cd tests/e2e/django && E2E_DJANGO_STATE=$(E2E_DIR)/django-state $(E2E_DIR)/django-venv/bin/python manage.py shell \
	    -c "exec(open('../../../benches/offload/django_content.py').read())" && touch $(E2E_DIR)/django-state/offload-$(OFFLOAD_PAGES); fi

bench-offload: build offload-content e2e-start
	@status=0; node benches/offload/run.mjs || status=$$?; \
	  bash tests/e2e/apps.sh stop $(E2E_DIR); \
	  if [ $$status -eq 0 ]; then $(PLOT_VENV)/bin/python benches/offload/plot.py bench-results && node docs/gen-performance.mjs; fi; exit $$status

size: build
	@raw=$$(stat -c %s build/index_bg.wasm); gz=$$(gzip -9c build/index_bg.wasm | wc -c); \
	  echo "release wasm: $$raw bytes raw, $$gz bytes gzipped"

clean-state:
	rm -rf .wrangler/state

## Documentation: docs/src built with mdBook (from crates.io, pinned) into target/book.
## `make docs` first writes the performance page's results from bench-results/*.json
## (docs/gen-performance.mjs), then checks the links; `make docs-check` (part of `make lint`)
## checks every relative link and anchor in README.md and docs/src, needing no network and no mdBook.
MDBOOK_VERSION := 0.5.4
.PHONY: docs docs-performance docs-check tools-docs

tools-docs:
	@[ "$$(mdbook --version 2>/dev/null)" = "mdbook v$(MDBOOK_VERSION)" ] || \
	  cargo install mdbook --locked --version $(MDBOOK_VERSION) --no-default-features --features search

docs-performance:
	node docs/gen-performance.mjs

docs-check:
	@node docs/check-links.mjs
	@node docs/gen-fuzzing.mjs --check

docs: docs-performance docs-check tools-docs
	mdbook build docs
	@echo "the documentation is in target/book/index.html"

## Fuzzing on the stable toolchain: cargo-fuzz (from crates.io, pinned) builds the libFuzzer
## targets in fuzz/ with --sanitizer none (fuzz/run.mjs). `make fuzz` runs each target for
## FUZZ_SECONDS on its committed corpus fuzz/corpus/<target>/, FUZZ_JOBS at a time at nice 19,
## adds the run to fuzz/stats.json, minimises the corpora and writes the table in
## docs/src/testing.md; it fails when a target crashes. FUZZ_TARGETS="a b:300" picks targets
## (TARGET:SECONDS sets one's time). `make fuzz-replay` runs every committed corpus and
## fuzz/regressions/ input once; `make fuzz-cmin` only minimises. Not part of `make test`.
CARGO_FUZZ_VERSION := 0.13.2
export FUZZ_SECONDS ?= 60
export FUZZ_JOBS ?= 2
FUZZ_TARGETS ?=
.PHONY: tools-fuzz fuzz fuzz-replay fuzz-cmin

tools-fuzz:
	@[ "$$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $(CARGO_FUZZ_VERSION)" ] || \
	  nice -n 19 cargo install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)

fuzz: tools-fuzz
	@status=0; node fuzz/run.mjs run $(FUZZ_TARGETS) || status=$$?; \
	  if [ $$status -eq 0 ]; then node fuzz/run.mjs cmin $(FUZZ_TARGETS); fi; \
	  node docs/gen-fuzzing.mjs; exit $$status

fuzz-replay: tools-fuzz
	node fuzz/run.mjs replay

fuzz-cmin: tools-fuzz
	node fuzz/run.mjs cmin $(FUZZ_TARGETS)
	node docs/gen-fuzzing.mjs
