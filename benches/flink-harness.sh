#!/usr/bin/env bash
# loginwatch against an Apache Flink DataStream job running the same impossible-travel rule
# (benches/flink/TravelJob.java) on the same pre-located, alert-heavy stream. Repeatable by
# anyone with Java 17+ and Python 3; see benches/flink/README.md and BENCHMARKS.md.
#
#   benches/flink-harness.sh                  # RUNS=5 rounds
#   RUNS=3 benches/flink-harness.sh
#
# Steps:
#   1. Flink: PyPI's `apache-flink-libraries` (FLINK_VERSION, default 2.3.0) installed into a
#      venv under $LOGINWATCH_CACHE/flink (default ~/.cache/loginwatch/flink), once; the job
#      compiled with `javac` against its jars (again only when TravelJob.java changes);
#   2. loginwatch: `cargo build --release -p loginwatch --bin loginwatch` (or LW_BIN) and the
#      `replay_tools` bench binary (or TOOLS_BIN), copied into the results folder so a rebuild
#      during the runs cannot change what is measured (CARGO_TARGET_DIR is honoured);
#   3. the stream: `replay_tools hop 1000000 200000 3000000 7` (1 M accounts hopping over
#      200,000 addresses, 3 M logins over 7 days, each with a `geo` hint), once, cached in
#      $LOGINWATCH_CACHE/bench;
#   4. CHECK=1 (default): one untimed run of loginwatch (impossible_travel alone) and of the
#      Flink job writing their alerts to files, and their triggering event-id pairs compared,
#      to show both run the same rule;
#   5. RUNS rounds, each running the three in turn (the order rotated every round):
#        lw_all     `loginwatch replay` one worker, every detector on (benches/flink/all-detectors.toml)
#        lw_travel  `loginwatch replay` one worker, impossible_travel alone (benches/flink/travel-only.toml)
#        flink      the Flink job, parallelism 1, JVM -Xmx$FLINK_HEAP, object reuse on
#      alerts serialized as JSON lines and written to /dev/null by all three; every run under
#      `/usr/bin/time -v` (wall, CPU, peak RSS); FLINK_JVM_OPTS adds JVM options (none by default);
#   6. prints and writes (results.txt in $LOGINWATCH_CACHE/bench/flink-<date>/, with every
#      run's log) each one's median events/s, alerts and CPU, the ratios loginwatch/Flink, and
#      CPU per event.
#
# events/s: lines / the tool's own timer — loginwatch's summary (read, process, write, after
# start-up), Flink's job net runtime (JobExecutionResult.getNetRuntime: job submission to
# finish, without the JVM's and the MiniCluster's start). Ratios by process wall time are
# printed next to them. Nothing is asserted: the machine is shared, check `uptime` first.
set -euo pipefail
runs="${RUNS:-5}"
check="${CHECK:-1}"
flink_version="${FLINK_VERSION:-2.3.0}"
flink_heap="${FLINK_HEAP:-4g}"
object_reuse="${OBJECT_REUSE:-true}"
hop_args=(${HOP:-1000000 200000 3000000 7})
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
. benches/lib.sh

for tool in java javac python3 jq; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

# ---- 1. Flink ---------------------------------------------------------------------------------
flink_dir="${cache%/bench}/flink"
venv="$flink_dir/venv"
mkdir -p "$flink_dir"
installed() { "$venv/bin/pip" show apache-flink-libraries 2>/dev/null | awk '/^Version:/ {print $2}'; }
if [ "$(installed)" != "$flink_version" ]; then
  echo "== Flink $flink_version: pip install apache-flink-libraries into $venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  # The jars are all the job needs; --no-deps skips the Python side.
  "$venv/bin/pip" install --quiet --no-deps "apache-flink-libraries==$flink_version" >&2
fi
flink_lib="$("$venv/bin/python" -c 'import os, pyflink; print(os.path.join(list(pyflink.__path__)[0], "lib"))')"
[ -f "$flink_lib/flink-dist-$flink_version.jar" ] || { echo "no flink-dist jar in $flink_lib" >&2; exit 1; }

src="$repo/benches/flink/TravelJob.java"
classes="$flink_dir/classes-$flink_version-$(sha256sum "$src" | cut -c1-12)"
if [ ! -f "$classes/TravelJob.class" ]; then
  echo "== javac TravelJob.java -> $classes" >&2
  rm -rf "$classes.tmp"; mkdir -p "$classes.tmp"
  javac --release 17 -d "$classes.tmp" -cp "$flink_lib/*" "$src"
  mv "$classes.tmp" "$classes"
