//! `--verify`: what each API answer means, how many requests leave and when, the cache, the
//! exit policy, and that no key leaks. Every request goes to a server on 127.0.0.1 started by
//! the test ([`crate::api::ApiServer`]); nothing reaches beyond this machine.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nmleaks::finding::Fingerprint;
use serde_json::Value;

use crate::api::{self, ApiServer, Reply};
use crate::util::{Run, TestEnv};

/// A 200 body shaped like a listing.
const AGENTS: &str = r#"{"agents": [], "total": 0}"#;

/// A rate high enough that pacing costs a test nothing (the default, 60 a minute, spaces
/// requests a second apart). Tests of pacing set their own.
const FAST: &str = "60000";

/// Runs `scan --verify --format json` against `api` with `extra` flags.
fn verify_json(env: &TestEnv, api: &str, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--verify", "--api-url", api, "--format", "json"];
    if !extra.contains(&"--verify-rate") {
        args.extend(["--verify-rate", FAST]);
    }
    args.extend_from_slice(extra);
    env.run(&args)
}

/// Runs `scan --verify` (human report) against `api` with `extra` flags, at a fast rate.
fn verify_human(env: &TestEnv, api: &str, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--verify", "--api-url", api, "--verify-rate", FAST];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The `verification` object of the finding for `key`.
fn verification<'a>(json: &'a Value, key: &str) -> &'a Value {
    let fp = Fingerprint::of(key).0;
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fingerprint"] == fp.as_str())
        .unwrap_or_else(|| panic!("no finding for a planted key in {json:#}"));
    &f["verification"]
}

/// `(status, reason)` of `key`'s verification.
fn status(json: &Value, key: &str) -> (String, Option<String>) {
    let v = verification(json, key);
    (
        v["status"].as_str().unwrap().to_string(),
        v["reason"].as_str().map(str::to_string),
    )
}

fn s(status: &str, reason: Option<&str>) -> (String, Option<String>) {
    (status.to_string(), reason.map(str::to_string))
}

/// Plants each key in a file of its own; returns the keys.
fn plant(env: &mut TestEnv, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let key = env.live_key();
            env.write(&format!("k{i}.env"), format!("NOMOTIC_API_KEY={key}\n"));
            key
        })
        .collect()
}

/// Asserts no part of any key past its prefix is in `text`.
fn assert_no_keys(what: &str, text: &str, keys: &[String]) {
    for key in keys {
        assert!(
            !text.contains(&key[8..20]),
            "{what} holds (part of) a key:\n{text}"
        );
    }
}

#[test]
fn without_verify_no_request_is_made_and_the_report_says_so_once() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 2);
    let server = ApiServer::start(|_, _| Reply::json(200, AGENTS));
    // Even with the API URL set in the environment, no flag means no call.
    let vars = [("NMLEAKS_API_URL", server.url())];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = env.run_with_env(&["scan"], b"", &vars).expect(1);
    assert_eq!(
        run.stdout()
            .matches("keys were not verified (no network call was made)")
            .count(),
        1,
        "{}",
        run.stdout()
    );
    let json = env
        .run_with_env(&["scan", "--format", "json"], b"", &vars)
        .expect(1)
        .json();
    assert!(verification(&json, &keys[0]).is_null());
    assert!(json["summary"]["verification"].is_null());
    assert_eq!(server.seen().len(), 0, "no request without --verify");
}

