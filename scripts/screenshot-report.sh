#!/usr/bin/env bash
# Screenshot of an evaluation run's report.html with headless Chromium, for the README:
#   scripts/screenshot-report.sh RUN_DIR [OUT.png]   (default docs/screenshots/eval-report.png)
# RUN_DIR is the --out of an `autonotar eval` run. The window is 1280 px wide, like a laptop,
# and 2000 px tall: the header, the summary and the first tables and plot.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 RUN_DIR [OUT.png]" >&2
  exit 2
fi
report="$(realpath "$1")/report.html"
out="${2:-$(dirname "$0")/../docs/screenshots/eval-report.png}"
[ -f "$report" ] || { echo "error: $report not found; is $1 the --out of an \`autonotar eval\` run?" >&2; exit 1; }
command -v chromium >/dev/null || { echo "error: chromium is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
out="$(realpath "$out")"
# A throwaway profile, and nothing that would reach the network: the report is local and may
# hold consultation text.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1280,2000 --screenshot="$out" "file://$report" 2>/dev/null
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "$out"
