#!/bin/bash
# The worker's roster path alone: a fresh local stack on its own ports, one worker, `roster load`
# of a city's roster, `welfare-watch wait`; prints the seconds until applied, the messages on
# ww.recheck and the worker's CPU time. Run from a checkout with its venv (.venv), once per
# commit to compare (bench/RESULTS.md, session 7):
#   bash bench/roster_path.sh .data/bench/cities/city-100000-seed7-12m-2026-11-28/roster.csv
set -euo pipefail
roster=$(realpath "$1")
export WW_DATA_DIR=${WW_DATA_DIR:-/tmp/ww-roster-path} WW_AS_OF=${WW_AS_OF:-2026-11-28}
export WW_KAFKA_BOOTSTRAP=127.0.0.1:35092 WW_REDIS_URL=redis://127.0.0.1:35379/0
ww=.venv/bin/welfare-watch
$ww stack down > /dev/null 2>&1 || true
rm -rf "$WW_DATA_DIR"
$ww stack up > /dev/null
$ww worker > "$WW_DATA_DIR/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null; $ww stack down > /dev/null' EXIT
sleep 12  # the worker joins its group
start=$(date +%s.%N)
$ww roster load "$roster" > /dev/null
$ww wait --timeout 900 > /dev/null
end=$(date +%s.%N)
rechecks=$(.venv/bin/python - <<'PY'
from kafka import KafkaConsumer, TopicPartition
consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:35092")
tps = [TopicPartition("ww.recheck", p) for p in consumer.partitions_for_topic("ww.recheck") or ()]
print(sum(consumer.end_offsets(tps).values()))
consumer.close()
PY
)
echo "roster applied in $(echo "$end - $start" | bc) s, ww.recheck messages $rechecks," \
  "worker CPU $(ps -o times= -p $worker | tr -d ' ') s"