#[test]
fn each_answer_gets_its_status_and_the_request_is_exactly_the_documented_one() {
    let mut env = TestEnv::new();
    let k = plant(&mut env, 6);
    let server = ApiServer::by_key(HashMap::from([
        (k[0].clone(), Reply::json(200, AGENTS)),
        (
            k[1].clone(),
            Reply::json(403, r#"{"error":"insufficient_scope"}"#),
        ),
        (
            k[2].clone(),
            Reply::json(401, r#"{"error":"unauthorized"}"#),
        ),
        (k[3].clone(), Reply::json(500, r#"{"error":"internal"}"#)),
        (k[4].clone(), Reply::html(403)),
        (k[5].clone(), Reply::html(200)),
    ]));
    let run = verify_json(&env, &server.url(), &[]).expect(1);
    let json = run.json();
    assert_eq!(status(&json, &k[0]), s("live", None));
    assert_eq!(status(&json, &k[1]), s("live_insufficient_scope", None));
    assert_eq!(status(&json, &k[2]), s("revoked", None));
    assert_eq!(status(&json, &k[3]), s("unknown", Some("server_error")));
    assert_eq!(
        status(&json, &k[4]),
        s("unknown", Some("not_api_json")),
        "an HTML 403 page is not the API: unknown, not live"
    );
    assert_eq!(status(&json, &k[5]), s("unknown", Some("not_api_json")));
    assert_eq!(verification(&json, &k[1])["http_status"], 403);
    assert_eq!(verification(&json, &k[3])["http_status"], 500);
    assert!(
        verification(&json, &k[2])["description"]
            .as_str()
            .unwrap()
            .contains("revoked, malformed or never valid")
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 6, "one request per key");
    server.assert_only_agents_calls();
    let sent: HashSet<&str> = seen.iter().filter_map(|s| s.key()).collect();
    assert_eq!(sent, k.iter().map(String::as_str).collect());
    for s in &seen {
        assert_eq!(s.header("accept"), Some("application/json"));
        assert_eq!(
            s.header("user-agent"),
            Some(format!("nmleaks/{}", env!("CARGO_PKG_VERSION")).as_str())
        );
    }

    let human = verify_human(&env, &server.url(), &["--no-verify-cache"])
        .expect(1)
        .stdout();
    let tail = |key: &str| format!("nm_live_…{}", &key[key.len() - 4..]);
    for (key, label) in [
        (&k[0], "[live]"),
        (&k[1], "[live (insufficient scope)]"),
        (&k[2], "[revoked]"),
        (&k[3], "[unknown (server error)]"),
        (&k[4], "[unknown (not the API's JSON)]"),
    ] {
        assert!(
            human.contains(&format!("{} {label}", tail(key))),
            "{label}:\n{human}"
        );
    }
    assert!(
        human.contains("1 revoked (revoked, malformed or never valid)"),
        "{human}"
    );
    assert!(!human.contains("no network call was made"));
}

#[test]
fn a_429_is_waited_out_by_every_worker_then_retried() {
    let _serial = crate::util::heavy();
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 3);
    // The first request of the run is refused for 1 s; every later one is answered.
    let server = ApiServer::start(|_, n| {
        if n == 0 {
            Reply::json(429, r#"{"error":"rate_limited"}"#).header("Retry-After", "1")
        } else {
            Reply::json(200, AGENTS)
        }
    });
    // 500 ms between requests: the other workers' turns fall inside the 1 s pause as long as
    // the 429 gets back to the client within 500 ms (at 100 ms apart, a loaded machine that
    // took longer could let the next request out before the pause began, failing the test).
    let json = verify_json(&env, &server.url(), &["--verify-rate", "120"])
        .expect(1)
        .json();
    for key in &keys {
        assert_eq!(status(&json, key), s("live", None));
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "three keys and one retry");
    let refused = seen[0].key().unwrap();
    assert_eq!(
        seen.iter().filter(|s| s.key() == Some(refused)).count(),
        2,
        "the refused key is asked again"
    );
    // A lower bound only: the pause starts when the client reads the 429, after the server
    // saw the request, so no later request can arrive sooner than 1 s after it.
    for later in &seen[1..] {
        let after = later.at - seen[0].at;
        assert!(
            after >= Duration::from_millis(950),
            "a request left {after:?} after the 429 asked for 1 s"
        );
    }
    assert_eq!(json["summary"]["verification"]["requests"], 4);
}

#[test]
fn a_key_still_rate_limited_after_the_retries_is_unknown_and_retry_after_is_capped() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 1);
    let server = ApiServer::start(|_, _| {
        Reply::json(429, r#"{"error":"rate_limited"}"#).header("Retry-After", "3600")
    });
    // Uncapped, the two waits would take two hours; the harness fails a run after 120 s.
    let json = verify_json(
        &env,
        &server.url(),
        &["--verify-retries", "2", "--verify-max-wait", "100ms"],
    )
    .expect(1)
    .json();
    assert_eq!(status(&json, &keys[0]), s("unknown", Some("rate_limited")));
    assert_eq!(verification(&json, &keys[0])["http_status"], 429);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "the first request and 2 retries");
    // Each retry waited the capped 100 ms (a lower bound: the wait starts after the server
    // saw the refused request), and far less than an hour. 30 s is no speed requirement, a
    // loaded machine never stretches a 100 ms sleep that far; it fails a wait capped at the
    // default --verify-max-wait (60 s) as well as the uncapped one.
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(100),
            "a retry only {gap:?} after the 429: the capped wait is 100 ms"
        );
        assert!(
            gap < Duration::from_secs(30),
            "Retry-After: 3600 is capped by --verify-max-wait: a retry came {gap:?} later"
        );
    }
}

