#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on a copy of its corpus, so the corpus
# in the repository does not grow; a crash stops the run and leaves its input in
# fuzz/artifacts/<target>/. Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
#   fuzz/run.sh 300
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
targets="decode state config decode_okta decode_entra decode_auth0 decode_cloudtrail
  decode_google_workspace decode_keycloak stage"
for target in $targets; do
  mkdir -p "$work/$target"
  echo "== $target ($seconds s)" >&2
  log="$work/$target.log"
  if ! cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "$target: crashed (input in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E '^Done|DONE' "$log" | tail -n 2
done
