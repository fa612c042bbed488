# Every task of portcullis. CI runs exactly `make test` on a fresh machine,
# so each target installs what it needs when it is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
DIST := dist
WASM_TARGET := wasm32-unknown-unknown
# CARGO_TARGET_DIR is honoured everywhere (the fresh-clone check sets it)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# the wasm artifacts' own size profile (Cargo.toml); `release` is the fast CLI
WASM_PROFILE := wasm
WASM_OUT := $(TARGET_DIR)/$(WASM_TARGET)/$(WASM_PROFILE)
WASM_OPT := node_modules/.bin/wasm-opt
# the features rustc's wasm32 target emits by default
WASM_OPT_FLAGS := -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals
CLI := $(TARGET_DIR)/release/portcullis
# Tools the Makefile installs itself (wasm-bindgen-cli), called by this path
TOOLS := $(CURDIR)/.tools

# The peers' conformance corpus (../shared/conformance in CI). A user's clone
# has none: the suite then says so in one line and runs the rest; CI sets
# PORTCULLIS_REQUIRE_CONFORMANCE=1 so that a missing corpus fails it.
PORTCULLIS_CONFORMANCE ?= $(abspath ../shared/conformance)
PORTCULLIS_REQUIRE_CONFORMANCE ?=
export PORTCULLIS_CONFORMANCE PORTCULLIS_REQUIRE_CONFORMANCE
CONFORMANCE_FOUND := $(wildcard $(PORTCULLIS_CONFORMANCE)/expectations.yaml)
CONFORMANCE_REQUIRED := $(filter-out 0,$(PORTCULLIS_REQUIRE_CONFORMANCE))
CONFORMANCE_LINE := $(if $(CONFORMANCE_FOUND),conformance: the peers' corpus at $(PORTCULLIS_CONFORMANCE) is checked,skipped: the peers' conformance corpus was not found at $(PORTCULLIS_CONFORMANCE) (set PORTCULLIS_CONFORMANCE to check it))

.PHONY: help setup npm-deps lint fmt test test-core wasm wasm-generic opa kubewarden web web-serve wasm-bindgen-cli \
        wasm-tests node-tests python-tests python-hosts web-tests demo docs bless-cases bench cli install \
        conformance-check test-fresh-clone clean fuzz fuzz-smoke fuzz-lint fuzz-build fuzz-seeds fuzz-merge

help:
	@echo "make demo   - check the bundled example shop (unsafe and fixed)"
	@echo "make test   - everything CI runs: lint, unit, cases, conformance, wasm builds, host tests, fuzz smoke"
	@echo "make wasm   - build every wasm artifact into dist/"
	@echo "make web    - build the browser checker into dist/web; make web-serve serves it"
	@echo "make bench  - benchmarks, written to BENCHMARKS.md"
	@echo "make fuzz   - run every fuzz target for FUZZ_SECONDS each (default 600); make fuzz-smoke: 30 s each on the committed corpus"
	@echo "make install - install the portcullis CLI (cargo install --path .)"
	@echo "make test-fresh-clone - make test in a fresh clone, nothing preinstalled"
	@echo "make docs   - regenerate the rule docs and the README rule table"
	@echo "make bless-cases - write the expectation of case files that state none"

# --- tooling -----------------------------------------------------------------

# Each check reads the whole list into a variable first: `cmd | grep -q` under
# pipefail fails when grep stops reading early, and a missing tool must lead
# to its install step, not end the recipe.
setup: npm-deps
	@targets=$$(rustup target list --installed 2>/dev/null || true); \
	for t in $(WASM_TARGET) wasm32-wasip1; do \
		case " $$(echo $$targets) " in *" $$t "*) ;; *) rustup target add $$t ;; esac; \
	done; \
	components=$$(rustup component list --installed 2>/dev/null || true); \
	for c in clippy rustfmt; do \
		case "$$components" in *"$$c"*) ;; *) rustup component add $$c ;; esac; \
	done

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

test: conformance-check setup lint test-core wasm wasm-tests node-tests python-tests web-tests fuzz-smoke
	@echo "$(CONFORMANCE_LINE)"
	@echo "make test: all green"

# Says in one line whether the peers' corpus is checked; fails when it is
# required (CI) and missing.
conformance-check:
	@echo "$(CONFORMANCE_LINE)"
	@if [ -z "$(CONFORMANCE_FOUND)" ] && [ -n "$(CONFORMANCE_REQUIRED)" ]; then \
		echo "error: PORTCULLIS_REQUIRE_CONFORMANCE is set and the corpus is missing" >&2; exit 1; fi

test-core:
	$(CARGO) test -p portcullis -p portcullis-generic
	@# every registered rule has its worst case for `make bench`
	$(CARGO) test -p portcullis-bench --lib

docs:
	PORTCULLIS_BLESS=1 $(CARGO) test -p portcullis --test registry

# Writes the `# expect:` header of every case file that has none from today's
# answer (review the diff before committing: bless never signs a verdict that
# contradicts the file name).
bless-cases:
	PORTCULLIS_BLESS=1 $(CARGO) test -p portcullis --test cases policy_cases -- --nocapture

# --- native CLI and demo -----------------------------------------------------

cli:
	$(CARGO) build --release --bin portcullis

# The CLI into ~/.cargo/bin (or CARGO_INSTALL_ROOT), built for speed.
install:
	$(CARGO) install --locked --path .

demo: cli
	@echo "== examples/unsafe: the shop as it was written =="
	-@$(CLI) check examples/unsafe
	@echo
	@echo "== examples/fixed: the same shop behind one TLS, authenticated Ingress =="
	@$(CLI) check examples/fixed

# --- wasm artifacts ----------------------------------------------------------

wasm: wasm-generic opa kubewarden

# The generic JSON ABI (bindings/generic): no imports, for any wasm runtime.
wasm-generic: setup
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p portcullis-generic
	@mkdir -p $(DIST)
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_OUT)/portcullis_generic.wasm -o $(DIST)/portcullis.wasm
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
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p portcullis-opa
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
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p portcullis-kubewarden
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

WASM_BINDGEN := $(TOOLS)/bin/wasm-bindgen

# A wasm-bindgen of the crate's version: the one on PATH when it is that
# version, else installed into .tools/ (never --locked: it fails here).
wasm-bindgen-cli:
	@version_of() { { "$$1" --version 2>/dev/null || true; } | awk '{print $$2}'; }; \
	want=$(WASM_BINDGEN_VERSION); \
	if [ -z "$$want" ]; then echo "error: no wasm-bindgen version in Cargo.lock" >&2; exit 1; fi; \
	if [ "$$(version_of $(WASM_BINDGEN))" = "$$want" ]; then exit 0; fi; \
	mkdir -p $(TOOLS)/bin; \
	onpath=$$(command -v wasm-bindgen || true); \
	if [ -n "$$onpath" ] && [ "$$(version_of $$onpath)" = "$$want" ]; then \
		ln -sf "$$onpath" $(WASM_BINDGEN); exit 0; fi; \
	echo "installing wasm-bindgen-cli $$want into $(TOOLS) (found on PATH: $${onpath:-none})"; \
	rm -f $(WASM_BINDGEN); \
	$(CARGO) install wasm-bindgen-cli --version $$want --root $(TOOLS); \
	test "$$(version_of $(WASM_BINDGEN))" = "$$want"

# wasm-bindgen's bundler output is the one glue: the npm package (dist/web/npm:
# the API as ESM and CommonJS over one inlined copy of the module) and the
# checker page (dist/web: page and worker bundled with CodeMirror by esbuild,
# the module as its own cached file) are both built from it.
WEB_GLUE := target/web-bindgen
web: setup wasm-bindgen-cli
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p portcullis-web
	rm -rf $(WEB_DIST) $(WEB_GLUE)
	$(WASM_BINDGEN) --target bundler --out-name portcullis --out-dir $(WEB_GLUE) $(WEB_WASM)
	$(WASM_OPT_WEB) $(WEB_GLUE)/portcullis_bg.wasm -o $(WEB_GLUE)/portcullis_bg.wasm
	node bindings/web/build.mjs $(WEB_GLUE) $(WEB_DIST)/npm
	node web/build.mjs $(WEB_GLUE) $(WEB_DIST)
	@raw=$$(stat -c %s $(WEB_WASM)); opt=$$(stat -c %s $(WEB_DIST)/portcullis.wasm); \
	gz=$$(gzip -9 -c $(WEB_DIST)/portcullis.wasm | wc -c); \
	echo "web: wasm $$raw bytes raw, $$opt optimized, $$gz gzipped -> $(WEB_DIST)"

web-serve: web
	@echo "serving $(WEB_DIST) on http://127.0.0.1:$(WEB_PORT)/"
	python3 -m http.server --bind 127.0.0.1 --directory $(WEB_DIST) $(WEB_PORT)

