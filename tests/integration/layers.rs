//! The crate's floors: no module imports from a floor above its own, and the module graph has
//! no cycle. The floors follow the data flow, as `src/lib.rs` draws them; this test reads every
//! `crate::…` path in the non-test code of `src/` and fails on an edge that goes up, or on a
//! cycle among modules of one floor. Run it alone with `cargo test --test integration layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Floors, bottom first. A module not listed takes the floor of its nearest listed parent.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "leaf utilities",
        &[
            "error",
            "exit",
            "sanitize",
            "messages",
            "interrupt",
            "textfile",
            "timefmt",
            "testkeys",
            "linehash",
            "bug",
        ],
    ),
    (
        "data",
        &["filter", "verdict", "finding", "rules", "suppress::inline"],
    ),
    ("matching", &["matcher"]),
    ("scanning", &["scan"]),
    ("sources", &["source", "hook"]),
    ("verification", &["verify"]),
    ("suppression", &["suppress"]),
    ("reports", &["report", "progress"]),
    (
        "top",
        &[
            "policy",
            "project",
            "config",
            "cli",
            "app",
            "audit",
            "differential",
            "differential_decode",
        ],
    ),
];

/// The module a file under `src/` defines: `source/git/mod.rs` is `source::git`.
fn module_of(rel: &str) -> Option<String> {
    let rel = rel.strip_suffix(".rs")?;
    if rel == "lib" || rel == "main" {
        return None;
    }
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    Some(rel.replace('/', "::"))
}

/// The floor of `module`: its own entry, or its nearest listed parent's.
fn floor_of(module: &str) -> Option<(usize, &'static str)> {
    let mut m = module;
    loop {
        for (i, (name, mods)) in FLOORS.iter().enumerate() {
            if mods.contains(&m) {
                return Some((i, name));
            }
        }
        m = &m[..m.rfind("::")?];
    }
}

/// The source of a file without its test module and comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules (`a` or `a::b`, as deep as the graph distinguishes) that `code` names through
/// `crate::` paths and `use crate::{…}` groups.
fn imports(code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
            .collect();
        let path = path.trim_end_matches([':', '{']);
        out.extend(longest_module(path, known));
        // `use crate::{a, b::c}`: each item of the group.
        if rest.starts_with('{')
            && let Some(end) = rest.find('}')
        {
            for item in rest[1..end].split(',') {
                out.extend(longest_module(item.trim(), known));
            }
        }
    }
    out
}

/// The longest prefix of `path` (`a::b::Item`) that names a module.
fn longest_module(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| known.contains(m))
}

fn files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// Depth-first search that panics on a cycle, naming it.
fn visit(
    n: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) {
    if let Some(i) = path.iter().position(|p| p == n) {
        panic!("import cycle: {} -> {n}", path[i..].join(" -> "));
    }
    if done.contains(n) {
        return;
    }
    path.push(n.to_string());
    for d in edges.get(n).into_iter().flatten() {
        visit(d, edges, path, done);
    }
    path.pop();
    done.insert(n.to_string());
}

#[test]
fn no_module_imports_from_a_floor_above_it_and_the_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &src, &mut all);
    let modules: BTreeMap<String, String> = all
        .into_iter()
        .filter_map(|(rel, text)| module_of(&rel).map(|m| (m, code(&text))))
        .collect();
    assert!(modules.len() > 30, "found the crate's modules: {modules:?}");
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for (m, text) in &modules {
        let (floor, name) = floor_of(m).unwrap_or_else(|| panic!("{m} has no floor in FLOORS"));
        let deps = imports(text, &known);
        for d in &deps {
            // A module may use its own descendants and ancestors' items freely.
            if d == m || d.starts_with(&format!("{m}::")) || m.starts_with(&format!("{d}::")) {
                continue;
            }
            let (dfloor, dname) =
                floor_of(d).unwrap_or_else(|| panic!("{d} has no floor in FLOORS"));
            if dfloor > floor {
                upward.push(format!("{m} ({name}) imports {d} ({dname})"));
            }
        }
        graph.insert(m, deps);
    }
    assert!(
        upward.is_empty(),
        "imports from a floor above:\n{}",
        upward.join("\n")
    );
    // No cycle among top-level modules (what the floors allow within one floor).
    let top = |m: &str| m.split("::").next().unwrap().to_string();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in &graph {
        for d in deps {
            if top(m) != top(d) {
                edges.entry(top(m)).or_default().insert(top(d));
            }
        }
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        visit(n, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_layer_check_sees_an_upward_import() {
    let known: BTreeSet<String> = ["finding", "report", "report::json"]
        .into_iter()
        .map(String::from)
        .collect();
    let deps = imports(
        "use crate::{report::json, finding::Secret};\nlet x = crate::report::emit;",
        &known,
    );
    assert_eq!(
        deps.into_iter().collect::<Vec<_>>(),
        ["finding", "report", "report::json"]
    );
    assert!(floor_of("report::json").unwrap().0 > floor_of("finding").unwrap().0);
}
