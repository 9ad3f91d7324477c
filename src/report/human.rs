//! The human report: one block per key, one line per place, a summary at the end.
//!
//! ```text
//! config/.env:3:14: nomotic-live-api-key nm_live_…h7Qz (2 more places hold this key)
//!     NOMOTIC_API_KEY=nm_live_…h7Qz
//! ```
//! Paths and snippets were sanitised when they were made (control and bidi characters
//! escaped); colour, when on, wraps only text this module writes.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::finding::{Origin, Provenance, short_id};

/// Colours for each part of a line; all plain when colour is off.
struct Palette {
    path: Style,
    pos: Style,
    rule: Style,
    key: Style,
    dim: Style,
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
            };
        }
        Palette {
            path: AnsiColor::Magenta.on_default(),
            pos: AnsiColor::Green.on_default(),
            rule: AnsiColor::Yellow.on_default(),
            key: AnsiColor::Red.on_default().bold(),
            dim: Style::new().dimmed(),
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
        let key = r.key(f);
        let rule = r.rule(f);
        let others = f.locations.len() - 1;
        for loc in &f.locations {
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
        }
        if let Some(prov) = &f.provenance {
            writeln!(w, "    {}{}{:#}", p.dim, provenance_line(prov), p.dim)?;
        }
    }
    let keys = r.findings.len();
    if keys == 0 {
        writeln!(w, "no Nomotic keys found")?;
    } else {
        let places = r.location_count();
        writeln!(
            w,
            "{keys} distinct key{} in {places} place{}; keys were not verified (no network call was made)",
            if keys == 1 { "" } else { "s" },
            if places == 1 { "" } else { "s" },
        )?;
    }
    Ok(())
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
                "pushed (a remote-tracking ref reaches it): revoke the key"
            } else {
                "only local refs reach it: rewrite history before pushing, or revoke the key"
            };
            format!(
                "introduced in {}; {commits}; {head}; {advice}",
                short_id(first)
            )
        }
        None => format!("no commit holds it ({head}); it is still in the object database"),
    }
}