# --- host tests --------------------------------------------------------------

wasm-tests: wasm
	$(CARGO) test -p wasm-tests

node-tests: wasm
	node --test wasm-tests/node/

# The OPA SDKs for Python (wasm-tests/python/requirements.txt, pinned) in a
# virtualenv of their own, created and filled only when missing or when the
# pins change. Debian's python3 needs python3-venv for `-m venv`.
PY_HOSTS := $(TARGET_DIR)/python-hosts
python-hosts: $(PY_HOSTS)/.installed
$(PY_HOSTS)/.installed: wasm-tests/python/requirements.txt
	@if ! [ -x $(PY_HOSTS)/bin/python ] && ! python3 -m venv $(PY_HOSTS); then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing Debian's python3-venv for the Python host tests"; \
		rm -rf $(PY_HOSTS); \
		$$sudo apt-get update && $$sudo apt-get install -y python3-venv; \
		python3 -m venv $(PY_HOSTS); fi
	$(PY_HOSTS)/bin/python -m pip install --disable-pip-version-check -q -r wasm-tests/python/requirements.txt
	@touch $@

python-tests: opa python-hosts
	$(PY_HOSTS)/bin/python -m unittest discover -s wasm-tests/python -p 'test_*.py' -v

# Node checks the built module against the native verdicts of every case and
# the package's formats, types and arguments; the browser tests drive Debian's
# chromium (never a downloaded browser) through the page and through tiny
# apps built with esbuild, Vite 7 and 8 and webpack 5.
web-tests: web npm-deps
	$(CARGO) test -p portcullis-web --test export-cases
	@if [ ! -x /usr/bin/chromium ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing Debian's chromium for the browser tests"; \
		$$sudo apt-get update && $$sudo apt-get install -y chromium; fi
	node --test web/tests/

# --- benchmarks --------------------------------------------------------------

# The bench crate (benches/) is built with opt-level 3 but without the release
# profile's LTO and single codegen unit, which would relink wasmtime and
# regorus for many minutes; the artifacts under test keep their own profiles.
# BENCH_TARGET_DIR lets every worktree share one warm wasmtime build.
BENCH_TARGET_DIR ?= $(TARGET_DIR)
BENCH_CLI := $(CLI)
BENCH_ENV := CARGO_TARGET_DIR=$(BENCH_TARGET_DIR) CARGO_PROFILE_BENCH_OPT_LEVEL=3 \
	CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
	CARGO_PROFILE_BENCH_DEBUG=line-tables-only CARGO_PROFILE_BENCH_STRIP=none

# Criterion's view of the native figures, for humans, is `cargo bench -p
# portcullis-bench`; it is left out here because its dev-dependencies change
# the feature set and would build wasmtime a second time.
bench: wasm-generic cli
	@# the OPA and Kubewarden modules are measured when they build; the report notes it otherwise
	-$(MAKE) --no-print-directory opa-wasm
	-$(MAKE) --no-print-directory kubewarden
	$(BENCH_ENV) $(CARGO) run --profile bench -p portcullis-bench --bin report -- \
		--cli $(BENCH_CLI) --out BENCHMARKS.md
	@echo "make bench: wrote BENCHMARKS.md"

# --- fuzzing (fuzz/) ------------------------------------------------------------
# libFuzzer targets in a workspace of their own, built with plain cargo and
# the coverage instrumentation cargo-fuzz passes (no cargo-fuzz needed; the
# flags are stable rustc flags), into their own target directory. Only the
# target crates are instrumented: with --target, RUSTFLAGS skip build scripts.
FUZZ_TARGETS := evaluate structured yaml settings opa kubewarden
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_DIR := fuzz
FUZZ_TARGET_DIR := $(TARGET_DIR)/fuzz
FUZZ_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')
FUZZ_BIN = $(FUZZ_TARGET_DIR)/$(FUZZ_TRIPLE)/release
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
	--cfg fuzzing
# Where new inputs and crashes go while fuzzing (the committed corpus is
# fuzz/corpus/<target>, minimised by `make fuzz-merge`).
FUZZ_WORK := $(TARGET_DIR)/fuzz-work
# libFuzzer's options for every run: inputs up to 1 MiB, 2 GiB of memory,
# 10 s per input at most (a slow input is a finding too).
FUZZ_OPTS := -max_len=1048576 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

# fuzz/Cargo.lock pins what it holds; not --locked, so that a dependency the
# core gains is added to it rather than failing the build.
# libFuzzer is C++: the build needs a C++ compiler (Debian's g++ when missing).
fuzz-build:
	@if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing Debian's g++ for libFuzzer"; \
		$$sudo apt-get update && $$sudo apt-get install -y g++; fi
	RUSTFLAGS="$(FUZZ_RUSTFLAGS)" $(CARGO) build --release --manifest-path $(FUZZ_DIR)/Cargo.toml \
		--target $(FUZZ_TRIPLE) --target-dir $(FUZZ_TARGET_DIR) $(foreach t,$(FUZZ_TARGETS),--bin $(t))

# The fuzz crate passes rustfmt and clippy like the rest (not instrumented).
fuzz-lint: setup
	$(CARGO) fmt --manifest-path $(FUZZ_DIR)/Cargo.toml -- --check
	$(CARGO) clippy --manifest-path $(FUZZ_DIR)/Cargo.toml --target-dir $(FUZZ_TARGET_DIR) \
		--all-targets -- -D warnings

# The seed corpora, from the case files and the example shop (a plain
# build: uninstrumented code has nothing to link libFuzzer for).
fuzz-seeds:
	$(CARGO) run --release --manifest-path $(FUZZ_DIR)/Cargo.toml --target-dir $(FUZZ_TARGET_DIR) \
		--bin seeds -- $(FUZZ_WORK)/seeds

# Every target for FUZZ_SECONDS, one after the other, from the committed
# corpus and the seeds; new inputs go to $(FUZZ_WORK)/<target>, crashes to
# $(FUZZ_WORK)/artifacts/<target>/.
fuzz: fuzz-build fuzz-seeds
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_WORK)/$$t $(FUZZ_WORK)/artifacts/$$t $(FUZZ_DIR)/corpus/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BIN)/$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_WORK)/artifacts/$$t/ \
			$(FUZZ_WORK)/$$t $(FUZZ_DIR)/corpus/$$t $(FUZZ_WORK)/seeds/$$t; \
	done

