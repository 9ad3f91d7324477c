//! SARIF 2.1.0 output: validated by Microsoft's SARIF Multitool with GitHub's rules, plus the
//! properties GitHub code scanning relies on.

use crate::util::{TestEnv, sarif_problems};

/// Scans into `out.sarif` (every tree here holds keys: exit code 1) and reads the log.
fn sarif(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["scan", "--format", "sarif", "-o", "out.sarif"];
    all.extend_from_slice(args);
    env.run(&all).expect(1);
    serde_json::from_slice(&std::fs::read(env.path("out.sarif")).unwrap()).unwrap()
}

/// A tree with every kind of result: several places, a binary file, an inline allow, a
/// baselined key, a key after emoji and CJK characters.
fn varied_tree(env: &mut TestEnv) -> Vec<String> {
    let keys: Vec<String> = (0..5).map(|_| env.live_key()).collect();
    env.write(
        "src/app.py",
        format!("KEY = '{}'\nOTHER = '{}'\n", keys[0], keys[1]),
    );
    env.write("deploy/.env", format!("NOMOTIC_API_KEY={}\n", keys[0]));
    let mut bin = vec![0u8, 1, 2, 3];
    bin.extend_from_slice(keys[2].as_bytes());
    env.write("assets/blob.bin", bin);
    env.write(
        "docs/note.md",
        format!("😀 日本語 {} # nmleaks:allow\n", keys[3]),
    );
    env.write("dir with space/ünïcode.txt", format!("k={}\n", keys[4]));
    keys
}

#[test]
fn sarif_from_a_tree_scan_validates_clean() {
    let mut env = TestEnv::new();
    let keys = varied_tree(&mut env);
    env.write("known.env", format!("K={}\n", keys[4]));
    env.run(&["baseline", "create", "known.env", "-o", "baseline.json"])
        .expect(0);
    let log = sarif(&env, &["--baseline", "baseline.json"]);
    let problems = sarif_problems(&env.path("out.sarif"));
    assert!(problems.is_empty(), "validator: {problems:#?}");
    let text = std::fs::read_to_string(env.path("out.sarif")).unwrap();
    for key in &keys {
        assert!(!text.contains(&key[8..]), "no key in SARIF");
    }
    let results = log["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&str> = results
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str())
        .collect();
    // One result per key: the inline-allowed key and the baselined key (in two places).
    assert_eq!(suppressed.len(), 2, "{suppressed:?}");
    assert!(suppressed.contains(&"inSource") && suppressed.contains(&"external"));
}

#[test]
fn run_and_rules_carry_what_github_needs() {
    let mut env = TestEnv::new();
    varied_tree(&mut env);
    let log = sarif(&env, &[]);
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["automationDetails"]["id"], "nmleaks/scan/");
    let root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap();
    let canon = std::fs::canonicalize(env.root()).unwrap();
    assert!(
        root.starts_with("file:///") && root.ends_with('/'),
        "{root}"
    );
    assert!(root.contains(canon.file_name().unwrap().to_str().unwrap()));
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "nmleaks");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().unwrap();
    let live = rules
        .iter()
        .find(|r| r["id"] == "nomotic-live-api-key")
        .unwrap();
    let test = rules
        .iter()
        .find(|r| r["id"] == "nomotic-test-api-key")
        .unwrap();
    for rule in [live, test] {
        for field in ["name", "shortDescription", "fullDescription"] {
            assert!(!rule[field].is_null(), "{field}");
        }
        assert!(
            rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains("Settings → API Keys")
        );
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("secrets manager")
        );
        let tags = rule["properties"]["tags"].as_array().unwrap();
        assert!(tags.contains(&"security".into()) && tags.contains(&"secret".into()));
        assert!(!rule["properties"]["precision"].is_null());
    }
    assert_eq!(live["properties"]["security-severity"], "9.5");
    let live_sev: f64 = live["properties"]["security-severity"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let test_sev: f64 = test["properties"]["security-severity"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(test_sev < live_sev);
}

#[test]
fn one_result_per_key_with_the_other_places_as_related_locations() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    for i in 0..3 {
        env.write(&format!("f{i}.txt"), format!("k={key}\n"));
    }
    let log = sarif(&env, &[]);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["level"], "error");
    assert_eq!(r["locations"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "f0.txt"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "%SRCROOT%"
    );
    assert_eq!(r["relatedLocations"].as_array().unwrap().len(), 2);
    let msg = r["message"]["text"].as_str().unwrap();
    assert!(
        msg.contains("Nomotic live API key")
            && msg.contains(&format!("nm_live_…{}", &key[key.len() - 4..]))
    );
    let fp = &r["partialFingerprints"];
    assert!(
        fp["primaryLocationLineHash"]
            .as_str()
            .unwrap()
            .ends_with(":1")
    );
    assert_eq!(fp["nmleaks/key-sha256/v1"].as_str().unwrap().len(), 64);
}

