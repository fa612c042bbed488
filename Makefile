# Every task of portcullis. CI runs exactly `make test` on a fresh machine,
# so each target installs what it needs when it is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
DIST := dist
WASM_TARGET := wasm32-unknown-unknown
WASM_OUT := target/$(WASM_TARGET)/release
WASM_OPT := node_modules/.bin/wasm-opt
# the features rustc's wasm32 target emits by default
WASM_OPT_FLAGS := -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals
CLI := target/release-native/portcullis

.PHONY: help setup npm-deps lint fmt test test-core wasm wasm-generic opa kubewarden web web-serve \
        wasm-tests node-tests web-tests demo docs bench cli clean

help:
	@echo "make demo   - check the bundled example shop (unsafe and fixed)"
	@echo "make test   - everything CI runs: lint, unit, cases, conformance, wasm builds and host tests"
	@echo "make wasm   - build every wasm artifact into dist/"
	@echo "make web    - build the browser checker into dist/web; make web-serve serves it"
	@echo "make bench  - benchmarks, written to BENCHMARKS.md"
	@echo "make docs   - regenerate the rule docs and the README rule table"

# --- tooling -----------------------------------------------------------------

setup: npm-deps
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# npm packages from the committed lock file; reinstalled only when the lock changes
npm-deps: node_modules/.installed
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# --- checks ------------------------------------------------------------------

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

test: setup lint test-core wasm wasm-tests node-tests web-tests
	@echo "make test: all green"

test-core:
	$(CARGO) test -p portcullis

docs:
	PORTCULLIS_BLESS=1 $(CARGO) test -p portcullis --test registry

# --- native CLI and demo -----------------------------------------------------

cli:
	$(CARGO) build --profile release-native --bin portcullis

demo: cli
	@echo "== examples/unsafe: the shop as it was written =="
	-@$(CLI) check examples/unsafe
	@echo
	@echo "== examples/fixed: the same shop behind one TLS, authenticated Ingress =="
	@$(CLI) check examples/fixed

# --- wasm artifacts ----------------------------------------------------------

wasm: wasm-generic opa kubewarden

wasm-generic: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p portcullis --lib --no-default-features
	@mkdir -p $(DIST)
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_OUT)/portcullis.wasm -o $(DIST)/portcullis.wasm
	@ls -l $(DIST)/portcullis.wasm

# --- OPA (bindings/opa) ------------------------------------------------------
opa:
	@echo "opa: not built yet"

# --- Kubewarden (bindings/kubewarden) -----------------------------------------
# wasm32-unknown-unknown: the module imports only the three waPC functions it
# uses (docs/kubewarden.md says why not wasip1). Optimised, then annotated
# with policies/kubewarden/metadata.yml as `kwctl annotate` would.
KUBEWARDEN_WASM := $(DIST)/portcullis-kubewarden.wasm

kubewarden: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p portcullis-kubewarden
	@mkdir -p $(DIST)
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_OUT)/portcullis_kubewarden.wasm -o $(KUBEWARDEN_WASM)
	$(CARGO) run -q -p wasm-post -- kubewarden $(KUBEWARDEN_WASM) policies/kubewarden/metadata.yml
	@ls -l $(KUBEWARDEN_WASM)

# --- browser (bindings/web, web/) --------------------------------------------
web:
	@echo "web: not built yet"

web-serve: web
	@echo "web-serve: not built yet"

# --- host tests --------------------------------------------------------------

wasm-tests: wasm
	$(CARGO) test -p wasm-tests

node-tests: wasm
	node --test wasm-tests/node/

web-tests:
	@echo "web-tests: none yet"

# --- benchmarks --------------------------------------------------------------

bench:
	@echo "bench: not written yet"

clean:
	rm -rf $(DIST) target node_modules
