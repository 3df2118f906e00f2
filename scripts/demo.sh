#!/usr/bin/env bash
# The main job on the bundled fixture, from a fresh machine: install, build, fetch the models,
# render a synthetic Danish consultation with espeak-ng, and transcribe it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p autonotar -p fixtures
target/release/autonotar models fetch
out=target/demo
mkdir -p "$out"
wav=$(target/release/render-fixtures --out "$out" c01-ondt-i-halsen)
echo "== Transcript of $wav (synthetic voices; espeak's Danish is hard for Whisper base)" >&2
target/release/autonotar transcribe "$wav" --format txt
