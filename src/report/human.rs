//! The human report: one block per key, one line per place, a summary at the end.
//!
//! ```text
//! config/.env:3:14: nomotic-live-api-key nm_live_…h7Qz (2 more places hold this key)
//!     NOMOTIC_API_KEY=nm_live_…h7Qz
//! ```
//! With `--verify` each line carries the key's status (`[live]`, `[revoked]`,
//! `[unknown (timeout)]`) and the summary counts them; without it the summary says, once, that
//! no network call was made.
//! Paths and snippets were sanitised when they were made (control and bidi characters
//! escaped); colour, when on, wraps only text this module writes.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::finding::{Finding, Origin, Provenance, short_id};
use crate::verdict::Status;

/// Colours for each part of a line; all plain when colour is off.
struct Palette {
    path: Style,
    pos: Style,
    rule: Style,
    key: Style,
    dim: Style,
    live: Style,
    unknown: Style,
}

impl Palette {
    fn new(color: bool) -> Palette {
        if !color {
            let p = Style::new();
            return Palette {
                path: p,
                pos: p,
                rule: p,
                key: p,
                dim: p,
                live: p,
                unknown: p,
            };
        }
        Palette {
            path: AnsiColor::Magenta.on_default(),
            pos: AnsiColor::Green.on_default(),
            rule: AnsiColor::Yellow.on_default(),
            key: AnsiColor::Red.on_default().bold(),
            dim: Style::new().dimmed(),
            live: AnsiColor::Red.on_default().bold(),
            unknown: AnsiColor::Yellow.on_default(),
        }
    }

    fn status(&self, s: Status) -> Style {
        match s.rank() {
            2 => self.live,
            1 => self.unknown,
            _ => self.dim,
        }
    }
}

/// Writes the human report.
///
/// # Errors
/// Writing to `w` failed.
pub fn write(r: &Report<'_>, color: bool, w: &mut dyn Write) -> io::Result<()> {
    let p = Palette::new(color);
    for f in r.findings {
        write_finding(w, &p, r, f)?;
    }
    if r.quiet {
        return Ok(());
    }
    if let Some(a) = &r.summary.audit {
        write_audit(w, a, r.findings)?;
    }
    if !r.suppressed.is_empty() {
        let count = |kind: &str| {
            r.suppressed
                .iter()
                .filter(|s| s.reason.kind() == kind)
                .count()
        };
        let parts: Vec<String> = [
            ("baseline", "by the baseline"),
            ("inline", "by nmleaks:allow"),
            ("config-allow", "by the config's allow list"),
            ("excluded", "in excluded paths"),
        ]
        .iter()
        .filter_map(|(kind, how)| {
            let n = count(kind);
            (n > 0).then(|| format!("{n} {how}"))
        })
        .collect();
        writeln!(
            w,
            "{}suppressed, not shown: {}{:#}",
            p.dim,
            parts.join(", "),
            p.dim
        )?;
    }
    if r.summary.ignored > 0 {
        let n = r.summary.ignored;
        writeln!(
            w,
            "{}{n} file{} or director{} skipped by ignore rules (.gitignore, .ignore, \
             .nmleaksignore): --no-ignore scans them, --verbose lists them{:#}",
            p.dim,
            if n == 1 { "" } else { "s" },
            if n == 1 { "y" } else { "ies" },
            p.dim
        )?;
    }
    let hidden = r.summary.hidden_by_status;
    if hidden > 0 {
        writeln!(
            w,
            "{}{hidden} key{} of other statuses not shown (--status){:#}",
            p.dim,
            if hidden == 1 { "" } else { "s" },
            p.dim
        )?;
    }
    let keys = r.findings.len();
    if keys == 0 && hidden > 0 {
        // Keys were found: only none of the statuses asked for. Never "no keys found".
        writeln!(w, "no {} of the statuses --status asks for", r.noun())?;
    } else if keys == 0 && r.summary.errors > 0 {
        // Never an all-clear when part of the input was not scanned.
        writeln!(
            w,
            "no {} found in what could be read; part of the input could not be \
             (see the errors on stderr)",
            r.noun()
        )?;
    } else if keys == 0 {
        writeln!(w, "no {} found", r.noun())?;
    } else {
        let places = r.location_count();
        write!(
            w,
            "{keys} distinct key{} in {places} place{}; ",
            if keys == 1 { "" } else { "s" },
            if places == 1 { "" } else { "s" },
        )?;
        match &r.summary.verification {
            None => writeln!(w, "keys were not verified (no network call was made)")?,
            Some(verified) => {
                let plural = if verified.requests == 1 { "" } else { "s" };
                writeln!(
                    w,
                    "verified: {}; {} request{plural} to {}, {} answered from cache",
                    status_counts(r.findings),
                    verified.requests,
                    crate::sanitize::text(&verified.api),
                    verified.cache_hits
                )?;
            }
        }
    }
    Ok(())
}

