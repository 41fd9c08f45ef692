# Shared by the bench harnesses (sourced, not run): where generated inputs are cached, how to
# find a bench tool's binary, and the cached `loginwatch gen` files.

# Generated inputs and logs; never inside the repo.
cache="${LOGINWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loginwatch}/bench"
mkdir -p "$cache"

# run_dir NAME: sets out to a fresh $cache/NAME-<time> folder holding an empty rows file (one
# line per measured run).
run_dir() {
  out="$cache/$1-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$out"; : >"$out/rows"
}

# bench_bin NAME: builds the `harness = false` bench target NAME of the loginwatch crate (bench
# profile) and prints its executable.
bench_bin() {
  cargo bench -p loginwatch --bench "$1" --no-run --message-format=json 2>/dev/null |
    jq -r --arg name "$1" \
      'select(.reason == "compiler-artifact" and .target.name == $name) | .executable' |
    tail -n 1
}

# generated LW FILE GEN_ARGS...: writes `LW gen --seed 1 GEN_ARGS...` to FILE unless it is
# already there (the same arguments give the same bytes, so harnesses share files), and
# prints FILE.
generated() {
  local lw="$1" file="$2"
  shift 2
  if [ ! -s "$file" ]; then
    echo "== gen $* -> $file" >&2
    "$lw" gen --seed 1 "$@" --output "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

# free_port: an unused loopback TCP port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# stop_service_and_broker: the EXIT trap of the service harnesses (they set service_pid and
# broker_pid while a run is up).
stop_service_and_broker() {
  [ -n "${service_pid:-}" ] && kill "$service_pid" 2>/dev/null || true
  [ -n "${broker_pid:-}" ] && deploy/local-broker.sh stop "$broker_pid" || true
}

# service_bins OUT: the `loginwatch` (LW_BIN, else built from this tree) and `kafka_load`
# (LOAD_BIN, else built) the service harnesses measure, copied into OUT so a rebuild during
# the runs cannot change what is measured; sets lw and load to the copies.
service_bins() {
  if [ -z "${LW_BIN:-}" ]; then
    echo "== build" >&2
    cargo build --release -p loginwatch >&2
    LW_BIN="$(pwd)/target/release/loginwatch"
  fi
  LOAD_BIN="${LOAD_BIN:-$(bench_bin kafka_load)}"
  cp "$LW_BIN" "$1/loginwatch"; cp "$LOAD_BIN" "$1/kafka_load"
  lw="$1/loginwatch"; load="$1/kafka_load"
}
