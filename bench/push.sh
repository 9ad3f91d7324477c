#!/usr/bin/env bash
# Benchmarks push protection (`nmleaks git --pre-receive`, issue 13): the time the
# pre-receive hook takes to check a push of 10 commits to a bare copy of a large repository
# (git/git: ~4,300 refs, ~380k objects), measured inside the hook, around nmleaks only.
#
#   1. 10 clean commits on top of the default branch (accepted);
#   2. 10 commits, one of them adding a key (rejected);
#   3. a new branch of 10 commits (accepted).
#
# Each case is pushed 5 times (fresh commits each time) and the median is printed, with the
# whole `git push` wall time beside it. Target: the check under 100 ms.
#
# Usage: bench/push.sh PATH-TO-A-FULL-CLONE-OF-git/git
#
# The clone is never written to: the "server" is a `--shared` bare clone of it (objects read
# through alternates) and the pusher a `--shared` clone of that; everything made here is
# removed on exit. Needs bash, git, cargo, date with nanoseconds (GNU coreutils).
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 PATH-TO-A-FULL-CLONE-OF-git/git" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/nmleaks

work=$(mktemp -d "${TMPDIR:-/tmp}/nmleaks-push-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.test
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.test
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# A key-shaped string; the prefix is built from parts so this file holds no key.
key() {
    local body
    body=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
    printf 'nm_%s_%s' live "$body"
}

git clone -q --bare --shared "$src" "$work/server.git"
"$bin" install-hook --pre-receive "$work/server.git" 2>/dev/null
# Time nmleaks inside the hook: the installed hook, wrapped.
mv "$work/server.git/hooks/pre-receive" "$work/server.git/hooks/nmleaks-pre-receive"
cat >"$work/server.git/hooks/pre-receive" <<HOOK
#!/bin/sh
start=\$(date +%s%N)
"\$(dirname "\$0")/nmleaks-pre-receive"
rc=\$?
echo \$(( (\$(date +%s%N) - start) / 1000000 )) >>"$work/hook-ms"
exit \$rc
HOOK
chmod +x "$work/server.git/hooks/pre-receive"
git clone -q --shared "$work/server.git" "$work/client"
cd "$work/client"
branch=$(git symbolic-ref --short HEAD)
refs=$(git -C "$work/server.git" for-each-ref | wc -l)
echo "server: $(basename "$src") with $refs refs; nmleaks: $("$bin" --version)"

commits() { # n [with-key]
    local i
    for ((i = 1; i <= $1; i++)); do
        if [[ ${2:-} == key && $i -eq 5 ]]; then
            printf 'NOMOTIC_API_KEY=%s\n' "$(key)" >"bench-$RANDOM.env"
        else
            printf 'line %s %s\n' "$i" "$RANDOM" >>bench.txt
        fi
        git add -A
        git commit -q -m "bench commit $i"
    done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

case_run() { # label expect(0|1) setup...
    local label=$1 expect=$2 i rc ms=() walls=()
    shift 2
    : >"$work/hook-ms"
    for i in 1 2 3 4 5; do
        "$@"
        local start=$SECONDS t0 t1
        t0=$(date +%s%N)
        rc=0
        git push -q "${PUSH_ARGS[@]}" >/dev/null 2>&1 || rc=1
        t1=$(date +%s%N)
        walls+=($(((t1 - t0) / 1000000)))
        [[ $rc == "$expect" ]] || {
            echo "$label: push exit $rc, expected $expect" >&2
            exit 1
        }
        : "$start"
    done
    printf '%-44s check %4s ms (median of 5)   git push %4s ms\n' "$label" \
        "$(median <"$work/hook-ms")" "$(printf '%s\n' "${walls[@]}" | median)"
}

clean10() { commits 10; PUSH_ARGS=(origin "HEAD:$branch"); }
key10() { git reset -q --hard "origin/$branch"; commits 10 key; PUSH_ARGS=(origin "HEAD:$branch"); }
branch10() {
    git checkout -q -B "bench-$RANDOM" "origin/$branch"
    commits 10
    PUSH_ARGS=(origin "HEAD:refs/heads/$(git symbolic-ref --short HEAD)")
}

case_run "10 clean commits on $branch (accepted)" 0 clean10
case_run "10 commits, one adding a key (rejected)" 1 key10
git reset -q --hard "origin/$branch"
case_run "a new branch of 10 commits (accepted)" 0 branch10
