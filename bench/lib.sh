# Shared by the benchmark scripts: sourced, never run. Needs $work, a scratch directory.

# A key-shaped string; the prefix is built from parts so this file holds no key.
key() {
    local body
    body=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
    printf 'nm_%s_%s' live "$body"
}

# measure LABEL CMD...: runs CMD once with stdout discarded; prints wall seconds and peak RSS
# (GNU time), and leaves the wall time in $last_wall and CMD's stderr in $work/stderr.
# Exit codes 0-2 are results (nmleaks exits 1 when it finds keys), anything else fails.
measure() {
    local label=$1 rc=0
    shift
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || rc=$?
    if ((rc > 2)); then
        echo "$label: exit $rc" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    # GNU time writes "Command exited with non-zero status N" first when N != 0.
    local wall kib
    read -r wall kib < <(tail -n 1 "$work/time")
    last_wall=$wall
    printf '%-58s %9.3f s %8d MiB\n' "$label" "$wall" $((kib / 1024))
}