/// One place: `path:line:col: rule key [status] (N more places…)`, then the snippet.
#[allow(clippy::many_single_char_names)] // writer, palette, report, finding: as in `write`
fn write_location(
    w: &mut dyn Write,
    p: &Palette,
    r: &Report<'_>,
    f: &Finding,
    loc: &crate::finding::Location,
) -> io::Result<()> {
    let key = r.key(f);
    let rule = r.rule(f);
    let others = f.location_count() - 1;
    let path = loc.display_path();
    let (path_s, pos_s, rule_s, key_s) = (p.path, p.pos, p.rule, p.key);
    if loc.binary {
        write!(
            w,
            "{path_s}{path}{path_s:#}: {pos_s}byte {}{pos_s:#} (binary)",
            loc.offset
        )?;
    } else {
        write!(
            w,
            "{path_s}{path}{path_s:#}:{pos_s}{}:{}{pos_s:#}",
            loc.line, loc.column
        )?;
    }
    write!(w, ": {rule_s}{}{rule_s:#} {key_s}{key}{key_s:#}", rule.id)?;
    if let Some(phrase) = loc.part.phrase() {
        write!(w, " ({phrase})")?;
    }
    if let Some(chain) = loc.wrapping() {
        write!(w, " (inside {chain})")?;
    }
    if let Some(v) = &f.verification {
        let st = p.status(v.status);
        let cached = if v.cached { ", cached" } else { "" };
        write!(w, " {st}[{}{cached}]{st:#}", v.status)?;
    }
    if let Some(kind) = f.suppression_overridden {
        let how = match kind {
            "baseline" => "the baseline",
            "config-allow" => "the config's allow list",
            "excluded" => "an exclude",
            _ => "nmleaks:allow",
        };
        write!(
            w,
            " {st}(not hidden by {how}: the key is live){st:#}",
            st = p.key
        )?;
    }
    if let Origin::Git(g) = &loc.origin
        && !g.staged
    {
        write!(
            w,
            " {}by {} <{}>{:#}",
            p.dim,
            crate::sanitize::text(&g.author),
            crate::sanitize::text(&g.email),
            p.dim
        )?;
    }
    if others > 0 {
        let (s, verb) = if others == 1 {
            ("", "holds")
        } else {
            ("s", "hold")
        };
        write!(
            w,
            " {}({others} more place{s} {verb} this key){:#}",
            p.dim, p.dim
        )?;
    }
    writeln!(w)?;
    if let Some(snippet) = &loc.snippet {
        writeln!(w, "    {snippet}")?;
    }
    if loc.allow_ambiguous {
        // A bare allow on a line of several keys hides none of them: say so, and how.
        let prefix = &f.fingerprint.hex()[..8];
        writeln!(
            w,
            "    {}nmleaks:allow on this line hides none of its keys (it holds more than one): \
             name each, this one as nmleaks:allow:{prefix}{:#}",
            p.dim, p.dim
        )?;
    }
    Ok(())
}

