#!/usr/bin/env bash
# Packs one release archive: the nmleaks binary built for TARGET, with README.md, CHANGELOG.md
# and the licence files that exist, under one directory nmleaks-VERSION-TARGET/, as
#   OUTDIR/nmleaks-VERSION-TARGET.tar.gz   (.zip for a Windows target)
#   OUTDIR/nmleaks-VERSION-TARGET.tar.gz.sha256   one `sha256sum` line: `<hex>  <archive name>`
# and prints the archive's path. The release workflow (.github/workflows/release.yml) runs it
# once per target; scripts/action.sh is what downloads and checks what it makes.
#
#   scripts/package.sh TARGET BINARY OUTDIR [VERSION]    VERSION: Cargo.toml's by default
#
# The same inputs make the same bytes: entries in a fixed order, with fixed modes, owner 0 and
# the time SOURCE_DATE_EPOCH (default: the last commit's time, else 1980-01-01), and gzip
# without a name or a time stamp. Runs in bash on Linux (GNU tar), macOS (bsdtar) and Git
# Bash on Windows. A .zip is made with `zip` where it exists, else with 7-Zip's `7z`, which
# GitHub's Windows runners have on PATH (Git Bash has no `zip`).
set -euo pipefail

usage() {
    echo "usage: $0 TARGET BINARY OUTDIR [VERSION]" >&2
    exit 2
}
[[ $# -eq 3 || $# -eq 4 ]] || usage
target=$1 binary=$2 outdir=$3
root="$(cd "$(dirname "$0")/.." && pwd)"
version=${4:-$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)}
[[ $version =~ ^[0-9A-Za-z.+-]+$ ]] || {
    echo "package.sh: not a version: '$version'" >&2
    exit 2
}
[[ $target =~ ^[0-9A-Za-z_.-]+$ ]] || {
    echo "package.sh: not a target triple: '$target'" >&2
    exit 2
}
[[ -f $binary ]] || {
    echo "package.sh: no binary at $binary" >&2
    exit 2
}

name="nmleaks-$version-$target"
exe=nmleaks
format=tar.gz
if [[ $target == *windows* ]]; then
    exe=nmleaks.exe
    format=zip
fi
archive="$name.$format"

mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
stage="$(mktemp -d "${TMPDIR:-/tmp}/nmleaks-package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 0755 "$stage/$name" "$stage/$name/$exe"
files=("$exe")
for doc in README.md CHANGELOG.md LICENSE LICENSE-MIT LICENSE-APACHE LICENSE.md COPYING; do
    if [[ -f $root/$doc ]]; then
        cp "$root/$doc" "$stage/$name/$doc"
        chmod 0644 "$stage/$name/$doc"
        files+=("$doc")
    fi
done

# One time for every entry. `touch -t` takes local time, so the conversion and the touch both
# run in UTC; GNU date reads `-d @N`, BSD date `-r N`.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)}
[[ $epoch =~ ^[0-9]+$ && $epoch -ge 315532800 ]] || epoch=315532800 # zip's times start in 1980
stamp=$(TZ=UTC0 date -u -d "@$epoch" +%Y%m%d%H%M.%S 2>/dev/null || TZ=UTC0 date -u -r "$epoch" +%Y%m%d%H%M.%S)

# The entries, sorted as bytes, directory first: the archive lists them in this order.
entries=("$name")
while IFS= read -r f; do
    entries+=("$name/$f")
done < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)
for e in "${entries[@]}"; do
    TZ=UTC0 touch -t "$stamp" "$stage/$e"
done

rm -f "$outdir/$archive" "$outdir/$archive.sha256"
case "$format" in
    tar.gz)
        if tar --version 2>/dev/null | grep -q 'GNU tar'; then
            owner=(--owner=0 --group=0 --numeric-owner)
        else # bsdtar (macOS)
            owner=(--uid 0 --gid 0 --uname '' --gname '')
        fi
        (cd "$stage" && tar --format=ustar "${owner[@]}" --no-recursion -cf - "${entries[@]}") |
            gzip -n >"$outdir/$archive"
        ;;
    zip)
        if command -v zip >/dev/null 2>&1; then
            # -X: no extra attributes (uid/gid, extended times); -D: no directory entries
            # beyond the ones listed.
            (cd "$stage" && TZ=UTC0 zip -q -X -D "$outdir/$archive" "${entries[@]:1}")
        elif command -v 7z >/dev/null 2>&1; then
            (cd "$stage" && TZ=UTC0 7z a -tzip -mtc=off -mta=off -bso0 -bsp0 "$outdir/$archive" "${entries[@]:1}" >/dev/null)
        else
            echo "package.sh: making a .zip needs zip or 7z" >&2
            exit 2
        fi
        ;;
esac

if command -v sha256sum >/dev/null 2>&1; then
    (cd "$outdir" && sha256sum "$archive") >"$outdir/$archive.sha256"
else # macOS
    (cd "$outdir" && shasum -a 256 "$archive") >"$outdir/$archive.sha256"
fi
echo "$outdir/$archive"
