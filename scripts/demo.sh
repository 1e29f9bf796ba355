#!/usr/bin/env bash
# make demo: the embedded stack, a worker in the background, the sample city, its alerts.
set -euo pipefail
cd "$(dirname "$0")/.."
ww=.venv/bin/welfare-watch
samples=tests/data/samples
data=${WW_DATA_DIR:-$PWD/.data}
export WW_AS_OF=${WW_AS_OF:-2026-11-28}   # the date the sample city is written for

$ww stack up
if [ -f "$data/worker.pid" ] && kill -0 "$(cat "$data/worker.pid")" 2>/dev/null; then
  kill "$(cat "$data/worker.pid")"; sleep 2
fi
$ww reset --yes
mkdir -p "$data"
nohup $ww worker > "$data/worker.log" 2>&1 &
echo $! > "$data/worker.pid"
echo "worker started (pid $(cat "$data/worker.pid"), log $data/worker.log)"

$ww roster load $samples/roster.csv
for feed in psb_deaths health_deaths cremations hukou_moves prison vehicles real_estate \
            enterprises income staff_relatives survival_checks; do
  $ww ingest $feed $samples/$feed.csv
done
$ww wait --timeout 120
# Payments are judged against the roster as it stands when they arrive: they come last.
$ww ingest payments $samples/payments.csv
$ww wait --timeout 120
$ww scan
$ww wait --timeout 120
$ww alerts list
cat <<TXT

The worker keeps running: try another file, e.g.
  $ww ingest prison $samples/prison.csv && $ww wait && $ww alerts list
Export every alert as JSON lines:  $ww alerts export
Check them against the expected:   $ww evaluate --expected $samples/expected_alerts.jsonl
Pre-approval check of applicants:  $ww check --program tekun 210105195203140118
Stop the worker and the stack:      make stop
TXT
