# Two commands on a fresh machine: `make up` serves the component locally, `make test` runs
# every test. Both install what they need.

WASM := target/wasm32-wasip2/release/edgepedia.wasm
STATE_DIR ?= $(or $(EDGEPEDIA_STATE_DIR),.spin)
export EDGEPEDIA_LISTEN ?= 127.0.0.1:3000
# kubectl sends tokens only over TLS: the local runtime also serves HTTPS (self-signed).
export EDGEPEDIA_TLS_LISTEN ?= 127.0.0.1:3443

.PHONY: up build wasm deps python-deps test lint bench

deps:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

wasm: deps
	cargo build --target wasm32-wasip2 --release -p edgepedia

build: wasm
	cargo build --profile native -p edgepedia-host -p sync-agent

# Real Spin when installed, else the bundled runtime on the same .wasm.
up: build
	@if command -v spin >/dev/null 2>&1; then \
		mkdir -p $(STATE_DIR); \
		[ -s $(STATE_DIR)/dev-jwt-secret ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > $(STATE_DIR)/dev-jwt-secret; \
		SPIN_VARIABLE_JWT_HS256_SECRET=$${SPIN_VARIABLE_JWT_HS256_SECRET:-$$(cat $(STATE_DIR)/dev-jwt-secret)} \
			spin up --listen $(EDGEPEDIA_LISTEN) --state-dir $(STATE_DIR); \
	else \
		target/native/edgepedia-host --manifest spin.toml --state-dir $(STATE_DIR) --dev-secret; \
	fi

python-deps:
	@python3 -c 'import kubernetes' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check kubernetes

lint: deps
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip2 -p edgepedia -- -D warnings

test: build python-deps lint
	cargo test --workspace

bench: build
	cargo bench -p edgepedia --bench runtime
	cargo bench -p edgepedia --bench latency