#[test]
fn a_slow_server_times_out_as_unknown() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 1);
    // The answer would come after 4 s: shorter than the default read timeout (10 s), so only
    // the 300 ms asked for can make the key `unknown (timeout)` instead of live, and so much
    // longer than 300 ms that no load on the machine lets the answer win. No clock is read.
    let server = ApiServer::start(|_, _| Reply::json(200, AGENTS).delayed(Duration::from_secs(4)));
    let json = verify_json(&env, &server.url(), &["--verify-read-timeout", "300ms"])
        .expect(1)
        .json();
    assert_eq!(status(&json, &keys[0]), s("unknown", Some("timeout")));
    assert_eq!(server.seen().len(), 1, "a timeout is not retried");
}

#[test]
fn a_redirect_to_another_port_is_not_followed() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 1);
    let elsewhere = ApiServer::start(|_, _| Reply::json(200, AGENTS));
    let target = format!("{}/agents", elsewhere.url());
    let server = ApiServer::start(move |_, _| Reply::json(302, "{}").header("Location", &target));
    let json = verify_json(&env, &server.url(), &[]).expect(1).json();
    assert_eq!(status(&json, &keys[0]), s("unknown", Some("redirect")));
    assert_eq!(verification(&json, &keys[0])["http_status"], 302);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(
        elsewhere.seen().len(),
        0,
        "the key never reached the other port"
    );
}

