//! Orchestration: runs a [`Config`] and says how it went.
//!
//! Each command is wired here from the stages: rules → matcher → a source feeding one
//! collector → (with `--verify`) verification → a reporter. Producers run on their own threads; this thread collects, prints
//! problems as they come, draws progress, and writes the report once everything is sorted.

use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{RecvTimeoutError, bounded};

use crate::config::{
    AuditConfig, BASELINE_FILE, BaselineChoice, BaselineCreate, BaselineOut, BaselineSource,
    Common, Config, Format, GitConfig, GitMode, MergeConfig, ScanConfig,
};
use crate::exit::ExitCode;
use crate::finding::{Collector, Finding, Limits};
use crate::interrupt;
use crate::matcher::Matcher;
use crate::messages;
use crate::progress::{Progress, VerifyProgress};
use crate::report::{self, Report, Summary, VerifySummary};
use crate::rules::{self, Rule};
use crate::source::{self, Event, Level, Stats};
use crate::suppress::{self, Baseline};
use crate::verify;

/// Runs one command, the crate's one entry point: with a Ctrl-C handler installed, the
/// command runs on a thread of its own; Ctrl-C stops it within [`interrupt::GRACE`], says so
/// in one line and returns [`ExitCode::Interrupted`] whatever the command is blocked in (a
/// read from a silent standard input, a verification request), writing no report, since a
/// report of part of the input would read as an all-clear for the rest.
///
/// # Errors
/// Usage and configuration errors (bad rules file, unwritable output), or the command's
/// thread could not be started, or it panicked ([`crate::bug::Panicked`]). Problems with single inputs are not errors here: they
/// are printed and make the exit code 2.
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let Some(signal) = interrupt::install() else {
        return execute(config);
    };
    let (done_tx, done_rx) = bounded(1);
    std::thread::Builder::new()
        .name("nmleaks-run".into())
        // The main thread's usual stack: the command ran there before Ctrl-C support.
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = done_tx.send(execute(config));
        })?;
    let finished = crossbeam_channel::select! {
        recv(done_rx) -> r => Some(r),
        recv(signal) -> _ => None,
    };
    let outcome = match finished {
        Some(r) => r,
        // Let the command notice and drop what it holds (a temporary report file).
        None => done_rx
            .recv_timeout(interrupt::GRACE)
            .map_err(|_| crossbeam_channel::RecvError),
    };
    match outcome {
        Ok(Err(e)) if e.is::<interrupt::Interrupted>() => {}
        // Finished (or failed on its own) before it noticed Ctrl-C: that outcome stands.
        Ok(result) => return result,
        // The command's thread ended without an outcome: it panicked, and the panic hook has
        // already said so (in one line without the payload).
        Err(_) if !interrupt::requested() => return Err(crate::bug::Panicked.into()),
        Err(_) => {}
    }
    messages::note("interrupted: the run did not finish and no report was written");
    Ok(ExitCode::Interrupted)
}

/// Runs one command on this thread.
fn execute(config: Config) -> anyhow::Result<ExitCode> {
    // Until the rules are read, messages (a missing path, a bad rules file) hide the keys of
    // the built-in rules.
    rules::install_builtin_redaction();
    match config {
        Config::Scan(cfg) => scan(&cfg),
        Config::BaselineCreate(cfg) => baseline_create(&cfg),
        Config::Git(cfg) => git(&cfg),
        Config::Audit(cfg) => audit(&cfg),
        Config::Merge(cfg) => merge_reports(&cfg),
        Config::RulesList { rules } => rules_list(&rules),
        Config::RulesCheck { files } => rules_check(&files),
        Config::InstallHook { repo, force, kind } => {
            let path = crate::hook::install(&repo, force, kind)?;
            let what = match kind {
                crate::hook::Kind::PreCommit => "commits that add a Nomotic key will be refused",
                crate::hook::Kind::PreReceive => {
                    "pushes that add a Nomotic key will be rejected (an audited bypass, \
                     `git push -o nmleaks.skip=REASON`, is off unless `git config \
                     nmleaks.allowSkip true` and `receive.advertisePushOptions true`)"
                }
            };
            messages::note(format_args!(
                "installed the {} hook at {}; {what}",
                kind.file_name(),
                crate::sanitize::path(&path)
            ));
            Ok(ExitCode::Clean)
        }
        Config::UninstallHook { repo, kind } => {
            let (path, removed) = crate::hook::uninstall(&repo, kind)?;
            let shown = crate::sanitize::path(&path);
            let name = kind.file_name();
            if removed {
                messages::note(format_args!("removed the {name} hook at {shown}"));
            } else {
                messages::note(format_args!("no {name} hook at {shown}; nothing to remove"));
            }
            Ok(ExitCode::Clean)
        }
    }
}

/// Loads the rules and makes every output from now on hide their keys (unless
/// `show_secrets`), including the rules' own names and descriptions.
fn load_rules(files: &[std::path::PathBuf], show_secrets: bool) -> anyhow::Result<Vec<Rule>> {
    let mut rules = rules::load(files)?;
    rules::install_redaction(&rules, show_secrets);
    rules::redact_texts(&mut rules);
    Ok(rules)
}

/// What the collector gathered.
struct Collected {
    findings: Vec<Finding>,
    summary: Summary,
    /// The warnings and notes printed, when a label asked for them to be kept (an audit
    /// stores them with a repository's result): at most one more than
    /// [`crate::audit::state::MAX_PROBLEMS`].
    problems: Vec<crate::audit::state::StoredProblem>,
    /// Findings already suppressed when they were read (`nmleaks merge` of reports that
    /// list some): reported as suppressed with the rest.
    carried: Vec<crate::suppress::Suppressed>,
}

/// Runs `produce` on its own thread and collects its events here.
fn collect(
    common: &Common,
    produce: impl FnOnce(&crossbeam_channel::Sender<Event>, &Stats) + Send,
) -> Collected {
    collect_as(common, None, produce)
}

