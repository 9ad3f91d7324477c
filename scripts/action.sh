#!/usr/bin/env bash
# The logic of the nmleaks GitHub Action (action.yml), kept here so it can be tested.
#
#   action.sh install   put nmleaks on PATH: a release binary when one exists for this runner,
#                       else `cargo install --locked` from the action's own checkout (cached)
#   action.sh source-id print the digest of the action's source (the build cache's key; the
#                       same digest `nmleaks --version` shows as `source …`)
#   action.sh scan      choose the mode from the event, run nmleaks once (JSON + SARIF), write
#                       outputs, a job summary and ::error annotations; never prints a key
#
# Reads the GitHub Actions environment (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY, GITHUB_PATH, RUNNER_TEMP) and the INPUT_* variables action.yml sets.
# NMLEAKS_BIN names a binary to use as is (tests). Needs bash, git and jq (on GitHub's runners).
set -euo pipefail

die() { # message: an annotation and a failing step
    echo "::error title=nmleaks::$(escape_data "$1")"
    exit 2
}

# Workflow-command escaping (GitHub's toolkit: `%`, CR, LF in data; also `:` and `,` in
# properties).
escape_data() {
    local s=$1
    s=${s//'%'/'%25'}
    s=${s//$'\r'/'%0D'}
    s=${s//$'\n'/'%0A'}
    printf '%s' "$s"
}
escape_property() {
    local s
    s=$(escape_data "$1")
    s=${s//':'/'%3A'}
    s=${s//','/'%2C'}
    printf '%s' "$s"
}

output() { # name value
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
    fi
}

nmleaks_bin() {
    if [[ -n ${NMLEAKS_BIN:-} ]]; then
        printf '%s' "$NMLEAKS_BIN"
    elif [[ -n ${NMLEAKS_INSTALL_DIR:-} && -x $NMLEAKS_INSTALL_DIR/bin/nmleaks ]]; then
        printf '%s' "$NMLEAKS_INSTALL_DIR/bin/nmleaks"
    else
        printf 'nmleaks'
    fi
}

sha256() { # file...: `<hex>  <path>` lines, as sha256sum prints them (macOS has shasum)
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$@"
    else
        shasum -a 256 "$@"
    fi
}

# The digest of the source a build is made of, as `build.rs` computes it for
# `nmleaks --version` (keep the file list in step with SOURCES there): SHA-256 over the
# `sha256sum` lines of every file, sorted by path as bytes; the first 16 hex digits.
source_id() { # action_dir
    local files=() f
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(cd "$1" && find Cargo.lock Cargo.toml build.rs rules src -type f -print0 | LC_ALL=C sort -z)
    [[ ${#files[@]} -gt 0 ]] || return 0
    (cd "$1" && sha256 "${files[@]}") | sha256 | cut -c1-16
}

action_dir() {
    printf '%s' "${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
}

# The cache key's part that changes with the action's code (action.yml keys the build cache
# on it and on github.action_ref; hashFiles() cannot see the action's own checkout).
cmd_source_id() {
    local id
    id=$(source_id "$(action_dir)")
    [[ -n $id ]] || die "cannot digest the action's source in $(action_dir)"
    echo "nmleaks source $id"
    output id "$id"
}

# Whether the binary $1 is the build this run wants: `nmleaks --version` names the source
# digest $3 (version `source`) or the release $2.
binary_matches() { # bin version source-id
    local seen
    seen=$("$1" --version 2>/dev/null) || return 1
    if [[ $2 == source ]]; then
        [[ $seen == *"source $3)"* ]]
    else
        [[ $seen == "nmleaks $2 "* ]]
    fi
}

build_from_source() { # dir
    local started=$SECONDS
    # One line before a silent wait: a clean release build takes minutes on a 2-core runner.
    echo "building nmleaks from source (cargo install --locked; about 3 to 4 minutes on a 2-core runner, once per version: the build is cached)"
    "${NMLEAKS_CARGO:-cargo}" install --locked --quiet --path "$(action_dir)" --root "$1" --force
    echo "built $("$1/bin/nmleaks" --version) in $((SECONDS - started)) s"
}

cmd_install() {
    if [[ -n ${NMLEAKS_BIN:-} ]]; then
        echo "using $NMLEAKS_BIN"
        return
    fi
    local dir=${NMLEAKS_INSTALL_DIR:?NMLEAKS_INSTALL_DIR is not set}
    local version=${NMLEAKS_VERSION:-source} id=""
    # The source digest, once: the cache check, the notice and the check after building.
    [[ $version == source ]] && id=$(source_id "$(action_dir)")
    mkdir -p "$dir/bin"
    if [[ -x $dir/bin/nmleaks ]]; then
        if binary_matches "$dir/bin/nmleaks" "$version" "$id"; then
            echo "nmleaks found in the cache: $("$dir/bin/nmleaks" --version)"
            add_to_path "$dir"
            return
        fi
        # An old cache entry (another version of the action): never run it silently.
        echo "::notice title=nmleaks::the cached nmleaks ($("$dir/bin/nmleaks" --version 2>/dev/null || echo unreadable)) is not the one this action wants (${version/#source/source $id}); replacing it"
        rm -f "$dir/bin/nmleaks"
    fi
    if [[ $version != source ]]; then
        install_release "$dir" "$version"
    else
        build_from_source "$dir"
    fi
    binary_matches "$dir/bin/nmleaks" "$version" "$id" ||
        die "the nmleaks just installed reports $("$dir/bin/nmleaks" --version 2>&1), not $version"
    add_to_path "$dir"
}

add_to_path() { # dir
    if [[ -n ${GITHUB_PATH:-} ]]; then
        echo "$1/bin" >>"$GITHUB_PATH"
    fi
}

# Installs the release archive of `version` built for this runner (scripts/package.sh made it,
# .github/workflows/release.yml published it) as $dir/bin/nmleaks, after checking its SHA-256
# against the release's SHA256SUMS; nothing is extracted before that check. A checksum that
# differs, an archive SHA256SUMS does not list, or a download that fails is an error (exit 2,
# nothing installed). Only "there is no release for this": a runner no release is built for,
# or HTTP 404 on the archive, builds from source instead, with a notice.
#   NMLEAKS_RELEASE_URL     where the releases are (default: GitHub's download URL of
#                           NMLEAKS_RELEASE_REPO, default nmleaks/nmleaks); <url>/v<version>/…
#   NMLEAKS_RELEASE_TARGET  the target to download, instead of the one `uname` implies: for
#                           the tests, and for a runner `uname` misdescribes
install_release() { # dir version
    local dir=$1 version=$2 target
    target=$(release_target)
    if [[ -z $target ]]; then
        echo "::notice title=nmleaks::no release binary of nmleaks is built for this runner ($(uname -s) $(uname -m)); building from source"
        build_from_source "$dir"
        return
    fi
    [[ $version =~ ^[0-9A-Za-z.+-]+$ ]] || die "version '$version' is not a release version (a tag without its v) nor source"
    [[ $target =~ ^[0-9A-Za-z_.-]+$ ]] || die "NMLEAKS_RELEASE_TARGET '$target' is not a target triple"
    local format=tar.gz exe=nmleaks
    if [[ $target == *windows* ]]; then
        format=zip exe=nmleaks.exe
    fi
    local name="nmleaks-$version-$target"
    local archive="$name.$format"
    local base="${NMLEAKS_RELEASE_URL:-https://github.com/${NMLEAKS_RELEASE_REPO:-nmleaks/nmleaks}/releases/download}"
    base="${base%/}/v$version"
    local tmp code rc=0
    tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/nmleaks-release.XXXXXX")

    # An archive is a binary of a few MB: 100 MiB is far past any, and SHA256SUMS is a few lines.
    code=$(release_fetch "$base/$archive" "$tmp/$archive" 104857600) || rc=$?
    if [[ $rc -eq 0 && $code == 404 ]]; then
        rm -rf "$tmp"
        echo "::notice title=nmleaks::no release binary of nmleaks $version for $target ($base/$archive: HTTP 404); building from source"
        build_from_source "$dir"
        return
    fi
    [[ $rc -eq 0 && $code == 200 ]] ||
        release_fail "$tmp" "cannot download $base/$archive (HTTP $code, curl exit code $rc); nothing installed"
    code=$(release_fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" 1048576) || rc=$?
    [[ $rc -eq 0 && $code == 200 ]] ||
        release_fail "$tmp" "cannot download $base/SHA256SUMS to check $archive against (HTTP $code, curl exit code $rc); nothing installed"

    local want got
    want=$(release_listed_sum "$tmp/SHA256SUMS" "$archive") ||
        release_fail "$tmp" "$base/SHA256SUMS lists no SHA-256 (or more than one) for $archive, so it cannot be checked; nothing installed"
    got=$(cd "$tmp" && sha256 "$archive" | cut -d' ' -f1)
    [[ $got == "$want" ]] ||
        release_fail "$tmp" "SHA-256 checksum mismatch for $archive: SHA256SUMS lists $want, the download is $got; nothing installed"

    # Only the binary's entry comes out of the archive, into a directory of its own.
    local entry="$name/$exe"
    mkdir "$tmp/x"
    release_extract "$tmp/$archive" "$format" "$entry" "$tmp/x" ||
        release_fail "$tmp" "cannot extract $entry from $archive; nothing installed"
    [[ -f $tmp/x/$entry && ! -L $tmp/x/$entry ]] ||
        release_fail "$tmp" "$archive holds no file $entry; nothing installed"
    chmod 0755 "$tmp/x/$entry"
    mv -f "$tmp/x/$entry" "$dir/bin/$exe"
    rm -rf "$tmp"
    echo "installed nmleaks $version ($target) from $base/$archive, its SHA-256 checked against SHA256SUMS"
}

# The release target of this runner (the names release.yml builds), or nothing.
release_target() {
    if [[ -n ${NMLEAKS_RELEASE_TARGET:-} ]]; then
        printf '%s' "$NMLEAKS_RELEASE_TARGET"
        return
    fi
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) printf x86_64-unknown-linux-musl ;;
        Linux-aarch64 | Linux-arm64) printf aarch64-unknown-linux-musl ;;
        Darwin-arm64) printf aarch64-apple-darwin ;;
        Darwin-x86_64) printf x86_64-apple-darwin ;;
        MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) printf x86_64-pc-windows-msvc ;;
    esac
}

# Downloads url to file, bounded in size and time, following redirects over HTTPS only; prints
# the final HTTP status (000 when none came) and returns curl's exit code.
release_fetch() { # url file max_bytes
    curl --silent --show-error --location --proto '=http,https' --proto-redir '=https' \
        --connect-timeout 30 --max-time 300 --retry 3 --max-filesize "$3" \
        --output "$2" --write-out '%{http_code}' "$1"
}

# The one SHA-256 that the `sha256sum` lines of file sums give for name (text or binary mode
# mark, upper or lower case); fails when there is none, or more than one.
release_listed_sum() { # sums name
    local sums
    sums=$(awk -v name="$2" '{ sub(/\r$/, "") } NF == 2 && ($2 == name || $2 == "*" name) { print tolower($1) }' "$1" | sort -u)
    [[ $sums =~ ^[0-9a-f]{64}$ ]] || return 1
    printf '%s' "$sums"
}

# Extracts the one entry of archive into dir. A zip (Windows) with unzip, else 7-Zip, which
# GitHub's Windows runners have (Git Bash has no unzip).
release_extract() { # archive format entry dir
    if [[ $2 == tar.gz ]]; then
        tar -xzf "$1" -C "$4" "$3"
    elif command -v unzip >/dev/null 2>&1; then
        unzip -q "$1" "$3" -d "$4"
    elif command -v 7z >/dev/null 2>&1; then
        local archive=$1 out=$4
        if command -v cygpath >/dev/null 2>&1; then
            archive=$(cygpath -w "$archive") out=$(cygpath -w "$out")
        fi
        7z x -y -bso0 -bsp0 "-o$out" "$archive" "$3"
    else
        echo "extracting a .zip needs unzip or 7z" >&2
        return 1
    fi
}

# Removes what install_release downloaded, then fails the step.
release_fail() { # tmp message
    rm -rf "$1"
    die "$2"
}

# Sets MODE and RANGE from INPUT_MODE and the event.
choose_mode() {
    MODE=${INPUT_MODE:-auto}
    RANGE=${INPUT_RANGE:-}
    PUSH_AFTER="" PUSH_REF="" CATEGORY=nmleaks UPLOAD=true
    [[ $MODE == auto ]] || return 0
    local event=${GITHUB_EVENT_NAME:-} payload=${GITHUB_EVENT_PATH:-}
    case "$event" in
        pull_request | pull_request_target)
            local base head
            base=$(jq -r '.pull_request.base.sha // empty' "$payload")
            head=$(jq -r '.pull_request.head.sha // empty' "$payload")
            [[ -n $base && -n $head ]] || die "the $event event has no base and head commits"
            MODE=range
            RANGE="$base..$head"
            ;;
        push)
            local before after ref default
            before=$(jq -r '.before // empty' "$payload")
            after=$(jq -r '.after // empty' "$payload")
            ref=$(jq -r '.ref // empty' "$payload")
            default=$(jq -r '.repository.default_branch // empty' "$payload")
            if [[ -z $after || $after =~ ^0+$ ]]; then
                MODE=history # a deleted branch: nothing new; audit what is left
            elif [[ -n $default && $ref == "refs/heads/$default" ]]; then
                # The default branch: a full audit, the whole result set code scanning needs
                # (an alert closes only when the key has left the history).
                MODE=history
            else
                MODE=range
                PUSH_AFTER=$after
                PUSH_REF=$ref
                [[ -z $before || $before =~ ^0+$ ]] || RANGE="$before..$after"
            fi
            ;;
        schedule | workflow_dispatch) MODE=history ;;
        *) MODE=files ;;
    esac
}

