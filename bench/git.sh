#!/usr/bin/env bash
# Benchmarks `nmleaks git` against the targets of issue 3, in one run:
#
#   1. full history of git/git (a few keys planted on top) vs
#      `git cat-file --batch-all-objects --batch >/dev/null`: wall time and peak RSS;
#   2. `--staged` with 3 staged files in generated repositories of 10k and 100k tracked files;
#   3. `--range` over the last 100 commits of git/git.
#
# Beside 1 it times the floor (examples/pack_floor.rs: gix-pack's delta-tree traversal of the
# same packs doing nothing with the bytes), `--no-decode`, and with NMLEAKS_BENCH_BEFORE=BIN an
# earlier nmleaks binary, all in the same run.
#
# Usage: bench/git.sh PATH-TO-A-FULL-CLONE-OF-git/git
#
# The clone is never written to: keys are planted in a throwaway `--shared` clone of it (its
# objects are read through alternates), and everything made here is removed on exit. Needs
# bash, git, cargo and GNU time (`apt-get install -y time`). Times are wall clock, RSS is the
# peak resident set of the measured process, both from /usr/bin/time.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 PATH-TO-A-FULL-CLONE-OF-git/git" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
if [[ $(git -C "$src" rev-parse --is-shallow-repository) == true ]]; then
    echo "$src is shallow: the benchmark needs a full clone" >&2
    exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "GNU time is missing: apt-get install -y time" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --example pack_floor