/// `1 live, 2 revoked (revoked, malformed or never valid), 1 unknown`, live first.
fn status_counts(findings: &[Finding]) -> String {
    let count = |pred: &dyn Fn(Status) -> bool| {
        findings
            .iter()
            .filter(|f| f.status().is_some_and(pred))
            .count()
    };
    let parts = [
        (count(&|s| s == Status::Live), "live"),
        (
            count(&|s| s == Status::LiveInsufficientScope),
            "live (insufficient scope)",
        ),
        (
            count(&|s| s == Status::Revoked),
            "revoked (revoked, malformed or never valid)",
        ),
        (count(&|s| matches!(s, Status::Unknown(_))), "unknown"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One key: its places, then where it came from.
fn write_finding(w: &mut dyn Write, p: &Palette, r: &Report<'_>, f: &Finding) -> io::Result<()> {
    for loc in &f.locations {
        write_location(w, p, r, f, loc)?;
    }
    if let Some(prov) = &f.provenance {
        writeln!(w, "    {}{}{:#}", p.dim, provenance_line(prov), p.dim)?;
    }
    if !f.exposure.is_empty() {
        writeln!(w, "    {}{}{:#}", p.dim, exposure_line(&f.exposure), p.dim)?;
    }
    Ok(())
}

/// `in 2 repositories: https://h/org/app.git (public, since 2024-03-01), /srv/b (since …)`.
fn exposure_line(exposure: &[crate::finding::Exposure]) -> String {
    let each: Vec<String> = exposure
        .iter()
        .map(|e| {
            let mut about = Vec::new();
            match e.public {
                Some(true) => about.push("public".to_string()),
                Some(false) => about.push("private".to_string()),
                None => {}
            }
            if let Some(t) = e.provenance.first_commit_time {
                let day = crate::timefmt::rfc3339(t);
                about.push(format!("since {}", day.get(..10).unwrap_or(&day)));
            }
            if about.is_empty() {
                crate::sanitize::text(&e.repository)
            } else {
                format!(
                    "{} ({})",
                    crate::sanitize::text(&e.repository),
                    about.join(", ")
                )
            }
        })
        .collect();
    match exposure.len() {
        1 => format!("in 1 repository: {}", each[0]),
        n => format!("in {n} repositories: {}", each.join(", ")),
    }
}

/// The audit's table: repositories audited and failed (each failure with its reason), and
/// how the keys spread over them.
fn write_audit(w: &mut dyn Write, a: &super::AuditSummary, findings: &[Finding]) -> io::Result<()> {
    let (audited, failed) = (a.audited(), a.failed());
    let plural = |n: usize| if n == 1 { "y" } else { "ies" };
    writeln!(
        w,
        "repositories: {audited} audited, {failed} failed (of {})",
        a.repositories.len()
    )?;
    for r in a.repositories.iter().filter(|r| r.error.is_some()) {
        writeln!(
            w,
            "  failed: {}: {}",
            crate::sanitize::text(&r.name),
            r.error.as_deref().unwrap_or_default()
        )?;
    }
    if findings.is_empty() {
        return Ok(());
    }
    let holding = a.repositories.iter().filter(|r| r.keys > 0).count();
    let public = findings
        .iter()
        .filter(|f| f.exposure.iter().any(|e| e.public == Some(true)))
        .count();
    let live = findings
        .iter()
        .filter(|f| f.status().is_some_and(|s| s.rank() == 2))
        .count();
    let widest = findings.iter().map(|f| f.exposure.len()).max().unwrap_or(0);
    let mut parts = vec![format!("keys in {holding} repositor{}", plural(holding))];
    if live > 0 {
        parts.push(format!("{live} live"));
    }
    if public > 0 {
        parts.push(format!("{public} in a public repository"));
    }
    parts.push(format!(
        "at most {widest} repositor{} per key",
        plural(widest)
    ));
    writeln!(w, "{}", parts.join("; "))
}

/// One line on where a key came from in history and what to do about it.
fn provenance_line(p: &Provenance) -> String {
    let commits = match p.commits {
        1 => "1 commit holds it".to_string(),
        n => format!("{n} commits hold it"),
    };
    let head = if p.at_head {
        "still at HEAD"
    } else {
        "not at HEAD"
    };
    match &p.first_commit {
        Some(first) => {
            let advice = if p.pushed {
                "pushed (a remote-tracking ref reaches a commit that holds it): revoke the key"
            } else if p.history_damaged {
                "history is damaged, so whether it was pushed is unknown: revoke the key"
            } else {
                "only local refs reach it: rewrite history before pushing, or revoke the key"
            };
            format!(
                "introduced in {}; {commits}; {head}; {advice}",
                short_id(first)
            )
        }
        None if p.history_damaged => "no commit that could be read holds it: history is \
            damaged, so where it came from is unknown; revoke the key"
            .to_string(),
        None => format!("no commit holds it ({head}); it is still in the object database"),
    }
}
