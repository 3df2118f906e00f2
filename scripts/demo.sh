#!/usr/bin/env bash
# The main job on the bundled fixture, from a fresh machine: install, build, fetch and build the
# models, render a synthetic Danish consultation with espeak-ng, transcribe it and draft its note.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p autonotar -p fixtures
target/release/autonotar models fetch
out=target/demo
mkdir -p "$out"
wav=$(target/release/render-fixtures --out "$out" c01-ondt-i-halsen)
echo "== Transcript (synthetic espeak-ng voices, which Whisper base hears poorly)" >&2
target/release/autonotar transcribe "$wav" --format txt | tee "$out/c01.txt"
echo "== Draft note from that transcript" >&2
target/release/autonotar draft "$out/c01.txt"
echo "== Draft note from the same consultation's written script (what clear speech gives)" >&2
target/release/render-fixtures --transcript c01-ondt-i-halsen > "$out/c01-script.txt"
target/release/autonotar draft "$out/c01-script.txt"
