#!/usr/bin/env bash
# Benchmarks `nmleaks audit` over an organisation of 50 repositories served over HTTP on
# 127.0.0.1 (issue 16), in one run:
#
#   1. cold: every repository cloned (mirrored) and audited;
#   2. warm: the same again with nothing new (each mirror fetched, no repository scanned);
#   3. the reference: `git fetch --prune origin` of each of the 50 mirrors, 4 at a time as the
#      audit fetches (--jobs 4), and one at a time.
#
# Target: the warm audit costs little more than the fetches (<= 1.5x the 4-at-a-time fetches).
#
# Usage: bench/audit.sh PATH-TO-A-CLONE [COUNT]
#
# The repositories are bare `--shared` copies of the clone (its branches and tags), each with
# one commit on top that plants a key of its own and one key shared by every tenth
# repository; the clone itself is never written to. They are served by bench/githttp.py
# (`git http-backend` behind a small Python HTTP server). Needs bash, git, python3, cargo
# and GNU time (`apt-get install -y time`); everything made here is removed on exit.
set -euo pipefail

if [[ $# -lt 1 || ! -d $1 ]]; then
    echo "usage: $0 PATH-TO-A-CLONE [COUNT]" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
count=${2:-50}
if [[ ! -x /usr/bin/time ]]; then
    echo "GNU time is missing: apt-get install -y time" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/nmleaks

work=$(mktemp -d "${TMPDIR:-/tmp}/nmleaks-audit-bench.XXXXXX")
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.test
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.test

# key, measure
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

shared=$(key)
mkdir -p "$work/served"
for ((i = 0; i < count; i++)); do
    repo=$work/served/r$i.git
    git clone --quiet --bare --shared "$src" "$repo"
    (
        cd "$repo"
        export GIT_INDEX_FILE=$work/plant.index
        git read-tree HEAD
        blob=$(printf 'NOMOTIC_API_KEY=%s\n' "$(key)" | git hash-object -w --stdin)
        git update-index --add --cacheinfo "100644,$blob,deploy/key.env"
        if ((i % 10 == 0)); then
            blob=$(printf 'SHARED_KEY=%s\n' "$shared" | git hash-object -w --stdin)
            git update-index --add --cacheinfo "100644,$blob,deploy/shared.env"
        fi
        commit=$(git commit-tree "$(git write-tree)" -p HEAD -m "plant a key")
        git update-ref HEAD "$commit"
        rm -f "$GIT_INDEX_FILE"
    )
done
python3 "$root/bench/githttp.py" "$work/served" >"$work/port" &
server=$!
while [[ ! -s $work/port ]]; do sleep 0.1; done
port=$(cat "$work/port")
for ((i = 0; i < count; i++)); do
    echo "http://127.0.0.1:$port/r$i.git"
done >"$work/repos.txt"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(git --version)"
echo "repositories: $count copies of $src at $(git -C "$src" rev-parse --short HEAD)" \
    "($(git -C "$src" rev-list --all --count) commits," \
    "$(git -C "$src" count-objects -v | awk '/size-pack/ {printf "%.1f MiB packed", $2/1024}'))," \
    "each with a key of its own; every tenth also holds one shared key"
echo

clones=$work/clones
measure "nmleaks audit, cold ($count clones, --jobs 4)" \
    "$bin" audit --repos "$work/repos.txt" --jobs 4 --clone-dir "$clones" --format json \
    -o "$work/cold.json"
cold=$last_wall
measure "nmleaks audit, warm (fetch, nothing new)" \
    "$bin" audit --repos "$work/repos.txt" --jobs 4 --clone-dir "$clones" --format json \
    -o "$work/warm.json"
warm=$last_wall
if ! cmp -s "$work/cold.json" "$work/warm.json"; then
    echo "the warm audit's report differs from the cold one's" >&2
    exit 1
fi
unchanged=$(grep -c '(unchanged' "$work/stderr" || true)
echo "  repositories not scanned again: $unchanged of $count; reports identical"
ls -d "$clones"/*.git >"$work/mirrors.txt"
# The cold reference: the same clones without the audit.
mkdir -p "$work/plain"
measure "git clone --mirror of the $count, 4 at a time" \
    xargs -P 4 -I{} sh -c 'git clone --quiet --mirror "$1" "$2/$(basename "$1")"' _ {} \
    "$work/plain" <"$work/repos.txt"
clone4=$last_wall
awk -v a="$cold" -v b="$clone4" \
    'BEGIN { printf "  ratio cold audit / clones: %.2f (the rest is scanning %s histories)\n", a / b, "'"$count"'" }'
measure "git fetch of the $count mirrors, 4 at a time" \
    xargs -P 4 -I{} git -C {} fetch --prune --quiet origin <"$work/mirrors.txt"
fetch4=$last_wall
measure "git fetch of the $count mirrors, one at a time" \
    xargs -P 1 -I{} git -C {} fetch --prune --quiet origin <"$work/mirrors.txt"
awk -v a="$warm" -v b="$fetch4" \
    'BEGIN { printf "  ratio warm audit / fetches (4 at a time): %.2f (target <= 1.5)\n", a / b }'
python3 - "$work/cold.json" "$count" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
count = int(sys.argv[2])
audited = doc["audit"]["repositories_audited"]
keys = len(doc["findings"])
widest = max(len(f["repositories"]) for f in doc["findings"])
print(f"  report: {audited} of {count} repositories audited, {keys} distinct keys, "
      f"the shared key in {widest} repositories")
assert audited == count and keys == count + 1, "every repository audited, every key found"
PY
echo "  cold audit: $cold s"
