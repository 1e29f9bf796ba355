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
# worker + connectors (file drop, dept.*.raw) + web app, as one process group
nohup $ww run --port 8080 > "$data/run.log" 2>&1 &
echo $! > "$data/worker.pid"
echo "welfare-watch run started (pid $(cat "$data/worker.pid"), log $data/run.log)"

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
token=$($ww token issue --role department --scope prison --subject dept:prison 2>/dev/null)
caseworker=$($ww token issue --role caseworker --scope cw-210102-03 --subject demo-cw-01 2>/dev/null)
supervisor=$($ww token issue --role supervisor --scope 210102 --subject demo-sup-01 2>/dev/null)
auditor=$($ww token issue --role auditor --scope '*' --subject demo-audit-01 2>/dev/null)
cat <<TXT

The caseworkers' inbox: http://127.0.0.1:8080/  — sign in with one of these demo tokens:
  caseworker cw-210102-03:             $caseworker
  supervisor of district 210102:       $supervisor
  auditor (reads everything):          $auditor

Worker, connectors, web app and webhooks keep running. Other ways in for a department's file:
  file drop: cp $samples/prison.csv $data/inbox/prison/  (moved to done/ with a report)
  HTTP:      curl -s -H "Authorization: Bearer $token" --data-binary @$samples/prison.csv http://127.0.0.1:8080/api/ingest/prison
  Kafka:     JSON records with the feed's column names on dept.prison.raw
Metrics: http://127.0.0.1:8080/metrics   Health: http://127.0.0.1:8080/readyz
Export every alert as JSON lines:  $ww alerts export
Check them against the expected:   $ww evaluate --expected $samples/expected_alerts.jsonl
Pre-approval check of applicants:  $ww check --program tekun 210105195203140118
Stop the worker and the stack:      make stop
TXT
