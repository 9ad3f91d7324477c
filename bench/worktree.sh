#!/usr/bin/env bash
# Working-tree scan benchmark: nmleaks against `rg -uu -a -F nm_live_` over the same files.
#
#   bench/worktree.sh REPO          REPO: a git clone of a real public repository (e.g. git/git)
#
# Builds the release binary, makes a corpus of at least NMLEAKS_BENCH_GB (default 1) GB under
# target/bench-corpus/ (copies of REPO's checked-out files, plus binary files and keys planted at
# run time), warms the page cache, then times both tools in alternating runs (median of
# NMLEAKS_BENCH_RUNS, default 3) and prints wall time, the nmleaks/rg ratio, GB/s and peak RSS.
# A last run scans the whole corpus concatenated into one file, to show memory stays bounded.
# Fails (exit 1) unless nmleaks reports exactly the planted keys, so a scanner that finds
# nothing cannot look fast. NMLEAKS_BENCH_REUSE=1 keeps an existing corpus (and its keys).
#
# Targets (issue 2): ratio <= 1.3, peak RSS <= 100 MB whatever the corpus size.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 REPO   (a git clone, e.g. of https://github.com/git/git)" >&2
    exit 2
fi
repo=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

gb=${NMLEAKS_BENCH_GB:-1}
runs=${NMLEAKS_BENCH_RUNS:-3}
out=$root/target/bench-corpus
tree=$out/tree
big=$out/one-file/all.bin
planted=$out/planted-keys.txt
bin=$root/target/release/nmleaks

say() { printf '== %s\n' "$*" >&2; }

apt_install() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    say "installing $2"
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}
apt_install rg ripgrep
[[ -x /usr/bin/time ]] || apt_install /usr/bin/time time

say "cargo build --release"
cargo build --release --quiet

# A random 32-character base62 body, from the kernel's generator (never a fixed literal, so
# this script holds no key).
random_key() { printf 'nm_%s_%s' live "$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"; }

make_corpus() {
    rm -rf "$out"
    mkdir -p "$tree" "$(dirname "$big")"
    local base=$out/base
    mkdir -p "$base"
    git -C "$repo" archive HEAD | tar -x -C "$base"
    # Both tools run with ignore files off; remove them anyway so neither can skip a file.
    find "$base" \( -name .gitignore -o -name .ignore -o -name .rgignore -o -name .nmleaksignore \) -delete
    local size copies
    size=$(du -sb "$base" | cut -f1)
    copies=$(( (gb * 1000000000 + size - 1) / size ))
    say "corpus: $copies copies of $(basename "$repo") ($size bytes each)"
    for ((i = 0; i < copies; i++)); do
        cp -r "$base" "$tree/copy$i"
    done
    rm -rf "$base"
    # Binary files: random bytes (NULs near the start, so both tools see binary data).
    mkdir -p "$tree/binary"
    for ((i = 0; i < 8; i++)); do
        head -c 4000000 /dev/urandom >"$tree/binary/blob$i.bin"
    done
    # Planted keys: in text files of several copies, two in one line, one at the end of a file
    # without a newline, and one inside a binary file (surrounded by NULs).
    : >"$planted"
    local key files
    mapfile -t files < <(cd "$tree" && find . -type f -name '*.c' | sort | awk 'NR % 997 == 1' | head -n 6)
    for f in "${files[@]}"; do
        key=$(random_key)
        printf '\nconst char *nomotic_key = "%s";\n' "$key" >>"$tree/$f"
        echo "$key" >>"$planted"
    done
    key=$(random_key)
    local key2
    key2=$(random_key)
    printf 'NOMOTIC_KEY=%s other=%s\n' "$key" "$key2" >"$tree/copy0/.env"
    printf '%s\n%s\n' "$key" "$key2" >>"$planted"
    key=$(random_key)
    printf 'export NOMOTIC_KEY=%s' "$key" >"$tree/copy1/no-newline.sh"
    echo "$key" >>"$planted"
    key=$(random_key)
    { head -c 100000 /dev/urandom; printf '\0\0%s\0\0' "$key"; head -c 100000 /dev/urandom; } >"$tree/binary/with-key.bin"
    echo "$key" >>"$planted"
    sort -o "$planted" "$planted"
    # The same files as one big file, for the bounded-memory run (a newline after each file, so
    # a key at the end of one is not glued to the start of the next).
    find "$tree" -type f -print0 | sort -z | xargs -0 sh -c 'for f; do cat "$f"; echo; done' sh >"$big"
    touch "$out/.complete"
}

if [[ ${NMLEAKS_BENCH_REUSE:-0} == 1 && -f $out/.complete ]]; then
    say "reusing $out"
else
    say "making the corpus under $out"
    make_corpus
fi

bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
files=$(find "$tree" -type f | wc -l)
big_bytes=$(stat -c %s "$big")