# A push to a branch other than the default: what it made reachable that no other branch or
# tag reaches. That is `before..after` for a fast-forward; after a force-push `before` is no
# longer in the repository (and a new branch has none), so the range is `after` minus every
# other ref, written as `after ^b1 ^b2` with the boundary commits `git rev-list` finds.
push_range() { # path
    local path=$1 own=${PUSH_REF#refs/heads/}
    if [[ -n $RANGE ]] && git -C "$path" cat-file -e "${RANGE%%..*}^{commit}" 2>/dev/null; then
        return 0
    fi
    local why="the push created the branch"
    [[ -n $RANGE ]] && why="the commit before the push, ${RANGE%%..*}, is no longer in the repository (a force-push)"
    local others=() r
    while IFS= read -r r; do
        [[ $r == "$PUSH_REF" || $r == "refs/remotes/origin/$own" || $r == refs/remotes/origin/HEAD ]] && continue
        others+=("$r")
    done < <(git -C "$path" for-each-ref --format='%(refname)' refs/heads refs/remotes refs/tags)
    local boundary=()
    if [[ ${#others[@]} -gt 0 ]]; then
        while IFS= read -r r; do
            boundary+=("^${r#-}")
        done < <(git -C "$path" rev-list --boundary "$PUSH_AFTER" --not "${others[@]}" -- | grep '^-')
    fi
    if [[ ${#boundary[@]} -eq 0 ]]; then
        echo "::notice title=nmleaks::$why, and no other branch or tag shares its history: auditing the whole history"
        MODE=history
        RANGE=""
        return 0
    fi
    RANGE="$PUSH_AFTER ${boundary[*]}"
    echo "::notice title=nmleaks::$why: scanning the commits it made reachable that no other branch or tag reaches ($PUSH_AFTER minus ${#boundary[@]} boundary commit(s))"
}

cmd_scan() {
    choose_mode
    local path=${INPUT_PATH:-.}
    local tmp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
    local json="$tmp/nmleaks-report.json"
    local sarif=${INPUT_SARIF_FILE:-nmleaks.sarif}
    local extra=()
    if [[ -n ${INPUT_ARGS:-} ]]; then
        # Split as a shell splits words, quotes and backslashes honoured (a path with a
        # space: --rules 'my rules/extra.toml'), without running a shell: xargs parses and
        # printf writes each word NUL-terminated. Nothing in `args` is ever evaluated.
        local word
        printf '%s' "$INPUT_ARGS" | xargs -r printf '%s\0' >"$tmp/nmleaks-args" 2>/dev/null ||
            die "args: cannot split into arguments (an unbalanced quote?): $INPUT_ARGS"
        while IFS= read -r -d '' word; do
            extra+=("$word")
        done <"$tmp/nmleaks-args"
    fi
    local a
    for a in "${extra[@]}"; do
        [[ $a == --show-secrets ]] && die "args: --show-secrets is refused: the action never prints a key"
    done

    local args=()
    case "$MODE" in
        files) args=(scan "$path") ;;
        staged) args=(git --staged "$path") ;;
        range | history)
            git -C "$path" rev-parse --git-dir >/dev/null 2>&1 || die "$path is not a git repository; mode $MODE scans git history"
            if [[ $(git -C "$path" rev-parse --is-shallow-repository) == true ]]; then
                die "the checkout is shallow, so mode $MODE cannot see the history it must scan: set 'fetch-depth: 0' on actions/checkout"
            fi
            if [[ -n $PUSH_AFTER ]]; then
                push_range "$path"
            fi
            if [[ $MODE == range ]]; then
                [[ $RANGE == *..* || $RANGE == *^* ]] || die "mode range needs a range A..B (input 'range')"
                # Every revision the range names (`A..B`, `A...B`, or `B ^A1 ^A2`) must be here.
                local word rev revs
                for word in $RANGE; do
                    word=${word#^}
                    revs=("$word")
                    [[ $word == *..* ]] && revs=("${word%%..*}" "${word##*..}")
                    for rev in "${revs[@]}"; do
                        git -C "$path" cat-file -e "$rev^{commit}" 2>/dev/null ||
                            die "commit $rev is not in the checkout: set 'fetch-depth: 0' on actions/checkout"
                    done
                done
                args=(git --range "$RANGE" "$path")
            fi
            if [[ $MODE == history ]]; then
                args=(git "$path")
            fi
            ;;
        *) die "unknown mode '$MODE' (auto, staged, range, history or files)" ;;
    esac
    output mode "$MODE"
    # Code scanning takes each upload of a category as the whole result set for the branch: an
    # alert it does not repeat is closed. A full audit, a pull request's whole range, the
    # files: each is whole. A push's range is only part of the branch's history, so it is not
    # uploaded unless `upload-sarif: true` asks (then under a category of its own).
    case "$MODE" in
        history) CATEGORY=nmleaks ;;
        range)
            if [[ ${GITHUB_EVENT_NAME:-} == pull_request* && ${INPUT_MODE:-auto} == auto ]]; then
                CATEGORY=nmleaks
            else
                CATEGORY=nmleaks-range UPLOAD=false
                echo "::notice title=nmleaks::a range is part of the branch's history, so its SARIF is not uploaded by default (code scanning would close every alert it does not repeat); the default branch's full audit and pull requests carry the alerts. Set upload-sarif: true to upload it as category nmleaks-range."
            fi
            ;;
        *) CATEGORY="nmleaks-$MODE" ;;
    esac
    output category "$CATEGORY"
    output upload "$UPLOAD"
    args+=(--format json -o "$json" --sarif-file "$sarif" --color never)
    args+=(--fail-on "${INPUT_FAIL_ON:-any}")
    if [[ ${INPUT_VERIFY:-false} == true ]]; then
        args+=(--verify --api-url "${INPUT_API_URL:-https://amp.nomotic.ai/api/v1}")
    fi
    [[ -n ${INPUT_BASELINE:-} ]] && args+=(--baseline "$INPUT_BASELINE")
    args+=("${extra[@]}")

    local bin rc=0
    bin=$(nmleaks_bin)
    echo "nmleaks ${args[*]}"
    "$bin" "${args[@]}" || rc=$?
    output exit-code "$rc"
    if [[ ! -s $json ]]; then
        output findings 0
        output live 0
        output sarif-file ""
        echo "::error title=nmleaks::nmleaks failed (exit code $rc) before writing a report"
        return 0
    fi
    output sarif-file "$([[ -s $sarif ]] && printf '%s' "$sarif")"
    local findings live
    findings=$(jq '.findings | length' "$json")
    live=$(jq '[.findings[] | select(.verification.status? == "live" or .verification.status? == "live_insufficient_scope")] | length' "$json")
    output findings "$findings"
    output live "$live"
    annotate "$json"
    summarize "$json" "$findings" "$live"
    return 0
}

# One ::error per place (at most 10 per key and 50 in all), keys redacted as in the report.
annotate() {
    jq -r '
        [ .findings[] as $f
          | $f.locations[:10][]
          | [ .path, (.line|tostring), (.column|tostring), $f.rule_name, $f.key,
              (($f.verification.status? // "not verified")),
              ((.git.commit? // "") | .[0:12]) ]
        ] | .[:50][] | @tsv' "$1" |
        while IFS=$'\t' read -r file line col rule key status commit; do
            local where=""
            [[ -n $commit ]] && where=" in commit $commit"
            printf '::error file=%s,line=%s,col=%s,title=%s::%s\n' \
                "$(escape_property "$file")" "$line" "$col" "$(escape_property "$rule")" \
                "$(escape_data "$rule $key found$where ($status). Revoke it in Settings → API Keys and rotate it.")"
        done
}

summarize() { # json findings live
    [[ -n ${GITHUB_STEP_SUMMARY:-} ]] || return 0
    {
        echo "## nmleaks: $2 Nomotic key(s) found"
        echo
        echo "Mode: \`$MODE\`${RANGE:+ (\`$RANGE\`)}. Keys verified live: $3. Keys are shown redacted."
        echo
        if [[ $2 -gt 0 ]]; then
            echo "| key | rule | status | where | places |"
            echo "| --- | --- | --- | --- | --- |"
            jq -r '.findings[] |
                "| `\(.key)` | \(.rule_id) | \(.verification.status? // "not verified") | `\(.locations[0].path):\(.locations[0].line)`\(if .locations[0].git.commit? then " @ " + (.locations[0].git.commit[0:12]) else "" end) | \(.location_count) |"' "$1"
            echo
            echo "What to do: revoke each key in the Nomotic dashboard (Settings → API Keys), rotate it, and read it from a secret instead of the code."
        fi
    } >>"$GITHUB_STEP_SUMMARY"
}

case "${1:-}" in
    install) cmd_install ;;
    source-id) cmd_source_id ;;
    scan) cmd_scan ;;
    *)
        echo "usage: $0 install|scan" >&2
        exit 2
        ;;
esac
