#!/usr/bin/env bash
# A PNG of a score run's report, as README shows it (docs/run-report.png), with headless Chromium.
#   tools/report/screenshot.sh OUTPUT_DIR [PNG]      (Debian: apt-get install -y chromium)
set -euo pipefail
out="${1:?usage: $0 OUTPUT_DIR [PNG] (the --output folder of a score run)}"
png="${2:-docs/run-report.png}"
report="$(cd "$out" && pwd)/_ssdspark_report.html"
[[ -f "$report" ]] || { echo "no $report: run a score job into $out first" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[[ -n "$browser" ]] || { echo "no Chromium found; on Debian: apt-get install -y chromium" >&2; exit 1; }
mkdir -p "$(dirname "$png")"
"$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1240,1640 \
  --screenshot="$png" "file://$report" 2>/dev/null
echo "$png"
