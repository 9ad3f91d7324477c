//! The config file: what a team sets once, in `.nmleaks.toml` at the top of the repository.
//!
//! ```toml
//! rules = ["security/acme-rules.toml"]   # more rules files, relative to this file
//! exclude = ["vendor/", "*.min.js"]      # gitignore syntax: keys there are hidden (unless live)
//! include = []                           # if any: keys elsewhere are hidden (unless live)
//! baseline = "security/baseline.json"    # instead of .nmleaks-baseline.json
//! fail-on = "live"                       # with --verify: which findings fail the run
//! allow = ["1a2b3c4d5e6f7a8b"]           # fingerprint prefixes of known test keys
//!
//! [verify]                               # only used when --verify is given
//! plan = "team"                          # free (60 requests a minute), team (500), business (2000)
//! # rate = 500                           # or the rate itself
//! ```
//!
//! This module owns reading the file (one sentence and exit 2 for anything wrong with it,
//! with its line and column) and folding it into [`Common`]: flags win, lists add up. A config
//! file can never turn the network on (`--verify` is a flag only), never loosen `--fail-on`
//! without `--verify`, and nothing it hides survives verification as live (see
//! [`crate::suppress::apply`]). `--no-repo-config` ignores the repository's file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{BaselineChoice, CONFIG_FILE, Common, ConfigChoice, FailOn};
use crate::error::UsageError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    rules: Vec<PathBuf>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    baseline: Option<PathBuf>,
    fail_on: Option<FailOnName>,
    #[serde(default)]
    allow: Vec<String>,
    verify: Option<VerifyTable>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FailOnName {
    Any,
    Live,
    Unknown,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyTable {
    rate: Option<u32>,
    plan: Option<Plan>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Plan {
    Free,
    Team,
    Business,
}

impl Plan {
    /// Requests a minute the vendor's page gives each plan.
    fn rate(self) -> u32 {
        match self {
            Plan::Free => 60,
            Plan::Team => 500,
            Plan::Business => 2000,
        }
    }
}

/// Which file `common` asks for, with `top` the repository's top directory: `None` when
/// there is none to read.
fn chosen(common: &Common, top: &Path) -> Result<Option<PathBuf>, UsageError> {
    match &common.config {
        ConfigChoice::Off => Ok(None),
        ConfigChoice::File(p) => {
            if p.is_file() {
                Ok(Some(p.clone()))
            } else {
                Err(UsageError(format!(
                    "config file {} does not exist",
                    crate::sanitize::path(p)
                )))
            }
        }
        ConfigChoice::Conventional if common.no_repo_config => Ok(None),
        ConfigChoice::Conventional => {
            let p = top.join(CONFIG_FILE);
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Reads the config file `common` chooses (in `top`, the repository's top directory) and folds
/// it into `common`. Returns the file read, if any.
///
/// # Errors
/// A one-sentence [`UsageError`] naming the file: unreadable, not TOML, an unknown setting
/// (with its line and column), a bad value.
pub fn settle(common: &mut Common, top: &Path) -> Result<Option<PathBuf>, UsageError> {
    let Some(path) = chosen(common, top)? else {
        return Ok(None);
    };
    // Named as the user would: relative to the current directory when under it.
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = crate::sanitize::path(path.strip_prefix(&cwd).unwrap_or(&path));
    let text = crate::textfile::read(&path, 1 << 20)
        .map_err(|e| UsageError(format!("cannot read config file {shown}: {e}")))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        UsageError(format!(
            "config file {shown} is not valid: {}",
            crate::rules::toml_error(&text, &e)
        ))
    })?;
    let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    for a in &file.allow {
        if !crate::finding::is_prefix_form(a) {
            return Err(UsageError(format!(
                "config file {shown}: allow entry {} is not a fingerprint or a prefix of one \
                 (8 to 64 hex digits, as `nmleaks:allow:` takes)",
                crate::sanitize::echoed(a)
            )));
        }
    }
    // Rules files from the config come first; --rules adds to them.
    let mut rules: Vec<PathBuf> = file.rules.iter().map(|r| dir.join(r)).collect();
    rules.append(&mut common.rules);
    common.rules = rules;
    common.excludes.extend(file.exclude);
    common.includes.extend(file.include);
    common.allow.extend(file.allow);
    if let Some(b) = file.baseline
        && common.baseline == BaselineChoice::Conventional
        && !common.no_repo_config
    {
        common.baseline = BaselineChoice::File(dir.join(b));
    }
    if let Some(verify) = common.verify.as_mut() {
        if let Some(f) = file.fail_on.filter(|_| !common.explicit.fail_on) {
            common.fail_on = match f {
                FailOnName::Any => FailOn::Any,
                FailOnName::Live => FailOn::Live,
                FailOnName::Unknown => FailOn::Unknown,
            };
        }
        if let Some(t) = file.verify.filter(|_| !common.explicit.verify_rate) {
            let rate = match (t.rate, t.plan) {
                (Some(_), Some(_)) => {
                    return Err(UsageError(format!(
                        "config file {shown}: [verify] sets both rate and plan; set one"
                    )));
                }
                (Some(r), None) => Some(r),
                (None, Some(p)) => Some(p.rate()),
                (None, None) => None,
            };
            if let Some(r) = rate {
                if r == 0 || r > 1_000_000 {
                    return Err(UsageError(format!(
                        "config file {shown}: [verify] rate {r} is not between 1 and 1000000"
                    )));
                }
                verify.rate_per_minute = r;
            }
        }
    }
    Ok(Some(path))
}