/// [`collect`], with each problem printed after `label` (the repository of an audit of
/// many) and no progress bar when a label is given (the audit draws its own).
fn collect_as(
    common: &Common,
    label: Option<&str>,
    produce: impl FnOnce(&crossbeam_channel::Sender<Event>, &Stats) + Send,
) -> Collected {
    let start = Instant::now();
    let stats = Stats::default();
    // Bounded: producers wait for the collector rather than pile up hits (a batch is at most
    // a few hundred hits).
    let (tx, rx) = bounded::<Event>(256);
    let mut collector = Collector::with_limits(common.limits);
    let mut summary = Summary::default();
    let mut progress = Progress::new(common.stderr_tty && label.is_none());
    let mut problems = Vec::new();
    std::thread::scope(|s| {
        let stats = &stats;
        s.spawn(move || {
            // Debug builds only: a panic on a producer thread, for the panic hook's test.
            crate::bug::debug_trigger();
            produce(&tx, stats);
        });
        loop {
            if crate::interrupt::requested() {
                // Producers see the flag, or a closed channel, and stop; their problems
                // (reads cut short) are not worth a line each.
                drop(rx);
                break;
            }
            match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(Event::Hits(hits)) => hits.into_iter().for_each(|h| collector.add(h)),
                Ok(Event::Provenance(secret, p)) => collector.set_provenance(secret, p),
                Ok(Event::Dropped(keys)) => collector.add_dropped(&keys),
                // After Ctrl-C, reads cut short by it are no problem worth a line.
                Ok(Event::Problem(_)) if crate::interrupt::requested() => {}
                Ok(Event::Problem(p)) => {
                    if label.is_some()
                        && p.level != Level::Error
                        && problems.len() <= crate::audit::state::MAX_PROBLEMS
                    {
                        problems.push(crate::audit::state::StoredProblem {
                            warning: p.level == Level::Warning,
                            message: p.message.clone(),
                        });
                    }
                    match p.level {
                        Level::Error => summary.errors += 1,
                        Level::Warning => summary.warnings += 1,
                        Level::Note => {}
                    }
                    let message = match label {
                        Some(l) => format!("{l}: {}", p.message),
                        None => p.message,
                    };
                    progress.suspend(|| match p.level {
                        Level::Error => messages::error(&message),
                        Level::Warning => messages::warning(&message),
                        Level::Note => messages::note(&message),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let (blobs, bytes) = stats.get();
            progress.update(blobs, bytes, collector.len());
        }
    });
    progress.finish();
    (summary.blobs, summary.bytes) = stats.get();
    summary.ignored = stats.ignored.load(std::sync::atomic::Ordering::Relaxed);
    summary.elapsed = start.elapsed();
    let (findings, overflow) = collector.finish();
    report_overflow(&overflow, common.limits, &mut summary);
    Collected {
        findings,
        summary,
        problems,
        carried: Vec::new(),
    }
}

/// Says what the report cannot list: keys over `--max-keys` make it incomplete (an error:
/// exit 2), places over the per-key limit are counted but not listed (a warning).
fn report_overflow(o: &crate::finding::Overflow, limits: Limits, summary: &mut Summary) {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    if o.keys > 0 {
        summary.errors += 1;
        // Added: an audit or a merge adds what each repository or report left out.
        summary.keys_unlisted += o.keys;
        summary.locations_unlisted += o.key_locations;
        messages::error(format_args!(
            "{}{} more distinct key{} ({} place{}) were found but are not listed: the report \
             lists {} keys, the limit (raise it with --max-keys)",
            if o.keys_at_least { "at least " } else { "" },
            o.keys,
            plural(o.keys),
            o.key_locations,
            plural(o.key_locations),
            limits.max_keys
        ));
    }
    if o.capped_keys > 0 {
        summary.warnings += 1;
        let why = if o.per_key < limits.max_locations {
            format!(
                "the {} places listed in all are shared among the keys",
                limits.budget()
            )
        } else {
            "--max-locations".to_string()
        };
        messages::warning(format_args!(
            "{} key{} more than {} place{}: the report lists the first {} of each ({why}) and \
             counts them all",
            o.capped_keys,
            if o.capped_keys == 1 { " has" } else { "s have" },
            o.per_key,
            plural(o.per_key as u64),
            o.per_key
        ));
    }
}

/// The `.nmleaksignore` at the top of the work tree, which applies to paths in every git mode
/// as it does to the walk (gitignore syntax, paths relative to the repository root).
fn git_ignore_file(dir: &std::path::Path) -> Option<ignore::gitignore::Gitignore> {
    let file = dir.join(source::worktree::IGNORE_FILE);
    if !file.is_file() {
        return None;
    }
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    if let Some(err) = builder.add(&file) {
        messages::warning(format_args!(
            "{}: {}",
            crate::sanitize::path(&file),
            crate::sanitize::text(&err.to_string())
        ));
    }
    builder.build().ok()
}

/// Drops locations whose path the ignore file matches, and keys left with no location.
fn drop_ignored(c: &mut Collected, ignore: &ignore::gitignore::Gitignore) {
    for f in &mut c.findings {
        f.locations.retain(|l| match &l.origin {
            crate::finding::Origin::Git(g) => g
                .path
                .as_deref()
                .is_none_or(|p| !ignore.matched_path_or_any_parents(p, false).is_ignore()),
            _ => true,
        });
    }
    c.findings.retain(|f| !f.locations.is_empty());
}

/// What a refused commit prints (the pre-commit hooks run `git --staged`).
const BLOCKED: &str = "\
nmleaks: commit blocked: the staged changes add a {KEY} (shown redacted above).
  - Remove the key from the file, read it from an environment variable or a secrets manager,
    and `git add` the file again; or unstage the file: git restore --staged <file>
  - A harmless test value? Put `nmleaks:allow` in a comment on its line, or add it to the
    baseline (.nmleaks-baseline.json at the top of the repository, which the hooks read):
      nmleaks baseline create --staged --merge && git add .nmleaks-baseline.json
    (no nmleaks on PATH? cargo install --locked --git https://github.com/nmleaks/nmleaks)
  - To bypass the check once: git commit --no-verify
    (the key then enters history: revoke it in Settings -> API Keys first).";

/// The top of the repository that holds the current directory (its work tree, or its git
/// directory when bare), else the current directory: where `scan` and `baseline create`
/// look for [`BASELINE_FILE`]. Only the layout is read (no configuration, no object).
fn project_root() -> anyhow::Result<std::path::PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let top = git2::Repository::discover(&cwd)
        .ok()
        .map(|r| r.workdir().unwrap_or_else(|| r.path()).to_path_buf());
    Ok(top.unwrap_or(cwd))
}

/// Loads the baseline the settings choose, before any scanning starts: `--baseline FILE`
/// (which must exist), else [`BASELINE_FILE`] in `top` when there is one.
fn load_baseline(common: &Common, top: &std::path::Path) -> anyhow::Result<Option<Baseline>> {
    let path = match &common.baseline {
        BaselineChoice::Off => return Ok(None),
        BaselineChoice::File(p) => p.clone(),
        BaselineChoice::Conventional if common.no_repo_config => return Ok(None),
        BaselineChoice::Conventional => {
            let p = top.join(BASELINE_FILE);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    Ok(Some(Baseline::load(&path)?))
}

/// Folds the config file into `common` (see [`crate::project`]), saying which file was read
/// when `--verbose` asks, then loads the rules the file and the flags name.
fn settle(common: &mut Common, top: &std::path::Path) -> anyhow::Result<Matcher> {
    let read = crate::project::settle(common, top)?;
    if let Some(path) = read.filter(|_| common.verbose) {
        messages::note(format_args!(
            "settings read from {}",
            crate::sanitize::path(&path)
        ));
    }
    Ok(Matcher::new(load_rules(
        &common.rules,
        common.show_secrets,
    )?))
}

fn scan(cfg: &ScanConfig) -> anyhow::Result<ExitCode> {
    let top = project_root()?;
    let mut cfg = cfg.clone();
    let matcher = settle(&mut cfg.common, &top)?;
    let cfg = &cfg;
    let baseline = load_baseline(&cfg.common, &top)?;
    let collected = scan_tree(cfg, &matcher);
    crate::interrupt::checkpoint()?;
    let root = std::env::current_dir().context("cannot read the current directory")?;
    let rules = matcher.rules();
    finish(
        "scan",
        &cfg.common,
        rules,
        baseline.as_ref(),
        &root,
        collected,
    )
}

/// Walks the paths (and stdin) of `cfg` and collects what they hold.
fn scan_tree(cfg: &ScanConfig, matcher: &Matcher) -> Collected {
    let opts = source::worktree::WalkOptions {
        no_ignore: cfg.no_ignore,
        follow: cfg.follow,
        threads: cfg.common.threads,
        show_secrets: cfg.common.show_secrets,
        decoding: cfg.common.decoding,
        strip_dot: cfg.implicit_root,
        chunking: crate::scan::Chunking::default(),
        verbose: cfg.common.verbose,
        repo_ignore_file: !cfg.common.no_repo_config,
    };
    collect(&cfg.common, |tx, stats| {
        if cfg.stdin {
            source::stdin::scan(
                matcher,
                cfg.common.show_secrets,
                cfg.common.decoding,
                stats,
                tx,
            );
        }
        source::worktree::walk(&cfg.paths, &opts, matcher, stats, tx);
    })
}

fn baseline_create(cfg: &BaselineCreate) -> anyhow::Result<ExitCode> {
    // The config file's rules apply here too (its excludes and allows do not: a baseline
    // lists what was found).
    let (collected, matcher, top) = match &cfg.source {
        BaselineSource::Report(path) => {
            let from = Baseline::load(path)?;
            return write_baseline(cfg, from, &project_root()?, " from the report");
        }
        BaselineSource::Files(c) => {
            let top = project_root()?;
            let mut c = c.clone();
            let matcher = settle(&mut c.common, &top)?;
            (scan_tree(&c, &matcher), matcher, top)
        }
        BaselineSource::Git(c) => {
            let repo = source::git::open(c.repo.as_deref())?;
            let top = repo_top(&repo)?;
            let mut c = c.clone();
            let matcher = settle(&mut c.common, &top)?;
            (git_collect(&c, &matcher, repo, &[])?, matcher, top)
        }
    };
    crate::interrupt::checkpoint()?;
    let findings: Vec<&Finding> = collected.findings.iter().collect();
    let found = Baseline::of(&findings, matcher.rules());
    let code = write_baseline(cfg, found, &top, "")?;
    Ok(if collected.summary.errors > 0 {
        ExitCode::Error
    } else {
        code
    })
}

/// Writes `found` as the baseline `cfg` names (by default [`BASELINE_FILE`] in `top`), keeping
/// the notes of the file it replaces, and with `--merge` its other entries; `from` says where
/// the keys came from, for the closing line.
fn write_baseline(
    cfg: &BaselineCreate,
    found: Baseline,
    top: &std::path::Path,
    from: &str,
) -> anyhow::Result<ExitCode> {
    let out = match &cfg.output {
        BaselineOut::Stdout => None,
        BaselineOut::File(p) => Some(p.clone()),
        BaselineOut::Conventional => Some(top.join(BASELINE_FILE)),
    };
    // Only a regular file can hold notes and entries to keep (`-o /dev/stdout` holds none).
    let previous = match out.as_deref().filter(|p| p.is_file()) {
        Some(p) => Some(Baseline::load(p).context("cannot keep what the existing baseline holds")?),
        None => None,
    };
    let found_now = found.entries.len();
    let baseline = found.merged(previous.as_ref(), cfg.merge);
    report::emit(out.as_deref(), |w| {
        serde_json::to_writer_pretty(&mut *w, &baseline)?;
        writeln!(w)
    })?;
    let n = baseline.entries.len();
    let merged = if cfg.merge && n > found_now {
        format!(" ({found_now} found now, the rest kept)")
    } else {
        String::new()
    };
    let read = match out.as_deref() {
        None => "",
        Some(p) if p == top.join(BASELINE_FILE) => {
            "; scan, git and the hooks read it from there (commit it to share it)"
        }
        Some(_) => {
            "; pass it with --baseline, or name it .nmleaks-baseline.json at the top of the \
             repository"
        }
    };
    messages::note(format_args!(
        "baseline {} lists {n} key{}{from}{merged}{read}",
        out.as_deref()
            .map_or_else(|| "(standard output)".to_string(), crate::sanitize::path),
        if n == 1 { "" } else { "s" },
    ));
    Ok(ExitCode::Clean)
}

/// The top directory of a repository (its work tree; the git directory when bare), resolved:
/// SARIF paths are relative to it and the conventional baseline lives in it.
fn repo_top(repo: &git2::Repository) -> anyhow::Result<std::path::PathBuf> {
    std::fs::canonicalize(repo.workdir().unwrap_or_else(|| repo.path()))
        .context("cannot resolve the repository's directory")
}

fn git(cfg: &GitConfig) -> anyhow::Result<ExitCode> {
    let mirrored = match &cfg.remote {
        Some(r) => Some(mirror(r)?),
        None => None,
    };
    let repo = source::git::open(mirrored.as_deref().or(cfg.repo.as_deref()))?;
    let root = repo_top(&repo)?;
    let mut cfg = cfg.clone();
    let matcher = settle(&mut cfg.common, &root)?;
    let cfg = &cfg;
    let baseline = load_baseline(&cfg.common, &root)?;
    let push = if matches!(cfg.mode, GitMode::PreReceive) {
        let updates = source::git::push::read_updates(std::io::stdin().lock())?;
        Some(PushGate::new(&repo, updates))
    } else {
        None
    };
    let updates = push.as_ref().map_or(&[][..], |p| &p.updates[..]);
    let collected = git_collect(cfg, &matcher, repo, updates)?;
    let found: Vec<String> = collected
        .findings
        .iter()
        .map(|f| f.fingerprint.0.clone())
        .collect();
    let command = match &cfg.mode {
        GitMode::History { .. } => "git-history",
        GitMode::Range(_) => "git-range",
        GitMode::Staged => "git-staged",
        GitMode::PreReceive => "git-pre-receive",
    };
    let rules = matcher.rules();
    let code = finish(
        command,
        &cfg.common,
        rules,
        baseline.as_ref(),
        &root,
        collected,
    )?;
    // The advice is for a person at a refused commit, not for a report run by hand.
    if matches!(cfg.mode, GitMode::Staged)
        && code == ExitCode::Findings
        && cfg.common.in_hook
        && cfg.common.format == Format::Human
    {
        messages::line(format_args!(
            "{}",
            BLOCKED.replace("{KEY}", key_noun(rules))
        ));
    }
    if let Some(gate) = push
        && code != ExitCode::Clean
    {
        return Ok(PushGate {
            noun: key_noun(rules),
            ..gate
        }
        .refuse(code, &found));
    }
    Ok(code)
}

/// `nmleaks audit`: lists the repositories, audits the history of each (up to `--jobs`
/// cloned or fetched at once, one scanned at a time on every thread, so memory stays one
/// repository's audit), merges their findings by key and writes one report.
fn audit(cfg: &AuditConfig) -> anyhow::Result<ExitCode> {
    let top = std::env::current_dir().context("cannot read the current directory")?;
    let mut cfg = cfg.clone();
    let matcher = settle(&mut cfg.common, &top)?;
    let cfg = &cfg;
    let baseline = load_baseline(&cfg.common, &top)?;
    let start = Instant::now();
    let mut summary = Summary::default();
    let targets = audit_targets(cfg, &mut summary)?;
    // Said, not counted: a shard of a small organisation may have none, and the report
    // itself says 0 repositories (merged shards count what the unsharded audit counts).
    if targets.is_empty() {
        messages::warning("no repositories to audit");
    }
    let total = targets.len();
    let run = AuditRun::new(cfg, &matcher, &targets);
    let results = audit_all(cfg, &matcher, &targets, &run);
    interrupt::checkpoint()?;
    let mut outcomes = Vec::with_capacity(total);
    let mut repos = Vec::with_capacity(total);
    for (t, r) in targets.iter().zip(results) {
        let r = r.unwrap_or_else(|| Err("not audited".to_string()));
        let (error, keys, problems) = match r {
            Ok(c) => {
                let s = &c.summary;
                summary.add_counts(s);
                let keys = c.findings.len();
                repos.push(crate::audit::RepoFindings {
                    repo: std::sync::Arc::from(t.name.as_str()),
                    public: t.public,
                    findings: c.findings,
                });
                (None, keys, s.errors + s.warnings)
            }
            Err(e) => {
                summary.errors += 1;
                // The report shows it as stderr did: a URL named after a key, redacted.
                (Some(crate::sanitize::hide_keys_in(&e)), 0, 0)
            }
        };
        outcomes.push(report::RepoOutcome {
            name: t.name.clone(),
            public: t.public,
            error,
            keys,
            problems,
        });
    }
    // By name, whatever order they were listed or finished in: shards merged report the same.
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    let (findings, overflow) = crate::audit::merge(repos, cfg.common.limits);
    report_overflow(&overflow, cfg.common.limits, &mut summary);
    summary.audit = Some(report::AuditSummary {
        repositories: outcomes,
    });
    summary.elapsed = start.elapsed();
    finish(
        "audit",
        &cfg.common,
        matcher.rules(),
        baseline.as_ref(),
        &top,
        Collected {
            findings,
            summary,
            problems: Vec::new(),
            carried: Vec::new(),
        },
    )
}

/// Audits every target, up to `--jobs` mirrored at once and one scanned at a time, printing
/// a line as each finishes; the outcomes in the targets' order (`None`: not reached before
/// Ctrl-C).
fn audit_all(
    cfg: &AuditConfig,
    matcher: &Matcher,
    targets: &[crate::audit::Target],
    run: &AuditRun,
) -> Vec<Option<Result<Collected, String>>> {
    let total = targets.len();
    let scan_turn = std::sync::Mutex::new(());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut results: Vec<Option<Result<Collected, String>>> = (0..total).map(|_| None).collect();
    let mut keys_so_far = std::collections::HashSet::new();
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.min(total.max(1)) {
            let (tx, next, targets, turn, matcher) =
                (tx.clone(), &next, targets, &scan_turn, matcher);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= targets.len() || interrupt::requested() {
                        break;
                    }
                    let started = Instant::now();
                    let outcome = audit_one(cfg, matcher, &targets[i], turn, run);
                    if tx.send((i, outcome, started.elapsed())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, outcome, took) in rx {
            done += 1;
            let name = crate::sanitize::text(&targets[i].name);
            match &outcome {
                Ok((how, c)) => {
                    keys_so_far.extend(c.findings.iter().map(|f| f.fingerprint.clone()));
                    if !cfg.common.quiet {
                        messages::note(format_args!(
                            "[{done}/{total}] {name}: {} key{} ({how}, {:.1} s; {} distinct so far)",
                            c.findings.len(),
                            if c.findings.len() == 1 { "" } else { "s" },
                            took.as_secs_f64(),
                            keys_so_far.len()
                        ));
                    }
                }
                Err(e) => messages::error(format_args!("[{done}/{total}] {name}: {e}")),
            }
            results[i] = Some(outcome.map(|(_, c)| c));
        }
    });
    results
}

/// `nmleaks merge`: joins JSON reports (of audits on several machines, `--shard K/N`) into
/// one report: one finding per key, the repositories of every report, the counts added up.
fn merge_reports(cfg: &MergeConfig) -> anyhow::Result<ExitCode> {
    if cfg.common.verify.is_some() || cfg.common.show_secrets {
        anyhow::bail!(crate::error::UsageError(
            "nmleaks merge: JSON reports hold no keys, so --verify and --show-secrets cannot \
             apply to them (verify in the audits that wrote them)"
                .to_string()
        ));
    }
    let top = std::env::current_dir().context("cannot read the current directory")?;
    let mut cfg = cfg.clone();
    let matcher = settle(&mut cfg.common, &top)?;
    let cfg = &cfg;
    let baseline = load_baseline(&cfg.common, &top)?;
    let rules = matcher.rules();
    let mut summary = Summary::default();
    let mut findings = Vec::new();
    let mut carried: Vec<crate::suppress::Suppressed> = Vec::new();
    // (fingerprint, kind of suppression) -> index in `carried`.
    let mut carried_at = std::collections::HashMap::new();
    let mut commands = std::collections::BTreeSet::new();
    let mut repositories: Vec<report::RepoOutcome> = Vec::new();
    let mut seen_repositories = std::collections::HashSet::new();
    let mut any_audit = false;
    for path in &cfg.reports {
        let r = report::read::read(path, rules)?;
        commands.insert(r.command);
        summary.add_counts(&r.summary);
        if let Some(a) = r.summary.audit {
            any_audit = true;
            for o in a.repositories {
                // A repository two reports hold (overlapping shards) is listed once.
                if seen_repositories.insert(o.name.clone()) {
                    repositories.push(o);
                }
            }
        }
        findings.extend(r.findings);
        for s in r.suppressed {
            let key = (s.finding.fingerprint.clone(), s.reason.kind());
            if let Some(&i) = carried_at.get(&key) {
                let c: &mut crate::suppress::Suppressed = &mut carried[i];
                c.finding.locations.extend(s.finding.locations);
                c.finding.unlisted.plain += s.finding.unlisted.plain;
            } else {
                carried_at.insert(key, carried.len());
                carried.push(s);
            }
        }
    }
    let (findings, overflow) = crate::audit::join(findings, cfg.common.limits);
    report_overflow(&overflow, cfg.common.limits, &mut summary);
    for c in &mut carried {
        c.finding.compact(overflow.per_key.max(1));
    }
    carried.sort_by(|a, b| a.finding.fingerprint.cmp(&b.finding.fingerprint));
    if any_audit {
        repositories.sort_by(|a, b| a.name.cmp(&b.name));
        summary.audit = Some(report::AuditSummary { repositories });
    }
    // One command's reports keep its name (`audit`); a mix is a `merge`.
    let command = match commands.len() {
        1 => commands.pop_first().unwrap_or_default(),
        _ => "merge".to_string(),
    };
    finish(
        &command,
        &cfg.common,
        rules,
        baseline.as_ref(),
        &top,
        Collected {
            findings,
            summary,
            problems: Vec::new(),
            carried,
        },
    )
}

/// The repositories an audit takes: its arguments, then the `--repos` files, then each
/// GitHub listing (forks and archived repositories left out as the flags say), each once,
/// then only this shard's. A listing that fails is an error counted in `summary`; the audit
/// goes on with the rest.
fn audit_targets(
    cfg: &AuditConfig,
    summary: &mut Summary,
) -> anyhow::Result<Vec<crate::audit::Target>> {
    use crate::audit::Target;
    use crate::source::github;
    let explicit = cfg.token.as_ref().map(|t| t.0.as_str());
    let mut specs = cfg.repos.clone();
    for f in &cfg.repos_files {
        specs.extend(crate::audit::read_repos_file(f)?);
    }
    if specs.is_empty() && cfg.github.is_empty() {
        anyhow::bail!(crate::error::UsageError(
            "nmleaks audit needs repositories: name them (URLs or paths), or give --repos FILE, \
             --github-org ORG or --github-user USER"
                .to_string()
        ));
    }
    let api_token = explicit.or(cfg.github_token.as_ref().map(|t| t.0.as_str()));
    // Many hosts may be named: a token goes only to the GitHub API's host (github.com for
    // api.github.com). Other hosts get what git's own credential helpers give them.
    let token_for = |url: &str| {
        api_token
            .filter(|_| github::token_belongs(&cfg.github_api_url, url))
            .map(str::to_string)
    };
    let mut targets: Vec<Target> = specs
        .iter()
        .map(|s| Target::given(s, token_for(s)))
        .collect();
    for owner in &cfg.github {
        let listed = match github::list(&cfg.github_api_url, owner, api_token) {
            Ok(l) => l,
            Err(e) => {
                summary.errors += 1;
                messages::error(&e);
                continue;
            }
        };
        let (mut forks, mut archived, mut odd) = (0, 0, 0);
        let found = listed.len();
        for r in listed {
            if r.fork && !cfg.include_forks {
                forks += 1;
                continue;
            }
            if r.archived && cfg.exclude_archived {
                archived += 1;
                continue;
            }
            // Only web URLs from a listing: nothing else (a local path, another transport)
            // is what the API should list.
            if !(r.clone_url.starts_with("https://") || r.clone_url.starts_with("http://")) {
                odd += 1;
                continue;
            }
            let mut t = Target::given(&r.clone_url, token_for(&r.clone_url));
            t.public = Some(r.public);
            targets.push(t);
        }
        if odd > 0 {
            summary.errors += 1;
            messages::error(format_args!(
                "{}: {odd} listed repositor{} without an https:// clone URL, not audited",
                owner.describe(),
                if odd == 1 { "y" } else { "ies" }
            ));
        }
        if !cfg.common.quiet {
            let mut left = Vec::new();
            if forks > 0 {
                left.push(format!(
                    "{forks} fork{} (--include-forks)",
                    if forks == 1 { "" } else { "s" }
                ));
            }
            if archived > 0 {
                left.push(format!("{archived} archived"));
            }
            let left = if left.is_empty() {
                String::new()
            } else {
                format!("; left out: {}", left.join(", "))
            };
            messages::note(format_args!(
                "{}: {found} repositor{} listed{left}",
                owner.describe(),
                if found == 1 { "y" } else { "ies" }
            ));
        }
    }
    let mut targets = crate::audit::dedup(targets);
    if let Some(shard) = cfg.shard {
        let all = targets.len();
        targets.retain(|t| shard.holds(&t.name));
        if !cfg.common.quiet {
            messages::note(format_args!(
                "shard {}/{}: {} of {all} repositories",
                shard.k,
                shard.n,
                targets.len()
            ));
        }
    }
    Ok(targets)
}

/// What every repository of one audit shares: where results are stored (none with
/// `--show-secrets` or without a clone directory), the run they belong to and the digest
/// of the settings that decide them.
struct AuditRun {
    store: Option<crate::audit::state::Store>,
    run: String,
    settings: String,
    resume: bool,
    /// `--verify`: a stored result that holds keys is not reused (its keys are known only
    /// redacted, and cannot be verified), the repository is scanned again.
    verify: bool,
}

impl AuditRun {
    fn new(cfg: &AuditConfig, matcher: &Matcher, targets: &[crate::audit::Target]) -> AuditRun {
        let settings = crate::audit::state::settings_digest(
            crate::cli::VERSION,
            matcher.rules(),
            &cfg.common.decoding,
            cfg.common.limits,
        );
        let store = cfg
            .clone_dir
            .as_deref()
            .filter(|_| !cfg.common.show_secrets)
            .map(crate::audit::state::Store::new);
        let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let run = store
            .as_ref()
            .and_then(|s| match s.run_id(&names, &settings, cfg.resume) {
                Ok(id) => Some(id),
                Err(e) => {
                    messages::warning(format_args!(
                        "cannot record this audit's run in the clone directory ({e}): \
                         --resume will not find it"
                    ));
                    None
                }
            })
            .unwrap_or_default();
        AuditRun {
            store,
            run,
            settings,
            resume: cfg.resume,
            verify: cfg.common.verify.is_some(),
        }
    }

    /// The stored result of `name` if it may stand for a scan: same settings, and (unless
    /// `tips` is `None`: resuming) the same refs; never one with keys under `--verify`.
    fn reusable(&self, name: &str, tips: Option<&str>, rules: &[Rule]) -> Option<Collected> {
        let stored = self.store.as_ref()?.load(name)?;
        let same = stored.settings == self.settings
            && match tips {
                Some(t) => stored.tips == t,
                None => self.resume && !self.run.is_empty() && stored.run == self.run,
            };
        if !same || (self.verify && !stored.findings.is_empty()) {
            return None;
        }
        let findings = stored.findings(rules)?;
        if tips.is_some() && stored.run != self.run {
            // Now part of this run too, for a --resume after it.
            let mut restamped = stored;
            restamped.run.clone_from(&self.run);
            if let Some(store) = &self.store {
                let _ = store.save(name, &restamped);
            }
            return Some(reused(restamped, findings));
        }
        Some(reused(stored, findings))
    }

    /// Stores a repository's result, unless part of it could not be read (then the next run
    /// scans it again) or it printed too many problems to keep.
    fn store(&self, name: &str, tips: &str, c: &Collected, rules: &[Rule]) {
        let Some(store) = &self.store else { return };
        if c.summary.errors > 0 || c.problems.len() > crate::audit::state::MAX_PROBLEMS {
            return;
        }
        let result = crate::audit::state::Stored::new(
            name,
            &self.run,
            &self.settings,
            tips,
            (c.summary.blobs, c.summary.bytes),
            c.problems.clone(),
            &c.findings,
            rules,
        );
        if let Err(e) = store.save(name, &result) {
            messages::warning(format_args!(
                "{}: cannot store the result for the next run ({e})",
                crate::sanitize::text(name)
            ));
        }
    }
}

/// A stored result as if just collected; its warnings and notes are printed again.
fn reused(stored: crate::audit::state::Stored, findings: Vec<Finding>) -> Collected {
    let name = crate::sanitize::text(&stored.repository);
    let mut summary = Summary {
        blobs: stored.blobs,
        bytes: stored.bytes,
        ..Summary::default()
    };
    for p in &stored.problems {
        if p.warning {
            summary.warnings += 1;
            messages::warning(format_args!("{name}: {}", p.message));
        } else {
            messages::note(format_args!("{name}: {}", p.message));
        }
    }
    Collected {
        findings,
        summary,
        problems: stored.problems,
        carried: Vec::new(),
    }
}

/// Audits one repository's history: mirrors it first if it is a URL (any number at once),
/// then scans it when its turn comes (one at a time), unless a stored result stands for the
/// scan (refs unmoved, same settings; or, with `--resume`, done by the run resumed, which is
/// not even fetched). Returns how it went (`cloned`, `fetched`, `local`, `unchanged`,
/// `resumed`) and what was found, or why it could not be audited.
fn audit_one(
    cfg: &AuditConfig,
    matcher: &Matcher,
    target: &crate::audit::Target,
    turn: &std::sync::Mutex<()>,
    run: &AuditRun,
) -> Result<(&'static str, Collected), String> {
    use source::git::history;
    let rules = matcher.rules();
    if let Some(c) = run.reusable(&target.name, None, rules) {
        return Ok(("resumed", c));
    }
    let (dir, how) = if target.remote {
        let root = cfg
            .clone_dir
            .as_deref()
            .ok_or_else(|| NO_CLONE_DIR.to_string())?;
        let m = source::git::remote::mirror(&target.spec, root, target.token.as_deref())
            .map_err(|e| without_name(&e.to_string(), &target.name))?;
        let how = match (m.cloned, m.up_to_date) {
            (true, _) => "cloned",
            (false, true) => "up to date",
            (false, false) => "fetched",
        };
        (m.dir, how)
    } else {
        (std::path::PathBuf::from(&target.spec), "local")
    };
    let repo =
        source::git::open(Some(&dir)).map_err(|e| without_name(&e.to_string(), &target.name))?;
    let tips = source::git::tips_digest(&repo).map_err(|e| e.to_string())?;
    if let Some(c) = run.reusable(&target.name, Some(&tips), rules) {
        return Ok(("unchanged", c));
    }
    // A poisoned lock only means another repository's scan panicked: the turn is still ours.
    let _turn = turn
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if interrupt::requested() {
        return Err("interrupted".to_string());
    }
    let opts = history::Options {
        all_objects: false,
        threads: cfg.common.threads,
        show_secrets: cfg.common.show_secrets,
        decoding: cfg.common.decoding,
        limits: cfg.common.limits,
    };
    let name = crate::sanitize::text(&target.name);
    // The repository moves to the producer thread (a `Repository` is `Send`, not `Sync`).
    let o = &opts;
    let collected = collect_as(&cfg.common, Some(&name), move |tx, stats| {
        history::audit(&repo, o, matcher, stats, tx);
    });
    if !interrupt::requested() {
        run.store(&target.name, &tips, &collected, rules);
    }
    Ok((how, collected))
}

/// An error about a repository without the repository's name in front (`NAME: git fetch
/// failed: …`): the audit's lines and report name the repository once, themselves.
fn without_name(error: &str, name: &str) -> String {
    error
        .strip_prefix(name)
        .and_then(|e| e.strip_prefix(": "))
        .unwrap_or(error)
        .to_string()
}

/// "Nomotic API key" with the built-in rules alone, "key" once a rules file adds others.
fn key_noun(rules: &[Rule]) -> &'static str {
    if rules::all_builtin(rules) {
        "Nomotic API key"
    } else {
        "key"
    }
}

/// Why a remote repository cannot be mirrored without `--clone-dir`.
const NO_CLONE_DIR: &str = "no cache directory to mirror the repository into (HOME and \
                            XDG_CACHE_HOME are unset): give one with --clone-dir";

/// Mirrors a remote repository (cloning it, or fetching into the mirror of an earlier run)
/// and returns the mirror's path.
fn mirror(r: &crate::config::Remote) -> anyhow::Result<std::path::PathBuf> {
    let Some(root) = &r.clone_dir else {
        anyhow::bail!(crate::error::UsageError(NO_CLONE_DIR.to_string()));
    };
    let m = source::git::remote::mirror(&r.url, root, r.token.as_ref().map(|t| t.0.as_str()))?;
    if m.up_to_date {
        messages::note(format_args!(
            "{} is up to date in {}",
            crate::sanitize::text(&m.shown),
            crate::sanitize::path(&m.dir)
        ));
    } else {
        messages::note(format_args!(
            "{} {} into {}",
            if m.cloned { "cloned" } else { "fetched" },
            crate::sanitize::text(&m.shown),
            crate::sanitize::path(&m.dir)
        ));
    }
    Ok(m.dir)
}

/// What a rejected push prints (`git --pre-receive`); git shows it to the pusher.
const REJECTED: &str = "\
nmleaks: push rejected: it adds a {KEY} (shown redacted above, with its commit).
  - Take the key out of those commits (git rebase -i, or git commit --amend for the last one),
    read it from an environment variable or a secrets manager, and push again.
  - It has not reached this server, but it is in your local history: if it was ever pushed
    anywhere else, revoke it in Settings -> API Keys.
  - A harmless test value? Put `nmleaks:allow` in a comment on its line.";

/// The push-protection gate: the ref updates of a push and whether its audited bypass (the
/// push option `nmleaks.skip=REASON`) is enabled on this server.
struct PushGate {
    updates: Vec<source::git::push::RefUpdate>,
    /// `nmleaks.allowSkip` in the repository's configuration.
    allow_skip: bool,
    /// Where accepted bypasses are logged: `nmleaks-skips.log` in the git directory.
    log: std::path::PathBuf,
    /// What the rejection calls a key ([`key_noun`]).
    noun: &'static str,
}

/// The push option that asks for the audited bypass.
const SKIP_OPTION: &str = "nmleaks.skip=";

impl PushGate {
    fn new(repo: &git2::Repository, updates: Vec<source::git::push::RefUpdate>) -> PushGate {
        let allow_skip = repo
            .config()
            .and_then(|c| c.get_bool("nmleaks.allowSkip"))
            .unwrap_or(false);
        PushGate {
            updates,
            allow_skip,
            log: repo.commondir().join("nmleaks-skips.log"),
            noun: "Nomotic API key",
        }
    }

    /// The reason given with `git push -o nmleaks.skip=REASON` (git passes push options to
    /// the hook as `GIT_PUSH_OPTION_COUNT` and `GIT_PUSH_OPTION_0…`), sanitised.
    fn skip_requested() -> Option<String> {
        let count: usize = std::env::var("GIT_PUSH_OPTION_COUNT").ok()?.parse().ok()?;
        (0..count.min(1000))
            .filter_map(|i| std::env::var(format!("GIT_PUSH_OPTION_{i}")).ok())
            .find_map(|o| o.strip_prefix(SKIP_OPTION).map(str::to_string))
            .map(|r| crate::sanitize::hide_keys_in(&crate::sanitize::text(r.trim())))
    }

    /// The push found keys (or could not be fully checked): rejects it, unless the pusher
    /// asked for the bypass with a reason and the server allows it, in which case the push
    /// goes through and the bypass is logged.
    fn refuse(&self, code: ExitCode, found: &[String]) -> ExitCode {
        let skip = Self::skip_requested();
        match skip {
            Some(reason) if self.allow_skip && !reason.is_empty() => {
                let logged = self.log_skip(&reason, code, found);
                messages::note(format_args!(
                    "push accepted without the check's verdict: push option nmleaks.skip \
                     ({reason}); {}",
                    match logged {
                        Ok(()) => format!("logged in {}", crate::sanitize::path(&self.log)),
                        Err(e) => format!(
                            "it could not be logged in {}: {e}",
                            crate::sanitize::path(&self.log)
                        ),
                    }
                ));
                return ExitCode::Clean;
            }
            Some(reason) if self.allow_skip && reason.is_empty() => messages::note(
                "the push option nmleaks.skip needs a reason: git push -o nmleaks.skip=REASON",
            ),
            Some(_) => messages::note(
                "the push option nmleaks.skip is off on this server (an administrator turns \
                 it on with `git config nmleaks.allowSkip true`)",
            ),
            None => {}
        }
        if code == ExitCode::Findings {
            messages::line(format_args!("{}", REJECTED.replace("{KEY}", self.noun)));
        } else {
            messages::note(
                "push rejected: it could not be fully checked (see the errors above); a push \
                 nmleaks cannot read is not let through",
            );
        }
        code
    }

    /// Appends one JSON line: when, who, why, which refs, which keys (fingerprints only).
    fn log_skip(&self, reason: &str, code: ExitCode, found: &[String]) -> std::io::Result<()> {
        use std::io::Write as _;
        let pusher = ["GL_USERNAME", "GITEA_PUSHER_NAME", "REMOTE_USER", "USER"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .map(|p| crate::sanitize::hide_keys_in(&crate::sanitize::text(&p)));
        let refs: Vec<serde_json::Value> = self
            .updates
            .iter()
            .map(|u| {
                serde_json::json!({
                    "ref": crate::sanitize::hide_keys_in(&u.name),
                    "old": u.old.to_string(),
                    "new": u.new.to_string(),
                })
            })
            .collect();
        let line = serde_json::json!({
            "time": crate::timefmt::now(),
            "pusher": pusher,
            "reason": reason,
            "refs": refs,
            "keys": found,
            "incomplete": code == ExitCode::Error,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(f, "{line}")
    }
}

/// Scans what `cfg.mode` names in `repo` and collects it, `.nmleaksignore` applied.
fn git_collect(
    cfg: &GitConfig,
    matcher: &Matcher,
    repo: git2::Repository,
    updates: &[source::git::push::RefUpdate],
) -> anyhow::Result<Collected> {
    use source::git::{history, push, range, staged};
    let root = repo_top(&repo)?;
    let opts = history::Options {
        all_objects: matches!(cfg.mode, GitMode::History { all_objects: true }),
        threads: cfg.common.threads,
        show_secrets: cfg.common.show_secrets,
        decoding: cfg.common.decoding,
        limits: cfg.common.limits,
    };
    // Resolve what to scan before scanning, so a bad range or a bare repository is a usage
    // error (exit 2, one sentence) rather than a problem in the middle of a report.
    // The repository moves to the producer thread (a `Repository` is `Send`, not `Sync`).
    let (m, o) = (matcher, &opts);
    let mut collected = match &cfg.mode {
        GitMode::History { .. } => collect(&cfg.common, move |tx, stats| {
            history::audit(&repo, o, m, stats, tx);
        }),
        GitMode::Range(spec) => {
            let commits = range::resolve_range(&repo, spec).context(cfg.range_flag)?;
            collect(&cfg.common, move |tx, stats| {
                range::range(&repo, &commits, o, m, stats, tx);
            })
        }
        GitMode::Staged => {
            let changes = staged::changes(&repo, cfg.index_file.clone()).context("--staged")?;
            collect(&cfg.common, move |tx, stats| {
                staged::scan(&changes, m, o.show_secrets, o.decoding, stats, tx);
            })
        }
        GitMode::PreReceive => {
            let scan = push::resolve_push(&repo, updates).context("--pre-receive")?;
            collect(&cfg.common, move |tx, stats| {
                push::scan(&repo, &scan, o, m, stats, tx);
            })
        }
    };
    if let Some(ignore) = git_ignore_file(&root).filter(|_| !cfg.common.no_repo_config) {
        drop_ignored(&mut collected, &ignore);
    }
    Ok(collected)
}

/// Verifies the findings if `--verify` asked for it, writes the report and turns the outcome
/// into an exit code (`--fail-on` picks the findings that count).
fn finish(
    command: &str,
    common: &Common,
    rules: &[Rule],
    baseline: Option<&Baseline>,
    root: &std::path::Path,
    mut c: Collected,
) -> anyhow::Result<ExitCode> {
    if let Some(settings) = &common.verify {
        verify(common, settings, rules, &mut c);
        crate::interrupt::checkpoint()?;
    }
    // After verification and over every finding: a key verified live is never hidden.
    let paths = PathFilter::new(common, root)?;
    let excluded = |l: &crate::finding::Location| paths.excludes(l);
    let hiding = suppress::Hiding {
        baseline,
        allow: &common.allow,
        excluded: paths
            .is_some()
            .then_some(&excluded as &dyn Fn(&crate::finding::Location) -> bool),
    };
    let mut outcome = suppress::apply(c.findings, &hiding);
    if !c.carried.is_empty() {
        let mut all = std::mem::take(&mut c.carried);
        all.append(&mut outcome.suppressed);
        outcome.suppressed = all;
    }
    // An audit of many repositories: live keys in public repositories first.
    if outcome.active.iter().any(|f| !f.exposure.is_empty()) {
        crate::audit::rank(&mut outcome.active);
    }
    // `--status` narrows what is shown, never what the exit code counts.
    let shown: Vec<Finding> = match common.status_filter {
        Some(keep) => outcome
            .active
            .iter()
            .filter(|f| f.status().is_some_and(|s| keep[usize::from(s.rank())]))
            .cloned()
            .collect(),
        None => outcome.active.clone(),
    };
    c.summary.hidden_by_status = outcome.active.len() - shown.len();
    let report = Report {
        command,
        findings: &shown,
        suppressed: &outcome.suppressed,
        rules,
        show_secrets: common.show_secrets,
        summary: c.summary.clone(),
        root: root.to_path_buf(),
        quiet: common.quiet,
    };
    // A hook that passes says nothing: a clean commit or push prints no "no keys found".
    let silent = common.in_hook
        && !common.verbose
        && common.format == Format::Human
        && common.output.is_none()
        && outcome.active.is_empty()
        && c.summary.errors == 0;
    report::emit(common.output.as_deref(), |w| match common.format {
        _ if silent => Ok(()),
        Format::Human => report::human::write(&report, common.color, w),
        Format::Json => report::json::write(&report, w),
        Format::Sarif => report::sarif::write(&report, w),
        Format::Jsonl => report::flat::write_jsonl(&report, w),
        Format::Csv => report::flat::write_csv(&report, w),
        Format::Html => report::html::write(&report, w),
    })?;
    if let Some(path) = &common.sarif_file {
        report::emit(Some(path), |w| report::sarif::write(&report, w))?;
    }
    if common.stderr_tty && !common.quiet {
        messages::note(summary_line(&report));
    }
    let mut code = ExitCode::Clean;
    if outcome.active.iter().any(|f| common.fail_on.fails(f)) {
        code = code.merge(ExitCode::Findings);
    }
    if c.summary.errors > 0 {
        code = code.merge(ExitCode::Error);
    }
    Ok(code)
}

/// `--exclude` and `--include` (and the config file's), as gitignore-syntax matchers over the
/// paths findings report.
struct PathFilter {
    exclude: Option<ignore::gitignore::Gitignore>,
    include: Option<ignore::gitignore::Gitignore>,
}

impl PathFilter {
    fn new(common: &Common, root: &std::path::Path) -> anyhow::Result<PathFilter> {
        let build = |globs: &[String],
                     flag: &str|
         -> anyhow::Result<Option<ignore::gitignore::Gitignore>> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = ignore::gitignore::GitignoreBuilder::new(root);
            for g in globs {
                b.add_line(None, g).map_err(|e| {
                    crate::error::UsageError(format!(
                        "{flag} {}: not a glob: {}",
                        crate::sanitize::echoed(g),
                        crate::sanitize::text(&e.to_string())
                    ))
                })?;
            }
            Ok(Some(b.build().map_err(|e| {
                crate::error::UsageError(format!(
                    "{flag}: {}",
                    crate::sanitize::text(&e.to_string())
                ))
            })?))
        };
        Ok(PathFilter {
            exclude: build(&common.excludes, "--exclude")?,
            include: build(&common.includes, "--include")?,
        })
    }

    fn is_some(&self) -> bool {
        self.exclude.is_some() || self.include.is_some()
    }

    /// Whether the place's path is excluded, or outside every include.
    fn excludes(&self, l: &crate::finding::Location) -> bool {
        let path = match &l.origin {
            crate::finding::Origin::File(p) => p.strip_prefix(".").unwrap_or(p).to_path_buf(),
            crate::finding::Origin::Git(g) => match &g.path {
                Some(p) => std::path::PathBuf::from(p),
                None => return false,
            },
            _ => return false,
        };
        let hit = |m: &ignore::gitignore::Gitignore| {
            m.matched_path_or_any_parents(&path, false).is_ignore()
        };
        self.exclude.as_ref().is_some_and(hit) || self.include.as_ref().is_some_and(|m| !hit(m))
    }
}

/// The only place the network is used: asks the API about each distinct key.
fn verify(common: &Common, settings: &verify::Settings, rules: &[Rule], c: &mut Collected) {
    let progress = VerifyProgress::new(common.stderr_tty, settings.rate_per_minute);
    // Only keys at hand are sent; one read back by its redacted form stays unverified.
    let (mut known, unknown): (Vec<Finding>, Vec<Finding>) =
        c.findings.drain(..).partition(|f| f.secret.is_known());
    let outcome = verify::verify_all(&mut known, rules, settings, &progress);
    c.findings = known;
    c.findings.extend(unknown);
    progress.finish();
    for w in &outcome.warnings {
        messages::warning(w);
    }
    c.summary.warnings += outcome.warnings.len() as u64;
    c.summary.verification = Some(VerifySummary {
        api: settings.api.to_string(),
        requests: outcome.requests,
        cache_hits: outcome.cache_hits,
    });
}

/// `3 keys (1 live), 2 suppressed; 1204 files scanned, 56.1 MiB in 0.8 s`: the last line a
/// person sees on a terminal (`blobs` for the git modes).
fn summary_line(r: &Report<'_>) -> String {
    use std::fmt::Write as _;
    let keys = r.findings.len();
    let mut text = format!("{keys} key{}", if keys == 1 { "" } else { "s" });
    if r.summary.verification.is_some() {
        let live = r
            .findings
            .iter()
            .filter(|f| f.status().is_some_and(crate::verdict::Status::is_live))
            .count();
        let _ = write!(text, " ({live} live)");
    }
    if !r.suppressed.is_empty() {
        let _ = write!(text, ", {} suppressed", r.suppressed.len());
    }
    let noun = match (r.command == "scan", r.summary.blobs == 1) {
        (true, true) => "file",
        (true, false) => "files",
        (false, true) => "blob",
        (false, false) => "blobs",
    };
    let _ = write!(
        text,
        "; {} {noun} scanned, {} in {:.1} s",
        r.summary.blobs,
        indicatif::HumanBytes(r.summary.bytes),
        r.summary.elapsed.as_secs_f64()
    );
    if r.summary.errors > 0 {
        let _ = write!(text, "; {} could not be read", r.summary.errors);
    }
    text
}

fn rules_list(extra: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let rules = load_rules(extra, false)?;
    report::emit(None, |w| {
        for r in &rules {
            writeln!(
                w,
                "{}\t{}\t{}\t{}\t{}",
                r.id,
                r.severity.as_str(),
                r.prefix,
                r.name,
                r.source
            )?;
        }
        Ok(())
    })?;
    Ok(ExitCode::Clean)
}

fn rules_check(files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let rules = load_rules(files, false).context("rules check")?;
    let failures = crate::matcher::check(&rules);
    report::emit(None, |w| {
        for f in &failures {
            writeln!(w, "FAIL {f}")?;
        }
        for r in &rules {
            writeln!(
                w,
                "rule {} ({}): {} examples, {} negative examples",
                r.id,
                r.source,
                r.examples.len(),
                r.negative_examples.len()
            )?;
        }
        let verdict = if failures.is_empty() { "ok" } else { "FAILED" };
        writeln!(
            w,
            "{verdict}: {} rules, {} failures",
            rules.len(),
            failures.len()
        )
    })?;
    Ok(if failures.is_empty() {
        ExitCode::Clean
    } else {
        ExitCode::Findings
    })
}
