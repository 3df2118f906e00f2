#!/usr/bin/env bash
# The whole test suite from a fresh machine: install, build, fetch the models the tests run on,
# then the format and lint checks, then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run -q -p autonotar -- models fetch --tests
cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace
