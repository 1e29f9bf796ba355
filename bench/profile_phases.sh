#!/usr/bin/env bash
# Profile the benchmark's worker phase by phase (bench/RESULTS.md, "Profiles").
#
#   welfare-watch bench --quick > bench.log 2>&1 &
#   bench/profile_phases.sh bench.log profiles/
#
# Attaches py-spy (not a dependency of the project: `pip install py-spy`) to the worker at the
# line that starts each phase in the benchmark's log and stops it at the next one, writing
# profiles/{roster,payments,scan}.txt in py-spy's raw format (one stack and its sample count
# a line: flamegraph.pl and speedscope read it).
set -euo pipefail

log=${1:?usage: profile_phases.sh BENCH_LOG OUT_DIR}
out=${2:?usage: profile_phases.sh BENCH_LOG OUT_DIR}
spy=${PY_SPY:-$(command -v py-spy || echo .venv/bin/py-spy)}
mkdir -p "$out"

declare -A until=([roster]="bench: facts" [payments]="bench: scan" [scan]="bench: evaluate")
for phase in roster payments scan; do
    until grep -q "^bench: $phase" "$log"; do sleep 0.5; done
    worker=$(pgrep -f "welfare-watch worker" | head -1)
    "$spy" record --pid "$worker" --rate 50 --format raw --output "$out/$phase.txt" \
        > "$out/$phase.log" 2>&1 &
    recording=$!
    until grep -q "^${until[$phase]}" "$log"; do sleep 0.5; done
    kill -INT "$recording"
    wait "$recording" || true
done
