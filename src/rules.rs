//! Detection rules as data.
//!
//! This module owns reading `rules/*.toml` (the built-in file is compiled in with
//! `include_str!`; `--rules FILE` adds more), validating each rule and compiling its anchored
//! regex. It is data and parsing only: matching, and proving each rule's `examples` and
//! `negative_examples` (`rules check`), live in [`crate::matcher`].

use std::collections::HashSet;
use std::path::Path;

use regex::bytes::Regex;
use serde::Deserialize;

use crate::error::RuleError;
use crate::filter::{FilterSettings, Filters};

/// The rules shipped with nmleaks.
pub const BUILTIN: &str = include_str!("../rules/nomotic.toml");

/// The `source` of the built-in rules.
pub const BUILTIN_SOURCE: &str = "builtin";

/// Whether every rule in `rules` is a built-in (Nomotic) one: no rules file added others.
#[must_use]
pub fn all_builtin(rules: &[Rule]) -> bool {
    rules.iter().all(Rule::is_builtin)
}

/// How serious a finding of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Low,
    /// Worth fixing.
    Medium,
    /// A working production credential.
    High,
}

impl Severity {
    /// The lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    description: String,
    severity: Severity,
    security_severity: String,
    prefix: String,
    pattern: String,
    #[serde(default)]
    filters: FilterSettings,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negative_examples: Vec<String>,
}

/// A validated, compiled rule. Its `Debug` counts the examples without showing them: an
/// example is key-shaped, and a user's rules file may hold a real one.
#[derive(Clone)]
pub struct Rule {
    /// Stable identifier (never changes once released).
    pub id: String,
    /// Short human name.
    pub name: String,
    /// What the key is and why it matters.
    pub description: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// The score GitHub code scanning shows (`"9.5"`).
    pub security_severity: String,
    /// The literal every key of this rule starts with.
    pub prefix: String,
    /// The pattern as written in the rules file.
    pub pattern: String,
    /// `\A(?:pattern)`: tried at each prefix hit.
    pub(crate) anchored: Regex,
    /// Placeholder, masking and randomness filters.
    pub(crate) filters: Filters,
    /// Strings that must yield a key of this rule.
    pub examples: Vec<String>,
    /// Strings that must not.
    pub negative_examples: Vec<String>,
    /// Where the rule was read from (`builtin` or a path).
    pub source: String,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .field("severity", &self.severity)
            .field("prefix", &self.prefix)
            .field("pattern", &self.pattern)
            .field("filters", &self.filters)
            .field("examples", &self.examples.len())
            .field("negative_examples", &self.negative_examples.len())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What a TOML parser said about `text`, for one sentence: `line 4, column 11: …` (when it
/// knows where), with the file's content it may quote escaped and anything key-like hidden.
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let what = crate::sanitize::echoed(e.message());
    match e.span() {
        Some(span) => {
            let (line, column) = crate::textfile::position(text, span.start);
            format!("line {line}, column {column}: {what}")
        }
        None => what,
    }
}

impl Rule {
    /// Whether this rule is one of the built-in Nomotic rules.
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        self.source == BUILTIN_SOURCE
    }
}

/// Parses and validates the rules in `text`, read from `source` (named in errors).
///
/// # Errors
/// A [`RuleError`] naming the source and, where it applies, the rule id.
pub fn parse(text: &str, source: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| RuleError::Syntax {
        source_name: source.to_string(),
        message: toml_error(text, &e),
    })?;
    if file.rules.is_empty() {
        return Err(RuleError::Empty {
            source_name: source.to_string(),
        });
    }
    file.rules
        .into_iter()
        .map(|spec| compile(spec, source))
        .collect()
}

