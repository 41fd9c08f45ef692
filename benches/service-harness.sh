#!/usr/bin/env bash
# End-to-end benchmark of the Kafka service (`loginwatch run`) through a real Kafka-protocol
# broker (tansu, in-memory storage) on loopback. Numbers and method: SERVICE-RESULTS.md.
#
#   benches/service-harness.sh                 # defaults below; ~4 minutes on 2 cores
#   RUNS=5 BACKLOG=2000000 benches/service-harness.sh
#
# Knobs (environment variables):
#   ACCOUNTS=1000000  EVENTS=3000000   the `loginwatch gen --seed 1` file (shared cache with
#                                      replay-harness.sh: the same name is the same bytes)
#   BACKLOG=1000000   events produced before the service starts, for the throughput runs
#                     (the file's last BACKLOG lines: gen plants its anomalies late, so alerts
#                     flow; every run also reads the file's tail for the latency runs)
#   QUEUE_CAPACITY=2*BACKLOG/PARTITIONS  kafka.partition_queue_capacity in the throughput
#                     runs: more than a partition's backlog, so librdkafka never stops fetching
#                     one for a full queue (its 16 MB per partition still bounds it)
#   LAT_QUEUE_CAPACITY=$QUEUE_CAPACITY  the same for the latency runs (100000 is the default)
#   RUNS=3            repetitions of each measurement; medians are printed
#   TPUT_RUNS=$RUNS   throughput runs only (0 with RATE set: latency runs only)
#   BATCH_MESSAGES=10000  the load producer's batch.num.messages (1 = one message per record
#                     batch: pauses lose nothing on tansu, but tansu ingests and serves ~5x slower)
#   RATE=             latency-run input rate, events/s; empty = half the median throughput
#   DURATION=30       seconds of production at RATE in each latency run
#   LINGER_MS=5       the load producer's linger.ms in the latency runs (librdkafka's default)
#   PARTITIONS=4      input topic partitions (alerts: 2, dead letters: 1)
#   GEOIP=dbip        dbip = DB-IP Lite city (benches/fetch-dbip.sh) for gen and the service;
#                     demo = the embedded demo world
#   COMMIT_INTERVAL=1s  the service's kafka.commit_interval (throughput is read from commits;
#                     with the state topic on, also how often state is written)
#   STATE=on          on = the service keeps its state on a state topic (the default
#                     configuration, created by the service); off = `state_topic = ""` (and
#                     no network stage, which needs it)
#   NETWORK=on        on = shared_ip runs in the network stage (the default configuration:
#                     a visit per successful login through the network topic); off =
#                     `network_topic = ""` (one index in the process)
#   FETCH_WAIT_MS=    the service consumer's fetch.wait.max.ms ([kafka.consumer]); empty =
#                     librdkafka's default (500). tansu answers a fetch only when this expires,
#                     so it sets the floor of the latency (see SERVICE-RESULTS.md)
#   LW_BIN, LOAD_BIN  prebuilt `loginwatch` and `kafka_load` binaries to measure instead of
#                     building this tree (e.g. a clean build of a commit while others edit)
#   LOGINWATCH_CACHE  cache root (default ~/.cache/loginwatch); output goes to
#                     $LOGINWATCH_CACHE/bench/service-<time>/ (samples TSVs, logs, rows)
#
# Each run starts a fresh broker (deploy/local-broker.sh) and a fresh `loginwatch run`, so runs
# do not share topics, memory or state:
#   throughput run: create topics; `kafka_load backlog` produces BACKLOG events keyed by
#     account_id (librdkafka's default batching); start the service; `kafka_load drain` waits until the group's committed offsets
#     add up to BACKLOG; events/s = BACKLOG / (last commit − first consumption).
#   latency run: create topics; start the service; wait for /readyz; `kafka_load latency`
#     produces RATE×DURATION events at RATE, reads the alert topic, and maps each alert's
#     event_ids back to the produce time of its newest event: p50/p99/max in ms. shared_ip
#     alerts name the member's first login on the network, not the trigger: reported apart.
# Both sample the service's RSS, /metrics in-flight gauge and consumed counter every 250 ms.
# Only 127.0.0.1 is used. The machine is shared: check `uptime`; numbers are medians.
set -euo pipefail
accounts="${ACCOUNTS:-1000000}"
events="${EVENTS:-3000000}"
backlog="${BACKLOG:-1000000}"
runs="${RUNS:-3}"
rate="${RATE:-}"
duration="${DURATION:-30}"
partitions="${PARTITIONS:-4}"
geoip="${GEOIP:-dbip}"
commit_interval="${COMMIT_INTERVAL:-1s}"
state="${STATE:-on}"
network="${NETWORK:-on}"
queue_capacity="${QUEUE_CAPACITY:-$((2 * backlog / partitions))}"
tput_runs="${TPUT_RUNS:-$runs}"
batch="${BATCH_MESSAGES:-10000}"
lat_capacity="${LAT_QUEUE_CAPACITY:-$queue_capacity}"
linger="${LINGER_MS:-5}"
consumer_toml=""
[ -n "${FETCH_WAIT_MS:-}" ] && consumer_toml="[kafka.consumer]
\"fetch.wait.max.ms\" = $FETCH_WAIT_MS"
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/benches/lib.sh"
run_dir service
cd "$repo"

