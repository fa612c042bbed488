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

.PHONY: help setup npm-deps lint fmt test test-core wasm wasm-generic opa kubewarden web web-serve wasm-bindgen-cli \
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
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_OUT)/portcullis_opa.wasm -o $(WASM_OUT)/portcullis_opa.opt.wasm
	$(CARGO) run -q -p wasm-post -- opa $(WASM_OUT)/portcullis_opa.opt.wasm $(OPA_WASM)
	@raw=$$(stat -c %s $(WASM_OUT)/portcullis_opa.wasm); opt=$$(stat -c %s $(OPA_WASM)); \
	gz=$$(gzip -9 -c $(OPA_WASM) | wc -c); \
	echo "opa: wasm $$raw bytes raw, $$opt optimized, $$gz gzipped -> $(OPA_WASM)"

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
WEB_DIST := $(DIST)/web
WEB_WASM := $(WASM_OUT)/portcullis_web.wasm
# the CLI must be the very version the crate links against, or the glue breaks
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/, "", $$3); print $$3}' Cargo.lock)
WASM_OPT_WEB := $(WASM_OPT) -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
WEB_PORT ?= 8000

wasm-bindgen-cli:
	@have=$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}'); \
	if [ "$$have" != "$(WASM_BINDGEN_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (found: $${have:-none})"; \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

# The page (dist/web, --target web) and the npm package (dist/web/npm:
# bundler, Node and plain-browser builds of the same module).
web: setup wasm-bindgen-cli
	$(CARGO) build --release --target $(WASM_TARGET) -p portcullis-web
	rm -rf $(WEB_DIST) target/web-bindgen
	mkdir -p $(WEB_DIST)/pkg $(WEB_DIST)/npm
	@set -e; for t in web bundler nodejs; do \
		wasm-bindgen --target $$t --out-name portcullis --out-dir target/web-bindgen/$$t $(WEB_WASM); \
		$(WASM_OPT_WEB) target/web-bindgen/$$t/portcullis_bg.wasm -o target/web-bindgen/$$t/portcullis_bg.wasm; \
	done
	cp target/web-bindgen/web/portcullis.js target/web-bindgen/web/portcullis_bg.wasm $(WEB_DIST)/pkg/
	cp -r target/web-bindgen/bundler $(WEB_DIST)/npm/bundler
	cp -r target/web-bindgen/nodejs $(WEB_DIST)/npm/node
	cp -r target/web-bindgen/web $(WEB_DIST)/npm/web
	rm -f $(WEB_DIST)/npm/*/.gitignore
	cp bindings/web/package.json bindings/web/README.md bindings/web/index.d.ts $(WEB_DIST)/npm/
	node web/build.mjs $(WEB_DIST)
	@raw=$$(stat -c %s $(WEB_WASM)); opt=$$(stat -c %s $(WEB_DIST)/pkg/portcullis_bg.wasm); \
	gz=$$(gzip -9 -c $(WEB_DIST)/pkg/portcullis_bg.wasm | wc -c); \
	echo "web: wasm $$raw bytes raw, $$opt optimized, $$gz gzipped -> $(WEB_DIST)"

web-serve: web
	@echo "serving $(WEB_DIST) on http://127.0.0.1:$(WEB_PORT)/"
	python3 -m http.server --bind 127.0.0.1 --directory $(WEB_DIST) $(WEB_PORT)

# --- host tests --------------------------------------------------------------

wasm-tests: wasm
	$(CARGO) test -p wasm-tests

node-tests: wasm
	node --test wasm-tests/node/

# Node checks the built module against the native verdicts of every case;
# the browser test drives Debian's chromium (never a downloaded browser).
web-tests: web
	$(CARGO) test -p portcullis-web --test export-cases
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)
	node --test web/tests/

# --- benchmarks --------------------------------------------------------------

bench:
	@echo "bench: not written yet"

clean:
	rm -rf $(DIST) target node_modules
