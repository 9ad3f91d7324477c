//! Orchestration: runs a [`Config`] and says how it went.
//!
//! Each command is wired here from the stages: rules → matcher → a source feeding one
//! collector → a reporter. Producers run on their own threads; this thread collects, prints
//! problems as they come, draws progress, and writes the report once everything is sorted.

use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{RecvTimeoutError, bounded};

use crate::config::{Common, Config, Format, GitConfig, GitMode, ScanConfig};
use crate::exit::ExitCode;
use crate::finding::{Collector, Finding};
use crate::matcher::Matcher;
use crate::progress::Progress;
use crate::report::{self, Report, Summary};
use crate::rules::{self, Rule};
use crate::source::{self, Event, Level, Stats};

/// Runs one command.
///
/// # Errors
/// Usage and configuration errors (bad rules file, unwritable output). Problems with single
/// inputs are not errors here: they are printed and make the exit code 2.
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    match config {
        Config::Scan(cfg) => scan(&cfg),
        Config::Git(cfg) => git(&cfg),
        Config::RulesList { rules } => rules_list(&rules),
        Config::RulesCheck { files } => rules_check(&files),
    }
}

/// What the collector gathered.
struct Collected {
    findings: Vec<Finding>,
    summary: Summary,
}

/// Runs `produce` on its own thread and collects its events here.
fn collect(
    common: &Common,
    produce: impl FnOnce(&crossbeam_channel::Sender<Event>, &Stats) + Send,
) -> Collected {
    let start = Instant::now();
    let stats = Stats::default();
    let (tx, rx) = bounded::<Event>(1024);
    let mut collector = Collector::new();
    let mut summary = Summary::default();
    let mut progress = Progress::new(common.stderr_tty);
    std::thread::scope(|s| {
        let stats = &stats;
        s.spawn(move || produce(&tx, stats));
        loop {
            match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(Event::Hits(hits)) => hits.into_iter().for_each(|h| collector.add(h)),
                Ok(Event::Provenance(secret, p)) => collector.set_provenance(secret, p),
                Ok(Event::Problem(p)) => {
                    let label = match p.level {
                        Level::Error => {
                            summary.errors += 1;
                            "error"
                        }
                        Level::Warning => {
                            summary.warnings += 1;
                            "warning"
                        }
                    };
                    progress.suspend(|| eprintln!("nmleaks: {label}: {}", p.message));
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
    summary.elapsed = start.elapsed();
    Collected {
        findings: collector.finish(),
        summary,
    }
}

fn scan(cfg: &ScanConfig) -> anyhow::Result<ExitCode> {
    let rules = rules::load(&cfg.common.rules)?;
    let matcher = Matcher::new(rules);
    let opts = source::worktree::WalkOptions {
        no_ignore: cfg.no_ignore,
        follow: cfg.follow,
        threads: cfg.common.threads,
        show_secrets: cfg.common.show_secrets,
        strip_dot: cfg.implicit_root,
    };
    let collected = collect(&cfg.common, |tx, stats| {
        if cfg.stdin {
            source::stdin::scan(&matcher, cfg.common.show_secrets, stats, tx);
        }
        source::worktree::walk(&cfg.paths, &opts, &matcher, stats, tx);
    });
    finish("scan", &cfg.common, matcher.rules(), &collected)
}

fn git(cfg: &GitConfig) -> anyhow::Result<ExitCode> {
    use source::git::{self, history, staged};
    let rules = rules::load(&cfg.common.rules)?;
    let matcher = Matcher::new(rules);
    let repo = git::open(cfg.repo.as_deref())?;
    let opts = history::Options {
        all_objects: matches!(cfg.mode, GitMode::History { all_objects: true }),
        threads: cfg.common.threads,
        show_secrets: cfg.common.show_secrets,
    };
    // Resolve what to scan before scanning, so a bad range or a bare repository is a usage
    // error (exit 2, one sentence) rather than a problem in the middle of a report.
    // The repository moves to the producer thread (a `Repository` is `Send`, not `Sync`).
    let (m, o) = (&matcher, &opts);
    let collected = match &cfg.mode {
        GitMode::History { .. } => collect(&cfg.common, move |tx, stats| {
            history::audit(&repo, o, m, stats, tx);
        }),
        GitMode::Range(spec) => {
            let commits = history::resolve_range(&repo, spec).context("--range")?;
            collect(&cfg.common, move |tx, stats| {
                history::range(&repo, &commits, o, m, stats, tx);
            })
        }
        GitMode::Staged => {
            let changes = staged::changes(&repo, cfg.index_file.clone()).context("--staged")?;
            collect(&cfg.common, move |tx, stats| {
                staged::scan(&repo, &changes, m, o.show_secrets, stats, tx);
            })
        }
    };
    finish("git", &cfg.common, matcher.rules(), &collected)
}

/// Writes the report and turns the outcome into an exit code.
fn finish(
    command: &str,
    common: &Common,
    rules: &[Rule],
    c: &Collected,
) -> anyhow::Result<ExitCode> {
    let report = Report {
        command,
        findings: &c.findings,
        rules,
        show_secrets: common.show_secrets,
        summary: c.summary.clone(),
    };
    report::emit(common.output.as_deref(), |w| match common.format {
        Format::Human => report::human::write(&report, common.color, w),
        Format::Json => report::json::write(&report, w),
    })?;
    let mut code = ExitCode::Clean;
    if !c.findings.is_empty() {
        code = code.merge(ExitCode::Findings);
    }
    if c.summary.errors > 0 {
        code = code.merge(ExitCode::Error);
    }
    Ok(code)
}

fn rules_list(extra: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let rules = rules::load(extra)?;
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
    let rules = rules::load(files).context("rules check")?;
    let failures = rules::check(&rules);
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
