#!/usr/bin/env bash
# Memory over a long replay: is RSS flat once the account population is in, and what does a
# tracked account cost at 1M and 10M accounts? Repeatable by anyone; numbers in BENCHMARKS.md.
#
#   benches/scale-harness.sh ACCOUNTS EVENTS [INTERVAL_S]     # e.g. 10000000 30000000 5
#   REPEAT=10 benches/scale-harness.sh 1000000 3000000 10      # the file 10x, time-shifted
#
# Steps:
#   1. builds `loginwatch` (release); fetches DB-IP via benches/fetch-dbip.sh (cached);
#   2. generates `gen --accounts A --events E --seed 1 --geoip-city $DBIP` once into
#      $LOGINWATCH_CACHE/bench (default ~/.cache/loginwatch/bench; 30M events is ~9 GB; never
#      inside the repo);
#   3. runs `replay --workers 1` over it with `engine.max_accounts` raised to at least A (the
#      default is 1M) and samples the process every INTERVAL_S seconds: share of the input
#      read (`rchar` of /proc/PID/io), VmRSS and RssAnon (/proc/PID/status);
#   4. prints the samples as a table and the replay summary (which ends with the engines'
#      own state estimate, bytes per tracked account, and the shared_ip index size).
# With REPEAT=N the replay reads `replay_tools repeat FILE N` instead of the file: N copies,
# each moved later by the file's span, so the same accounts return period after period (a
# steady population; the generator alone starts accounts at random times, so its population
# keeps growing through a long file).
# Nothing is asserted; read the table: after the accounts are all in, RssAnon should stop
# growing (the bounds are per account, per network and in total; see README "Memory").
set -euo pipefail
accounts="${1:?accounts}"
events="${2:?events}"
interval="${3:-5}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
. benches/lib.sh

cargo build --release -p loginwatch >&2
lw="$repo/target/release/loginwatch"
dbip="$(benches/fetch-dbip.sh)"

file="$(generated "$lw" "$cache/a$accounts-e$events-s1.jsonl" \
  --accounts "$accounts" --events "$events" --geoip-city "$dbip")"
size=$(stat -c %s "$file")
repeat="${REPEAT:-1}"
size=$((size * repeat))

max=$(( accounts > 1000000 ? accounts : 1000000 ))
config="$(mktemp --suffix=.toml)"
summary="$(mktemp)"
trap 'rm -f "$config" "$summary"' EXIT
printf '[geoip]\ncity = "%s"\n[engine]\nmax_accounts = %d\n' "$dbip" "$max" >"$config"

echo "== replay $file x$repeat ($((size / 1000000)) MB), max_accounts $max, sampling every ${interval}s" >&2
if [ "$repeat" -gt 1 ]; then
  tools="$(bench_bin replay_tools)"
  "$tools" repeat "$file" "$repeat" | "$lw" replay --config "$config" --input - --output /dev/null 2>"$summary" &
else
  "$lw" replay --config "$config" --input "$file" --output /dev/null 2>"$summary" &
fi
pid=$!
start=$(date +%s)
printf '%8s %8s %10s %10s\n' "elapsed" "input%" "VmRSS_MB" "RssAnon_MB"
while kill -0 "$pid" 2>/dev/null; do
  rchar=$(awk '/^rchar/ {print $2}' "/proc/$pid/io" 2>/dev/null || echo 0)
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ -n "$rss" ] && printf '%8s %8.1f %10d %10d\n' "$(( $(date +%s) - start ))s" \
    "$(awk -v r="$rchar" -v s="$size" 'BEGIN {print r * 100 / s}')" "$(( ${rss:-0} / 1024 ))" "$(( ${anon:-0} / 1024 ))"
  sleep "$interval"
done
wait "$pid"
cat "$summary"
