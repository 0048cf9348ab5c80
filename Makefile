# Two commands on a fresh machine: `make up` serves the component locally, `make test` runs
# every test. Both install what they need.

WASM := target/wasm32-wasip2/release/edgepedia.wasm
STATE_DIR ?= $(or $(EDGEPEDIA_STATE_DIR),.spin)
export EDGEPEDIA_LISTEN ?= 127.0.0.1:3000
# kubectl sends tokens only over TLS: the local runtime also serves HTTPS (self-signed).
export EDGEPEDIA_TLS_LISTEN ?= 127.0.0.1:3443

.PHONY: up spin-up host-up build wasm host agent deps python-deps system-deps test lint bench dist stress

# Only what is missing: the wasm target, clippy and rustfmt.
deps:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

wasm: deps
	cargo build --target wasm32-wasip2 --release -p edgepedia

# Native binaries use the `native` profile (speed, quick build), output in target/native/.
host:
	cargo build --profile native -p edgepedia-host

agent:
	cargo build --profile native -p sync-agent

build: wasm
	cargo build --profile native -p edgepedia-host -p sync-agent

# Real Spin when installed, else the bundled runtime on the same .wasm.
up:
	@if command -v spin >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory spin-up; \
	else \
		$(MAKE) --no-print-directory host-up; \
	fi

host-up: wasm host
	target/native/edgepedia-host --manifest spin.toml --state-dir $(STATE_DIR) --dev-secret

# Spin builds the component itself; without SPIN_VARIABLE_JWT_HS256_SECRET the same dev
# secret as the bundled host's (<state dir>/dev-jwt-secret) is used and a token printed.
spin-up: deps
	@mkdir -p $(STATE_DIR)
	@if [ -z "$${SPIN_VARIABLE_JWT_HS256_SECRET:-}" ]; then \
		[ -s $(STATE_DIR)/dev-jwt-secret ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > $(STATE_DIR)/dev-jwt-secret; \
		echo "dev admin token (30 days):"; echo; \
		echo "export TOKEN=$$(python3 scripts/dev-token.py $(STATE_DIR)/dev-jwt-secret spin.toml)"; echo; \
		echo "try:"; \
		echo "  curl -H \"Authorization: Bearer \$$TOKEN\" http://$(EDGEPEDIA_LISTEN)/apis/clusterpedia.io/v1beta1/resources/api/v1/pods"; \
		echo; \
	fi
	spin build
	SPIN_VARIABLE_JWT_HS256_SECRET=$${SPIN_VARIABLE_JWT_HS256_SECRET:-$$(cat $(STATE_DIR)/dev-jwt-secret)} \
		spin up --listen $(EDGEPEDIA_LISTEN) --state-dir $(STATE_DIR)

# Programs the tests drive (examples/ci's curl + jq scripts, a real redis-server for the
# key-value tests), from Debian's packages when missing; the package names are the commands'.
system-deps:
	@missing=""; for c in curl jq redis-server; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && apt-get install -y -qq $$missing; fi

python-deps:
	@python3 -c 'import kubernetes' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check kubernetes

lint: deps
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip2 -p edgepedia -- -D warnings

# End-to-end tests run target/native/edgepedia-host on $(WASM) and target/native/sync-agent.
test: build python-deps system-deps lint
	cargo test --workspace

# Both benches, then docs/BENCHMARKS.md rewritten from this run (its hand-written notes kept).
bench: build
	@started=$$(date +%s.%N) && \
	cargo bench -p edgepedia --bench runtime && \
	BENCH_STARTED=$$started BENCH_DOC=docs/BENCHMARKS.md cargo bench -p edgepedia --bench latency

# Release artifacts in dist/: the .wasm (with a spin.toml beside it), the agent and the local
# runtime for this machine, an aarch64 agent where that target and linker are installed, and
# SHA256SUMS.
dist: build
	@if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu && command -v aarch64-linux-gnu-gcc >/dev/null; then \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
			cargo build --profile native --target aarch64-unknown-linux-gnu -p sync-agent && \
		DIST_AARCH64_AGENT=target/aarch64-unknown-linux-gnu/native/sync-agent scripts/dist.sh dist; \
	else \
		echo "dist: no aarch64 agent (needs: rustup target add aarch64-unknown-linux-gnu; apt install gcc-aarch64-linux-gnu)"; \
		scripts/dist.sh dist; \
	fi

# The reliability tests, long: 60 crash rounds, 20,000 fuzz cases per property, 64 clients for
# 60 s on ~100k objects (docs/RELIABILITY.md).
stress: build
	EDGEPEDIA_CRASH_ROUNDS=60 cargo test --test e2e_crash -- --nocapture
	PROPTEST_CASES=20000 cargo test --test engine_fuzz
	EDGEPEDIA_LOAD_OBJECTS=100000 EDGEPEDIA_LOAD_CLIENTS=64 EDGEPEDIA_LOAD_SECONDS=60 \
		cargo test --test e2e_load -- --nocapture