# Minimises what `make fuzz` found into the committed corpus: the smallest
# set of inputs that covers every edge (counters off: hit counts would keep
# three times the files for 0.1 % more edges).
fuzz-merge: fuzz-build fuzz-seeds
	@for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_WORK)/merged/$$t && mkdir -p $(FUZZ_WORK)/merged/$$t $(FUZZ_WORK)/$$t $(FUZZ_DIR)/corpus/$$t; \
		$(FUZZ_BIN)/$$t $(FUZZ_OPTS) -set_cover_merge=1 -use_counters=0 $(FUZZ_WORK)/merged/$$t \
			$(FUZZ_DIR)/corpus/$$t $(FUZZ_WORK)/$$t $(FUZZ_WORK)/seeds/$$t; \
		rm -rf $(FUZZ_DIR)/corpus/$$t && mv $(FUZZ_WORK)/merged/$$t $(FUZZ_DIR)/corpus/$$t; \
	done

# CI's smoke: every committed corpus file once, then up to FUZZ_SMOKE_SECONDS
# of fuzzing per target from it (new inputs in a scratch folder, so the
# committed corpus is never touched). Any crash or broken invariant fails it.
fuzz-smoke: fuzz-lint fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz-smoke $$t: $$(ls $(FUZZ_DIR)/corpus/$$t | wc -l) corpus files"; \
		$(FUZZ_BIN)/$$t $(FUZZ_OPTS) -runs=0 $(FUZZ_DIR)/corpus/$$t; \
		rm -rf $(FUZZ_WORK)/smoke/$$t && mkdir -p $(FUZZ_WORK)/smoke/$$t $(FUZZ_WORK)/artifacts/$$t; \
		$(FUZZ_BIN)/$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SMOKE_SECONDS) \
			-artifact_prefix=$(FUZZ_WORK)/artifacts/$$t/ \
			$(FUZZ_WORK)/smoke/$$t $(FUZZ_DIR)/corpus/$$t; \
	done
	@echo "make fuzz-smoke: every target green"

# make test in a fresh clone of HEAD, as CI and a new user get it: an empty
# CARGO_TARGET_DIR, no node_modules, no wasm-bindgen on PATH. It catches the
# next missing install step before it lands. FRESH_KEEP=1 keeps the folder.
test-fresh-clone:
	tools/fresh-clone-test

clean:
	rm -rf $(DIST) target node_modules $(TOOLS)
