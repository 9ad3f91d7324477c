//! The HTML report (`--format html`): one self-contained file for an audit.
//!
//! A summary (keys by status, paths, the first and last commit dates), then one table row per
//! key: its status and what to do about it, the redacted key, the rule, where it is, and its
//! provenance (who introduced it, when, pushed or not, still at HEAD); each row opens onto
//! every place listed. Sorting and filtering are a small inline script over the rendered rows:
//! no server, no network (the page's Content-Security-Policy allows nothing to load), no
//! external script, style or font. Every text from the scanned input (paths, snippets,
//! authors) is HTML-escaped, and keys are redacted as in every format.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::Report;
use crate::finding::{Finding, Location, Origin, short_id};
use crate::verdict::Status;

/// `&`, `<`, `>`, `"` and `'` as entities: text from the input can never become markup.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The status class a row filters on, and its label.
fn status_of(f: &Finding) -> (&'static str, String) {
    match f.status() {
        None => ("not-verified", "not verified".to_string()),
        Some(s @ (Status::Live | Status::LiveInsufficientScope)) => ("live", s.to_string()),
        Some(Status::Revoked) => ("revoked", "revoked".to_string()),
        Some(s @ Status::Unknown(_)) => ("unknown", s.to_string()),
    }
}

/// What to do about a key of this status, and whether history should be rewritten.
fn advice(class: &str, pushed: Option<bool>) -> &'static str {
    match (class, pushed) {
        ("live", Some(true)) => {
            "Revoke it now in Settings → API Keys and rotate it: it was pushed. Then remove it \
             from the code; rewriting history does not un-leak it."
        }
        ("live", _) => {
            "Revoke it in Settings → API Keys and rotate it, then remove it from the code \
             (history not yet pushed can be rewritten)."
        }
        ("unknown", _) => {
            "Treat it as live: revoke it in Settings → API Keys and rotate it, then verify again."
        }
        ("revoked", _) => {
            "No urgent action: the key no longer works. Remove it from the code; rewrite \
             history only to remove the noise."
        }
        _ => {
            "Not verified: run with --verify to learn whether it is live; until then treat it \
             as live (revoke in Settings → API Keys, rotate)."
        }
    }
}

/// `path:line:col` (`commit:path:line:col` for git), escaped.
fn place(loc: &Location) -> String {
    let mut s = String::new();
    let _ = write!(s, "{}:{}:{}", loc.display_path(), loc.line, loc.column);
    if let Some(chain) = loc.wrapping() {
        let _ = write!(s, " (inside {chain})");
    }
    esc(&s)
}

/// Writes the HTML report.
///
/// # Errors
/// Writing to `w` failed.
pub fn write(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let mut counts = [0usize; 4]; // live, unknown, revoked, not verified
    let mut paths = BTreeSet::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for f in r.findings {
        counts[match status_of(f).0 {
            "live" => 0,
            "unknown" => 1,
            "revoked" => 2,
            _ => 3,
        }] += 1;
        for l in &f.locations {
            match &l.origin {
                Origin::Git(g) => {
                    if let Some(p) = &g.path {
                        paths.insert(p.clone());
                    }
                    if g.time > 0 {
                        first = first.min(g.time);
                        last = last.max(g.time);
                    }
                }
                _ => {
                    paths.insert(l.display_path());
                }
            }
        }
    }
    let title = format!("nmleaks report: {}", r.root.display());
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        esc(&title)
    )?;
    writeln!(w, "<h1>{}</h1>", esc(&title))?;
    writeln!(
        w,
        "<p class=\"meta\">nmleaks {} · {} · keys are shown redacted{}</p>",
        esc(env!("CARGO_PKG_VERSION")),
        esc(r.command),
        if r.show_secrets {
            " (except: this report was written with --show-secrets)"
        } else {
            ""
        }
    )?;
    write_summary(w, r, &counts, paths.len(), (first, last))?;
    writeln!(
        w,
        "<section id=\"controls\"><label>Filter <input id=\"q\" type=\"search\" \
         placeholder=\"path, author, key, rule…\"></label> <label>Status <select id=\"status\">\
         <option value=\"\">all</option><option value=\"live\">live</option>\
         <option value=\"unknown\">unknown</option><option value=\"revoked\">revoked</option>\
         <option value=\"not-verified\">not verified</option></select></label> \
         <span id=\"shown\"></span></section>"
    )?;
    if r.findings.is_empty() {
        writeln!(w, "<p id=\"none\">No {} found.</p>", r.noun())?;
    }
    writeln!(
        w,
        "<table id=\"keys\"><thead><tr>\
         <th data-sort=\"status\">Status</th><th data-sort=\"text\">Key</th>\
         <th data-sort=\"text\">Rule</th><th data-sort=\"num\">Places</th>\
         <th data-sort=\"text\">Where</th><th data-sort=\"text\">Introduced</th>\
         <th data-sort=\"text\">Pushed</th><th data-sort=\"text\">At HEAD</th>\
         <th>What to do</th></tr></thead><tbody>"
    )?;
    for f in r.findings {
        write_row(w, r, f)?;
    }
    writeln!(w, "</tbody></table>")?;
    if let Some(a) = &r.summary.audit {
        write_repositories(w, a)?;
    }
    writeln!(w, "<script>{SCRIPT}</script>\n</body>\n</html>")
}

