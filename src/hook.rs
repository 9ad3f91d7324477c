//! `nmleaks install-hook` and `uninstall-hook`: a plain git pre-commit hook for people who do
//! not use the pre-commit framework.
//!
//! The hook runs `nmleaks git --staged` (redacted output, no network). This module owns where
//! the hook goes (`core.hooksPath` when set, else the repository's common `hooks/` directory,
//! shared by linked worktrees), what it says, and the rule that nmleaks never overwrites or
//! removes a hook that is not its own unless told to (`--force`). A hook is nmleaks' own when
//! it carries [`MARKER`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The line that marks a hook as written by nmleaks.
pub const MARKER: &str = "# nmleaks-managed-hook v1";

/// Where the pre-commit hook of the repository at or above `repo` lives.
///
/// # Errors
/// `repo` is not inside a git repository, or its configuration cannot be read.
pub fn hook_path(repo: &Path) -> anyhow::Result<PathBuf> {
    let shown = crate::sanitize::path(repo);
    let r = git2::Repository::discover(repo)
        .with_context(|| format!("{shown} is not inside a git repository"))?;
    let config = r
        .config()
        .context("cannot read the repository's git configuration")?;
    let dir = match config.get_path("core.hooksPath") {
        // Relative hooksPath is relative to the work tree root (or the git dir when bare).
        Ok(p) if p.is_relative() => r.workdir().unwrap_or_else(|| r.path()).join(p),
        Ok(p) => p,
        Err(_) => r.commondir().join("hooks"),
    };
    Ok(dir.join("pre-commit"))
}

/// The hook script: runs this nmleaks binary when it still exists, else the one on `PATH`.
#[must_use]
pub fn script(exe: Option<&Path>) -> String {
    let run = match exe.and_then(Path::to_str) {
        Some(p) if !p.contains('\'') => format!(
            "if [ -x '{p}' ]; then exec '{p}' git --staged; fi\nexec nmleaks git --staged\n"
        ),
        _ => "exec nmleaks git --staged\n".to_string(),
    };
    format!(
        "#!/bin/sh\n{MARKER}\n\
         # Blocks commits that add Nomotic API keys. Installed by `nmleaks install-hook`;\n\
         # remove it with `nmleaks uninstall-hook`. Bypass once (the key then enters history:\n\
         # revoke it first): git commit --no-verify\n{run}"
    )
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.contains(MARKER))
}

/// Writes the hook. Returns its path.
///
/// # Errors
/// Not a repository; a hook that is not nmleaks' own is there and `force` is off; the file
/// cannot be written.
pub fn install(repo: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let path = hook_path(repo)?;
    let shown = crate::sanitize::path(&path);
    if path.exists() && !is_ours(&path) && !force {
        bail!(
            "{shown} exists and was not written by nmleaks; leaving it alone \
             (use --force to replace it, or call `nmleaks git --staged` from it)"
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", crate::sanitize::path(dir)))?;
    }
    let exe = std::env::current_exe().ok();
    std::fs::write(&path, script(exe.as_deref()))
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
pub fn uninstall(repo: &Path) -> anyhow::Result<(PathBuf, bool)> {
    let path = hook_path(repo)?;
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
