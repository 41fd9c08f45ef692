#!/usr/bin/env bash
# End-to-end replay throughput and memory on a large generated stream, resolved with the real
# DB-IP Lite city database. Repeatable by anyone; see BENCHMARKS.md for the numbers.
#
#   benches/replay-harness.sh [ACCOUNTS] [EVENTS] [RUNS]       # defaults 1000000 3000000 3
#
# Steps:
#   1. builds `loginwatch` (release) and the `replay_tools` bench binary (bench profile);
#   2. fetches DB-IP via benches/fetch-dbip.sh (cached);
#   3. generates `gen --accounts A --events E --seed 1 --geoip-city $DBIP` once into
#      $LOGINWATCH_CACHE/bench (default ~/.cache/loginwatch/bench; never inside the repo);
#   4. RUNS times each, interleaved: (a) bare borrowed serde_json parse of the same file
#      (`replay_tools bare-parse`), (b) `replay --workers 1 --geoip-city $DBIP`, (c) the same
#      with `--workers 2`; alerts to /dev/null; events/s from each summary on stderr, peak RSS
#      from `/usr/bin/time -v`; prints medians and the ratio to the bare parse;
#   5. state per tracked account: `replay_tools state` over the big file and over a small one
#      (A/100 accounts, E/100 events): RssAnon growth difference / account difference, next to
#      the engine's own estimate (EngineStats::approx_state_bytes).
#
# The machine is shared: check `uptime` first; numbers are medians, not minimums.
# Set KEEP=0 to delete the generated files at the end. No timing is ever asserted.
set -euo pipefail
accounts="${1:-1000000}"
events="${2:-3000000}"
runs="${3:-3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
. benches/lib.sh

[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

echo "== build" >&2
cargo build --release -p loginwatch >&2
lw="$repo/target/release/loginwatch"
tools="$(bench_bin replay_tools)"
[ -x "$tools" ] || { echo "replay_tools binary not found" >&2; exit 1; }

dbip="$(benches/fetch-dbip.sh)"
echo "== DB-IP: $dbip" >&2

gen() { # accounts events -> path
  generated "$lw" "$cache/a$1-e$2-s1.jsonl" --accounts "$1" --events "$2" --geoip-city "$dbip"
}
file="$(gen "$accounts" "$events")"
echo "== input: $file ($(du -h "$file" | cut -f1), $(wc -l <"$file") lines)" >&2

log="$cache/harness-$(date +%Y%m%d-%H%M%S).log"
# run NAME CMD... : appends "NAME events_per_s peak_rss_kb" to $log.rows
run() {
  local name="$1"; shift
  local err; err="$(mktemp)"
  /usr/bin/time -v "$@" >/dev/null 2>"$err"
  cat "$err" >>"$log"
  local eps rss
  eps="$(grep -oE '\(([0-9]+) events/s' "$err" | head -n 1 | tr -dc '0-9')"
  rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$err")"
  echo "$name ${eps:-0} ${rss:-0}" >>"$log.rows"
  echo "   $name: ${eps:-?} events/s, peak RSS ${rss:-?} kB" >&2
  rm -f "$err"
}

cat "$file" >/dev/null # warm the page cache once, so no run pays the first disk read
echo "== $runs runs each (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for i in $(seq "$runs"); do
  echo "-- run $i" >&2
  run bare_parse "$tools" bare-parse "$file"
  run replay_w1 "$lw" replay --workers 1 --geoip-city "$dbip" --input "$file" --output /dev/null
  run replay_w2 "$lw" replay --workers 2 --geoip-city "$dbip" --input "$file" --output /dev/null
done
grep -h "workers\|worker" "$log" | sort | uniq -c | head -n 5 >&2 || true

median() { # name column -> median of that column over runs
  awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$log.rows" | sort -n |
    awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}
floor="$(median bare_parse 2)"
echo
echo "input: $accounts accounts, $events events, $(du -h "$file" | cut -f1); $runs runs; load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %14s %10s %14s %s\n' "run" "events/s" "vs bare" "peak RSS MB" "all runs (events/s)"
for name in bare_parse replay_w1 replay_w2; do
  eps="$(median "$name" 2)"; rss="$(median "$name" 3)"
  all="$(awk -v n="$name" '$1 == n {printf "%s ", $2}' "$log.rows")"
  label="$name"
  case "$name" in
    bare_parse) label="bare serde_json parse (floor)";;
    replay_w1) label="replay --workers 1";;
    replay_w2) label="replay --workers 2";;
  esac
  printf '%-34s %14s %10s %14s %s\n' "$label" "$eps" \
    "$(awk -v a="$eps" -v b="$floor" 'BEGIN {printf "%.2fx", (b > 0 ? a / b : 0)}')" \
    "$(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}')" "$all"
done
w1="$(median replay_w1 2)"; w2="$(median replay_w2 2)"
awk -v a="$w2" -v b="$w1" 'BEGIN {printf "scaling 1 -> 2 workers: %.2fx\n", (b > 0 ? a / b : 0)}'

echo
echo "== state per tracked account"
small="$(gen $((accounts / 100)) $((events / 100)))"
state() { "$tools" state "$1" "$dbip" 2>&1 | tee -a "$log"; }
big_out="$(state "$file")"; small_out="$(state "$small")"
field() { echo "$1" | grep -oE "$2 [0-9]+" | head -n 1 | awk '{print $2}'; }
nb="$(field "$big_out" tracked_accounts)"; ns="$(field "$small_out" tracked_accounts)"
gb="$(field "$big_out" anon_growth)"; gs="$(field "$small_out" anon_growth)"
ab="$(field "$big_out" approx_state_bytes)"
awk -v nb="$nb" -v ns="$ns" -v gb="$gb" -v gs="$gs" -v ab="$ab" 'BEGIN {
  printf "tracked accounts: %d (small run: %d)\n", nb, ns
  printf "measured: (RssAnon growth %d - %d) / (%d - %d) = %.0f bytes per account\n", gb, gs, nb, ns, (gb - gs) / (nb - ns)
  printf "engine estimate (approx_state_bytes / tracked): %d / %d = %.0f bytes per account\n", ab, nb, ab / nb
}'
echo "full log: $log"
if [ "${KEEP:-1}" = 0 ]; then rm -f "$file" "$small"; fi