say "warming the page cache"
find "$tree" -type f -print0 | xargs -0 cat >/dev/null
cat "$big" >/dev/null

# Correctness: nmleaks must report exactly the planted keys, in the tree and in the big file.
check_keys() { # label path...
    local label=$1 got rc=0
    shift
    got=$("$bin" scan --no-ignore --show-secrets --format json "$@" | grep -o '"key": "nm_[a-z]*_[A-Za-z0-9]*"' | cut -d'"' -f4 | sort) || rc=$?
    if [[ $got != "$(cat "$planted")" ]]; then
        echo "FAIL ($label): nmleaks did not report exactly the planted keys" >&2
        diff <(echo "$got") "$planted" >&2 || true
        exit 1
    fi
    say "$label: nmleaks reported exactly the $(wc -l <"$planted") planted keys"
}
check_keys tree "$tree"
check_keys one-file "$big"
rg_hits=$(rg -uu -a -F -c nm_live_ "$tree" | awk -F: '{ n += $NF } END { print n }')
say "rg: $rg_hits matching lines"

# One timed run: prints "wall_seconds peak_rss_kb". Exit codes 0 and 1 (keys found) are fine,
# and 2 when every error is an archive nmleaks looked inside and found damaged (git's own test
# suite holds a deliberately truncated tar, t/t5000/huge-and-future.tar), which rg never opens.
timed() {
    local t0 t1 rss rc=0
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$out/rss" "$@" >/dev/null 2>"$out/stderr" || rc=$?
    t1=$(date +%s%N)
    if ((rc == 2)) && ! grep -v ': inside ' "$out/stderr" | grep -q 'error'; then
        rc=0
    fi
    if ((rc > 1)); then
        echo "FAIL: $* exited $rc" >&2
        cat "$out/stderr" >&2
        exit 1
    fi
    rss=$(tail -n1 "$out/rss")
    echo "$(( (t1 - t0) / 1000000 )) $rss"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

nm_cmd=("$bin" scan --no-ignore --format json "$tree")
rg_cmd=(rg -uu -a -F nm_live_ "$tree")
raw_cmd=("$bin" scan --no-ignore --no-decode --format json "$tree")
: >"$out/nm.times"
: >"$out/rg.times"
: >"$out/raw.times"
for ((r = 1; r <= runs; r++)); do
    timed "${nm_cmd[@]}" >>"$out/nm.times"
    timed "${rg_cmd[@]}" >>"$out/rg.times"
    timed "${raw_cmd[@]}" >>"$out/raw.times"
    say "run $r: nmleaks $(tail -n1 "$out/nm.times")  rg $(tail -n1 "$out/rg.times")  --no-decode $(tail -n1 "$out/raw.times")  (ms, KB)"
done
read -r big_ms big_rss < <(timed "$bin" scan --no-ignore --format json "$big")

nm_ms=$(cut -d' ' -f1 "$out/nm.times" | median)
rg_ms=$(cut -d' ' -f1 "$out/rg.times" | median)
raw_ms=$(cut -d' ' -f1 "$out/raw.times" | median)
nm_rss=$(cut -d' ' -f2 "$out/nm.times" | sort -n | tail -n1)
rg_rss=$(cut -d' ' -f2 "$out/rg.times" | sort -n | tail -n1)

awk -v bytes="$bytes" -v files="$files" -v big="$big_bytes" -v runs="$runs" -v cores="$(nproc)" \
    -v nm="$nm_ms" -v rg="$rg_ms" -v raw="$raw_ms" -v nmr="$nm_rss" -v rgr="$rg_rss" -v bm="$big_ms" -v br="$big_rss" '
function row(name, ms, rss, n) { printf "| %-32s | %8.2f | %6.2f | %8.1f |\n", name, ms / 1000, n / ms / 1e6, rss / 1024 }
BEGIN {
    printf "\ncorpus: %.2f GB in %d files; one-file run: %.2f GB; %d cores; median of %d runs\n\n", bytes / 1e9, files, big / 1e9, cores, runs
    printf "| %-32s | %8s | %6s | %8s |\n", "command", "wall s", "GB/s", "RSS MB"
    printf "|%s|%s|%s|%s|\n", "----------------------------------", "----------", "--------", "----------"
    row("nmleaks scan --no-ignore", nm, nmr, bytes)
    row("rg -uu -a -F nm_live_", rg, rgr, bytes)
    row("nmleaks scan --no-decode", raw, nmr, bytes)
    row("nmleaks scan (one file)", bm, br, big)
    ratio = nm / rg
    printf "\nratio nmleaks/rg: %.2f (target <= 1.3: %s); --no-decode/rg: %.2f\n", ratio, ratio <= 1.3 ? "met" : "MISSED", raw / rg
    worst = nmr > br ? nmr : br
    printf "peak RSS nmleaks: %.1f MB (target <= 100 MB: %s)\n", worst / 1024, worst <= 102400 ? "met" : "MISSED"
}'