#[test]
fn fifty_distinct_keys_in_ten_thousand_places_make_fifty_requests() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..50).map(|_| env.live_key()).collect();
    for file in 0..100 {
        let mut text = String::new();
        for line in 0..100 {
            text.push_str("key = ");
            text.push_str(&keys[(file * 100 + line) % 50]);
            text.push('\n');
        }
        env.write(&format!("d{}/f{file}.txt", file % 10), text);
    }
    let server = ApiServer::start(|_, _| Reply::json(401, r#"{"error":"unauthorized"}"#));
    let json = verify_json(&env, &server.url(), &[]).expect(1).json();
    assert_eq!(json["summary"]["locations"], 10_000);
    assert_eq!(json["summary"]["keys"], 50);
    let seen = server.seen();
    assert_eq!(seen.len(), 50, "exactly one request per distinct key");
    let sent: HashSet<&str> = seen.iter().filter_map(|s| s.key()).collect();
    assert_eq!(sent, keys.iter().map(String::as_str).collect());
    for key in &keys {
        assert_eq!(status(&json, key), s("revoked", None));
    }
}

#[test]
fn the_rate_limiter_holds_the_configured_rate() {
    let _serial = crate::util::heavy();
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 21);
    let server = ApiServer::start(|_, _| Reply::json(401, r#"{"error":"unauthorized"}"#));
    // 1200 a minute is one request every 50 ms.
    let interval = Duration::from_millis(50);
    verify_json(&env, &server.url(), &["--verify-rate", "1200"]).expect(1);
    let times: Vec<Instant> = server.seen().iter().map(|s| s.at).collect();
    assert_eq!(times.len(), keys.len());
    let span = times[times.len() - 1] - times[0];
    let ideal = interval * 20;
    eprintln!("21 requests at 1200/min: first to last {span:?}, ideal {ideal:?}");
    // The lower bounds are the point: the limiter must never send faster than its rate.
    // Their slack is for arrival times: a request the server records late (the first ones
    // open connections) makes the gap after it look shorter than the client kept it.
    assert!(span >= ideal.mul_f64(0.9), "faster than the rate: {span:?}");
    // An upper bound that load cannot reach (30 times the ideal second for 21 requests on
    // loopback), kept to fail a limiter that paces by the hour instead of the minute (60 s).
    assert!(
        span < Duration::from_secs(30),
        "far slower than the rate allows: {span:?}"
    );
    // Over any 5 consecutive requests (4 intervals) the rate holds, allowing for the arrival
    // jitter of a busy machine.
    for w in times.windows(5) {
        let d = w[4] - w[0];
        assert!(d >= (interval * 4).mul_f64(0.8), "5 requests in {d:?}");
    }
}

#[test]
fn the_cache_answers_the_second_run_and_can_be_turned_off() {
    let mut env = TestEnv::new();
    let k = plant(&mut env, 3);
    let server = ApiServer::by_key(HashMap::from([
        (k[0].clone(), Reply::json(200, AGENTS)),
        (k[1].clone(), Reply::json(401, "{}")),
        (k[2].clone(), Reply::json(503, "{}")),
    ]));
    let first = verify_json(&env, &server.url(), &[]).expect(1).json();
    assert_eq!(server.seen().len(), 3);
    assert_eq!(verification(&first, &k[0])["cached"], false);

    let second = verify_json(&env, &server.url(), &[]).expect(1).json();
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "only the unknown key is asked again");
    assert_eq!(seen[3].key(), Some(k[2].as_str()));
    assert_eq!(status(&second, &k[0]), s("live", None));
    assert_eq!(verification(&second, &k[0])["cached"], true);
    assert_eq!(status(&second, &k[1]), s("revoked", None));
    assert_eq!(verification(&second, &k[1])["cached"], true);
    assert_eq!(second["summary"]["verification"]["cache_hits"], 2);

    verify_json(&env, &server.url(), &["--no-verify-cache"]).expect(1);
    assert_eq!(server.seen().len(), 7, "--no-verify-cache asks again");
    verify_json(&env, &server.url(), &["--verify-cache-ttl", "0s"]).expect(1);
    assert_eq!(
        server.seen().len(),
        10,
        "entries older than the TTL are not used"
    );

    // Another API's answers are not this one's.
    let other = ApiServer::start(|_, _| Reply::json(401, "{}"));
    verify_json(&env, &other.url(), &[]).expect(1);
    assert_eq!(other.seen().len(), 3);
}

#[test]
fn the_budget_stops_requests_and_the_rest_are_unknown_budget() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 5);
    let server = ApiServer::start(|_, _| Reply::json(401, "{}"));
    let run = verify_json(&env, &server.url(), &["--max-verifications", "2"]).expect(1);
    assert_eq!(server.seen().len(), 2);
    let json = run.json();
    let budget = keys
        .iter()
        .filter(|k| status(&json, k) == s("unknown", Some("budget")))
        .count();
    assert_eq!(budget, 3);
    let human = verify_human(
        &env,
        &server.url(),
        &["--max-verifications", "0", "--no-verify-cache"],
    )
    .expect(1)
    .stdout();
    assert_eq!(human.matches("[unknown (budget)]").count(), 5, "{human}");
    assert_eq!(server.seen().len(), 2, "a budget of 0 sends nothing");
}