fn write_row(w: &mut dyn Write, r: &Report<'_>, f: &Finding) -> io::Result<()> {
    let (class, label) = status_of(f);
    let rank = match class {
        "live" => 3,
        "unknown" => 2,
        "not-verified" => 1,
        _ => 0,
    };
    let rule = r.rule(f);
    let prov = f.provenance.as_ref();
    let introduced = prov.and_then(|p| p.first_commit.as_deref()).map_or_else(
        || "—".to_string(),
        |c| {
            let who = f.locations.iter().find_map(|l| match &l.origin {
                Origin::Git(g) if g.commit == c => {
                    Some(format!("{} &lt;{}&gt;", esc(&g.author), esc(&g.email)))
                }
                _ => None,
            });
            let when = prov
                .and_then(|p| p.first_commit_time)
                .map(|t| format!(" · {}", esc(&crate::timefmt::rfc3339(t))))
                .unwrap_or_default();
            format!(
                "<code>{}</code>{}{when}",
                esc(short_id(c)),
                who.map(|w| format!(" · {w}")).unwrap_or_default()
            )
        },
    );
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    };
    let pushed = prov.map(|p| p.pushed || p.history_damaged);
    let first = f.locations.first().map(place).unwrap_or_default();
    writeln!(
        w,
        "<tr class=\"key {class}\" data-status=\"{class}\" data-rank=\"{rank}\" \
         data-fingerprint=\"{}\"><td class=\"status\">{}</td><td><code>{}</code></td>\
         <td>{}</td><td data-num=\"{}\">{}</td><td><details><summary><code>{first}</code>\
         </summary><ul>",
        esc(&f.fingerprint.0),
        esc(&label),
        esc(&r.key(f)),
        esc(&rule.id),
        f.location_count(),
        f.location_count(),
    )?;
    for l in &f.locations {
        let who = match &l.origin {
            Origin::Git(g) if !g.staged && !g.author.is_empty() => {
                format!(" · {}", esc(&g.author))
            }
            _ => String::new(),
        };
        writeln!(w, "<li><code>{}</code>{who}", place(l))?;
        if let Some(snippet) = &l.snippet {
            writeln!(w, "<pre>{}</pre>", esc(snippet))?;
        }
        writeln!(w, "</li>")?;
    }
    if let Some(item) = exposure_item(f) {
        writeln!(w, "{item}")?;
    }
    let unlisted = f.location_count() - f.locations.len() as u64;
    if unlisted > 0 {
        writeln!(
            w,
            "<li>and {unlisted} more places, counted but not listed</li>"
        )?;
    }
    writeln!(
        w,
        "</ul></details></td><td>{introduced}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        yes_no(pushed),
        yes_no(prov.map(|p| p.at_head)),
        esc(advice(class, pushed))
    )
}

