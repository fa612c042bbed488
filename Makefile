# Every task of portcullis. CI runs exactly `make test` on a fresh machine,
# so each target installs what it needs when it is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
DIST := dist
WASM_TARGET := wasm32-unknown-unknown
WASM_OUT := target/$(WASM_TARGET)/release
WASM_OPT := node_modules/.bin/wasm-opt
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
	$(WASM_OPT) -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
		$(WASM_OUT)/portcullis.wasm -o $(DIST)/portcullis.wasm
	@ls -l $(DIST)/portcullis.wasm

# --- OPA (bindings/opa) ------------------------------------------------------
# The module on the OPA guest ABI 1.3 and an OPA bundle holding it. The ABI
# version globals are rewritten after wasm-opt, as the last step.
OPA_WASM := $(DIST)/portcullis-opa.wasm
OPA_BUNDLE := $(DIST)/portcullis-opa-bundle.tar.gz
OPA_STAGE := target/opa-bundle

.PHONY: opa-wasm opa-bundle opa-unit

opa: opa-wasm opa-bundle

opa-wasm: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p portcullis-opa
	@mkdir -p $(DIST)
	$(WASM_OPT) -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
		$(WASM_OUT)/portcullis_opa.wasm -o $(WASM_OUT)/portcullis_opa.opt.wasm
	$(CARGO) run -q -p wasm-post -- opa $(WASM_OUT)/portcullis_opa.opt.wasm $(OPA_WASM)
	@ls -l $(OPA_WASM)

# Entries are named /.manifest and /policy.wasm, as `opa build` names them.
opa-bundle: opa-wasm
	@rm -rf $(OPA_STAGE) && mkdir -p $(OPA_STAGE)
	cp policies/opa/.manifest $(OPA_STAGE)/.manifest
	cp $(OPA_WASM) $(OPA_STAGE)/policy.wasm
	tar -P --transform 's,^\./,/,' --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-C $(OPA_STAGE) -cf - ./.manifest ./policy.wasm | gzip -9n > $(OPA_BUNDLE)
	@ls -l $(OPA_BUNDLE)

# The binding's and the post-link step's own unit tests run with the host tests.
wasm-tests: opa-unit
opa-unit:
	$(CARGO) test -p portcullis-opa -p wasm-post

# --- Kubewarden (bindings/kubewarden) -----------------------------------------
kubewarden:
	@echo "kubewarden: not built yet"

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