#[test]
fn fail_on_picks_the_findings_that_make_exit_code_1() {
    let mut env = TestEnv::new();
    let k = plant(&mut env, 3);
    let server = ApiServer::by_key(HashMap::from([
        (k[0].clone(), Reply::json(403, "{}")),
        (k[1].clone(), Reply::json(401, "{}")),
        (k[2].clone(), Reply::json(500, "{}")),
    ]));
    let api = server.url();
    let run = |files: &[&str], fail_on: &str| -> i32 {
        let mut args = vec!["--no-verify-cache", "--fail-on", fail_on];
        args.extend_from_slice(files);
        verify_human(&env, &api, &args).code()
    };
    // k0 live (insufficient scope), k1 revoked, k2 unknown.
    assert_eq!(run(&["k0.env", "k1.env", "k2.env"], "live"), 1);
    assert_eq!(run(&["k1.env", "k2.env"], "live"), 0);
    assert_eq!(run(&["k1.env", "k2.env"], "unknown"), 1);
    assert_eq!(run(&["k1.env"], "unknown"), 0);
    assert_eq!(run(&["k1.env"], "any"), 1);
    // A policy on verification results without --verify could never fail: refused.
    let no_verify = env.run(&["scan", "--fail-on", "live"]).expect(2);
    assert!(
        no_verify.stderr().contains("--verify"),
        "{}",
        no_verify.stderr()
    );
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_scan() {
    let mut env = TestEnv::new();
    plant(&mut env, 1);
    let run = env
        .run(&[
            "scan",
            "--verify",
            "--api-url",
            "http://api.example.test/v1",
        ])
        .expect(2);
    assert!(
        run.stderr().contains("allowed only to a loopback host"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().is_empty());
}

#[test]
fn keys_of_rules_from_other_files_are_never_sent() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 1);
    env.write(
        "acme.toml",
        r#"
[[rules]]
id = "acme-token"
name = "Acme token"
description = "An Acme token."
severity = "low"
security_severity = "3.0"
prefix = "acme_"
pattern = "acme_[A-Za-z0-9]{24,}"
"#,
    );
    let token = format!("acme_{}", env.rng.base62(30));
    env.write("acme.txt", &token);
    let server = ApiServer::start(|_, _| Reply::json(401, "{}"));
    let json = verify_json(&env, &server.url(), &["--rules", "acme.toml"])
        .expect(1)
        .json();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].key(), Some(keys[0].as_str()));
    assert_eq!(status(&json, &token), s("unknown", Some("not_nomotic")));
}

