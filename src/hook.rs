//! `nmleaks install-hook` and `uninstall-hook`: a plain git pre-commit hook for people who do
//! not use the pre-commit framework, and the server-side pre-receive hook (push protection).
//!
//! The pre-commit hook runs `nmleaks git --staged`, the pre-receive hook `nmleaks git
//! --pre-receive` (redacted output, no network). This module owns where a hook goes (`core.hooksPath` when set, else the repository's common `hooks/` directory,
//! shared by linked worktrees), what it says, and the rule that nmleaks never overwrites or
//! removes a hook that is not its own unless told to (`--force`). A hook is nmleaks' own when
//! it carries [`MARKER`].
//!
//! `install` writes only inside the repository unless `--force`: it refuses a `core.hooksPath`
//! that leads out of it (a shared or global hooks directory runs for other repositories too)
//! and a `pre-commit` that is a dangling symbolic link (writing through it would create a file
//! wherever it points). Each refusal is one sentence, exit 2, and nothing is written; `--force`
//! installs into the configured directory, and replaces a dangling link with the hook itself.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// The line that marks a hook as written by nmleaks.
pub const MARKER: &str = "# nmleaks-managed-hook v1";

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `pre-commit`: refuses commits that add a key (`nmleaks git --staged`).
    PreCommit,
    /// `pre-receive`, on a server: rejects pushes that add a key (`nmleaks git --pre-receive`).
    PreReceive,
}

impl Kind {
    /// The hook's file name, as git looks for it.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::PreCommit => "pre-commit",
            Kind::PreReceive => "pre-receive",
        }
    }

    fn args(self) -> &'static str {
        match self {
            Kind::PreCommit => "git --staged",
            Kind::PreReceive => "git --pre-receive",
        }
    }

    fn not_found(self) -> &'static str {
        match self {
            Kind::PreCommit => NOT_FOUND,
            Kind::PreReceive => NOT_FOUND_PRE_RECEIVE,
        }
    }
}

/// Where the `kind` hook of the repository at or above `repo` lives.
///
/// # Errors
/// `repo` is not inside a git repository, or its configuration cannot be read.
pub fn hook_path(repo: &Path, kind: Kind) -> anyhow::Result<PathBuf> {
    Ok(locate(repo, kind)?.path)
}

/// Where the hook goes, and whether `core.hooksPath` sends it out of the repository.
struct Location {
    path: PathBuf,
    /// The `core.hooksPath` directory, resolved, when it leads out of the repository.
    outside: Option<PathBuf>,
    /// The repository's top directory, resolved (the work tree, or the git directory when
    /// bare).
    top: PathBuf,
}

fn locate(repo: &Path, kind: Kind) -> anyhow::Result<Location> {
    let shown = crate::sanitize::path(repo);
    let r = git2::Repository::discover(repo)
        .with_context(|| format!("{shown} is not inside a git repository"))?;
    let config = r
        .config()
        .context("cannot read the repository's git configuration")?;
    let top = r.workdir().unwrap_or_else(|| r.path()).to_path_buf();
    let (dir, configured) = match config.get_path("core.hooksPath") {
        // Relative hooksPath is relative to the work tree root (or the git dir when bare).
        Ok(p) if p.is_relative() => (top.join(p), true),
        Ok(p) => (p, true),
        Err(_) => (r.commondir().join("hooks"), false),
    };
    // The repository is its work tree and its git directories (a linked worktree's common
    // directory is the main repository's).
    let roots = [top.as_path(), r.path(), r.commondir()];
    let outside = (configured && !is_inside(&dir, &roots)).then(|| resolve(&dir));
    Ok(Location {
        path: dir.join(kind.file_name()),
        outside,
        top: resolve(&top),
    })
}

/// Whether `dir`, with symbolic links and `..` resolved, lies in one of `roots`.
fn is_inside(dir: &Path, roots: &[&Path]) -> bool {
    let dir = resolve(dir);
    roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|r| dir.starts_with(r))
}

/// `p` made absolute, with symbolic links resolved as far as it exists and `.` and `..`
/// applied to the rest (which, not existing, holds no link).
fn resolve(p: &Path) -> PathBuf {
    let mut out = std::env::current_dir().unwrap_or_default();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            // `out` is canonical wherever it exists, so its parent is the real parent.
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
        if let Ok(real) = std::fs::canonicalize(&out) {
            out = real;
        }
    }
    out
}