/// The counts above the table.
fn write_summary(
    w: &mut dyn Write,
    r: &Report<'_>,
    counts: &[usize; 4],
    paths: usize,
    (first, last): (i64, i64),
) -> io::Result<()> {
    writeln!(w, "<section id=\"summary\"><dl>")?;
    let mut item = |k: &str, v: String| writeln!(w, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    item("keys", r.findings.len().to_string())?;
    item("live", counts[0].to_string())?;
    item("unknown", counts[1].to_string())?;
    item("revoked", counts[2].to_string())?;
    item("not verified", counts[3].to_string())?;
    item("paths", paths.to_string())?;
    item("suppressed", r.suppressed.len().to_string())?;
    if first <= last {
        item("first commit", esc(&crate::timefmt::rfc3339(first)))?;
        item("last commit", esc(&crate::timefmt::rfc3339(last)))?;
    }
    if let Some(a) = &r.summary.audit {
        item("repositories audited", a.audited().to_string())?;
        item("repositories failed", a.failed().to_string())?;
    }
    if r.summary.errors > 0 {
        item(
            "not scanned",
            format!(
                "{} input(s) could not be read in full: see the errors nmleaks printed",
                r.summary.errors
            ),
        )?;
    }
    writeln!(w, "</dl></section>")?;
    Ok(())
}

/// `<li>in 2 repositories: …</li>` for a key of an audit of many repositories.
fn exposure_item(f: &Finding) -> Option<String> {
    if f.exposure.is_empty() {
        return None;
    }
    let each: Vec<String> = f
        .exposure
        .iter()
        .map(|e| {
            let public = match e.public {
                Some(true) => " (public)",
                Some(false) => " (private)",
                None => "",
            };
            let since = e
                .provenance
                .first_commit_time
                .map(|t| format!(" since {}", esc(&crate::timefmt::rfc3339(t))))
                .unwrap_or_default();
            format!(
                "<code>{}</code>{public}{since}",
                esc(&crate::sanitize::text(&e.repository))
            )
        })
        .collect();
    Some(format!(
        "<li>in {} repositor{}: {}</li>",
        f.exposure.len(),
        if f.exposure.len() == 1 { "y" } else { "ies" },
        each.join(", ")
    ))
}

/// An audit's repositories: each with how it went, failures first.
fn write_repositories(w: &mut dyn Write, a: &super::AuditSummary) -> io::Result<()> {
    writeln!(
        w,
        "<h2>Repositories</h2>\n<table id=\"repositories\"><thead><tr><th>Repository</th>\
         <th>Status</th><th>Public</th><th>Keys</th><th>Why it failed</th></tr></thead><tbody>"
    )?;
    let mut rows: Vec<&super::RepoOutcome> = a.repositories.iter().collect();
    rows.sort_by_key(|o| o.error.is_none());
    for o in rows {
        writeln!(
            w,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&crate::sanitize::text(&o.name)),
            if o.error.is_some() {
                "failed"
            } else {
                "audited"
            },
            match o.public {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            },
            o.keys,
            esc(o.error.as_deref().unwrap_or(""))
        )?;
    }
    writeln!(w, "</tbody></table>")
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fff}
h1{font-size:1.3rem;margin:0 0 .2rem}.meta{color:#555;margin:0 0 1rem}
#summary dl{display:flex;flex-wrap:wrap;gap:.6rem;margin:0 0 1rem}
#summary div{border:1px solid #ddd;border-radius:6px;padding:.4rem .7rem}
#summary dt{font-size:.75rem;color:#555}#summary dd{margin:0;font-weight:600}
#controls{margin:0 0 .8rem}#controls input{width:22rem}#shown{color:#555;margin-left:.6rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e4e4e4;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f6f6;cursor:pointer;user-select:none}
th[data-dir=asc]::after{content:' ▲'}th[data-dir=desc]::after{content:' ▼'}
tr.live td.status{color:#b00020;font-weight:700}tr.unknown td.status{color:#9a6700;font-weight:600}
tr.revoked td.status{color:#555}pre{white-space:pre-wrap;margin:.2rem 0;background:#f6f6f6;padding:.2rem .4rem}
code{font:12px ui-monospace,monospace}details summary{cursor:pointer}ul{margin:.3rem 0;padding-left:1.1rem}
";

/// Filtering (text and status, also from the URL fragment `#q=…&status=…`) and sorting by a
/// column header.
const SCRIPT: &str = r"
(function(){
var q=document.getElementById('q'),st=document.getElementById('status'),
    body=document.querySelector('#keys tbody'),shown=document.getElementById('shown');
function rows(){return Array.prototype.slice.call(body.rows);}
function apply(){
  var t=q.value.toLowerCase(),s=st.value,n=0;
  rows().forEach(function(r){
    var ok=(!s||r.dataset.status===s)&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
    r.hidden=!ok;if(ok)n++;});
  shown.textContent=n+' of '+body.rows.length+' keys shown';
}
var h=new URLSearchParams(location.hash.slice(1));
if(h.get('q'))q.value=h.get('q');if(h.get('status'))st.value=h.get('status');
q.addEventListener('input',apply);st.addEventListener('change',apply);
document.querySelectorAll('#keys th[data-sort]').forEach(function(th,i){
  th.addEventListener('click',function(){
    var dir=th.dataset.dir==='asc'?'desc':'asc',kind=th.dataset.sort;
    document.querySelectorAll('#keys th').forEach(function(o){delete o.dataset.dir;});
    th.dataset.dir=dir;
    var key=function(r){var c=r.cells[i];
      return kind==='status'?+r.dataset.rank:kind==='num'?+c.dataset.num:c.textContent.toLowerCase();};
    var sorted=rows().sort(function(a,b){var x=key(a),y=key(b);
      return (x<y?-1:x>y?1:0)*(dir==='asc'?1:-1);});
    sorted.forEach(function(r){body.appendChild(r);});
  });
});
apply();
})();
";