#[test]
fn no_key_appears_in_any_output_or_cache_file_whatever_the_answer() {
    let mut env = TestEnv::new();
    let k = plant(&mut env, 5);
    let server = ApiServer::by_key(HashMap::from([
        (k[0].clone(), Reply::json(200, AGENTS)),
        (k[1].clone(), Reply::json(403, "{}")),
        (k[2].clone(), Reply::json(401, "{}")),
        (k[3].clone(), Reply::html(500)),
        (
            k[4].clone(),
            Reply::json(200, AGENTS).delayed(Duration::from_secs(3)),
        ),
    ]));
    let api = server.url();
    let mut outputs = Vec::new();
    for format in ["human", "json"] {
        let run = verify_human(
            &env,
            &api,
            &["--verify-read-timeout", "300ms", "--format", format],
        )
        .expect(1);
        outputs.push(run);
    }
    // TLS spoken to a port that answers in plain HTTP: the handshake fails.
    let tls_api = format!("https://127.0.0.1:{}/api/v1", api::plain_text_port(k.len()));
    let tls = verify_json(&env, &tls_api, &["--no-verify-cache"]).expect(1);
    let tls_json = tls.json();
    assert_eq!(status(&tls_json, &k[0]), s("unknown", Some("tls")));
    outputs.push(tls);
    // A port nothing listens on: the connection is refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused_api = format!("http://127.0.0.1:{closed}/api/v1");
    let refused = verify_json(&env, &refused_api, &["--no-verify-cache"]).expect(1);
    assert_eq!(
        status(&refused.json(), &k[0]),
        s("unknown", Some("connection"))
    );
    assert!(
        refused.stderr().contains("could not verify 5 keys"),
        "{}",
        refused.stderr()
    );
    outputs.push(refused);

    for run in &outputs {
        assert_no_keys("stdout", &run.stdout(), &k);
        assert_no_keys("stderr", &run.stderr(), &k);
    }
    let mut cache_files = 0;
    for entry in walk(env.cache_dir()) {
        cache_files += 1;
        assert_no_keys("a cache file name", &entry.to_string_lossy(), &k);
        let bytes = std::fs::read(&entry).unwrap();
        assert_no_keys("a cache file", &String::from_utf8_lossy(&bytes), &k);
    }
    assert!(cache_files >= 3, "the definite answers were cached");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_key_verified_live_is_never_hidden_by_a_baseline_or_an_allow_comment() {
    let mut env = TestEnv::new();
    let (live, revoked, inline_live) = (env.live_key(), env.live_key(), env.live_key());
    env.write("a.env", format!("A={live}\nB={revoked}\n"));
    env.run(&["baseline", "create", "-o", "baseline.json"])
        .expect(0);
    env.write("b.py", format!("K = '{inline_live}'  # nmleaks:allow\n"));
    let server = ApiServer::by_key(HashMap::from([
        (live.clone(), Reply::json(200, AGENTS)),
        (
            inline_live.clone(),
            Reply::json(403, r#"{"detail": "insufficient scope"}"#),
        ),
        (
            revoked.clone(),
            Reply::json(401, r#"{"detail": "invalid key"}"#),
        ),
    ]));
    let run = verify_json(&env, &server.url(), &["--baseline", "baseline.json"]).expect(1);
    let json = run.json();
    let active: HashMap<&str, &str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fingerprint"].as_str().unwrap(),
                f["suppression_overridden"].as_str().unwrap_or("none"),
            )
        })
        .collect();
    assert_eq!(active.len(), 2, "{json:#}");
    assert_eq!(active[Fingerprint::of(&live).0.as_str()], "baseline");
    assert_eq!(active[Fingerprint::of(&inline_live).0.as_str()], "inline");
    let hidden = json["suppressed"].as_array().unwrap();
    assert_eq!(hidden.len(), 1, "the revoked key stays suppressed");
    assert_eq!(hidden[0]["fingerprint"], Fingerprint::of(&revoked).0);
    let human = verify_human(
        &env,
        &server.url(),
        &["--baseline", "baseline.json", "--no-verify-cache"],
    );
    assert!(
        human
            .stdout()
            .contains("not hidden by the baseline: the key is live"),
        "{}",
        human.stdout()
    );
    for key in [&live, &revoked, &inline_live] {
        run.assert_no_key(key);
        human.assert_no_key(key);
    }
}

