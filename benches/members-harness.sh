#!/usr/bin/env bash
# Does the Kafka service keep its promises when members die and share the work? Produces a
# `loginwatch gen` stream (laptop farms, carriers and venues included) into PARTITIONS
# partitions of a real Kafka-protocol broker (tansu, in memory), runs `loginwatch run`
# members over it, and compares the alert topic with `loginwatch replay` on the same events
# (`kafka_load compare`: every alert id; shared_ip and account_risk by account).
#
#   benches/members-harness.sh                  # both scenarios, ~3 minutes on 2 cores
#   MODE=kills KILLS=10 benches/members-harness.sh
#
# Scenarios:
#   kills  one member at a time, killed with SIGKILL KILL_EVERY s after it starts and started
#          again, KILLS times, while the stream is produced at full speed; then a last member
#          finishes the stream;
#   three  three members at full speed over the stream produced before they start.
# Knobs: ACCOUNTS=20000 EVENTS=100000 PARTITIONS=8 KILLS=10 KILL_EVERY=1 MODE=both
#        COMMIT_INTERVAL=1s  NETWORK=on (off: `network_topic = ""`, one index per member)
#        GEOIP=demo (dbip: DB-IP Lite via benches/fetch-dbip.sh)  LW_BIN, LOAD_BIN as in
#        service-harness.sh. Output: $LOGINWATCH_CACHE/bench/members-<time>/ (logs, rows).
# Nothing is asserted; read the RESULT rows: missing=0 extra=0 is the promise.
set -euo pipefail

accounts="${ACCOUNTS:-20000}"
events="${EVENTS:-100000}"
partitions="${PARTITIONS:-8}"
kills="${KILLS:-10}"
kill_every="${KILL_EVERY:-1}"
mode="${MODE:-both}"
commit_interval="${COMMIT_INTERVAL:-1s}"
network="${NETWORK:-on}"
geoip="${GEOIP:-demo}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/benches/lib.sh"
run_dir members
cd "$repo"

service_bins "$out"
gen_args=(); geoip_toml=""; replay_args=()
if [ "$geoip" = dbip ]; then
  dbip="$(benches/fetch-dbip.sh)"
  gen_args=(--geoip-city "$dbip"); replay_args=(--geoip-city "$dbip")
  geoip_toml="[geoip]
city = \"$dbip\""
  file="$cache/a$accounts-e$events-s1.jsonl"
else
  file="$cache/a$accounts-e$events-s1-demo.jsonl"
fi
generated "$lw" "$file" --accounts "$accounts" --events "$events" "${gen_args[@]}" >/dev/null
"$lw" replay --input "$file" --output "$out/expected.jsonl" "${replay_args[@]}" 2>"$out/replay.log"
echo "== input: $file ($(wc -l <"$out/expected.jsonl") alerts from replay); output: $out" >&2

broker_pid=""; service_pid=""; members=()
cleanup() {
  for p in "${members[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  stop_service_and_broker
}
trap cleanup EXIT

# setup NAME: a fresh broker, topics and a member configuration for scenario NAME.
setup() {
  name="$1"
  eval "$(deploy/local-broker.sh start)"
  brokers="$LOGINWATCH_KAFKA_BROKERS"; broker_pid="$BROKER_PID"
  input="$name-logins"; alerts="$name-alerts"; dead="$name-dead"
  network_topic="$name-networks"; [ "$network" = on ] || network_topic=""
  "$load" create --brokers "$brokers" --input "$input" --partitions "$partitions" \
    --alerts "$alerts" --dead-letters "$dead" >/dev/null
}

# member N: starts member N of the current scenario in the background (pid in $!).
member() {
  local cfg="$out/$name-$1.toml"
  cat >"$cfg" <<EOF
$geoip_toml
[kafka]
brokers = "$brokers"
group_id = "$name"
input_topic = "$input"
alert_topic = "$alerts"
dead_letter_topic = "$dead"
state_topic = "$name-state"
network_topic = "$network_topic"
commit_interval = "$commit_interval"
shutdown_grace = "10s"
[kafka.consumer]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[metrics]
listen = "127.0.0.1:$(free_port)"
EOF
  "$lw" run --config "$cfg" >>"$out/$name.log" 2>&1 &
}

compare() {
  local r
  r="$("$load" compare --brokers "$brokers" --alerts "$alerts" --expected "$out/expected.jsonl" --timeout 300 2>>"$out/$name.compare.log")"
  echo "$name network=$network $(grep '^RESULT' <<<"$r" | cut -d' ' -f2-)" | tee -a "$out/rows" >&2
}

finish() {
  for p in "${members[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${members[@]}"; do wait "$p" 2>/dev/null || true; done
  members=()
  deploy/local-broker.sh stop "$broker_pid"; broker_pid=""
}

if [ "$mode" = kills ] || [ "$mode" = both ]; then
  setup kills
  "$load" backlog --brokers "$brokers" --input "$input" --file "$file" --events "$events" >"$out/kills.produce.log" 2>&1 &
  producing=$!
  for i in $(seq "$kills"); do
    member "$i"; pid=$!
    sleep "$kill_every"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  wait "$producing"
  member last; members=($!)
  compare
  finish
fi

if [ "$mode" = three ] || [ "$mode" = both ]; then
  setup three
  "$load" backlog --brokers "$brokers" --input "$input" --file "$file" --events "$events" >"$out/three.produce.log" 2>&1
  for i in 1 2 3; do member "$i"; members+=($!); done
  compare
  finish
fi
cat "$out/rows"