service_bins "$out"
{ echo "LW_BIN=$LW_BIN"; git rev-parse HEAD; git status --short; "$lw" --version; } >"$out/version" 2>&1 || true

gen_args=(); geoip_toml=""
if [ "$geoip" = dbip ]; then
  dbip="$(benches/fetch-dbip.sh)"
  gen_args=(--geoip-city "$dbip")
  geoip_toml="[geoip]
city = \"$dbip\""
  file="$cache/a$accounts-e$events-s1.jsonl" # replay-harness.sh's name for the same bytes
else
  file="$cache/a$accounts-e$events-s1-demo.jsonl"
fi
generated "$lw" "$file" --accounts "$accounts" --events "$events" "${gen_args[@]}" >/dev/null
echo "== input: $file; output: $out" >&2

broker_pid=""; service_pid=""
trap stop_service_and_broker EXIT

# start_run NAME CAPACITY: fresh broker, topics, service config; sets brokers, topics, cfg, port
start_run() {
  name="$1"; capacity="$2"
  eval "$(deploy/local-broker.sh start)"
  brokers="$LOGINWATCH_KAFKA_BROKERS"; broker_pid="$BROKER_PID"
  input="bench-$name-logins"; alerts="bench-$name-alerts"; dead="bench-$name-dead"
  state_topic="bench-$name-state"; [ "$state" = on ] || state_topic=""
  network_topic="bench-$name-networks"
  { [ "$state" = on ] && [ "$network" = on ]; } || network_topic=""
  group="bench-$name"; port="$(free_port)"; cfg="$out/$name.toml"
  cat >"$cfg" <<EOF
$geoip_toml
[kafka]
brokers = "$brokers"
group_id = "$group"
input_topic = "$input"
alert_topic = "$alerts"
dead_letter_topic = "$dead"
state_topic = "$state_topic"
network_topic = "$network_topic"
commit_interval = "$commit_interval"
shutdown_grace = "10s"
partition_queue_capacity = $capacity
$consumer_toml
[metrics]
listen = "127.0.0.1:$port"
EOF
  "$load" create --brokers "$brokers" --input "$input" --partitions "$partitions" \
    --alerts "$alerts" --dead-letters "$dead" >/dev/null
}

start_service() {
  "$lw" run --config "$cfg" >"$out/$name.service.log" 2>&1 &
  service_pid=$!
}

end_run() {
  kill -TERM "$service_pid" 2>/dev/null || true
  wait "$service_pid" 2>/dev/null || echo "   service $name exited non-zero (log: $out/$name.service.log)" >&2
  service_pid=""
  deploy/local-broker.sh stop "$broker_pid"; broker_pid=""
  sleep 1
}