/// N keys could each wait N × retries × `--verify-max-wait`: a server that always answers 429
/// with an hour's Retry-After kept a run going for many minutes. The deadline bounds the whole
/// phase: the run ends, every key without an answer is `unknown (deadline passed)`, one
/// warning says so and is counted, and `--fail-on unknown` still fails on those keys.
#[test]
fn verification_always_rate_limited_ends_at_the_deadline_with_the_keys_unknown() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 6);
    let server = ApiServer::start(|_, _| {
        Reply::json(429, r#"{"error":"rate_limited"}"#).header("Retry-After", "3600")
    });
    // The default --verify-max-wait (60s) and --verify-retries (3) would make this minutes per
    // key; the harness gives a run 120 s before it fails it.
    let args = ["--verify-deadline", "2s", "--fail-on", "unknown"];
    let run = verify_json(&env, &server.url(), &args).expect(1);
    let json = run.json();
    for key in &keys {
        assert_eq!(
            status(&json, key),
            s("unknown", Some("deadline")),
            "{json:#}"
        );
    }
    // Some keys were refused (the first request leaves at once, well inside 2 s), none was
    // asked twice: each request is one key's only 429, which its verification keeps.
    let requests = server.seen().len();
    assert!(
        (1..=keys.len()).contains(&requests),
        "one request per key at most, and no retry was waited for: {requests} requests"
    );
    let refused = keys
        .iter()
        .filter(|k| verification(&json, k)["http_status"] == 429)
        .count();
    assert_eq!(refused, requests, "{json:#}");
    let err = run.stderr();
    let warning: Vec<&str> = err.lines().filter(|l| l.contains("deadline")).collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(
        warning[0].starts_with("nmleaks: warning: verification stopped at its deadline (2s")
            && warning[0].contains("6 keys had no answer"),
        "{err}"
    );
    assert!(
        json["summary"]["warnings"].as_u64().unwrap() >= 1,
        "{json:#}"
    );
    assert_no_keys("stderr", &err, &keys);

    let human = verify_human(&env, &server.url(), &["--verify-deadline", "2s"]).expect(1);
    assert_eq!(
        human
            .stdout()
            .matches("[unknown (deadline passed)]")
            .count(),
        6,
        "{}",
        human.stdout()
    );
    let live_only = ["--verify-deadline", "2s", "--fail-on", "live"];
    verify_human(&env, &server.url(), &live_only).expect(0);
}

/// A request still running at the deadline is cut off there, not left to its read timeout.
#[test]
fn a_request_in_flight_at_the_deadline_is_cut_off_and_unknown() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 1);
    let server = ApiServer::start(|_, _| Reply::json(200, AGENTS).delayed(Duration::from_secs(5)));
    let args = ["--verify-deadline", "1s", "--verify-read-timeout", "60s"];
    let json = verify_json(&env, &server.url(), &args).expect(1).json();
    assert_eq!(status(&json, &keys[0]), s("unknown", Some("deadline")));
    // The request did leave (at once, with a second to spare) and reach the server: the case
    // is a request in flight, not one the deadline kept from starting.
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn absurd_verification_waits_and_deadlines_are_refused_before_any_scan() {
    let mut env = TestEnv::new();
    plant(&mut env, 1);
    let server = ApiServer::start(|_, _| Reply::json(200, AGENTS));
    for (flag, value, says) in [
        ("--verify-max-wait", "7d", "7d is more than 1h"),
        ("--verify-deadline", "30d", "30d is more than 24h"),
    ] {
        let run = verify_json(&env, &server.url(), &[flag, value]).expect(2);
        assert!(run.stderr().contains(says), "{}", run.stderr());
        assert!(run.stdout().is_empty());
    }
    assert_eq!(server.seen().len(), 0);
}

/// A server that closes each connection after its response left live keys
/// `unknown (connection failed)`: the client reused the pooled connection, the server had
/// closed it, and the request was not tried again. A request whose reused connection is reset
/// or closed before any response is now retried once, on a new connection.
#[test]
fn a_server_that_closes_each_connection_after_responding_leaves_no_key_unknown() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 40);
    let server = api::OneRequestPerConnection::start();
    let run = verify_json(&env, &server.url(), &["--no-verify-cache"]).expect(1);
    let json = run.json();
    let unknown: Vec<_> = keys
        .iter()
        .map(|k| status(&json, k))
        .filter(|st| st.0 != "live")
        .collect();
    assert!(
        unknown.is_empty(),
        "{} of {} keys not live: {unknown:?}\nstderr: {}",
        unknown.len(),
        keys.len(),
        run.stderr()
    );
    let seen = server.seen();
    assert!(
        seen.len() <= 2 * keys.len(),
        "{} requests for {} keys",
        seen.len(),
        keys.len()
    );
    for key in &keys {
        let n = seen.iter().filter(|k| *k == key).count();
        assert!((1..=2).contains(&n), "a key asked {n} times");
    }
    assert_no_keys("stderr", &run.stderr(), &keys);
}