/// What the hook prints when no nmleaks can be found, before it refuses the commit: one line
/// that says how to fix it.
pub const NOT_FOUND: &str = "nmleaks: the pre-commit hook cannot find nmleaks (the binary it was \
installed with is gone and none is on PATH): install it (cargo install --locked --path \
CHECKOUT) or put it on PATH; the commit was not checked, so it is refused";

/// What the pre-receive hook prints when no nmleaks can be found, before it rejects the push.
pub const NOT_FOUND_PRE_RECEIVE: &str = "nmleaks: the pre-receive hook cannot find nmleaks (the \
binary it was installed with is gone and none is on the PATH git runs hooks with): install it \
on this server or put it on that PATH; the push was not checked, so it is rejected";

/// The hook script: runs this nmleaks binary when it still exists, else the one on `PATH`,
/// else refuses the commit (or push) with [`NOT_FOUND`] (a hook that cannot scan must not let
/// it through unchecked, nor fail with a bare `exec: nmleaks: not found`).
#[must_use]
pub fn script(exe: Option<&Path>, kind: Kind) -> String {
    let args = kind.args();
    let fallback = format!(
        "if command -v nmleaks >/dev/null 2>&1; then exec nmleaks {args}; fi\n\
         echo '{}' >&2\nexit 1\n",
        kind.not_found()
    );
    let run = match exe.and_then(Path::to_str) {
        Some(p) if !p.contains('\'') => {
            format!("if [ -x '{p}' ]; then exec '{p}' {args}; fi\n{fallback}")
        }
        _ => fallback,
    };
    let about = match kind {
        Kind::PreCommit => {
            "# Blocks commits that add Nomotic API keys. Installed by `nmleaks install-hook`;\n\
             # remove it with `nmleaks uninstall-hook`. Bypass once (the key then enters history:\n\
             # revoke it first): git commit --no-verify\n"
        }
        Kind::PreReceive => {
            "# Rejects pushes that add Nomotic API keys. Installed by\n\
             # `nmleaks install-hook --pre-receive`; remove it with\n\
             # `nmleaks uninstall-hook --pre-receive`. An audited bypass (off unless\n\
             # `git config nmleaks.allowSkip true`): git push -o nmleaks.skip=REASON\n"
        }
    };
    format!("#!/bin/sh\n{MARKER}\n{about}{run}")
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.contains(MARKER))
}

/// Writes the hook. Returns its path.
///
/// # Errors
/// Not a repository; without `force`: `core.hooksPath` leads out of the repository, the hook
/// is a dangling symbolic link, or a hook that is not nmleaks' own is there; the file cannot
/// be written.
pub fn install(repo: &Path, force: bool, kind: Kind) -> anyhow::Result<PathBuf> {
    let Location { path, outside, top } = locate(repo, kind)?;
    let shown = crate::sanitize::path(&path);
    if let Some(dir) = outside.filter(|_| !force) {
        bail!(
            "core.hooksPath leads to {}, outside the repository {}, where hooks may run for other \
             repositories too; leaving it alone (use --force to install there)",
            crate::sanitize::path(&dir),
            crate::sanitize::path(&top)
        );
    }
    let dangling = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
        && !path.exists();
    if dangling {
        if !force {
            let target = std::fs::read_link(&path).unwrap_or_default();
            bail!(
                "{shown} is a symbolic link to {}, which does not exist, and writing the hook \
                 through it would create that file; leaving it alone (use --force to replace \
                 the link with the hook)",
                crate::sanitize::path(&target)
            );
        }
        std::fs::remove_file(&path).with_context(|| format!("cannot remove the link {shown}"))?;
    }
    if path.exists() && !is_ours(&path) && !force {
        bail!(
            "{shown} exists and was not written by nmleaks; leaving it alone \
             (use --force to replace it, or call `nmleaks {}` from it)",
            kind.args()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", crate::sanitize::path(dir)))?;
    }
    let exe = std::env::current_exe().ok();
    std::fs::write(&path, script(exe.as_deref(), kind))
        .with_context(|| format!("cannot write {shown}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {shown} executable"))?;
    }
    Ok(path)
}

/// Removes the hook if it is nmleaks' own. Returns its path and whether it was removed.
///
/// # Errors
/// Not a repository; the hook is not nmleaks' own; the file cannot be removed.
pub fn uninstall(repo: &Path, kind: Kind) -> anyhow::Result<(PathBuf, bool)> {
    let path = hook_path(repo, kind)?;
    if !path.exists() {
        return Ok((path, false));
    }
    let shown = crate::sanitize::path(&path);
    if !is_ours(&path) {
        bail!("{shown} was not written by nmleaks; leaving it alone");
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {shown}"))?;
    Ok((path, true))
}