watch_args() {
  echo --brokers "$brokers" --input "$input" --partitions "$partitions" --group "$group" \
    --metrics "127.0.0.1:$port" --pid "$service_pid" --broker-pid "$broker_pid" \
    --samples "$out/$name.samples.tsv"
}

# result KIND LINE: keeps the RESULT line of a run
result() { echo "$1 $(grep '^RESULT' <<<"$2" | tail -n 1 | cut -d' ' -f2-)" | tee -a "$out/rows" >&2; }

echo "== $tput_runs throughput runs, $backlog-event backlog (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for i in $(seq "$tput_runs"); do
  start_run "tput$i" "$queue_capacity"
  b="$("$load" backlog --brokers "$brokers" --input "$input" --file "$file" --events "$backlog" --batch-messages "$batch")"
  result backlog "$b"
  start_service
  # shellcheck disable=SC2046
  d="$("$load" drain $(watch_args) --events "$backlog")"
  result drain "$d"
  end_run
done

# median KIND KEY: median of KEY over the rows of KIND
median() {
  { grep "^$1 " "$out/rows" || true; } | tr ' ' '\n' | sed -n "s/^$2=//p" | sort -g |
    awk '{v[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
tput="$(median drain eps_committed)"
rate="${rate:-$(awk -v t="$tput" 'BEGIN {printf "%d", t / 2}')}"

echo "== $runs latency runs at $rate events/s for $duration s (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for i in $(seq "$runs"); do
  start_run "lat$i" "$lat_capacity"
  start_service
  # shellcheck disable=SC2046
  l="$("$load" latency $(watch_args) --alerts "$alerts" --file "$file" --rate "$rate" --duration "$duration" --batch-messages "$batch" --linger-ms "$linger")"
  result latency "$l"
  end_run
done

cat <<EOF

loginwatch run through tansu (in-memory) on 127.0.0.1, $partitions input partitions, state topic $state, network stage $network, medians of $runs
($(nproc) cores; load now $(cut -d' ' -f1-3 /proc/loadavg); rows: $out/rows)

| measurement | median |
|---|---|
| backlog produce rate (broker ingest), events/s | $(median backlog produce_eps) |
| max sustained throughput (committed offsets), events/s | $tput |
| same, by the consumed counter, events/s | $(median drain eps_consumed) |
| same, 10 %→90 % of the backlog, events/s | $(median drain eps_steady) |
| throughput runs: service CPU s / broker CPU s | $(median drain service_cpu_s) / $(median drain broker_cpu_s) |
| throughput runs: service RSS first / last / max, kB | $(median drain rss_first_kb) / $(median drain rss_last_kb) / $(median drain rss_max_kb) |
| throughput runs: in-flight max | $(median drain in_flight_max) |
| throughput runs: consumed / pauses / alerts published | $(median drain consumed) / $(median drain pauses) / $(median drain alerts_published) |
| latency runs: target / achieved rate, events/s | $rate / $(median latency rate_achieved) |
| latency runs: every event consumed (settled) | $(grep -c '^latency settled=true' "$out/rows" || true) of $runs |
| latency runs: alerts consumed (+ shared_ip, reported apart) | $(median latency alerts) (+ $(median latency shared_ip_alerts)) |
| produce → alert consumed p50, ms | $(median latency p50_ms) |
| produce → alert consumed p90, ms | $(median latency p90_ms) |
| produce → alert consumed p99, ms | $(median latency p99_ms) |
| produce → alert consumed max, ms | $(median latency max_ms) |
| latency runs: max events produced but not yet consumed | $(median latency behind_max) |
| latency runs: service RSS first / last / max, kB | $(median latency rss_first_kb) / $(median latency rss_last_kb) / $(median latency rss_max_kb) |
| latency runs: in-flight max | $(median latency in_flight_max) |
| latency runs: consumed / pauses / alerts published | $(median latency consumed) / $(median latency pauses) / $(median latency alerts_published) |
EOF
