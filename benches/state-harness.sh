#!/usr/bin/env bash
# Restore benchmark of the service's state topic through a real Kafka-protocol broker (tansu,
# in-memory) on loopback: how long a partition holding ~1M accounts takes to come back, and
# what the state topic holds per account. Numbers: BENCHMARKS.md ("The service keeps its
# state").
#
#   benches/state-harness.sh                      # ~5 minutes on 2 cores
#   RUNS=3 benches/state-harness.sh
#
# Each run: a fresh broker; one input partition; the last BACKLOG lines of the cached
# `loginwatch gen` file (replay-harness.sh's 1M-account file, DB-IP located) produced as a
# backlog; `loginwatch run` (state topic on) drains it (`kafka_load drain`, committed offsets)
# and stops gracefully (its last flush); a second `loginwatch run` restores the partition,
# and its `state restored` log line gives the restore's seconds, records and bytes. The
# first service's /metrics, read before it stops, gives the tracked accounts and the state
# records and bytes it wrote. tansu does not compact, so a restore reads every record the
# first service wrote (several per account); a compacting broker leaves one per account.
#
# The restoring service's and the broker's CPU seconds over the restore tell who is busy.
#
# Knobs: ACCOUNTS=1000000 EVENTS=3000000 BACKLOG=$EVENTS RUNS=1 COMMIT_INTERVAL=1s
#        COMPRESSION=none (the service producer's compression.type: lz4, zstd, ...)
#        LW_BIN, LOAD_BIN (prebuilt binaries), LOGINWATCH_CACHE (see lib.sh).
set -euo pipefail
accounts="${ACCOUNTS:-1000000}"
events="${EVENTS:-3000000}"
backlog="${BACKLOG:-$events}"
runs="${RUNS:-1}"
commit_interval="${COMMIT_INTERVAL:-1s}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/benches/lib.sh"
run_dir state
cd "$repo"
service_bins "$out"
dbip="$(benches/fetch-dbip.sh)"
file="$(generated "$lw" "$cache/a$accounts-e$events-s1.jsonl" --accounts "$accounts" --events "$events" --geoip-city "$dbip")"
broker_pid=""; service_pid=""
trap stop_service_and_broker EXIT
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# cpu_s PID: user + system CPU seconds of a process so far
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

for i in $(seq "$runs"); do
  eval "$(deploy/local-broker.sh start)"
  brokers="$LOGINWATCH_KAFKA_BROKERS"; broker_pid="$BROKER_PID"
  name="restore$i"; input="$name-logins"; port="$(free_port)"; cfg="$out/$name.toml"
  cat >"$cfg" <<TOML
[geoip]
city = "$dbip"
[kafka]
brokers = "$brokers"
group_id = "$name"
input_topic = "$input"
alert_topic = "$name-alerts"
dead_letter_topic = "$name-dead"
state_topic = "$name-state"
network_topic = "$name-networks"
commit_interval = "$commit_interval"
partition_queue_capacity = $((2 * backlog))
shutdown_grace = "60s"
[kafka.producer]
"compression.type" = "${COMPRESSION:-none}"
[metrics]
listen = "127.0.0.1:$port"
TOML
  "$load" create --brokers "$brokers" --input "$input" --partitions 1 \
    --alerts "$name-alerts" --dead-letters "$name-dead" >/dev/null
  "$load" backlog --brokers "$brokers" --input "$input" --file "$file" --events "$backlog" >/dev/null
  "$lw" run --config "$cfg" >"$out/$name.first.log" 2>&1 & service_pid=$!
  "$load" drain --brokers "$brokers" --input "$input" --partitions 1 --group "$name" \
    --metrics "127.0.0.1:$port" --pid "$service_pid" --broker-pid "$broker_pid" \
    --samples "$out/$name.samples.tsv" --events "$backlog" --timeout 900 >/dev/null
  sleep 3 # one more flush interval, then the gauges
  tracked="$(metric 'loginwatch_tracked_accounts{partition="0"}')"
  written="$(metric loginwatch_state_records_written_total)"
  wbytes="$(metric loginwatch_state_bytes_written_total)"
  kill -TERM "$service_pid"; wait "$service_pid" || true; service_pid=""
  bcpu0="$(cpu_s "$broker_pid")"
  "$lw" run --config "$cfg" >"$out/$name.second.log" 2>&1 & service_pid=$!
  for _ in $(seq 600); do grep -q "state restored" "$out/$name.second.log" && break; sleep 0.5; done
  scpu="$(cpu_s "$service_pid")"; bcpu="$(awk -v a="$(cpu_s "$broker_pid")" -v b="$bcpu0" 'BEGIN {print a - b}')"
  line="$(sed 's/\x1b\[[0-9;]*m//g' "$out/$name.second.log" | grep "state restored" | head -1)"
  rss="$(awk '/VmHWM/ {print $2}' "/proc/$service_pid/status")"
  kill -TERM "$service_pid"; wait "$service_pid" || true; service_pid=""
  deploy/local-broker.sh stop "$broker_pid"; broker_pid=""
  secs="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")"
  records="$(sed -n 's/.*records=\([0-9]*\).*/\1/p' <<<"$line")"
  rbytes="$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")"
  echo "restore tracked=$tracked written=$written written_bytes=$wbytes restored_records=$records restored_bytes=$rbytes seconds=$secs service_cpu_s=$scpu broker_cpu_s=$bcpu peak_rss_kb=$rss" | tee -a "$out/rows" >&2
done
echo "rows: $out/rows"
