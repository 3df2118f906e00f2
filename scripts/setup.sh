#!/usr/bin/env bash
# Installs what building and testing Autonotar needs on a fresh Debian machine, and nothing when
# it is all there already: cmake and libclang for whisper.cpp, espeak-ng and sox for the
# synthetic fixture audio, python3 with pip for `autonotar models fetch`, chromium with
# chromium-driver and firefox-esr with geckodriver for the review app's browser tests, and
# hunspell-da, the Danish dictionary the drafter checks every statement's words against, and
# nats-server, the JetStream broker the cluster test runs workers behind.
set -euo pipefail

missing=()
command -v cmake >/dev/null || missing+=(cmake)
# libclang itself (bindgen loads it), not libclang-cpp, which some images ship alone.
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || missing+=(libclang-dev)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v cc >/dev/null || missing+=(build-essential)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v firefox-esr >/dev/null || missing+=(firefox-esr)
[ -f /usr/share/hunspell/da_DK.dic ] || missing+=(hunspell-da)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
# The test script checks formatting and lints; rustup-managed toolchains may lack the components.
if command -v rustup >/dev/null && ! { cargo fmt --version && cargo clippy --version; } >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
# geckodriver is not in Debian's archive; crates.io has it, built from source (a few minutes, once).
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v geckodriver >/dev/null && [ ! -x "$cargo_bin/geckodriver" ]; then
  echo "setup: building geckodriver from crates.io" >&2
  cargo install geckodriver --locked --quiet
fi
