//! What nmleaks looks inside: archives, compressed files, base64 and hex, in files, standard
//! input and git history; the limits that bound it (bombs, damage); and decoded keys in every
//! output, baseline and allow comment as plain ones.
//!
//! Every archive is built here with the same ecosystem crates (or git), around keys made at run
//! time; every expected path and line comes from how the test built the input.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::util::{TestEnv, git_ok, sarif_problems};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zip_with(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (name, data) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(members, zip::CompressionMethod::Deflated)
}

/// Every location of a JSON report as `(path, line, column, member, chain)`.
fn places(json: &Value) -> Vec<(String, u64, u64, Option<String>, String)> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().iter())
        .map(|l| {
            let chain: Vec<&str> = l["inside"]["chain"]
                .as_array()
                .map(|c| c.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            (
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
                l["column"].as_u64().unwrap(),
                l["inside"]["member"].as_str().map(str::to_string),
                chain.join(" > "),
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

type Build = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn in_tar(t: &[u8]) -> Vec<u8> {
    tar(&[("app/README", b"hello\n"), ("app/.env", t)])
}

fn in_zip(t: &[u8]) -> Vec<u8> {
    zip(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        ("conf/app.properties", t),
    ])
}

/// Each format as `(file name, how to build it around a text, member, chain)`.
fn format_cases() -> Vec<(&'static str, Build, Option<&'static str>, &'static str)> {
    let env = Some("app/.env");
    let props = Some("conf/app.properties");
    vec![
        ("x.json.gz", Box::new(gzip), None, "gzip"),
        ("agent.log.bz2", Box::new(bzip2), None, "bzip2"),
        ("dump.xz", Box::new(xz), None, "xz"),
        ("trace.zst", Box::new(zstd), None, "zstd"),
        ("plain.tar", Box::new(in_tar), env, "tar"),
        (
            "app.tar.gz",
            Box::new(|t| gzip(&in_tar(t))),
            env,
            "gzip > tar",
        ),
        ("app.tgz", Box::new(|t| gzip(&in_tar(t))), env, "gzip > tar"),
        ("app.tar.xz", Box::new(|t| xz(&in_tar(t))), env, "xz > tar"),
        (
            "app.tar.bz2",
            Box::new(|t| bzip2(&in_tar(t))),
            env,
            "bzip2 > tar",
        ),
        (
            "app.tar.zst",
            Box::new(|t| zstd(&in_tar(t))),
            env,
            "zstd > tar",
        ),
        ("app.jar", Box::new(in_zip), props, "zip"),
        ("dist.whl", Box::new(in_zip), props, "zip"),
        (
            "stored.zip",
            Box::new(|t| {
                zip_with(
                    &[("conf/app.properties", t)],
                    zip::CompressionMethod::Stored,
                )
            }),
            props,
            "zip",
        ),
        (
            "handover.docx",
            Box::new(|t| {
                zip(&[
                    ("[Content_Types].xml", b"<Types/>"),
                    ("word/document.xml", t),
                ])
            }),
            Some("word/document.xml"),
            "zip",
        ),
        // Detected by magic bytes, not names: a gzip called .txt, a zip called .bin.
        ("notes.txt", Box::new(gzip), None, "gzip"),
        ("blob.bin", Box::new(in_zip), props, "zip"),
        // Nested: a zip inside a tar.gz.
        (
            "release.tar.gz",
            Box::new(|t| gzip(&tar(&[("dist/inner.zip", &in_zip(t))]))),
            Some("dist/inner.zip!conf/app.properties"),
            "gzip > tar > zip",
        ),
    ]
}

/// A file of each compression and archive format, one key in each, every one found where a
/// person can find it: the outer path, the member path, line and column in the member.
#[test]
fn every_archive_and_compression_format_is_looked_inside() {
    let mut env = TestEnv::seeded(120);
    let mut want = Vec::new();
    let mut keys = Vec::new();
    for (file, build, member, chain) in format_cases() {
        let key = env.live_key();
        let text = format!("# settings\nA=1\nNOMOTIC_KEY={key}\n");
        env.write(file, build(text.as_bytes()));
        want.push((
            file.to_string(),
            3,
            13,
            member.map(str::to_string),
            chain.to_string(),
        ));
        keys.push(key);
    }
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    for key in &keys {
        run.assert_no_key(key);
    }
    let mut got = places(&run.json());
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(run.json()["summary"]["errors"], 0, "{}", run.stderr());
    // The human report names the member with `!` and says how it was wrapped.
    let human = env.run(&["scan"]).expect(1).stdout();
    assert!(
        human.contains("release.tar.gz!dist/inner.zip!conf/app.properties:3:13: "),
        "{human}"
    );
    assert!(human.contains("(inside gzip > tar > zip)"), "{human}");
}

/// A `.env` file holding `key`, to be base64-encoded whole.
fn env_file_text(key: &str) -> String {
    format!(
        "# deploy settings for the staging cluster\nREGION=eu-west-1\nNOMOTIC_API_KEY={key}\nDEBUG=0\n"
    )
}

/// Files holding `k` base64- and hex-encoded in the forms real leaks take, one key each.
fn encoded_files(k: &[String]) -> Vec<(&'static str, String)> {
    let b64 = |s: &str| STANDARD.encode(s);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\ndata:\n  token: {}\n",
        b64(&k[0])
    );
    let docker_auth = b64(&format!("deploy:{}", k[1]));
    let docker = format!("{{\"auths\":{{\"registry.example\":{{\"auth\":\"{docker_auth}\"}}}}}}");
    let pull = format!(
        "kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        b64(&docker)
    );
    let ci = format!(
        "SETTINGS_B64={}\n",
        b64(&format!("{{\"nomotic\":{{\"key\":\"{}\"}}}}", k[2]))
    );
    let curl = format!(
        "#!/bin/sh\ncurl -H 'Authorization: Basic {}' https://example.test/\n",
        b64(&format!("svc:{}", k[3]))
    );
    // `base64` with its default 76-column wrap, of a whole .env file.
    let env_file = env_file_text(&k[4]);
    let mut wrapped = String::new();
    for line in b64(&env_file).as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(line).unwrap());
        wrapped.push('\n');
    }
    let url = format!(
        "{{\"t\":\"{}\"}}\n",
        URL_SAFE_NO_PAD.encode(format!("\u{fffd}>>{}", k[5]))
    );
    let hex_lower = format!("key_hex = \"{}\"\n", hex(k[6].as_bytes()));
    let hex_upper = format!("KEY={}\n", hex(k[7].as_bytes()).to_uppercase());
    let placeholder = format!(
        "token: {}\nother: {}\n",
        b64("nm_live_your_key_here"),
        b64("nm_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    );
    // Base64 of YAML holding a key indented in a block scalar, wrapped at 20 columns.
    let mut block = String::from("data: |\n");
    for line in b64(&format!("user: {}", k[8])).as_bytes().chunks(20) {
        block.push_str("    ");
        block.push_str(std::str::from_utf8(line).unwrap());
        block.push('\n');
    }
    vec![
        ("secret.yaml", secret.clone()),
        ("pull-secret.yaml", pull.clone()),
        ("ci.env", ci.clone()),
        ("call.sh", curl.clone()),
        ("env.b64", wrapped.clone()),
        ("url.json", url.clone()),
        ("hex.toml", hex_lower.clone()),
        ("hex.env", hex_upper.clone()),
        ("placeholder.yaml", placeholder),
        ("block.yaml", block),
    ]
}

/// Base64 in the forms real leaks take, double base64, URL-safe, wrapped, and hex: each key
/// reported at the line and column of its encoded text; placeholders stay placeholders.
#[test]
fn base64_and_hex_are_decoded_in_yaml_json_env_and_shell() {
    let mut env = TestEnv::seeded(121);
    let k: Vec<String> = (0..9).map(|_| env.live_key()).collect();
    let files = encoded_files(&k);
    for (name, text) in &files {
        env.write(name, text);
    }
    let text_of = |name: &str| files.iter().find(|f| f.0 == name).unwrap().1.clone();
    let (hex_lower, env_file) = (text_of("hex.toml"), env_file_text(&k[4]));
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    for key in &k {
        run.assert_no_key(key);
        // Nor the key's own base64, whole.
        assert!(
            !run.stdout().contains(&STANDARD.encode(key)[..24]),
            "{}",
            run.stdout()
        );
    }
    let json = run.json();
    assert_eq!(json["summary"]["keys"], 9, "{json}");
    // Where each starts: the line and column of the first encoded character of the key.
    let col_of = |text: &str, needle: &str| {
        let at = text.find(needle).unwrap();
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        (
            text[..at].matches('\n').count() as u64 + 1,
            (at - line_start) as u64 + 1,
        )
    };
    let got = places(&json);
    let at = |path: &str| {
        got.iter()
            .find(|p| p.0 == path)
            .unwrap_or_else(|| panic!("no key in {path}: {got:?}"))
            .clone()
    };
    assert_eq!(
        at("secret.yaml"),
        ("secret.yaml".into(), 4, 10, None, "base64".into())
    );
    let p = at("pull-secret.yaml");
    assert_eq!((p.1, p.4.as_str()), (4, "base64 > base64"));
    assert_eq!(at("ci.env").4, "base64");
    assert_eq!(at("call.sh").4, "base64");
    assert_eq!(at("url.json").4, "base64");
    assert_eq!(at("hex.toml"), {
        let (l, c) = col_of(&hex_lower, &hex(k[6].as_bytes()));
        ("hex.toml".into(), l, c, None, "hex".into())
    });
    assert_eq!(at("hex.env").4, "hex");
    // The key's encoding in the wrapped file starts on the line the encoder put it on.
    let e = at("env.b64");
    let key_at = env_file.find(&k[4]).unwrap();
    let char_at = key_at * 4 / 3;
    assert_eq!(
        (e.1, e.2),
        ((char_at / 76) as u64 + 1, (char_at % 76) as u64 + 1)
    );
    assert_eq!(at("block.yaml").4, "base64");
    assert!(got.iter().all(|p| p.0 != "placeholder.yaml"), "{got:?}");
    // --no-decode turns it all off.
    env.run(&["scan", "--no-decode"]).expect(0);
}

/// One key, however it is wrapped, is one finding with a place for each wrapping; a baseline
/// and an allow comment on the encoded text's line hide decoded keys as they hide plain ones.
#[test]
fn a_decoded_key_is_one_finding_with_its_plain_twin_and_obeys_baselines_and_allow_comments() {
    let mut env = TestEnv::seeded(122);
    let key = env.live_key();
    env.write(".env", format!("NOMOTIC_KEY={key}\n"));
    env.write(
        "k8s/secret.yaml",
        format!("data:\n  token: {}\n", STANDARD.encode(&key)),
    );
    env.write(
        "bundle.tgz",
        gzip(&tar(&[("cfg/.env", format!("K={key}\n").as_bytes())])),
    );
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"]["keys"], 1, "{json}");
    assert_eq!(
        json["findings"][0]["locations"].as_array().unwrap().len(),
        3
    );

    // A baseline made from the scan hides every place of it.
    let baseline = env.path("nmleaks-baseline.json");
    env.run(&["baseline", "create", "-o", baseline.to_str().unwrap()])
        .expect(0);
    env.run(&["scan", "--baseline", baseline.to_str().unwrap()])
        .expect(0);

    // An allow comment on the line of the encoded text covers the key it decodes to.
    let mut env = TestEnv::seeded(123);
    let other = env.live_key();
    env.write(
        "secret.yaml",
        format!(
            "data:\n  token: {} # nmleaks:allow\n",
            STANDARD.encode(&other)
        ),
    );
    let json = env.run(&["scan", "--format", "json"]).expect(0).json();
    assert_eq!(json["summary"]["suppressed"], 1, "{json}");
}

/// SARIF from a scan with decoded findings validates clean, keeps the outer file as the
/// physical location and says where inside it to look.
#[test]
fn sarif_with_decoded_findings_validates_and_names_the_member() {
    let mut env = TestEnv::seeded(124);
    let (a, b) = (env.live_key(), env.live_key());
    env.write(
        "release/app.tar.gz",
        gzip(&tar(&[("app/.env", format!("X=1\nK={a}\n").as_bytes())])),
    );
    env.write(
        "secret.yaml",
        format!("data:\n  token: {}\n", STANDARD.encode(&b)),
    );
    let sarif = env.path("out.sarif");
    env.run(&["scan", "--format", "sarif", "-o", sarif.to_str().unwrap()])
        .expect(1);
    let text = std::fs::read_to_string(&sarif).unwrap();
    assert!(!text.contains(&a[8..]) && !text.contains(&b[8..]));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let member = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("release/app.tar.gz")
        })
        .expect("a result at the archive");
    assert_eq!(
        member["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "release/app.tar.gz!app/.env:2:3 (inside gzip > tar)"
    );
    assert!(
        member["message"]["text"]
            .as_str()
            .unwrap()
            .contains("app.tar.gz!app/.env:2:3")
    );
    // Encoded text in the file itself keeps its real line.
    let encoded = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "secret.yaml")
        .unwrap();
    assert_eq!(
        encoded["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    let problems = sarif_problems(&sarif);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Standard input is looked inside too: every format (a zip is spooled: its directory is at
/// its end), and base64 piped in.
#[test]
fn standard_input_is_looked_inside() {
    let mut env = TestEnv::seeded(125);
    for (file, build, member, chain) in format_cases() {
        let key = env.live_key();
        let input = build(format!("# settings\nA=1\nNOMOTIC_KEY={key}\n").as_bytes());
        let run = env
            .run_with_stdin(&["scan", "--format", "json", "-"], &input)
            .expect(1);
        run.assert_no_key(&key);
        let got = places(&run.json());
        let want = (
            "<stdin>".to_string(),
            3,
            13,
            member.map(str::to_string),
            chain.to_string(),
        );
        assert_eq!(got, vec![want], "{file} on standard input");
    }
    let key = env.live_key();
    let input = format!("token: {}\n", STANDARD.encode(&key));
    let run = env
        .run_with_stdin(&["scan", "--format", "json", "-"], input.as_bytes())
        .expect(1);
    let got = places(&run.json());
    assert_eq!(got, vec![("<stdin>".into(), 1, 8, None, "base64".into())]);
}

/// Every location of a git JSON report as `(path, member, chain as JSON, commit)`, sorted.
fn git_places(run: &crate::util::Run) -> Vec<(String, Option<String>, String, String)> {
    let mut got: Vec<(String, Option<String>, String, String)> = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().iter())
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["inside"]["member"].as_str().map(str::to_string),
                l["inside"]["chain"].to_string(),
                l["git"]["commit"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    got.sort();
    got
}

/// Writes one file of every format under `dir/formats/`, each with a key of its own; returns
/// what a report should say of each: `(path, member, chain as JSON)`.
fn write_formats(
    env: &mut TestEnv,
    dir: &std::path::Path,
) -> Vec<(String, Option<String>, String)> {
    let mut formats = Vec::new();
    std::fs::create_dir_all(dir.join("formats")).unwrap();
    for (file, build, member, chain) in format_cases() {
        let key = env.live_key();
        let path = format!("formats/{file}");
        std::fs::write(dir.join(&path), build(format!("K={key}\n").as_bytes())).unwrap();
        let chain: Vec<&str> = chain.split(" > ").collect();
        formats.push((
            path,
            member.map(str::to_string),
            serde_json::json!(chain).to_string(),
        ));
    }
    formats
}

/// A repository where an archive and a base64 secret were committed, then deleted: the
/// history audit, --all-objects, the range and --staged all look inside.
#[test]
fn git_history_range_and_staged_look_inside_committed_archives() {
    let mut env = TestEnv::seeded(126);
    let (a, b, c) = (env.live_key(), env.live_key(), env.live_key());
    let dir = env.path("repo");
    std::fs::create_dir_all(&dir).unwrap();
    git_ok(&dir, &["init", "-q"]);
    std::fs::write(dir.join("README"), "hello\n").unwrap();
    git_ok(&dir, &["add", "-A"]);
    git_ok(&dir, &["commit", "-qm", "start"]);
    let base = git_ok(&dir, &["rev-parse", "HEAD"]).trim().to_string();
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(
        dir.join("dist/app.tar.gz"),
        gzip(&tar(&[("app/.env", format!("K={a}\n").as_bytes())])),
    )
    .unwrap();
    std::fs::write(
        dir.join("secret.yaml"),
        format!("data:\n  token: {}\n", STANDARD.encode(&b)),
    )
    .unwrap();
    // And one file of every format, each with a key of its own.
    let formats = write_formats(&mut env, &dir);
    git_ok(&dir, &["add", "-A"]);
    git_ok(&dir, &["commit", "-qm", "add the release"]);
    let added = git_ok(&dir, &["rev-parse", "HEAD"]).trim().to_string();
    git_ok(
        &dir,
        &["rm", "-rq", "dist/app.tar.gz", "secret.yaml", "formats"],
    );
    git_ok(&dir, &["commit", "-qm", "remove the release"]);

    let summary = git_places;
    let want = vec![
        (
            "dist/app.tar.gz".to_string(),
            Some("app/.env".to_string()),
            "[\"gzip\",\"tar\"]".to_string(),
            added.clone(),
        ),
        (
            "secret.yaml".to_string(),
            None,
            "[\"base64\"]".to_string(),
            added.clone(),
        ),
    ];
    let mut want = want;
    want.extend(
        formats
            .iter()
            .map(|(p, m, c)| (p.clone(), m.clone(), c.clone(), added.clone())),
    );
    want.sort();
    let d = dir.to_str().unwrap();
    for args in [vec!["git", d], vec!["git", "--all-objects", d]] {
        let mut args = args;
        args.extend(["--format", "json"]);
        let run = env.run(&args).expect(1);
        run.assert_no_key(&a).assert_no_key(&b);
        assert_eq!(summary(&run), want);
    }
    let range = format!("{base}..{added}");
    let run = env
        .run(&["git", "--range", &range, "--format", "json", d])
        .expect(1);
    assert_eq!(summary(&run), want);

    // Staged: a new zip holding a key is refused before it is committed.
    std::fs::write(
        dir.join("handover.docx"),
        zip(&[("word/document.xml", format!("<w:t>{c}</w:t>").as_bytes())]),
    )
    .unwrap();
    git_ok(&dir, &["add", "handover.docx"]);
    let run = env
        .run(&["git", "--staged", "--format", "json", d])
        .expect(1);
    let got = places(&run.json());
    assert_eq!(
        got,
        vec![(
            "handover.docx".to_string(),
            1,
            6,
            Some("word/document.xml".to_string()),
            "zip".to_string()
        )]
    );
}

/// A zip bomb member is stopped at the ratio limit, said so on stderr, and the key in the
/// member after it is still found; the exit code says the input was only partly scanned.
#[test]
fn a_zip_bomb_is_stopped_and_the_key_after_it_is_still_found() {
    let mut env = TestEnv::seeded(127);
    let key = env.live_key();
    let zeros = vec![0u8; 256 << 20];
    let bomb = zip(&[
        ("bomb/zeros.bin", &zeros),
        ("app/.env", format!("K={key}\n").as_bytes()),
    ]);
    drop(zeros);
    assert!(bomb.len() < 2 << 20, "the bomb is small: {}", bomb.len());
    env.write("release.zip", &bomb);
    let run = env.run(&["scan", "--format", "json"]);
    run.assert_no_key(&key);
    assert_eq!(run.code(), 2, "partly unreadable input: {}", run.stderr());
    let got = places(&run.json());
    assert_eq!(
        got,
        vec![(
            "release.zip".into(),
            1,
            3,
            Some("app/.env".into()),
            "zip".into()
        )]
    );
    let err = run.stderr();
    assert!(err.contains("release.zip: bomb/zeros.bin"), "{err}");
    assert!(err.contains("--max-decode-ratio"), "{err}");
    assert_eq!(run.json()["summary"]["errors"], 1);
}

/// A gzip of a gigabyte of zeros stops early; the key before the zeros is found; the total
/// limit is a flag.
#[test]
fn a_gzip_bomb_is_stopped_at_the_ratio_and_the_byte_limit_is_a_flag() {
    let mut env = TestEnv::seeded(128);
    let key = env.live_key();
    // Concatenated gzip members: the key, then 16 members of 64 MiB of zeros each.
    let mut bomb = gzip(format!("K={key}\n").as_bytes());
    let zeros = gzip(&vec![0u8; 64 << 20]);
    for _ in 0..16 {
        bomb.extend_from_slice(&zeros);
    }
    env.write("big.log.gz", &bomb);
    let run = env.run(&["scan", "--format", "json"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert_eq!(places(&run.json()).len(), 1);
    assert!(
        run.stderr().contains("big.log.gz: inside gzip: stopped"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("--max-decode-ratio"),
        "{}",
        run.stderr()
    );

    // Under the total limit: a tar.gz whose first member is larger than the limit.
    let mut env = TestEnv::seeded(129);
    let key = env.live_key();
    let filler = vec![b'a'; 3 << 20];
    env.write(
        "r.tar.gz",
        gzip(&tar(&[
            ("big.txt", &filler),
            ("late/.env", format!("K={key}\n").as_bytes()),
        ])),
    );
    let run = env.run(&["scan", "--max-decode-bytes", "1M", "--format", "json"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("--max-decode-bytes"),
        "{}",
        run.stderr()
    );
    // Raised, it is found.
    env.run(&["scan", "--max-decode-bytes", "64M"]).expect(1);
    env.run(&["scan", "--max-decode-bytes", "lots"]).expect(2);
}

/// A zip whose directory is damaged is scanned as raw bytes (a stored member's key is found);
/// a truncated tar.gz keeps the keys before the cut; both are reported and exit 2.
#[test]
fn a_corrupt_zip_and_a_truncated_tar_gz_are_reported_and_keep_what_they_can() {
    let mut env = TestEnv::seeded(130);
    let (a, b) = (env.live_key(), env.live_key());
    let mut z = zip_with(
        &[("conf/.env", format!("K={a}\n").as_bytes())],
        zip::CompressionMethod::Stored,
    );
    // Wreck the end-of-directory record.
    let eocd = z.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    z.truncate(eocd + 2);
    env.write("broken.zip", &z);
    let mut members: Vec<(String, Vec<u8>)> =
        vec![("first/.env".into(), format!("K={b}\n").into_bytes())];
    let mut rng = nmleaks::testkeys::Rng::new(9);
    for i in 0..40 {
        // Incompressible filler, so that a cut in the stream's middle lands after the key.
        let filler: Vec<u8> = (0..20_000).map(|_| rng.live_key().as_bytes()[12]).collect();
        members.push((format!("data/{i}.bin"), filler));
    }
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let tgz = gzip(&tar(&refs));
    env.write("cut.tar.gz", &tgz[..tgz.len() / 2]);
    let run = env.run(&["scan", "--format", "json"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let mut got: Vec<(String, Option<String>)> = places(&run.json())
        .into_iter()
        .map(|p| (p.0, p.3))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("broken.zip".to_string(), None),
            ("cut.tar.gz".to_string(), Some("first/.env".to_string())),
        ]
    );
    let err = run.stderr();
    assert!(
        err.contains("broken.zip: inside zip: damaged zip, scanned as raw bytes"),
        "{err}"
    );
    assert!(err.contains("cut.tar.gz: "), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

/// A tar with more members than the limit stops there and says so; nesting stops at the
/// depth limit.
#[test]
fn member_and_depth_limits_are_flags_and_reported() {
    let mut env = TestEnv::seeded(131);
    let key = env.live_key();
    let names: Vec<String> = (0..50).map(|i| format!("m/{i}.txt")).collect();
    let mut members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x\n"[..])).collect();
    let last = format!("K={key}\n");
    members.push(("z/.env", last.as_bytes()));
    env.write("many.tar", tar(&members));
    let run = env.run(&["scan", "--max-archive-members", "10", "--format", "json"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("--max-archive-members"),
        "{}",
        run.stderr()
    );
    // The members past the limit are not opened, but the tar's raw bytes are still scanned:
    // the key in the clear in its last member is reported, at its offset in the tar.
    let got = places(&run.json());
    assert_eq!(
        (got.len(), got[0].3.as_deref(), got[0].4.as_str()),
        (1, None, "")
    );
    env.run(&["scan"]).expect(1);

    // The same for a zip of more than the 8 KiB read whole (its directory is read in place
    // from the file): the stored member past the limit is found in the raw bytes.
    let mut env = TestEnv::seeded(136);
    let key = env.live_key();
    let filler = vec![b'.'; 16 << 10];
    let mut members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &filler[..])).collect();
    let last = format!("K={key}\n");
    members.push(("z/.env", last.as_bytes()));
    env.write(
        "many.zip",
        zip_with(&members, zip::CompressionMethod::Stored),
    );
    let run = env.run(&["scan", "--max-archive-members", "10", "--format", "json"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let got = places(&run.json());
    assert_eq!(
        (got.len(), got[0].0.as_str(), got[0].3.as_deref()),
        (1, "many.zip", None)
    );

    // Base64 in base64: depth 1 opens one layer only.
    let mut env = TestEnv::seeded(132);
    let key = env.live_key();
    let twice = STANDARD.encode(STANDARD.encode(format!("k={key}")));
    env.write("twice.txt", format!("v: {twice}\n"));
    env.run(&["scan", "--max-decode-depth", "1"]).expect(0);
    env.run(&["scan", "--max-decode-depth", "2"]).expect(1);

    // An archive at the depth limit is not opened, and that is said: its raw bytes are still
    // scanned (a tar holds its members in the clear).
    let mut env = TestEnv::seeded(133);
    let key = env.live_key();
    env.write(
        "a.tar.gz",
        gzip(&tar(&[("x/.env", format!("K={key}\n").as_bytes())])),
    );
    let run = env.run(&["scan", "--max-decode-depth", "1", "--format", "json"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("--max-decode-depth"),
        "{}",
        run.stderr()
    );
    let got = places(&run.json());
    assert_eq!((got.len(), got[0].4.as_str()), (1, "gzip"));
}

/// A file where every line is base64 of a key (a dump of Kubernetes secrets): every place is
/// counted, each once, though each key's text holds two hints and each hint's stretch covers
/// several lines.
#[test]
fn hit_dense_base64_counts_every_place_once() {
    let mut env = TestEnv::seeded(134);
    let (a, b) = (env.live_key(), env.live_key());
    let (ea, eb) = (STANDARD.encode(&a), STANDARD.encode(&b));
    let mut text = String::new();
    for i in 0..40_000 {
        let e = if i % 2 == 0 { &ea } else { &eb };
        text.push_str("token: ");
        text.push_str(e);
        text.push('\n');
    }
    env.write("dump.yaml", &text);
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    let counts: Vec<u64> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["location_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [20_000, 20_000], "{}", json["summary"]);
}

/// A decoder crate that panics on a crafted archive (simulated in debug builds at a member
/// named `boom`) ends that archive's walk, not the run: it is reported, the exit code is 2, no
/// "internal error" is printed, a zip in memory is scanned as raw bytes instead, and every
/// other file is still scanned.
#[test]
fn a_decoder_that_panics_on_a_crafted_archive_is_contained() {
    let mut env = TestEnv::seeded(135);
    let (a, b) = (env.live_key(), env.live_key());
    env.write(
        "crafted.zip",
        zip_with(
            &[("boom", b"x"), ("conf/.env", format!("K={a}\n").as_bytes())],
            zip::CompressionMethod::Stored,
        ),
    );
    env.write("crafted.tar.gz", gzip(&tar(&[("boom", b"x")])));
    env.write("plain.env", format!("K={b}\n"));
    let run = env.run_with_env(
        &["scan", "--format", "json"],
        b"",
        &[("NMLEAKS_DEBUG_DECODER_PANIC", "boom")],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let err = run.stderr();
    assert!(!err.contains("internal error"), "{err}");
    assert!(err.contains("crafted.zip: a decoder failed"), "{err}");
    assert!(err.contains("crafted.tar.gz: a decoder failed"), "{err}");
    let mut got: Vec<(String, Option<String>)> = places(&run.json())
        .into_iter()
        .map(|p| (p.0, p.3))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("crafted.zip".to_string(), None),
            ("plain.env".to_string(), None)
        ]
    );
}