fn compile(spec: RuleSpec, source: &str) -> Result<Rule, RuleError> {
    let invalid = |message: String| RuleError::Invalid {
        source_name: source.to_string(),
        // Shown before it is validated: an invalid id may hold anything.
        id: crate::sanitize::text(&spec.id),
        message,
    };
    let id_ok = !spec.id.is_empty()
        && spec
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !id_ok {
        return Err(invalid(
            "an id is letters, digits, '-', '_' and '.' only".into(),
        ));
    }
    if spec.prefix.len() < 3 || !spec.prefix.is_ascii() {
        return Err(invalid(
            "a prefix is at least 3 ASCII characters (the prefilter searches for it)".into(),
        ));
    }
    if !spec.pattern.starts_with(&regex::escape(&spec.prefix)) {
        return Err(invalid(
            "the pattern must begin with the rule's prefix, written literally".into(),
        ));
    }
    if spec.security_severity.parse::<f64>().is_err() {
        return Err(invalid(
            "security_severity is a number written as a string, such as \"9.5\"".into(),
        ));
    }
    let anchored = regex::bytes::RegexBuilder::new(&format!(r"\A(?:{})", spec.pattern))
        .unicode(false)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            // The regex error draws the pattern over several lines with a caret under the
            // fault; its last line says what is wrong, which is what one line can hold.
            let e = e.to_string();
            let what = e.lines().last().unwrap_or_default();
            invalid(format!(
                "the pattern does not compile: {}",
                crate::sanitize::text(what)
            ))
        })?;
    Ok(Rule {
        filters: Filters::new(spec.filters),
        id: spec.id,
        name: spec.name,
        description: spec.description,
        severity: spec.severity,
        security_severity: spec.security_severity,
        prefix: spec.prefix,
        pattern: spec.pattern,
        anchored,
        examples: spec.examples,
        negative_examples: spec.negative_examples,
        source: source.to_string(),
    })
}

/// The built-in rules followed by the rules of each file in `extra`.
///
/// # Errors
/// An unreadable or invalid file, or two rules sharing an id.
pub fn load(extra: &[impl AsRef<Path>]) -> Result<Vec<Rule>, RuleError> {
    let mut rules = parse(BUILTIN, BUILTIN_SOURCE)?;
    for path in extra {
        let path = path.as_ref();
        let name = crate::sanitize::path(path);
        let text =
            crate::textfile::read(path, crate::textfile::MAX_LEN).map_err(|e| RuleError::Read {
                source_name: name.clone(),
                error: e,
            })?;
        rules.extend(parse(&text, &name)?);
    }
    let mut seen = HashSet::new();
    for rule in &rules {
        if !seen.insert(rule.id.as_str()) {
            return Err(RuleError::DuplicateId {
                id: rule.id.clone(),
                source_name: rule.source.clone(),
            });
        }
    }
    Ok(rules)
}

/// Makes every text shown from now on (paths, messages, reports) hide the keys of `rules`,
/// unless `show_secrets`; see [`crate::sanitize`].
pub fn install_redaction(rules: &[Rule], show_secrets: bool) {
    let patterns = rules
        .iter()
        .filter_map(|r| {
            regex::bytes::RegexBuilder::new(&r.pattern)
                .unicode(false)
                .size_limit(1 << 20)
                .build()
                .ok()
                .map(|re| (re, r.prefix.len()))
        })
        .collect();
    crate::sanitize::install_redaction(patterns, show_secrets);
}

/// The built-in rules' redaction, for messages printed before any rules file is read (a
/// usage error echoing a flag's value).
pub fn install_builtin_redaction() {
    if let Ok(rules) = parse(BUILTIN, BUILTIN_SOURCE) {
        install_redaction(&rules, false);
    }
}

