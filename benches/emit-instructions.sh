#!/usr/bin/env bash
# Instructions per alert of the emit bench's cases, counted by valgrind's callgrind: a figure
# that does not move with the machine's load, for comparing two builds on a noisy VM where
# criterion's times swing by 2x between runs. Instructions are not time (a vector compare is
# one instruction doing sixteen bytes' work); report them beside criterion's medians, not
# instead of them.
#
#   benches/emit-instructions.sh                          # every case, build + write
#   KINDS="impossible_travel shared_ip" PARTS="write" benches/emit-instructions.sh
#   EMIT_BIN=/path/to/an/older/emit benches/emit-instructions.sh   # another build's bench
#
# Each case runs under callgrind in criterion's profile mode (`--profile-time 1`); the count
# is the instructions inside criterion's timing loop divided by its iterations (the fewest
# calls the loop made to any one callee: each is called at least once per iteration).
# Needs valgrind (`apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install -y valgrind" >&2; exit 1; }

kinds=(${KINDS:-impossible_travel concurrent_ips shared_ip shared_ip_farm anonymized_ip
  location_mismatch session_hijack long_session sanctioned_region account_risk
  impossible_travel_raised})
parts=(${PARTS:-build_write})
bin="${EMIT_BIN:-$(bench_bin emit)}"
[ -x "$bin" ] || { echo "no emit bench binary: $bin" >&2; exit 1; }

profile=$(mktemp)
trap 'rm -f "$profile"' EXIT
printf '%-45s %14s %11s\n' case instructions iterations
for kind in "${kinds[@]}"; do
  for part in "${parts[@]}"; do
    case="emit/$kind/$part"
    valgrind --tool=callgrind --callgrind-out-file="$profile" \
      "$bin" --bench "^$case\$" --profile-time 1 >/dev/null 2>&1
    callgrind_annotate --inclusive=yes --tree=caller "$profile" 2>/dev/null |
      python3 -c '
import re, sys
text = sys.stdin.read()
loop = r"\S*:criterion::bencher::Bencher<M>::iter"
total = re.search(r"^([\d,]+) \([^)]*\)  \*  " + loop, text, re.M)
calls = [int(c.replace(",", "")) for c in re.findall(r"< " + loop + r" \(([\d,]+)x\)", text)]
if not total or not calls:
    sys.exit(f"{sys.argv[1]}: no timing loop in the profile")
iterations = min(calls)
per = int(total.group(1).replace(",", "")) // iterations
print(f"{sys.argv[1]:45s} {per:14,d} {iterations:11,d}")
' "$case"
  done
done