fi
# The JVM options Flink's own scripts start every process with on Java 17 (env.java.opts.all in
# the config.yaml shipped inside flink-dist): the --add-opens/--add-exports its runtime needs.
read -r -a flink_opens <<<"$(unzip -p "$flink_lib/flink-dist-$flink_version.jar" config.yaml |
  awk '/^ *all: --add/ {sub(/^ *all: /, ""); print; exit}')"
[ "${#flink_opens[@]}" -gt 0 ] || { echo "no env.java.opts.all in flink-dist's config.yaml" >&2; exit 1; }
# FLINK_JVM_OPTS: more JVM options (say -XX:+UseParallelGC); none by default (G1, the JVM's).
read -r -a extra_opts <<<"${FLINK_JVM_OPTS:-}"
jvm_flags=("${flink_opens[@]}" "-Xmx$flink_heap" ${extra_opts[@]+"${extra_opts[@]}"} -Dlog4j2.level=WARN)
flink_cmd=(java "${jvm_flags[@]}" -cp "$flink_lib/*:$classes" TravelJob --object-reuse "$object_reuse")

# ---- 2. loginwatch ----------------------------------------------------------------------------
out="$cache/flink-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
tree="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' with uncommitted changes')"
lw_from="the tree at $tree"
if [ -n "${LW_BIN:-}" ]; then
  lw_from="LW_BIN=$LW_BIN (harness tree at $tree)"
else
  echo "== cargo build --release -p loginwatch --bin loginwatch" >&2
  LW_BIN="$(cargo build --release -p loginwatch --bin loginwatch --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "loginwatch" and .executable != null) | .executable' |
    tail -n 1)"
fi
TOOLS_BIN="${TOOLS_BIN:-$(bench_bin replay_tools)}"
[ -x "$LW_BIN" ] && [ -x "$TOOLS_BIN" ] || { echo "loginwatch or replay_tools binary not found" >&2; exit 1; }
cp "$LW_BIN" "$out/loginwatch"; cp "$TOOLS_BIN" "$out/replay_tools"
lw="$out/loginwatch"

# ---- 3. the stream ----------------------------------------------------------------------------
file="$cache/hop-$(IFS=-; echo "${hop_args[*]}").jsonl"
if [ ! -s "$file" ]; then
  echo "== replay_tools hop ${hop_args[*]} -> $file" >&2
  "$out/replay_tools" hop "${hop_args[@]}" >"$file.tmp"
  mv "$file.tmp" "$file"
fi
lines="$(wc -l <"$file")"
echo "== input: $file ($(du -h "$file" | cut -f1), $lines lines)" >&2
cat "$file" >/dev/null # warm the page cache once, so no run pays the first disk read

lw_all=("$lw" replay --config benches/flink/all-detectors.toml --workers 1 --input "$file")
lw_travel=("$lw" replay --config benches/flink/travel-only.toml --workers 1 --input "$file")

{
  echo "loginwatch built from $lw_from; Flink $flink_version (apache-flink-libraries), $(java -version 2>&1 | head -n 1)"
  echo "Flink job source: $src (sha256 $(sha256sum "$src" | cut -c1-12))"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "JVM flags: ${jvm_flags[*]}"
  echo "Flink job: parallelism 1, streaming mode, hashmap state backend, no checkpoints, object reuse $object_reuse"
  echo "input: $file ($lines lines; replay_tools hop ${hop_args[*]})"
} >"$out/env.txt"

# ---- 4. the same rule? ------------------------------------------------------------------------
pairs() { jq -r 'select(.kind == "impossible_travel") | .event_ids | join(" ")' "$1" | sort; }
if [ "$check" = 1 ]; then
  echo "== check: impossible_travel alerts of loginwatch (travel alone) and of the Flink job" >&2
  "${lw_travel[@]}" --output "$out/check-loginwatch.jsonl" 2>"$out/check-loginwatch.log"
  "${flink_cmd[@]}" --input "$file" --output "$out/check-flink.jsonl" 2>"$out/check-flink.log" >&2
  pairs "$out/check-loginwatch.jsonl" >"$out/check-loginwatch.pairs"
  pairs "$out/check-flink.jsonl" >"$out/check-flink.pairs"
  both="$(comm -12 "$out/check-loginwatch.pairs" "$out/check-flink.pairs" | wc -l)"
  only_lw="$(comm -23 "$out/check-loginwatch.pairs" "$out/check-flink.pairs" | wc -l)"
  only_fl="$(comm -13 "$out/check-loginwatch.pairs" "$out/check-flink.pairs" | wc -l)"
  echo "check: impossible_travel alerts (by triggering event ids): both $both, loginwatch only $only_lw, Flink only $only_fl" |
    tee "$out/check.txt" >&2
  rm -f "$out/check-loginwatch.jsonl" "$out/check-flink.jsonl"
fi

