//! nmleaks finds leaked Nomotic API keys (`nm_live_…`).
//!
//! The pipeline, one stage per module:
//!
//! ```text
//!  cli ──► config ──► app ─┬─► rules ──► matcher (prefilter ► regex ► filter)
//!    project (.nmleaks.toml) ┘               ▲
//!   source::{worktree,stdin,git} ─ blobs+origin ─► scan (chunks, lines, snippets)
//!                          │                 │ hits (+ git provenance)
//!                          │                 ▼
//!                          └──► finding::Collector (group by key, sort)
//!                                             │
//!                              verify (opt-in HTTP) ► suppress (baseline, allow, excludes)
//!                                             │
//!         report::{human,json,sarif,flat,html} ──► stdout / --output / --sarif-file
//! ```
//!
//! Around the pipeline: `hook` writes git pre-commit and pre-receive hooks, `interrupt` turns Ctrl-C into a
//! prompt stop, `bug` turns a panic into one line that never shows its payload, `exit` owns
//! the exit codes.
//!
//! Producers run in parallel; one collector groups hits by key, so output never depends on
//! thread timing. A key is held in [`finding::Secret`] from the moment it is cut out of the
//! input and is only shown in full with `--show-secrets`.
//!
//! **Floors.** The module graph has no cycle, and no module imports from a floor above its
//! own (`tests/integration/layers.rs` checks both; `cargo test --test integration layers`):
//!
//! ```text
//!  top            app, audit, cli, config, policy, project
//!  reports        report::{human,json,sarif,flat,html}, progress
//!  suppression    suppress (baseline, allow comments and lists, excludes)
//!  verification   verify::{api,client,cache,limiter,retry}
//!  sources        source::{worktree,stdin,git::{history,range,staged,push,remote,…}}, hook
//!  scanning       scan::{window,lines,snippet,utf16}
//!  matching       matcher
//!  data           finding (+ collect), verdict, rules, filter, suppress::inline
//!  leaf utilities error, exit, sanitize, messages, interrupt, bug, textfile, timefmt, linehash,
//!                 testkeys
//! ```

pub mod app;
pub mod audit;
pub mod bug;
pub mod cli;
pub mod config;
#[cfg(test)]
mod differential;
#[cfg(test)]
mod differential_decode;
pub mod error;
pub mod exit;
pub mod filter;
pub mod finding;
pub mod hook;
pub mod interrupt;
pub mod linehash;
pub mod matcher;
pub mod messages;
pub mod policy;
pub mod progress;
pub mod project;
pub mod report;
pub mod rules;
pub mod sanitize;
pub mod scan;
pub mod source;
pub mod suppress;
#[doc(hidden)]
pub mod testkeys;
pub mod textfile;
pub mod timefmt;
pub mod verdict;
pub mod verify;

pub use app::run;
pub use exit::ExitCode;