bin=$root/target/release/nmleaks
floor=$root/target/release/examples/pack_floor
# NMLEAKS_BENCH_BEFORE=PATH: another nmleaks binary (an earlier commit's) timed in the same run.
before=${NMLEAKS_BENCH_BEFORE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/nmleaks-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.test
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.test

# key, measure
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# measure_ms LABEL CMD...: GNU time has 10 ms resolution, too coarse for --staged; this runs
# CMD 21 times and prints the median wall time in milliseconds (bash's EPOCHREALTIME), then
# the peak RSS of one more run under GNU time.
measure_ms() {
    local label=$1 i t0 t1
    shift
    local -a runs=()
    for ((i = 0; i < 21; i++)); do
        t0=$EPOCHREALTIME
        "$@" >/dev/null 2>&1 || true
        t1=$EPOCHREALTIME
        runs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
    done
    median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 11p)
    /usr/bin/time -f '%M' -o "$work/time" "$@" >/dev/null 2>&1 || true
    printf '%-58s %7s ms %8d MiB (median of 21)\n' "$label" "$median" \
        $(($(tail -n 1 "$work/time") / 1024))
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(git --version)"
echo "repository: $src at $(git -C "$src" rev-parse --short HEAD)," \
    "$(git -C "$src" rev-list --all --count) commits," \
    "$(git -C "$src" count-objects -v | awk '/size-pack/ {printf "%d MiB packed", $2/1024}')"
echo

# 1. Full history, with keys planted on top of the default branch.
hist=$work/history
git clone --quiet --shared --no-checkout "$src" "$hist"
(
    cd "$hist"
    export GIT_INDEX_FILE=$work/plant.index
    git read-tree HEAD
    for i in 1 2 3; do
        blob=$(printf 'NOMOTIC_API_KEY=%s\n' "$(key)" | git hash-object -w --stdin)
        git update-index --add --cacheinfo "100644,$blob,planted/key$i.env"
        tree=$(git write-tree)
        commit=$(git commit-tree "$tree" -p HEAD -m "plant key $i")
        git update-ref HEAD "$commit"
    done
)
# Warm the page cache so both contenders read the pack from memory.
cat "$(git -C "$src" rev-parse --path-format=absolute --git-dir)"/objects/pack/* >/dev/null  # a work tree or a bare repository
measure "git cat-file --batch-all-objects --batch" \
    git -C "$hist" cat-file --batch-all-objects --batch
base=$last_wall
measure "nmleaks git (full history, 3 planted keys)" "$bin" git "$hist"
ours=$last_wall
awk -v a="$ours" -v b="$base" 'BEGIN { printf "  ratio nmleaks / cat-file: %.2f (target <= 0.5)\n", a / b }'
# The floor: gix-pack's delta-tree traversal of the same packs, doing nothing with the bytes.
gitdir=$(git -C "$src" rev-parse --path-format=absolute --git-dir)
measure "floor: gix-pack traversal of the packs, bytes unused" "$floor" "$gitdir" "$(nproc)"
awk -v a="$ours" -v b="$last_wall" 'BEGIN { printf "  ratio nmleaks / floor: %.2f\n", a / b }'
measure "floor + search: the same, memmem for the prefix in blobs" "$floor" "$gitdir" "$(nproc)" --search
search=$last_wall
awk -v a="$ours" -v b="$search" 'BEGIN { printf "  ratio nmleaks (keys) / floor + search: %.2f (target <= 1.5)\n", a / b }'
# Placing key blobs in commits needs every tree's entries (git keeps no index of which trees
# hold a blob): the floor of an audit with provenance also walks every tree entry.
measure "floor + search + a walk of every tree entry" "$floor" "$gitdir" "$(nproc)" --search --trees
awk -v a="$ours" -v b="$last_wall" 'BEGIN { printf "  ratio nmleaks (keys) / floor + search + tree walk: %.2f\n", a / b }'
# No keys: a second throwaway clone, like the first but without the planted commits (the
# source itself may be a partial clone, whose every tree entry is checked for absent objects).
plain=$work/plain
git clone --quiet --shared --no-checkout "$src" "$plain"
measure "nmleaks git (full history, no keys)" "$bin" git "$plain"
awk -v a="$last_wall" -v b="$search" 'BEGIN { printf "  ratio nmleaks (no keys) / floor + search: %.2f (target <= 1.2)\n", a / b }'
measure "nmleaks git --no-decode (raw bytes only)" "$bin" git --no-decode "$hist"
awk -v a="$ours" -v b="$last_wall" 'BEGIN { printf "  cost of looking inside: %.2fx the raw-bytes audit\n", a / b }'
if [[ -n $before ]]; then
    measure "before: $before git" "$before" git "$hist"
    awk -v a="$ours" -v b="$last_wall" 'BEGIN { printf "  ratio now / before: %.2f (target <= 1.10)\n", a / b }'
fi
"$bin" git --format json "$hist" >"$work/history.json" || true
grep -E '"(keys|blobs_scanned|bytes_scanned|errors)"' "$work/history.json" | tr -d ' ,' |
    paste -sd ' ' | sed 's/^/  summary: /'
echo

# 1b. Many key blobs: 1,000 distinct keys over 5,000 commits on top of the default branch
# (fast-import; one key file a commit for the first 1,000, then 4,000 commits touching other
# files, so each key is held by many commits). Provenance time against the 3-key run above,
# and every key's introducing path checked.
many=$work/many
git clone --quiet --shared --no-checkout "$src" "$many"
{
    head=$(git -C "$many" rev-parse HEAD)
    for ((i = 0; i < 5000; i++)); do
        echo "commit refs/heads/master"
        echo "mark :$((i + 1))"
        echo "committer bench <bench@example.test> $((1700000000 + i)) +0000"
        echo "data 7"
        echo "commit"
        ((i == 0)) && echo "from $head"
        if ((i < 1000)); then
            k=$(key)
            echo "$k planted/d$((i % 50))/key$i.env :$((i + 1))" >>"$work/many.expected"
            line="NOMOTIC_API_KEY=$k"
            printf 'M 100644 inline planted/d%d/key%d.env\ndata %d\n%s\n' \
                $((i % 50)) "$i" $((${#line} + 1)) "$line"
        else
            printf 'M 100644 inline planted/churn%d.txt\ndata 6\nchurn\n' $((i % 100))
        fi
        echo
    done
} | git -C "$many" fast-import --quiet --export-marks="$work/many.marks"
git -C "$many" update-ref HEAD refs/heads/master 2>/dev/null || true
measure "nmleaks git (full history, 1,000 keys in 5,000 commits)" "$bin" git "$many"
awk -v a="$last_wall" -v b="$ours" 'BEGIN { printf "  ratio 1,000 keys / 3 keys: %.2f (target < 1.5)\n", a / b }'
"$bin" git --format json --show-secrets "$many" >"$work/many.json" || true
python3 - "$work/many.json" "$work/many.expected" "$work/many.marks" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
marks = dict(line.split() for line in open(sys.argv[3]))
expected = {}
for line in open(sys.argv[2]):
    key, path, mark = line.split()
    expected[key] = {(path, marks[mark])}
# Each planted key: one location, its file in the commit that added it.
seen = {f["key"]: {(l["path"], l["git"]["commit"]) for l in f["locations"]}
        for f in report["findings"]}
wrong = [k for k, want in expected.items() if seen.get(k) != want]
print(f"  {len(expected)} planted keys: {len(expected) - len(wrong)} reported at exactly"
      f" their path and commit; {len(seen)} keys in the report")
sys.exit(1 if wrong or len(seen) != len(expected) else 0)
PY
echo

# 2. --staged: N tracked files, 3 staged changes (one of them a key).
staged_repo() {
    local n=$1 dir=$work/staged-$1
    git init --quiet "$dir"
    {
        echo "commit refs/heads/master"
        echo "committer bench <bench@example.test> 1700000000 +0000"
        echo "data 5"
        echo "base"
        local i
        for ((i = 0; i < n; i++)); do
            printf 'M 100644 inline d%03d/f%06d.txt\ndata 12\nfile %06d\n\n' \
                $((i % 500)) "$i" "$i"
        done
    } | git -C "$dir" fast-import --quiet
    git -C "$dir" read-tree master
    (
        cd "$dir"
        for f in d000/f000000.txt new/one.txt new/two.env; do
            blob=$(printf 'changed %s\nK=%s\n' "$f" "$(key)" | git hash-object -w --stdin)
            git update-index --add --cacheinfo "100644,$blob,$f"
        done
    )
    git -C "$dir" diff --cached --quiet && { echo "nothing staged in $dir" >&2; exit 1; }
    echo "$dir"
}
for n in 10000 100000; do
    dir=$(staged_repo "$n")
    measure_ms "nmleaks git --staged ($n tracked, 3 staged)" "$bin" git --staged "$dir"
    measure_ms "  git diff --cached --name-only (same repo, reference)" \
        git -C "$dir" diff --cached --name-only
    measure_ms "  nmleaks scan /dev/null (process start, reference)" "$bin" scan /dev/null
done
echo

# 3. --range over the last 100 commits of the default branch (first-parent count).
from=$(git -C "$src" rev-parse HEAD~100)
measure "nmleaks git --range HEAD~100..HEAD" "$bin" git --range "$from..HEAD" "$src"
echo "  commits in the range: $(git -C "$src" rev-list --count "$from..HEAD")"
