#!/usr/bin/env bash
# Installs tansu (the Kafka-protocol broker the real-broker suite runs against) from crates.io,
# unless it is already installed. About 12 minutes on a 2-core machine.
set -euo pipefail
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
if command -v tansu >/dev/null 2>&1 || [ -x "$bin" ]; then
  echo "tansu already installed" >&2
  exit 0
fi
echo "installing tansu $TANSU_VERSION (cargo install, takes a while)" >&2
cargo install tansu --version "$TANSU_VERSION" --features dynostore