/// Escapes and redacts the texts a rules file gave its rules (id, name, description), which
/// every report prints: call after [`install_redaction`].
pub fn redact_texts(rules: &mut [Rule]) {
    for r in rules {
        r.id = crate::sanitize::text(&r.id);
        r.name = crate::sanitize::text(&r.name);
        r.description = crate::sanitize::text(&r.description);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_rules_and_the_matcher_shows_no_example() {
        let rules = load(&[] as &[&str]).unwrap();
        let m = crate::matcher::Matcher::new(rules.clone());
        let dbg = format!("{rules:?} {m:?}");
        for r in &rules {
            for ex in &r.examples {
                let key = ex
                    .split(['=', ' ', '\'', '"'])
                    .find(|w| w.contains("_live_") || w.contains("_test_"));
                if let Some(key) = key.filter(|k| k.len() > 20) {
                    assert!(!dbg.contains(&key[8..20]), "Debug shows an example key");
                }
            }
        }
        let counted = format!("examples: {}", rules[0].examples.len());
        assert!(dbg.contains(&counted), "{dbg}");
    }

    #[test]
    fn builtin_rules_spell_out_their_filters() {
        // A rules file's omitted settings are off; the built-in rules must not rely on them.
        let n = crate::filter::FilterSettings::nomotic();
        for text in BUILTIN.split("\n[rules.filters]\n").skip(1) {
            let table: String = text
                .lines()
                .take_while(|l| !l.starts_with("[["))
                .collect::<Vec<_>>()
                .join("\n");
            for (field, value) in [
                ("min_body_len", n.min_body_len.to_string()),
                ("min_entropy", n.min_entropy.to_string()),
                ("reject_repetitive", n.reject_repetitive.to_string()),
                ("reject_sequential", n.reject_sequential.to_string()),
                ("reject_identifiers", n.reject_identifiers.to_string()),
                ("reject_masked", n.reject_masked.to_string()),
                ("full_body_len", n.full_body_len.to_string()),
            ] {
                assert!(
                    table
                        .lines()
                        .any(|l| l.trim() == format!("{field} = {value}")),
                    "{field} = {value} missing from a built-in [rules.filters]"
                );
            }
        }
        assert_eq!(
            BUILTIN.matches("\n[rules.filters]\n").count(),
            parse(BUILTIN, BUILTIN_SOURCE).unwrap().len()
        );
    }

    #[test]
    fn builtin_rule_ids_are_stable() {
        let ids: Vec<_> = parse(BUILTIN, BUILTIN_SOURCE)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["nomotic-live-api-key", "nomotic-test-api-key"]);
    }

    #[test]
    fn invalid_rules_are_refused_with_a_reason() {
        let base = |extra: &str| {
            format!(
                "[[rules]]\nid = \"x\"\nname = \"n\"\ndescription = \"d\"\nseverity = \"low\"\n\
                 security_severity = \"1.0\"\n{extra}"
            )
        };
        let cases = [
            (
                base("prefix = \"ab_\"\npattern = \"ab_[\""),
                "does not compile",
            ),
            (
                base("prefix = \"ab_\"\npattern = \"zz_[a-z]+\""),
                "must begin with",
            ),
            (base("prefix = \"a\"\npattern = \"a[a-z]+\""), "at least 3"),
            (
                base("prefix = \"ab_\"\npattern = \"ab_\"\nunknown = 1"),
                "unknown field",
            ),
            ("rules = []".to_string(), "defines no"),
            ("not toml at all [".to_string(), "not valid"),
        ];
        for (text, want) in cases {
            let err = parse(&text, "t.toml").unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        let err = parse(&base("prefix = \"ab_\"\npattern = \"ab_[\""), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("does not compile: error: unclosed character class"),
            "{err}"
        );
        let evil = "[[rules]]\nid = \"a\\u001b[2J\"\nname = \"n\"\ndescription = \"d\"\n\
                    severity = \"low\"\nsecurity_severity = \"1.0\"\nprefix = \"ab_\"\n\
                    pattern = \"ab_\"\n";
        let err = parse(evil, "t.toml").unwrap_err().to_string();
        assert!(err.contains("rule a\\u{1b}[2J in t.toml"), "{err}");
    }
}