# ---- 5. the runs ------------------------------------------------------------------------------
# run NAME CMD... : appends "NAME round events_per_s wall_s cpu_s peak_rss_kb alerts" to rows
run() {
  local name="$1" round="$2"; shift 2
  local log="$out/$name-$round.log"
  /usr/bin/time -v "$@" >/dev/null 2>"$log"
  local eps alerts wall cpu rss
  eps="$(grep -oE '\(([0-9]+) events/s' "$log" | head -n 1 | tr -dc '0-9')"
  alerts="$(grep -m1 -E '^ +alerts: ' "$log" | awk '{print $2}')"
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$log")"
  cpu="$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")"
  rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
  echo "$name $round ${eps:-0} ${wall:-0} ${cpu:-0} ${rss:-0} ${alerts:-0}" >>"$out/rows"
  printf '   %-9s %8s events/s  %8s alerts  wall %6.2f s  CPU %6.2f s  peak RSS %5d MB\n' \
    "$name" "${eps:-?}" "${alerts:-?}" "${wall:-0}" "${cpu:-0}" "$(( ${rss:-0} / 1024 ))" >&2
}
names=(lw_all lw_travel flink)
: >"$out/rows"
echo "== $runs rounds of ${names[*]} (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for round in $(seq "$runs"); do
  echo "-- round $round (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  for k in 0 1 2; do
    name="${names[$(( (k + round - 1) % 3 ))]}"
    case "$name" in
      lw_all) run lw_all "$round" "${lw_all[@]}" --output /dev/null ;;
      lw_travel) run lw_travel "$round" "${lw_travel[@]}" --output /dev/null ;;
      flink) run flink "$round" "${flink_cmd[@]}" --input "$file" --output /dev/null ;;
    esac
  done
done

# ---- 6. the report ----------------------------------------------------------------------------
median() { # NAME COLUMN -> the median of that column over the rounds
  awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$out/rows" | sort -g |
    awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
per_round() { # NAME -> "r1 r2 ..." of NAME's events/s over Flink's in the same round
  awk -v n="$1" '$1 == "flink" {f[$2] = $3} $1 == n {x[$2] = $3} END {
    for (r = 1; r in x; r++) printf "%s%.2f", (r > 1 ? " " : ""), (f[r] > 0 ? x[r] / f[r] : 0) }' "$out/rows"
}
{
  cat "$out/env.txt"
  [ -f "$out/check.txt" ] && cat "$out/check.txt"
  echo "rounds: $runs (each runs the three in turn, the order rotated); load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  printf '%-44s %10s %10s %8s %8s %9s  %s\n' "run (medians)" "events/s" "alerts" "wall s" "CPU s" "RSS MB" "all rounds (events/s)"
  for name in "${names[@]}"; do
    case "$name" in
      lw_all) label="loginwatch replay, 1 worker, every detector" ;;
      lw_travel) label="loginwatch replay, 1 worker, travel alone" ;;
      flink) label="Flink $flink_version job, parallelism 1" ;;
    esac
    printf '%-44s %10.0f %10.0f %8.2f %8.2f %9.0f  %s\n' "$label" "$(median "$name" 3)" "$(median "$name" 7)" \
      "$(median "$name" 4)" "$(median "$name" 5)" "$(awk -v k="$(median "$name" 6)" 'BEGIN {print k / 1024}')" \
      "$(awk -v n="$name" '$1 == n {printf "%s ", $3}' "$out/rows")"
  done
  echo
  fl="$(median flink 3)"; flw="$(median flink 4)"
  for name in lw_all lw_travel; do
    case "$name" in lw_all) label="every detector";; lw_travel) label="travel alone";; esac
    echo "loginwatch / Flink, $label: $(ratio "$(median "$name" 3)" "$fl")x events/s (per round: $(per_round "$name")); by process wall time $(ratio "$flw" "$(median "$name" 4)")x"
  done
  # CPU (user + system, whole process: the JVM's start, JIT and GC threads included) moves less
  # than events/s when other work shares the machine.
  flc="$(median flink 5)"
  echo "CPU per event (process user + system): loginwatch every detector $(awk -v c="$(median lw_all 5)" -v n="$lines" 'BEGIN {printf "%.2f", c * 1e6 / n}') us," \
    "travel alone $(awk -v c="$(median lw_travel 5)" -v n="$lines" 'BEGIN {printf "%.2f", c * 1e6 / n}') us," \
    "Flink $(awk -v c="$flc" -v n="$lines" 'BEGIN {printf "%.2f", c * 1e6 / n}') us:" \
    "Flink uses $(ratio "$flc" "$(median lw_all 5)")x and $(ratio "$flc" "$(median lw_travel 5)")x their CPU"
  echo
  echo "every run's log: $out"
} | tee "$out/results.txt"