/// At 6 requests a minute, 3 keys take 20 s; with a 9 s deadline the run says so up front,
/// verifies what fits (the first key, which has 9 s for its answer: generous on a loaded
/// machine), and does not sleep towards slots that come too late (the next is 10 s away, so
/// it is refused at once and the run costs no more than the one request).
#[test]
fn a_rate_too_slow_for_the_deadline_is_announced_and_the_rest_are_unknown() {
    let mut env = TestEnv::new();
    let keys = plant(&mut env, 3);
    let server = ApiServer::start(|_, _| Reply::json(401, r#"{"error":"unauthorized"}"#));
    let args = ["--verify-rate", "6", "--verify-deadline", "9s"];
    let run = verify_json(&env, &server.url(), &args).expect(1);
    let err = run.stderr();
    assert!(
        err.contains("takes about 20s, longer than the 9s deadline (--verify-deadline)"),
        "{err}"
    );
    let json = run.json();
    let statuses: Vec<_> = keys.iter().map(|k| status(&json, k)).collect();
    let revoked = statuses.iter().filter(|st| st.0 == "revoked").count();
    let late = statuses
        .iter()
        .filter(|st| **st == s("unknown", Some("deadline")))
        .count();
    assert_eq!((revoked, late), (1, 2), "{statuses:?}");
    assert_eq!(server.seen().len(), 1);
    assert!(err.contains("2 keys had no answer"), "{err}");
}

/// Auditors ask "show me only the live keys": `--status` narrows what is reported, while the
/// exit code still follows `--fail-on` over every key, and the summary counts what was left
/// out (a report of no live key never reads "no keys found").
#[test]
fn status_filters_what_is_reported_but_not_the_exit_code() {
    let mut env = TestEnv::new();
    let k = plant(&mut env, 3);
    let server = ApiServer::by_key(HashMap::from([
        (k[0].clone(), Reply::json(200, AGENTS)),
        (k[1].clone(), Reply::json(401, "{}")),
        (k[2].clone(), Reply::json(500, "{}")),
    ]));
    let api = server.url();
    let json = verify_json(&env, &api, &["--no-verify-cache", "--status", "live"])
        .expect(1)
        .json();
    let shown: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["verification"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["live"]);
    assert_eq!(json["summary"]["hidden_by_status"], 2);
    let json = verify_json(
        &env,
        &api,
        &["--no-verify-cache", "--status", "revoked,unknown"],
    )
    .expect(1)
    .json();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);
    // Only the revoked key's file: nothing live to show, but a key was found and fails.
    let run = verify_human(
        &env,
        &api,
        &["--no-verify-cache", "--status", "live", "k1.env"],
    );
    let out = run.expect(1).stdout();
    assert!(
        out.contains("1 key of other statuses not shown (--status)"),
        "{out}"
    );
    assert!(
        out.contains("no Nomotic keys of the statuses --status asks for"),
        "{out}"
    );
    assert!(!out.contains("no Nomotic keys found"), "{out}");
    // --fail-on live: the revoked key alone passes, whatever --status shows.
    verify_human(
        &env,
        &api,
        &[
            "--no-verify-cache",
            "--status",
            "revoked",
            "--fail-on",
            "live",
            "k1.env",
        ],
    )
    .expect(0);
    let run = env.run(&["scan", "--status", "live"]).expect(2);
    assert!(run.stderr().contains("--verify"), "{}", run.stderr());
}