#[test]
fn columns_are_utf16_code_units_after_emoji_and_cjk() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    let prefix = "😀😀 日本語 key=";
    env.write("u.txt", format!("{prefix}{key}\n"));
    let log = sarif(&env, &[]);
    let region = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    let start = prefix.encode_utf16().count() as u64 + 1;
    assert_eq!(region["startLine"], 1);
    assert_eq!(region["startColumn"], start);
    assert_eq!(region["endColumn"], start + key.len() as u64);
    assert_eq!(region["endLine"], 1);
    // JSON keeps counting characters.
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(
        json["findings"][0]["locations"][0]["column"],
        prefix.chars().count() as u64 + 1
    );
}

#[test]
fn related_locations_are_capped_and_the_cut_is_said() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("many.txt", format!("k={key}\n").repeat(1_200));
    let log = sarif(&env, &[]);
    let r = &log["runs"][0]["results"][0];
    let related = r["relatedLocations"].as_array().unwrap().len();
    assert_eq!(
        related + 1,
        1_000,
        "GitHub reads at most 1,000 locations per result"
    );
    assert_eq!(r["properties"]["relatedLocationsOmitted"], 200);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(
        notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("200 were left out")
    );
    assert!(sarif_problems(&env.path("out.sarif")).is_empty());
}

#[test]
fn results_and_file_size_stay_under_github_limits() {
    let mut env = TestEnv::new();
    let mut text = String::new();
    for _ in 0..26_000 {
        text.push_str(&env.live_key());
        text.push('\n');
    }
    env.write("keys.txt", text);
    // More keys than --max-keys lists by default: the SARIF limits are what is tested here.
    let log = sarif(&env, &["--max-keys", "30000"]);
    let size = std::fs::metadata(env.path("out.sarif")).unwrap().len();
    assert!(size <= 10_000_000, "{size} bytes");
    let results = log["runs"][0]["results"].as_array().unwrap().len();
    assert!(results <= 25_000 && results > 1_000, "{results}");
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    let said: Vec<&str> = notes
        .iter()
        .map(|n| n["message"]["text"].as_str().unwrap())
        .collect();
    assert!(said.iter().any(|t| t.contains("25000 per run")), "{said:?}");
    assert!(said.iter().any(|t| t.contains("10 MB")), "{said:?}");
}

/// A repository with a key committed (and since removed), a key in a commit message, and a
/// key staged for the next commit.
fn repo_with_history(env: &mut TestEnv) -> Vec<String> {
    let keys: Vec<String> = (0..3).map(|_| env.live_key()).collect();
    let root = env.root().to_path_buf();
    crate::util::git_ok(&root, &["init", "-q"]);
    env.write("app/settings.py", format!("KEY = '{}'\n", keys[0]));
    crate::util::git_ok(&root, &["add", "-A"]);
    crate::util::git_ok(
        &root,
        &[
            "commit",
            "-q",
            "-m",
            &format!("add settings\n\ntoken {}", keys[1]),
        ],
    );
    env.write("app/settings.py", "KEY = os.environ['NOMOTIC_KEY']\n");
    crate::util::git_ok(
        &root,
        &["commit", "-qam", "read the key from the environment"],
    );
    env.write("😀 dir/new.env", format!("K={}\n", keys[2]));
    crate::util::git_ok(&root, &["add", "-A"]);
    keys
}

#[test]
fn sarif_from_history_and_staged_scans_validates_clean() {
    let mut env = TestEnv::new();
    let keys = repo_with_history(&mut env);
    for (args, id, results) in [
        (vec!["git"], "nmleaks/git-history/", 2),
        (vec!["git", "--staged"], "nmleaks/git-staged/", 1),
    ] {
        let mut all = args.clone();
        all.extend(["--format", "sarif", "-o", "out.sarif"]);
        env.run(&all).expect(1);
        let problems = sarif_problems(&env.path("out.sarif"));
        assert!(problems.is_empty(), "{args:?}: {problems:#?}");
        let text = std::fs::read_to_string(env.path("out.sarif")).unwrap();
        for key in &keys {
            assert!(!text.contains(&key[8..]), "no key in SARIF");
        }
        let log: serde_json::Value = serde_json::from_str(&text).unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["automationDetails"]["id"], id);
        let found = run["results"].as_array().unwrap();
        assert_eq!(found.len(), results, "{args:?}");
        for r in found {
            assert!(
                !r["partialFingerprints"]["primaryLocationLineHash"].is_null(),
                "{r:#}"
            );
        }
    }
    // History locations name the path in the commit and carry the commit id.
    env.run(&["git", "--format", "sarif", "-o", "out.sarif"])
        .expect(1);
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("out.sarif")).unwrap()).unwrap();
    let file_result = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/settings.py"
        })
        .expect("the committed file's key");
    let commit = file_result["locations"][0]["properties"]["commit"]
        .as_str()
        .unwrap();
    assert_eq!(commit.len(), 40);
}
